"""The benchmark plan and command lines of role sglang_bench (module_utils/bench_command.py)."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
COLLECTIONS = os.path.join(ROOT, ".collections")
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)

from ansible_collections.npu.sglang.plugins.module_utils.bench_command import (  # noqa: E402
    BenchPlanError, bench_runs, bench_targets, client_args, docker_run, num_prompts_for,
    redact, run_name, server_flags, vllm_server_args,
)
from ansible_collections.npu.sglang.plugins.module_utils.instances import resolve  # noqa: E402

SETTINGS = {
    "engine": "sglang", "concurrency": [8, 16, 32, 64, 128], "num_prompts": None, "prompts_per_concurrency": 4,
    "min_prompts": 32, "input_len": 1024, "output_len": 512, "range_ratio": 1.0, "request_rate": "inf",
    "warmup_requests": 1, "seed": 1, "dataset_name": "random-ids", "node_dir": "/data/sglang-cache/bench/r1",
}


# --------------------------------------------------------------------------- targets

# The role variables as role sglang_service's defaults leave them (those a target reads set).
VALUES = dict(("sglang_service_" + key, value) for key, value in {
    "model_path": "", "served_model_name": "", "devices": [0, 1, 2, 3, 4, 5, 6, 7], "tp": 8, "device": "npu",
    "attention_backend": "ascend", "grammar_backend": "", "disable_overlap_schedule": False, "max_total_tokens": None,
    "mem_fraction_static": 0.9, "quantization": "", "chunked_prefill_size": None, "enable_metrics": False,
    "host": "0.0.0.0", "port": 30000, "auth": False, "api_key": "", "extra_args": [], "env": {},
    "launcher": ["python3", "-m", "sglang.launch_server"], "image": "", "profiler_dir": "/data/sglang-cache/profile",
    "node_group": "", "dist_port": 5000, "socket_ifname": "",
}.items())


def resolved(entries, **values):
    """The servers of host h1 as the one resolver (module_utils/instances.py) returns them."""
    servers, _keys = resolve(entries, dict(VALUES, **dict(("sglang_service_" + k, v) for k, v in values.items())),
                             "h1", {}, {"privileged": False}, {})
    return servers


def targets_of(entries, select=None, image=None, profiler_dir=None, deployed=None, **values):
    return bench_targets(resolved(entries, **values), select, image, profiler_dir, deployed)


def test_targets_carry_the_settings_the_units_run_with():
    entries = [{"name": "main"}, {"name": "small", "port": 30001, "devices": [4, 5], "model_path": "/m/small",
                                  "extra_args": ["--context-length", "8192", "--max-running-requests=64"]}]
    main, small = targets_of(entries, model_path="/m/big", image="img:1", served_model_name="big")
    assert main == {"name": "main", "port": 30000, "image": "img:1", "devices": list(range(8)), "tp": 8,
                    "profiler_dir": "/data/sglang-cache/profile", "auth": False, "model_path": "/m/big",
                    "served_model_name": "big", "mem_fraction_static": "0.9", "max_running_requests": None,
                    "context_length": None}
    assert (small["port"], small["model_path"], small["devices"], small["tp"]) == (30001, "/m/small", [4, 5], 2)
    assert (small["context_length"], small["max_running_requests"]) == ("8192", "64")


def test_the_benchmark_overrides_and_the_deployed_image():
    deployed = {"main": {"image": "npu-sglang:seed-abc"}, "b": {"image": "npu-sglang:seed-old"}}
    main, other = targets_of([{"name": "main"}, {"name": "b", "image": "img:b"}], deployed=deployed, model_path="/m")
    assert (main["image"], other["image"]) == ("npu-sglang:seed-abc", "img:b")
    main, other = targets_of([{"name": "main"}, {"name": "b", "image": "img:b"}], image="client:1", profiler_dir="/p",
                             deployed=deployed, model_path="/m")
    assert (main["image"], other["image"], main["profiler_dir"]) == ("client:1", "client:1", "/p")
    target, = targets_of([{"name": "main"}], model_path="/m")
    assert target["image"] is None


def test_api_keys_never_enter_a_target():
    targets = targets_of([{"name": "a"}, {"name": "b", "api_key": ""}, {"name": "c", "api_key": "k-c"}], api_key="k-role")
    assert [t["auth"] for t in targets] == [True, False, True]
    assert "k-role" not in repr(targets) and "k-c" not in repr(targets)


def test_selecting_instances():
    instances = [{"name": "a"}, {"name": "b"}]
    assert [t["name"] for t in targets_of(instances, select=["b"])] == ["b"]
    with pytest.raises(BenchPlanError, match="sglang_bench_instances names c, but this host serves only a, b"):
        targets_of(instances, select=["c"])


@pytest.mark.parametrize("servers, words", [
    ([], "no server resolved"),
    ("main", "no server resolved"),
    ([{"name": "main"}], "not an output of npu.sglang.resolve_instances"),
    ([{"name": "a", "argv": [], "port": "http", "tp": 1}], "port of instance a must be an integer"),
])
def test_what_is_not_the_resolvers_output_is_refused(servers, words):
    with pytest.raises(BenchPlanError, match=words):
        bench_targets(servers)


# --------------------------------------------------------------------------- prompts and runs

def test_default_prompts_are_four_rounds_with_a_floor_of_32():
    assert [num_prompts_for(c) for c in (1, 8, 16, 32, 64, 128)] == [32, 32, 64, 128, 256, 512]
    assert num_prompts_for(128, num_prompts=32) == 32
    assert num_prompts_for(10, per_concurrency=2, minimum=5) == 20


def test_the_seed_profile_command_line():
    """The recipe: --backend sglang --num-prompt 32 --random-input-len 1024 --max-concurrency 32 --profile."""
    args, dropped = client_args({
        "backend": "sglang", "host": "127.0.0.1", "port": 30000, "dataset_name": "random-ids", "tokenizer": "/data/models/m",
        "num_prompts": 32, "input_len": 1024, "output_len": 512, "range_ratio": 1.0, "request_rate": "inf",
        "max_concurrency": 32, "warmup_requests": 1, "seed": 1, "output_file": "/d/r.jsonl", "profile": True})
    assert args == ["--backend", "sglang", "--host", "127.0.0.1", "--port", "30000", "--dataset-name", "random-ids",
                    "--tokenizer", "/data/models/m", "--num-prompts", "32", "--random-input-len", "1024",
                    "--random-output-len", "512", "--random-range-ratio", "1", "--request-rate", "inf",
                    "--max-concurrency", "32", "--seed", "1", "--warmup-requests", "1", "--output-file", "/d/r.jsonl",
                    "--disable-tqdm", "--profile"]
    assert dropped == []


def test_flags_the_client_lacks_are_left_out_and_named():
    base = {"port": 30000, "tokenizer": "/m", "num_prompts": 8, "input_len": 16, "output_len": 8,
            "warmup_requests": 2, "output_file": "/o.jsonl"}
    old_client = ["--backend", "--host", "--port", "--dataset-name", "--tokenizer", "--num-prompts", "--output-file"]
    args, dropped = client_args(base, supported=old_client)
    assert "--warmup-requests" not in args and "--disable-tqdm" not in args
    assert dropped == ["--warmup-requests", "--disable-tqdm"]


@pytest.mark.parametrize("change, words", [
    ({"dataset_name": "random"}, "downloads ShareGPT unless sglang_bench_dataset_path"),
    ({"tokenizer": ""}, "no tokenizer"),
    ({"range_ratio": 1.5}, "within 0..1"),
    ({"request_rate": 0}, "positive number or inf"),
    ({"request_rate": "fast"}, "positive number or inf"),
    ({"num_prompts": 0}, "num_prompts must be >= 1"),
    ({"output_file": ""}, "own --output-file"),
    ({"extra_args": "--flush-cache"}, "list of arguments"),
])
def test_client_settings_that_cannot_work_are_refused(change, words):
    options = {"port": 30000, "tokenizer": "/m", "num_prompts": 8, "input_len": 16, "output_len": 8, "output_file": "/o.jsonl"}
    options.update(change)
    with pytest.raises(BenchPlanError, match=words):
        client_args(options)


def test_random_dataset_with_a_local_path_and_a_finite_rate():
    args, dummy = client_args({"port": 1, "tokenizer": "/m", "num_prompts": 8, "input_len": 16, "output_len": 8,
                               "output_file": "/o", "dataset_name": "random", "dataset_path": "/d/sharegpt.json",
                               "request_rate": "4", "range_ratio": 0.5, "model": "served", "extra_args": ["--flush-cache"]})
    assert args[args.index("--dataset-path") + 1] == "/d/sharegpt.json"
    assert args[args.index("--request-rate") + 1] == "4"
    assert args[args.index("--random-range-ratio") + 1] == "0.5"
    assert args[args.index("--model") + 1] == "served"
    assert args[-1] == "--flush-cache"


def test_a_sweep_is_one_run_per_concurrency_with_its_own_output_file():
    targets = targets_of([{"name": "main", "model_path": "/data/models/m"}], image="img")
    runs = bench_runs(targets, SETTINGS)
    assert [r["name"] for r in runs] == ["main_sglang_in1024_out512_c%d" % c for c in (8, 16, 32, 64, 128)]
    assert [r["num_prompts"] for r in runs] == [32, 64, 128, 256, 512]
    assert [r["output_file"] for r in runs] == ["/data/sglang-cache/bench/r1/%s.jsonl" % r["name"] for r in runs]
    run = runs[2]
    assert run["client_args"][run["client_args"].index("--max-concurrency") + 1] == "32"
    assert run["client_args"][run["client_args"].index("--tokenizer") + 1] == "/data/models/m"
    assert (run["port"], run["image"], run["engine"], run["backend"], run["request_rate"]) == (30000, "img", "sglang", "sglang", "inf")


def test_a_vllm_sweep_uses_its_own_port_backend_and_label():
    targets = targets_of([{"name": "main", "model_path": "/m"}])
    settings = dict(SETTINGS, engine="vllm", backend="vllm", port=8000, label="long", concurrency=[32], output_len=2048,
                    tokenizer="/tok")
    run, = bench_runs(targets, settings)
    assert run["name"] == "main_vllm_long_in1024_out2048_c32"
    args = run["client_args"]
    assert args[:6] == ["--backend", "vllm", "--host", "127.0.0.1", "--port", "8000"]
    assert args[args.index("--tokenizer") + 1] == "/tok"


@pytest.mark.parametrize("concurrency, words", [([], "non-empty list"), ([8, 8], "lists a value twice"), ([0], ">= 1"),
                                                ("8,16", "non-empty list")])
def test_bad_sweeps_are_refused(concurrency, words):
    with pytest.raises(BenchPlanError, match=words):
        bench_runs(targets_of([{"name": "m", "model_path": "/m"}]), dict(SETTINGS, concurrency=concurrency))


def test_run_names_are_file_safe():
    assert run_name("a/b c", "sglang", 1, 2, 3) == "a-b-c_sglang_in1_out2_c3"


# --------------------------------------------------------------------------- containers

SPEC = {"image": "base", "privileged": False, "capabilities": ["SYS_ADMIN"], "security_opts": ["seccomp=unconfined"],
        "network_mode": "host", "shm_size": "16g", "devices": ["/dev/davinci0:/dev/davinci0:rwm"],
        "volumes": ["/usr/local/Ascend/driver:/usr/local/Ascend/driver:ro", "/data:/data"],
        "env": {"ASCEND_RT_VISIBLE_DEVICES": "0,1", "HF_HOME": "/data/hf"}}


def test_the_client_container_gets_no_npu_but_the_spec_mounts_and_the_host_network():
    argv = docker_run(SPEC, "img:1", ["npu-sglang-env", "python3", "-m", "sglang.bench_serving", "--port", "30000"],
                      name="npu-sglang-bench-main", env={"HF_HUB_OFFLINE": "1"}, env_file="/r/.keys/main.env",
                      volumes=["/data:/data", "/data/models/m:/data/models/m:ro"], workdir="/r")
    assert argv[:6] == ["docker", "run", "--rm", "--name", "npu-sglang-bench-main", "--network"]
    assert argv[6] == "host"
    assert not [item for item in argv if item.startswith(("--device", "--privileged", "--shm-size", "--cap-add"))], argv
    volumes = [argv[i + 1] for i, item in enumerate(argv) if item == "-v"]
    assert volumes == ["/usr/local/Ascend/driver:/usr/local/Ascend/driver:ro", "/data:/data", "/data/models/m:/data/models/m:ro",
                       "/r/.keys/main.env:/run/secrets/npu-sglang.env:ro"]
    envs = [argv[i + 1] for i, item in enumerate(argv) if item == "-e"]
    assert envs == ["ASCEND_RT_VISIBLE_DEVICES=0,1", "HF_HOME=/data/hf", "HF_HUB_OFFLINE=1"]
    # The secrets file is read inside the container, not handed to docker (--env-file would
    # store the values in the container's configuration).
    assert "--env-file" not in argv
    assert argv[argv.index("-w") + 1] == "/r"
    rest = argv[argv.index("img:1"):]
    assert rest[:3] == ["img:1", "sh", "-c"] and rest[4] == "npu-sglang-secrets"
    assert rest[5:] == ["npu-sglang-env", "python3", "-m", "sglang.bench_serving", "--port", "30000"]
    assert "-i" not in argv


def test_the_sweep_driver_container_keeps_its_stdin_open_for_the_plan():
    argv = docker_run(SPEC, "img:1", ["python3", "-c", "import sys; sys.stdin.read()"], name="npu-sglang-bench-main",
                      interactive=True)
    assert argv[:4] == ["docker", "run", "-i", "--rm"]


def test_the_secrets_loader_exports_every_line_as_it_is(tmp_path):
    env_file = tmp_path / "main.env"
    env_file.write_text("OPENAI_API_KEY=a b$c'd\"=e\nVLLM_API_KEY=k2")  # no newline at the end
    argv = docker_run(SPEC, "img", ["sh", "-c", 'printf "%s|%s" "$OPENAI_API_KEY" "$VLLM_API_KEY"'], env_file=str(env_file))
    rest = argv[argv.index("img") + 1:]
    script = rest[2].replace("/run/secrets/npu-sglang.env", str(env_file))
    out = subprocess.run(["sh", "-c", script] + rest[3:], check=True, text=True, stdout=subprocess.PIPE).stdout
    assert out == "a b$c'd\"=e|k2"


def test_a_server_container_gets_the_npu_part_of_the_spec():
    argv = docker_run(dict(SPEC, privileged=True), "img", ["serve"], name="npu-vllm-main", detach=True, npu=True, remove=False,
                      env={"ASCEND_RT_VISIBLE_DEVICES": "4,5"})
    assert argv[:5] == ["docker", "run", "-d", "--name", "npu-vllm-main"]
    assert "--rm" not in argv
    # The NPU part is the one container definition's (module_utils/container.py).
    for option in ("--cap-add=SYS_ADMIN", "--security-opt=seccomp=unconfined", "--shm-size=16g",
                   "--device=/dev/davinci0:/dev/davinci0:rwm"):
        assert option in argv, argv
    assert "--privileged" in argv
    assert "ASCEND_RT_VISIBLE_DEVICES=4,5" in argv and "ASCEND_RT_VISIBLE_DEVICES=0,1" not in argv


def test_a_container_needs_an_image_and_a_command():
    with pytest.raises(BenchPlanError, match="no image to run"):
        docker_run(SPEC, "", ["x"])
    with pytest.raises(BenchPlanError, match="non-empty list"):
        docker_run(SPEC, "img", "python3 -V")


# --------------------------------------------------------------------------- vLLM

def test_vllm_matches_the_sglang_instance():
    target, = targets_of([{"name": "main", "served_model_name": "llama", "devices": [0, 1, 2, 3]}],
                         model_path="/data/models/llama", extra_args=["--context-length", "8192"])
    args = vllm_server_args(target, {"port": 8000})
    assert args == ["--model", "/data/models/llama", "--host", "127.0.0.1", "--port", "8000", "--served-model-name", "llama",
                    "--tensor-parallel-size", "4", "--gpu-memory-utilization", "0.9", "--max-model-len", "8192"]
    args = vllm_server_args(target, {"port": 8001, "gpu_memory_utilization": 0.8, "max_num_seqs": 128, "extra_args": ["--enforce-eager"]})
    assert args[args.index("--gpu-memory-utilization") + 1] == "0.8"
    assert args[args.index("--max-num-seqs") + 1] == "128"
    assert args[-1] == "--enforce-eager"


def test_vllm_refuses_what_cannot_work():
    target, = targets_of([{"name": "main"}])
    with pytest.raises(BenchPlanError, match="no model path"):
        vllm_server_args(target, {"port": 8000})
    target["model_path"] = "/m"
    with pytest.raises(BenchPlanError, match="within"):
        vllm_server_args(target, {"port": 8000, "gpu_memory_utilization": 1.5})


# --------------------------------------------------------------------------- secrets

SERVER_INFO = {
    "model_path": "/data/models/m", "tokenizer_path": "/data/models/m", "api_key": "s3cret", "admin_api_key": "adm1n",
    "hf_token": "hf_x", "max_total_tokens": 4096, "tp_size": 2, "disable_overlap_schedule": True,
    "internal_states": [{"last_gen_throughput": 12.5, "memory_usage": {"weight": 1.5}}],
    "nested": {"lora": [{"name": "a", "api_key": "k"}]},
}


def test_redact_drops_every_secret_at_any_depth_and_keeps_token_settings():
    clean = redact(SERVER_INFO)
    text = repr(clean)
    for secret in ("s3cret", "adm1n", "hf_x", "'k'"):
        assert secret not in text
    assert clean["tokenizer_path"] == "/data/models/m" and clean["max_total_tokens"] == 4096
    assert clean["nested"] == {"lora": [{"name": "a"}]}
    assert SERVER_INFO["api_key"] == "s3cret"  # a copy, the input is untouched


def test_server_flags_leave_out_the_state_of_the_moment():
    flags = server_flags(SERVER_INFO)
    assert "internal_states" not in flags and "api_key" not in flags
    assert flags["tp_size"] == 2
    assert server_flags(None) == {}
