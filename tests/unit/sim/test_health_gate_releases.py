"""The health gate (roles/sglang_service/tasks/health.yml, run by Ansible) against the API simulator
answering as each release a stack profile builds, started while the server still warms up.

0.4.9 answers /health with 200 as soon as its port is open, before the warm-up request is done;
0.5.12.post1 answers 503 until then. The gate must pass both, and only once /generate returns text.
"""
import json
import os
import subprocess
import sys
import time

import pytest

from test_sglang_sim import READY, SimServer, base_env

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
PLAY = """
- hosts: localhost
  gather_facts: false
  vars:
    sglang_service_health_timeout: 60
    sglang_service_smoke_prompt: "The capital of France is"
    _sglang_service_keys: {}
  tasks:
    - name: The gate of one server
      ansible.builtin.include_role:
        name: npu.sglang.sglang_service
        tasks_from: health
      vars:
        inst: {name: main, node_rank: 0, host: 127.0.0.1, port: %(port)d, auth: false, unit: npu-sglang@main.service}
"""


@pytest.mark.parametrize("release", ["0.4.9", "0.5.12.post1"])
def test_the_gate_waits_for_a_server_that_answers_as_its_release(tmp_path, release):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"], "model_type": "llama",
                                                   "hidden_size": 512, "num_hidden_layers": 4,
                                                   "num_attention_heads": 8, "vocab_size": 32000,
                                                   "max_position_embeddings": 2048}))
    srv = SimServer(str(tmp_path), ["--model-path", str(model), "--tp", "1"],
                    env=base_env(str(tmp_path), SGLANG_SIM_VERSION=release, SGLANG_SIM_STARTUP_S=4,
                                 SGLANG_SIM_TTFT_MS=5, SGLANG_SIM_TPOT_MS=1))
    srv.ready = "Uvicorn running on"
    try:
        srv.start()
        assert READY not in srv.log()
        play = tmp_path / "gate.yml"
        play.write_text(PLAY % {"port": srv.port})
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"))
        began = time.monotonic()
        proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
                               "-c", "local", "-e", "ansible_python_interpreter=" + sys.executable, str(play)],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=180, check=False)
        assert proc.returncode == 0, proc.stdout[-4000:]
        assert "ok=2" in proc.stdout or "ok=3" in proc.stdout, proc.stdout[-2000:]
        # The gate is through only once /generate returned text, which the server gives after its
        # warm-up: the ready line is in its log, and the gate's /generate came after it.
        log = srv.log()
        assert READY in log
        assert log.rfind('"POST /generate HTTP/1.1" 200') > log.index(READY), log[-2000:]
        assert time.monotonic() - began < 120
    finally:
        srv.stop()
