"""Write the simulated model directory (tests/sim only, never used in production).

The SGLang API simulator (tests/sim/node/sglang-sim) needs a model directory with a config.json,
and the real benchmark client (sglang.bench_serving, random-ids dataset) needs a tokenizer that
transformers loads offline from that directory. No weights: the simulator computes nothing.

    python3 make_sim_model.py OUTPUT_DIR [--vocab-size N] [--max-context N]

writes into OUTPUT_DIR (created; files in it are replaced):

* config.json: a small Llama-shaped model (the simulator sizes its KV pool and weights from it);
* tokenizer.json: a word-level tokenizer generated here, whose vocabulary is the simulator's
  output words (one token each, as the simulator counts them) followed by made-up words of two
  to four lower-case letters, so that every token of a random-ids prompt is a piece the
  simulator also counts as one token;
* tokenizer_config.json, special_tokens_map.json, generation_config.json: what
  AutoTokenizer / AutoConfig read; the tokenizer class is PreTrainedTokenizerFast, so only the
  `tokenizers` package is needed, not torch nor sentencepiece.

The output is a pure function of the arguments (same arguments, same bytes), so a caller can
compare it with what is on disk. Only the Python standard library is used.
"""

import argparse
import json
import os
import sys

# The words the simulator answers with (tests/sim/node/sglang-sim, WORDS), each one token there.
SIM_WORDS = [
    "the", "of", "and", "to", "in", "is", "it", "that", "for", "on", "with", "as", "was", "at",
    "by", "be", "this", "from", "or", "an", "are", "not", "but", "we", "can", "all", "one", "has",
    "more", "will", "so", "if", "out", "up", "new", "time", "also", "some", "like", "into", "than",
    "now", "only", "its", "two", "first", "most", "over", "after", "about", "other", "when",
    "there", "what", "which", "their", "would", "make", "just", "good", "well", "way", "day", "man",
]
SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<pad>"]
UNK, BOS, EOS, PAD = SPECIAL_TOKENS
CONSONANTS = "bdfgklmnprstvz"
VOWELS = "aeiou"
DEFAULT_VOCAB = 4096
DEFAULT_CONTEXT = 16384

# A plain chat format (role lines) so that chat-aware clients find a template.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ message['role'] }}: {{ message['content'] }}\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)


def made_up_words():
    """Pronounceable words of two to four letters, in a fixed order, none an English sim word."""
    syllables = [c + v for c in CONSONANTS for v in VOWELS]
    yield from syllables
    for first in syllables:
        for second in syllables:
            yield first + second


def vocabulary(size):
    """token -> id: the special tokens, the simulator's words, then made-up words up to size."""
    minimum = len(SPECIAL_TOKENS) + len(SIM_WORDS)
    if size < minimum:
        raise ValueError("vocab size %d is below the %d fixed tokens" % (size, minimum))
    vocab = {}
    for token in SPECIAL_TOKENS + SIM_WORDS:
        vocab[token] = len(vocab)
    for word in made_up_words():
        if len(vocab) >= size:
            break
        if word not in vocab:
            vocab[word] = len(vocab)
    if len(vocab) < size:
        raise ValueError("vocab size %d is above the %d words this generator makes" % (size, len(vocab)))
    return vocab


def tokenizer_json(vocab):
    """The `tokenizers` serialisation of a word-level tokenizer over vocab."""
    added = [{"id": vocab[token], "content": token, "single_word": False, "lstrip": False,
              "rstrip": False, "normalized": False, "special": True} for token in SPECIAL_TOKENS]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "Lowercase"},
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": BOS, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": BOS, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {BOS: {"id": BOS, "ids": [vocab[BOS]], "tokens": [BOS]}},
        },
        "decoder": None,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": UNK},
    }


def model_files(vocab_size=DEFAULT_VOCAB, max_context=DEFAULT_CONTEXT):
    """{file name: JSON document} of the simulated model directory."""
    vocab = vocabulary(vocab_size)
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": 2048,
        "intermediate_size": 5632,
        "num_hidden_layers": 16,
        "num_attention_heads": 16,
        "num_key_value_heads": 8,
        "head_dim": 128,
        "hidden_act": "silu",
        "rms_norm_eps": 1e-05,
        "rope_theta": 10000.0,
        "vocab_size": vocab_size,
        "max_position_embeddings": max_context,
        "torch_dtype": "bfloat16",
        "bos_token_id": vocab[BOS],
        "eos_token_id": vocab[EOS],
        "pad_token_id": vocab[PAD],
        "tie_word_embeddings": False,
        "_comment": "Simulated model for the npu.sglang test cluster: no weights, for sglang-sim only.",
    }
    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": BOS,
        "eos_token": EOS,
        "unk_token": UNK,
        "pad_token": PAD,
        "add_bos_token": True,
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,
        "model_max_length": max_context,
        "chat_template": CHAT_TEMPLATE,
    }
    special = {"bos_token": BOS, "eos_token": EOS, "unk_token": UNK, "pad_token": PAD}
    generation = {"bos_token_id": vocab[BOS], "eos_token_id": vocab[EOS], "pad_token_id": vocab[PAD]}
    return {
        "config.json": config,
        "tokenizer.json": tokenizer_json(vocab),
        "tokenizer_config.json": tokenizer_config,
        "special_tokens_map.json": special,
        "generation_config.json": generation,
    }


def write_model(output_dir, vocab_size=DEFAULT_VOCAB, max_context=DEFAULT_CONTEXT):
    """Write the directory; return the names of the files whose content changed."""
    os.makedirs(output_dir, exist_ok=True)
    changed = []
    for name, document in sorted(model_files(vocab_size, max_context).items()):
        data = (json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
        path = os.path.join(output_dir, name)
        try:
            with open(path, "rb") as handle:
                if handle.read() == data:
                    continue
        except OSError:
            pass
        tmp = path + ".tmp"
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        changed.append(name)
    return changed


def main(argv=None):
    parser = argparse.ArgumentParser(description="Write the simulated model directory (config.json and a tokenizer).")
    parser.add_argument("output_dir")
    parser.add_argument("--vocab-size", type=int, default=DEFAULT_VOCAB)
    parser.add_argument("--max-context", type=int, default=DEFAULT_CONTEXT)
    args = parser.parse_args(argv)
    try:
        changed = write_model(args.output_dir, args.vocab_size, args.max_context)
    except ValueError as exc:
        parser.error(str(exc))
    sys.stdout.write("%s: %s\n" % (args.output_dir, ", ".join(changed) if changed else "up to date"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
