"""Simulator fidelity of the benchmark pipeline: client -> raw files -> report.

The SGLang API simulator (tests/sim/node/sglang-sim) runs locally with a known time to first
token and time per output token. The REAL benchmark client of sglang 0.4.9 (the version of
the simulated cluster's source mirror), installed from the package index into a cached venv,
runs the random-ids dataset against it with the command line role sglang_bench builds, and
tokenizes with the simulated model directory (tests/sim/model). Its JSONL is read back through
the report's parser and summary, and mean TTFT and TPOT must come out within 5% of the
configured values, every prompt completed.

The client venv holds sglang and what bench_serving imports (transformers with the tokenizers
backend, aiohttp, numpy, requests, tqdm, IPython and pydantic for sglang/__init__), not torch:
transformers only needs the `tokenizers` package to load a tokenizer.json.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# The checkout as ansible_collections.npu.sglang (.collections links to it), and the model generator.
for _path in (os.path.join(ROOT, ".collections"), os.path.join(ROOT, "tests", "sim", "model")):
    if _path not in sys.path:
        sys.path.insert(0, _path)
import make_sim_model  # noqa: E402 pylint: disable=wrong-import-position

from ansible_collections.npu.sglang.plugins.module_utils.bench_analysis import build_summary  # noqa: E402
from ansible_collections.npu.sglang.plugins.module_utils.bench_command import (  # noqa: E402
    bench_runs, bench_targets,
)
from ansible_collections.npu.sglang.plugins.module_utils.bench_results import collect_inputs  # noqa: E402
from ansible_collections.npu.sglang.plugins.module_utils.instances import resolve  # noqa: E402
from simtest import tool, tool_env  # noqa: E402 pylint: disable=wrong-import-position

SIM = os.path.join(ROOT, "tests", "sim", "node", "sglang-sim")
DETECT = os.path.join(ROOT, "roles", "sglang_bench", "files", "detect_client.py")
VENV = os.path.join(ROOT, ".cache", "bench-client-venv")
READY = "The server is fired up and ready to roll!"

# The latency model. TTFT is large enough that the client's own overhead stays well below 5% of
# it: a new HTTP session per request and an asyncio loop that shares a small test machine with
# the server, Docker and Ansible (5 to 60 ms per request on an idle 2-core machine, above 100 ms
# under heavy load).
TTFT_MS = 2000.0
TPOT_MS = 20.0
MAX_RUNNING = 64
TOLERANCE = 0.05


def _venv_python():
    return os.path.join(VENV, "bin", "python")


@pytest.fixture(scope="module")
def client_python():
    """The venv with the real client, built once and reused while its requirements stay the same."""
    stamp = os.path.join(VENV, ".npu-sglang-requirements")
    wanted = "\n".join(CLIENT_REQUIREMENTS) + "\n"
    current = None
    if os.path.isfile(stamp):
        with open(stamp, encoding="utf-8") as handle:
            current = handle.read()
    if current != wanted or not os.path.exists(_venv_python()):
        shutil.rmtree(VENV, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
        # pip reads the package index from this machine's own configuration.
        proc = subprocess.run([_venv_python(), "-m", "pip", "install", "--quiet"] + CLIENT_REQUIREMENTS,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False, timeout=1800)
        assert proc.returncode == 0, "cannot install the benchmark client:\n" + proc.stdout[-5000:]
        with open(stamp, "w", encoding="utf-8") as handle:
            handle.write(wanted)
    return _venv_python()


@pytest.fixture(scope="module")
def client(client_python, tmp_path_factory):
    """What the role's detection script finds in the client's Python (module name and flags)."""
    proc = subprocess.run([client_python, "-c", open(DETECT, encoding="utf-8").read()], cwd=str(tmp_path_factory.mktemp("detect")),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False, timeout=600)
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert found["module"] == "sglang.bench_serving"  # 0.4.9 has no sglang.benchmark package yet
    assert found["version"] == "0.4.9"
    assert "--random-input-len" in found["flags"] and "--max-concurrency" in found["flags"]
    return found


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("sim-model"))
    make_sim_model.write_model(path)
    return path


def test_sim_model_loads_offline_and_tokenizes_as_the_simulator_counts(client_python, model_dir, tmp_path):
    """The generated directory: transformers loads it offline, without torch; ids round-trip."""
    assert make_sim_model.write_model(model_dir) == []  # same arguments, same bytes: nothing rewritten
    script = (
        "import json, sys\n"
        "from transformers import AutoConfig, AutoTokenizer\n"
        "tok = AutoTokenizer.from_pretrained(sys.argv[1])\n"
        "cfg = AutoConfig.from_pretrained(sys.argv[1])\n"
        "ids = list(range(100, 1124))\n"
        "text = tok.decode(ids)\n"
        "print(json.dumps({'class': type(tok).__name__, 'vocab': tok.vocab_size, 'config_vocab': cfg.vocab_size,\n"
        "  'roundtrip': tok.encode(text, add_special_tokens=False) == ids, 'words': len(text.split()),\n"
        "  'sim_words': tok.encode(' the first would', add_special_tokens=False),\n"
        "  'chat': 'chat_template' in tok.init_kwargs, 'eos': tok.eos_token_id == cfg.eos_token_id,\n"
        "  'torch': 'torch' in sys.modules}))\n")
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    proc = subprocess.run([client_python, "-c", script, model_dir], env=env, cwd=str(tmp_path), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert found["class"] == "PreTrainedTokenizerFast" and found["vocab"] == found["config_vocab"] == make_sim_model.DEFAULT_VOCAB
    assert found["roundtrip"] is True and found["words"] == 1024  # one simulator token per prompt token
    assert len(found["sim_words"]) == 3 and found["chat"] is True and found["eos"] is True
    assert found["torch"] is False


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(model_dir, tmp_path_factory):
    work = str(tmp_path_factory.mktemp("sim-server"))
    os.makedirs(os.path.join(work, "dev"))
    env = dict((key, value) for key, value in os.environ.items() if not key.startswith(("SGLANG_", "ASCEND_RT_")))
    env.update({"SGLANG_SIM_STARTUP_S": "0", "SGLANG_SIM_TTFT_MS": str(TTFT_MS), "SGLANG_SIM_TPOT_MS": str(TPOT_MS),
                "SGLANG_SIM_MAX_RUNNING": str(MAX_RUNNING), "SGLANG_SIM_DEV_DIR": os.path.join(work, "dev"),
                "ASCEND_RT_VISIBLE_DEVICES": "0,1", "PYTHONUNBUFFERED": "1"})
    port = _free_port()
    log_path = os.path.join(work, "server.log")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, SIM, "--model-path", model_dir, "--device", "npu",
                                 "--attention-backend", "ascend", "--tp", "2", "--disable-overlap-schedule",
                                 "--host", "127.0.0.1", "--port", str(port)],
                                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=work)
    deadline = time.monotonic() + 30
    while True:
        with open(log_path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
        if READY in text:
            break
        assert proc.poll() is None, "simulator exited:\n" + text
        assert time.monotonic() < deadline, "simulator not ready:\n" + text
        time.sleep(0.1)
    yield {"port": port, "log": log_path}
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def test_pipeline_recovers_the_simulated_latency(client_python, client, model_dir, server, tmp_path):
    """Two concurrencies below the simulator's running limit; every number is checked."""
    node_dir = tmp_path / "node"
    node_dir.mkdir()
    values = {"sglang_service_model_path": model_dir, "sglang_service_tp": 1, "sglang_service_device": "npu",
              "sglang_service_attention_backend": "ascend", "sglang_service_host": "127.0.0.1",
              "sglang_service_launcher": ["python3", "-m", "sglang.launch_server"]}
    servers, _keys = resolve([{"name": "main", "port": server["port"]}], values, "node1", {}, {}, {})
    targets = bench_targets(servers)
    runs = bench_runs(targets, {
        "engine": "sglang", "concurrency": [4, 16], "num_prompts": None, "prompts_per_concurrency": 2,
        "min_prompts": 16, "input_len": 1024, "output_len": 64, "range_ratio": 1.0, "request_rate": "inf",
        "warmup_requests": 1, "seed": 1, "dataset_name": "random-ids", "node_dir": str(node_dir),
    }, supported=client["flags"])
    assert [run["num_prompts"] for run in runs] == [16, 32]
    raw = tmp_path / "run" / "raw" / "node1"
    raw.mkdir(parents=True)
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    for run in runs:
        argv = [client_python, "-m", client["module"]] + run["client_args"]
        proc = subprocess.run(argv, cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, check=False, timeout=600)
        assert proc.returncode == 0, "client failed:\n%s" % proc.stdout[-6000:]
        assert "Serving Benchmark Result" in proc.stdout
        shutil.copy(run["output_file"], str(raw / (run["name"] + ".jsonl")))
        (raw / (run["name"] + ".log")).write_text(proc.stdout, encoding="utf-8")
        meta = {"command": argv, "engine": "sglang", "backend": "sglang", "num_prompts": run["num_prompts"],
                "max_concurrency": run["max_concurrency"], "input_len": 1024, "output_len": 64, "simulated": True,
                "host": "node1", "run": run["name"]}
        (raw / (run["name"] + ".meta.json")).write_text(json.dumps(meta), encoding="utf-8")

    inputs = collect_inputs(str(tmp_path / "run"))
    assert inputs.skipped == []
    summary = build_summary(inputs, "fidelity", 2 * TTFT_MS, 5 * TPOT_MS, "p99")
    host_runs = summary["hosts"]["node1"]["runs"]
    assert sorted(host_runs) == sorted(run["name"] for run in runs)  # the console logs beside them are not extra runs
    assert summary["simulated"] is True
    for run in runs:
        record = host_runs[run["name"]]
        assert record["status"] == "ok"
        assert record["completed"] == run["num_prompts"]
        assert record["failed"] == 0
        assert record["max_concurrency"] == run["max_concurrency"]
        assert record["random_input_len"] == 1024 and record["random_output_len"] == 64
        assert record["total_output_tokens"] == 64 * run["num_prompts"]
        ttft, tpot = record["ttft_mean_ms"], record["tpot_mean_ms"]
        print("c%d: mean TTFT %.1f ms (configured %.1f), mean TPOT %.2f ms (configured %.2f), %d/%d completed"
              % (run["max_concurrency"], ttft, TTFT_MS, tpot, TPOT_MS, record["completed"], run["num_prompts"]))
        assert abs(ttft - TTFT_MS) <= TOLERANCE * TTFT_MS, "c%d: mean TTFT %.1f ms, configured %.1f" % (run["max_concurrency"], ttft, TTFT_MS)
        assert abs(tpot - TPOT_MS) <= TOLERANCE * TPOT_MS, "c%d: mean TPOT %.2f ms, configured %.2f" % (run["max_concurrency"], tpot, TPOT_MS)
        # Below the running limit nothing queues: every request takes TTFT + 63 x TPOT.
        e2e = TTFT_MS + 63 * TPOT_MS
        assert abs(record["e2e_mean_ms"] - e2e) <= TOLERANCE * e2e
        # Throughput follows from the latency: c requests in flight, each producing 64 tokens per e2e.
        expected = run["max_concurrency"] * 64 / (e2e / 1000.0)
        assert record["output_throughput"] <= expected * (1 + TOLERANCE)
        assert record["output_throughput"] >= expected * 0.8  # ramp-up and drain of the rounds
    knee = summary["hosts"]["node1"]["knee"]
    assert list(knee.values())[0]["max_concurrency"] == 16


# --------------------------------------------------------------------------- the playbooks

SIMCTL = os.path.join(ROOT, "tests", "sim", "simctl")
API_KEY = "fidelity-s3cret-key"


def _load_simctl():
    import importlib.machinery
    import importlib.util
    loader = importlib.machinery.SourceFileLoader("simctl_for_bench", SIMCTL)
    spec = importlib.util.spec_from_loader("simctl_for_bench", loader)
    module = importlib.util.module_from_spec(spec)
    saved, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = saved
    return module


# What sglang 0.4.9's bench_serving needs, without torch (simctl's bench client image has the same).
CLIENT_REQUIREMENTS = _load_simctl().BENCH_CLIENT_REQUIREMENTS


@pytest.fixture(scope="module")
def client_image(client_python):
    """An image with the real client (simctl bench-client: the CANN stand-in plus the client's
    wheels, installed without network), kept and tagged by a hash of its recipe."""
    return _load_simctl().bench_client_image(save=False)[0]


def _ansible(args, tmp_path):
    env = tool_env({"ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp")})
    return subprocess.run([tool("ansible-playbook")] + args, cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False, timeout=1800)


@pytest.fixture(scope="module")
def keyed_server(model_dir, tmp_path_factory):
    """The simulator with an API key, as a deployment with sglang_service_api_key runs it."""
    work = str(tmp_path_factory.mktemp("sim-keyed"))
    os.makedirs(os.path.join(work, "dev"))
    os.makedirs(os.path.join(work, "profile"))
    env = dict((key, value) for key, value in os.environ.items() if not key.startswith(("SGLANG_", "ASCEND_RT_")))
    env.update({"SGLANG_SIM_STARTUP_S": "0", "SGLANG_SIM_TTFT_MS": str(TTFT_MS), "SGLANG_SIM_TPOT_MS": str(TPOT_MS),
                "SGLANG_SIM_MAX_RUNNING": str(MAX_RUNNING), "SGLANG_SIM_DEV_DIR": os.path.join(work, "dev"),
                "ASCEND_RT_VISIBLE_DEVICES": "0,1", "PYTHONUNBUFFERED": "1",
                "SGLANG_TORCH_PROFILER_DIR": os.path.join(work, "profile")})
    port = _free_port()
    log_path = os.path.join(work, "server.log")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, SIM, "--model-path", model_dir, "--device", "npu",
                                 "--attention-backend", "ascend", "--tp", "2", "--served-model-name", "sim-model",
                                 "--api-key", API_KEY, "--host", "127.0.0.1", "--port", str(port)],
                                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=work)
    deadline = time.monotonic() + 30
    while True:
        with open(log_path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
        if READY in text:
            break
        assert proc.poll() is None, "simulator exited:\n" + text
        assert time.monotonic() < deadline, "simulator not ready:\n" + text
        time.sleep(0.1)
    yield {"port": port, "profile_dir": os.path.join(work, "profile")}
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def _inventory(tmp_path, image, model_dir, port, extra=None):
    """This machine as the one node (local connection), the client image, the simulator's port."""
    node_vars = {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "docker_npu_spec": {"image": image, "privileged": False, "capabilities": [], "security_opts": [],
                            "network_mode": "host", "shm_size": "1g", "devices": [], "volumes": [], "env": {}},
        "sglang_service_image": image,
        "sglang_service_port": port,
        "sglang_service_model_path": model_dir,
        # The weights' directory, as validation wants it mounted into the serving containers.
        "docker_npu_model_dir": model_dir,
        "sglang_service_api_key": API_KEY,
        # The stand-in image has no CANN environment wrapper; the client runs directly.
        "sglang_bench_env_wrapper": [],
        "sglang_bench_node_dir": str(tmp_path / "node"),
        "sglang_bench_report_dir": str(tmp_path / "reports"),
        "sglang_bench_concurrency": [4, 16],
        "sglang_bench_min_prompts": 16,
        "sglang_bench_prompts_per_concurrency": 2,
        "sglang_bench_output_len": 64,
        "sglang_bench_simulated": True,
    }
    node_vars.update(extra or {})
    inventory = {"all": {"children": {"npu_nodes": {"hosts": {"bench-local": node_vars}}}}}
    path = tmp_path / "hosts.json"
    path.write_text(json.dumps(inventory), encoding="utf-8")
    return str(path)


def test_benchmark_playbook_recovers_the_simulated_latency(client_image, model_dir, keyed_server, tmp_path):
    """benchmark.yml on this machine as the node: client container -> raw files -> report, and no key leaks."""
    inventory = _inventory(tmp_path, client_image, model_dir, keyed_server["port"],
                           {"sglang_bench_sla": {"ttft_p99_ms": 5000, "min_completed_ratio": 1.0}})
    proc = _ansible(["-i", inventory, "playbooks/benchmark.yml", "-e", "sglang_bench_run_id=fidelity"], tmp_path)
    assert proc.returncode == 0, proc.stdout[-12000:]
    assert API_KEY not in proc.stdout
    run_dir = tmp_path / "reports" / "fidelity"
    leaked = [str(path) for path in run_dir.rglob("*") if path.is_file() and API_KEY.encode() in path.read_bytes()]
    assert leaked == []
    raw = run_dir / "raw" / "bench-local"
    names = sorted(path.name for path in raw.iterdir())
    assert names == sorted("main_sglang_in1024_out64_c%d.%s" % (c, ext) for c in (4, 16) for ext in ("jsonl", "log", "meta.json"))
    meta = json.loads((raw / "main_sglang_in1024_out64_c16.meta.json").read_text(encoding="utf-8"))
    assert meta["status"] == "ok" and meta["num_prompts"] == 32 and meta["simulated"] is True
    assert meta["client"]["module"] == "sglang.bench_serving"
    assert meta["command"][:3] == ["docker", "run", "--rm"] and client_image in meta["command"]
    # The key went through a root-only file mounted into the client's container, neither on the
    # command line nor in docker's environment of the container.
    assert any(item.endswith(":/run/secrets/npu-sglang.env:ro") for item in meta["command"])
    assert "--env-file" not in meta["command"] and not any(API_KEY in item for item in meta["command"])
    assert meta["server_flags"]["served_model_name"] == "sim-model"
    assert "api_key" not in meta["server_flags"]
    assert not (tmp_path / "node" / "fidelity" / ".keys").exists()

    summary = json.loads((run_dir / "report" / "summary.json").read_text(encoding="utf-8"))
    assert summary["simulated"] is True
    runs = summary["hosts"]["bench-local"]["runs"]
    assert sorted(runs) == ["main_sglang_in1024_out64_c16", "main_sglang_in1024_out64_c4"]
    for name, record in runs.items():
        assert record["completed"] == record["num_prompts"], name
        assert abs(record["ttft_mean_ms"] - TTFT_MS) <= TOLERANCE * TTFT_MS, "%s: mean TTFT %.1f" % (name, record["ttft_mean_ms"])
        assert abs(record["tpot_mean_ms"] - TPOT_MS) <= TOLERANCE * TPOT_MS, "%s: mean TPOT %.2f" % (name, record["tpot_mean_ms"])
    assert summary["limits"]["violations"] == 0
    assert (run_dir / "report" / "report.html").is_file()
    # The answer comes last, after the recap: what ran, then the report's path as the last line.
    tail = [line for line in proc.stdout.splitlines() if line.strip()][-5:]
    assert tail[-1] == "npu.sglang: report: %s" % (run_dir / "report" / "report.html").resolve(), tail
    completed = sum(record["completed"] for record in runs.values())
    best = max(runs.values(), key=lambda record: record["output_throughput"])
    assert ("npu.sglang: %d requests in 2 benchmark runs on 1 host; best output throughput %.1f tok/s (bench-local, "
            "concurrency %d)" % (completed, best["output_throughput"], best["max_concurrency"])) in tail, tail


def test_sla_violation_fails_after_the_report(client_image, model_dir, keyed_server, tmp_path):
    """A limit no run can meet: the report is written, names the violation, and the playbook fails."""
    inventory = _inventory(tmp_path, client_image, model_dir, keyed_server["port"],
                           {"sglang_bench_concurrency": [4], "sglang_bench_sla": {"tpot_mean_ms": TPOT_MS / 2}})
    proc = _ansible(["-i", inventory, "playbooks/benchmark.yml", "-e", "sglang_bench_run_id=sla"], tmp_path)
    assert proc.returncode != 0
    assert "SLA limit violation" in proc.stdout
    summary = json.loads((tmp_path / "reports" / "sla" / "report" / "summary.json").read_text(encoding="utf-8"))
    assert summary["limits"]["violations"] == 1
    finding = summary["limits"]["findings"][0]
    assert finding["limit"] == "tpot_mean_ms" and finding["kind"] == "violation" and finding["value"] > TPOT_MS / 2
    assert "SLA" in (tmp_path / "reports" / "sla" / "report" / "report.md").read_text(encoding="utf-8")
    # A failed gate still ends with the report's path.
    last = [line for line in proc.stdout.splitlines() if line.strip()][-1]
    assert last == "npu.sglang: report: %s" % (tmp_path / "reports" / "sla" / "report" / "report.html").resolve(), last


def test_profile_playbook_counts_and_fetches_the_traces(client_image, model_dir, keyed_server, tmp_path):
    """profile.yml: the profiler directory is checked, one run with --profile, the traces packed and fetched."""
    inventory = _inventory(tmp_path, client_image, model_dir, keyed_server["port"],
                           {"sglang_service_profiler_dir": keyed_server["profile_dir"], "sglang_bench_profile_concurrency": 4,
                            "sglang_bench_profile_num_prompts": 8})
    proc = _ansible(["-i", inventory, "playbooks/profile.yml", "-e", "sglang_bench_run_id=prof"], tmp_path)
    assert proc.returncode == 0, proc.stdout[-12000:]
    profile = tmp_path / "reports" / "prof" / "profile" / "bench-local"
    index = profile / "main-traces.yml"
    import yaml
    listing = yaml.safe_load(index.read_text(encoding="utf-8"))
    # The simulator writes one trace per tp rank (tp 2) at /stop_profile.
    assert listing["traces"] == 2 and listing["left_on_node"] == [] and len(listing["in_archive"]) == 2
    assert all(name.endswith(".trace.json.gz") for name in listing["in_archive"])
    import tarfile
    with tarfile.open(str(profile / "main-traces.tar.gz")) as archive:
        assert sorted(archive.getnames()) == sorted(listing["in_archive"])
    meta = json.loads((tmp_path / "reports" / "prof" / "raw" / "bench-local" / "main_sglang_profile_in1024_out64_c4.meta.json")
                      .read_text(encoding="utf-8"))
    # With an API key the play starts and stops the profiler itself (the client's --profile sends no key).
    assert meta["profile"] is False and "--profile" not in meta["client_args"] and meta["num_prompts"] == 8
    assert meta["status"] == "ok"


def test_profile_playbook_refuses_a_missing_profiler_dir(client_image, model_dir, keyed_server, tmp_path):
    inventory = _inventory(tmp_path, client_image, model_dir, keyed_server["port"],
                           {"sglang_service_profiler_dir": str(tmp_path / "no-such-dir")})
    proc = _ansible(["-i", inventory, "playbooks/profile.yml", "-e", "sglang_bench_run_id=noprof"], tmp_path)
    assert proc.returncode != 0
    assert "the profiler directory %s does not exist" % (tmp_path / "no-such-dir") in proc.stdout


def test_accuracy_playbook_names_the_missing_script(client_image, model_dir, keyed_server, tmp_path):
    """The client image has sglang from a wheel, without benchmark/: a clear failure naming the path."""
    inventory = _inventory(tmp_path, client_image, model_dir, keyed_server["port"], {"sglang_service_api_key": ""})
    proc = _ansible(["-i", inventory, "playbooks/accuracy.yml", "-e", "sglang_bench_run_id=acc"], tmp_path)
    assert proc.returncode != 0
    assert "/opt/sglang-src/sglang/benchmark/mmlu/bench_sglang.py, /opt/sglang-src/sglang/benchmark/gsm8k/bench_sglang.py not found" in proc.stdout
    assert "not of its wheel or source distribution" in proc.stdout
