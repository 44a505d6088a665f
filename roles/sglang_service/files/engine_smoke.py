"""The recipe's Engine API smoke test, run inside the serving image on a real NPU node.

Four prompts through sgl.Engine with the recipe's sampling settings; prints one JSON line per
prompt and exits non-zero when a completion is empty.
"""
import json
import sys

import sglang as sgl

PROMPTS = [
    "Hello, my name is",
    "The president of the United States is",
    "The capital of France is",
    "The future of AI is",
]


def main(model_path, tp_size):
    engine = sgl.Engine(model_path=model_path, device="npu", attention_backend="ascend",
                        tp_size=int(tp_size), disable_overlap_schedule=True)
    try:
        outputs = engine.generate(PROMPTS, {"temperature": 0.8, "top_p": 0.95, "max_new_tokens": 30})
    finally:
        engine.shutdown()
    empty = 0
    for prompt, output in zip(PROMPTS, outputs):
        print(json.dumps({"prompt": prompt, "text": output["text"]}))
        empty += not output["text"].strip()
    return 1 if empty else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else 1))
