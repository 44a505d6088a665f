"""The npu.sglang bench_* filters as a playbook sees them (FQCN, errors as Ansible errors)."""
import json
import os
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
BIN = os.path.dirname(sys.executable)

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  vars:
    spec: {image: base, privileged: true, capabilities: [], security_opts: [], network_mode: host, shm_size: 16g,
           devices: ["/dev/davinci0:/dev/davinci0:rwm"], volumes: ["/data:/data"], env: {HF_HOME: /data/hf}}
    resolved:
      - {name: main, port: 30001, image: img:1, devices: [0], tp: 1, auth: true, profiler_dir: /p,
         argv: [python3, -m, sglang.launch_server, --model-path, /data/models/m, --port, "30001"]}
    targets: "{{ resolved | npu.sglang.bench_targets }}"
    runs: >-
      {{ targets | npu.sglang.bench_runs({'concurrency': [8, 32], 'input_len': 1024, 'output_len': 256,
                                          'node_dir': '/data/bench/r1', 'request_rate': 'inf', 'seed': 1},
                                         ['--backend', '--warmup-requests']) }}
  tasks:
    - name: Show the plan
      ansible.builtin.debug:
        msg:
          targets: "{{ targets }}"
          runs: "{{ runs }}"
          argv: "{{ spec | npu.sglang.bench_docker_run(runs[0].image, ['python3', '-m', 'sglang.bench_serving'] + runs[0].client_args, name='c') }}"
          vllm: "{{ targets[0] | npu.sglang.bench_vllm_args({'port': 8000}) }}"
          flags: "{{ {'api_key': 'hidden-key', 'tp_size': 2, 'internal_states': []} | npu.sglang.bench_server_flags }}"
          redacted: "{{ {'a': {'admin_api_key': 'x', 'b': 1}} | npu.sglang.bench_redact }}"
    - name: A bad plan fails with the filter's name and the variable
      ansible.builtin.debug:
        msg: "{{ targets | npu.sglang.bench_runs({'concurrency': [8, 8], 'input_len': 1, 'output_len': 1, 'node_dir': '/d'}) }}"
"""


def run_playbook(tmp_path):
    path = tmp_path / "filters.yml"
    path.write_text(PLAYBOOK, encoding="utf-8")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="json",
               ANSIBLE_LOCALHOST_WARNING="False", ANSIBLE_INVENTORY_UNPARSED_WARNING="False")
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), str(path)], cwd=ROOT, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False, timeout=300)
    return proc, json.loads(proc.stdout)


def test_filters_in_a_playbook(tmp_path):
    proc, result = run_playbook(tmp_path)
    tasks = result["plays"][0]["tasks"]
    shown = tasks[0]["hosts"]["localhost"]["msg"]
    target, = shown["targets"]
    assert (target["name"], target["port"], target["model_path"], target["image"], target["auth"]) == ("main", 30001, "/data/models/m", "img:1", True)
    assert [run["name"] for run in shown["runs"]] == ["main_sglang_in1024_out256_c8", "main_sglang_in1024_out256_c32"]
    assert shown["runs"][0]["dropped_flags"] == ["--disable-tqdm"]  # not in the supported list given
    argv = shown["argv"]
    assert argv[:7] == ["docker", "run", "--rm", "--name", "c", "--network", "host"]
    assert not [item for item in argv if item.startswith(("--privileged", "--device"))], argv
    assert argv[argv.index("img:1") + 1:argv.index("img:1") + 4] == ["python3", "-m", "sglang.bench_serving"]
    assert shown["vllm"][:6] == ["--model", "/data/models/m", "--host", "127.0.0.1", "--port", "8000"]
    assert shown["flags"] == {"tp_size": 2}
    assert shown["redacted"] == {"a": {"b": 1}}
    assert "hidden-key" not in json.dumps(shown)
    failed = tasks[1]["hosts"]["localhost"]
    assert failed.get("failed") is True
    assert "bench_runs: sglang_bench_concurrency lists a value twice" in failed["msg"]
    assert proc.returncode != 0
