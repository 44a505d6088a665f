"""The launch contract: SGLang's own parser, read from the real source of each profile's release.

roles/npu_stack/files/sglang_cli/<release>.json holds what validation checks every server's launch
line against; here it is rebuilt from that release's wheel on the package index and must be equal.
The API simulator refuses, as the release does, what the release installed beside it lacks. The
benchmark client's argv is checked the same way against the release's own bench_serving.py.
Regenerate the files with NPU_SGLANG_WRITE_CONTRACTS=1 (after adding a profile).
"""
import ast
import json
import os
import subprocess
import sys
import zipfile

import pytest
import yaml

from ansible_collections.npu.sglang.plugins.module_utils import sglang_args

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CONTRACTS = os.path.join(ROOT, "roles", "npu_stack", "files", "sglang_cli")
STACKS = os.path.join(ROOT, "roles", "npu_stack", "vars", "stacks")
SIM = os.path.join(ROOT, "tests", "sim", "node", "sglang-sim")


def releases():
    found = set()
    for name in os.listdir(STACKS):
        with open(os.path.join(STACKS, name), encoding="utf-8") as handle:
            found.add(str(yaml.safe_load(handle)["npu_stack_profile_data"]["sglang_release"]))
    return sorted(found)


@pytest.fixture(scope="module")
def wheels(tmp_path_factory):
    """The wheel of every profile's SGLang release, from the index pip is configured with."""
    cache = os.path.join(ROOT, ".sim", "cache", "wheels")
    os.makedirs(cache, exist_ok=True)
    found = {}
    for release in releases():
        have = [n for n in os.listdir(cache) if n.startswith("sglang-%s-" % release) and n.endswith(".whl")]
        if not have:
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary", ":all:",
                            "-d", cache, "sglang==%s" % release], check=True, timeout=600)
            have = [n for n in os.listdir(cache) if n.startswith("sglang-%s-" % release) and n.endswith(".whl")]
        found[release] = os.path.join(cache, sorted(have)[0])
    return found


@pytest.mark.parametrize("release", releases())
def test_the_checked_in_contract_is_the_releases_own_parser(wheels, release):
    path = wheels[release]
    options = sglang_args.read_options(sglang_args.server_args_source(path))
    expected = sglang_args.contract(release, "sglang-%s (package index) %s" % (release, sglang_args.SERVER_ARGS),
                                    options)
    target = os.path.join(CONTRACTS, "%s.json" % release)
    if os.environ.get("NPU_SGLANG_WRITE_CONTRACTS"):
        with open(target, "w", encoding="utf-8") as handle:
            json.dump(expected, handle, indent=1, sort_keys=True)
            handle.write("\n")
    with open(target, encoding="utf-8") as handle:
        assert json.load(handle) == json.loads(json.dumps(expected))
    # What the recipe's serving line needs is there in every release the profiles build.
    for flag in ("--model-path", "--tp-size", "--device", "--attention-backend", "--grammar-backend",
                 "--disable-overlap-schedule", "--max-total-tokens", "--mem-fraction-static", "--host", "--port"):
        assert flag in options, (release, flag)
    assert "ascend" in options["--attention-backend"]["choices"]


def test_the_reader_refuses_what_argparse_refuses(wheels):
    options = sglang_args.read_options(sglang_args.server_args_source(wheels["0.4.9"]))
    good = ["--model-path", "/m", "--device", "npu", "--attention-backend", "ascend", "--tp-size", "2",
            "--disable-overlap-schedule", "--quantization=w8a8_int8", "--cuda-graph-bs", "1", "2", "--host", "h"]
    assert sglang_args.check_argv(options, good) == []
    assert sglang_args.check_argv(options, good + ["--quantization", "modelslim", "--enable-npu-foo", "--x=1"]) == [
        ("--quantization", "argument --quantization: invalid choice: 'modelslim' (choose from %s)"
         % ", ".join(repr(c) for c in options["--quantization"]["choices"])),
        ("--enable-npu-foo", "unrecognized arguments: --enable-npu-foo --x=1")]
    assert sglang_args.check_argv(options, ["--port"]) == [("--port", "argument --port: expected one argument")]


def _install_release(wheel, site):
    """The release's package and metadata in a site directory, as pip would lay them (no deps)."""
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if name.startswith(("sglang/srt/server_args.py", "sglang/__init__.py")) or ".dist-info/METADATA" in name:
                archive.extract(name, site)
    # Enough of a package for find_spec(); the simulator never imports it.
    os.makedirs(os.path.join(site, "sglang", "srt"), exist_ok=True)


def test_the_simulator_answers_as_the_release_beside_it(wheels, tmp_path):
    site = str(tmp_path / "site")
    _install_release(wheels["0.4.9"], site)
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text(json.dumps({"hidden_size": 64, "num_hidden_layers": 2,
                                                                "num_attention_heads": 2, "vocab_size": 100}))
    env = dict(os.environ, PYTHONPATH=site, SGLANG_SIM_STARTUP_S="0", ASCEND_RT_VISIBLE_DEVICES="0")
    env.pop("SGLANG_SIM_VERSION", None)
    base = [sys.executable, SIM, "--model-path", str(tmp_path / "model"), "--device", "npu",
            "--attention-backend", "ascend", "--port", "1"]
    refused = subprocess.run(base + ["--quantization", "modelslim"], env=env, capture_output=True, text=True,
                             timeout=60, check=False)
    assert refused.returncode == 2
    assert "launch_server.py: error: argument --quantization: invalid choice: 'modelslim'" in refused.stderr
    unknown = subprocess.run(base + ["--enable-npu-foo"], env=env, capture_output=True, text=True, timeout=60,
                             check=False)
    assert unknown.returncode == 2 and "unrecognized arguments: --enable-npu-foo" in unknown.stderr
    # Without the release beside it, the simulator's own parser is all there is: it knows modelslim.
    plain = dict(env, PYTHONPATH="")
    other = subprocess.run(base + ["--quantization", "modelslim", "--port", "70000"], env=plain, capture_output=True,
                           text=True, timeout=60, check=False)
    assert "invalid choice" not in other.stdout + other.stderr


@pytest.mark.parametrize("profile", ["seed", "upstream"])
def test_the_example_inventory_passes_the_contract_of_each_profile(profile):
    """inventories/prod, validated on the controller as every playbook starts (no host contacted):
    each server's launch line must pass the parser of the profile's release."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    bindir = os.path.dirname(sys.executable)
    proc = subprocess.run([os.path.join(bindir, "ansible-playbook"), "-i", "inventories/prod", "-e",
                           "npu_stack_profile=%s" % profile, "playbooks/validate.yml"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "failed=0" in proc.stdout


BENCH_CLIENT = "sglang/bench_serving.py"


def _client_options(wheel):
    with zipfile.ZipFile(wheel) as archive:
        return sglang_args.read_options(archive.read(BENCH_CLIENT).decode("utf-8"))


def _role_choices(option):
    path = os.path.join(ROOT, "roles", "sglang_bench", "meta", "argument_specs.yml")
    with open(path, encoding="utf-8") as handle:
        spec = yaml.safe_load(handle)["argument_specs"]["main"]["options"][option]
    return spec.get("choices")


@pytest.mark.parametrize("release", releases())
def test_every_benchmark_argv_passes_the_client_of_the_release(wheels, release):
    """The bench_serving argv the role builds (sweep, profile run, vLLM comparison, every dataset the
    role offers), checked against the parser of the release's own client (sglang/bench_serving.py)."""
    from ansible_collections.npu.sglang.plugins.module_utils import bench_command

    options = _client_options(wheels[release])
    supported = set(options)
    target = {"name": "main", "port": 30000, "model_path": "/data/models/m", "auth": False}
    base = {"concurrency": [1, 64], "input_len": 1024, "output_len": 256, "node_dir": "/var/lib/npu-sglang/bench/r",
            "warmup_requests": 2, "seed": 1, "request_rate": "inf"}
    variants = [dict(base), dict(base, profile=True, request_rate=4.0), dict(base, engine="vllm", backend="vllm", port=8000),
                dict(base, backend="sglang-oai", model="m")]
    variants += [dict(base, dataset_name=name, dataset_path="/data/sets/d.json")
                 for name in _role_choices("sglang_bench_dataset_name")]
    for settings in variants:
        for run in bench_command.bench_runs([target], settings, supported):
            assert sglang_args.check_argv(options, run["client_args"]) == [], (release, settings, run["client_args"])
            assert run["dropped_flags"] == [], run["dropped_flags"]
    # The datasets and backends the role offers are the client's own choices.
    assert set(_role_choices("sglang_bench_dataset_name")) <= set(options["--dataset-name"]["choices"])
    # --backend's choices are the keys of ASYNC_REQUEST_FUNCS, a dict of the client's request functions.
    with zipfile.ZipFile(wheels[release]) as archive:
        tree = ast.parse(archive.read(BENCH_CLIENT).decode("utf-8"))
    backends = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "ASYNC_REQUEST_FUNCS" for t in node.targets):
            backends = set(key.value for key in node.value.keys if isinstance(key, ast.Constant))
    assert {"sglang", "sglang-oai", "vllm"} <= backends, backends
    # A flag the client lacks is refused, in argparse's words.
    bad = bench_command.bench_runs([target], dict(base, extra_args=["--enable-npu-magic"]), supported)[0]
    assert sglang_args.check_argv(options, bad["client_args"]) == [
        ("--enable-npu-magic", "unrecognized arguments: --enable-npu-magic")]
