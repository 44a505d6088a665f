"""Tests of plugins/module_utils/doctor_rules.py: the parsers, the rules of every check and the
probe that runs inside a server's container (run here for real against package trees laid out
as pip installs them)."""
import copy
import json
import os
import socket
import subprocess
import sys

import pytest

from ansible_collections.npu.sglang.plugins.module_utils import doctor_rules as rules
from ansible_collections.npu.sglang.plugins.module_utils.redaction import REDACTED, redact_argv

GIB = 1024 ** 3

# The evidence of a healthy 4-chip server as npu.sglang.doctor_probe gathers it (what the sim
# e2e deployment shows, with a real image's packages).
CLEAN = {
    "name": "main", "unit": "npu-sglang@main.service", "container": "npu-sglang-main",
    "image": "npu-sglang:seed-0123456789ab", "expected": True,
    "record": {"tp": 4, "nnodes": 1, "node_rank": 0, "port": 30000, "host": "0.0.0.0"},
    "unit_state": {"LoadState": "loaded", "ActiveState": "active", "SubState": "running",
                   "NRestarts": "0", "Result": "success"},
    "source": "container",
    "command": ["npu-sglang-env", "sh", "-c", 'exec "$@"', "sglang", "python3", "-m", "sglang.launch_server",
                "--tp-size", "4", "--device", "npu", "--attention-backend", "ascend",
                "--disable-overlap-schedule", "--mem-fraction-static", "0.9", "--port", "30000"],
    "command_env_wrapper": True,
    "env": {"USE_VLLM_CUSTOM_ALLREDUCE": "1", "ASCEND_P2P_ENABLE": "1", "HCCL_CONNECT_TIMEOUT": "1800",
            "SGLANG_TORCH_PROFILER_DIR": "/data/sglang-cache/profile", "ASCEND_RT_VISIBLE_DEVICES": "0,1,2,3"},
    "launch": rules.parse_launch(["--tp-size", "4", "--device", "npu", "--attention-backend", "ascend",
                                  "--disable-overlap-schedule", "--mem-fraction-static", "0.9", "--port", "30000"]),
    "port": 30000,
    "health": 200,
    "server_info": {"tp_size": 4, "device": "npu", "attention_backend": "ascend", "disable_overlap_schedule": True,
                    "mem_fraction_static": 0.9, "nnodes": 1, "node_rank": 0, "disable_custom_all_reduce": False},
    "shm_bytes": 1000 * GIB, "shm_source": "inside the container",
    "listeners": {"30000": [{"pid": 4242, "comm": "python3", "ours": True}]},
    "probe_source": "container",
    "probe": {
        "python": "3.11.6",
        "dists": {"torch": "2.6.0", "torch_npu": "2.6.0", "triton_ascend": "3.2.0", "vllm_ascend": "0.8.5rc1"},
        "modules": {"torch": "/usr/local/lib/python3.11/site-packages/torch",
                    "triton": "/usr/local/lib/python3.11/site-packages/triton",
                    "vllm_ascend": "/opt/sglang-src/vllm-ascend/vllm_ascend"},
        "heuristics": {"path": "/usr/local/lib/python3.11/site-packages/torch/_inductor/runtime/triton_heuristics.py",
                       "old_import_line": None, "autotuner_provides": False},
        "vllm_ascend_setup": {"path": "/opt/sglang-src/vllm-ascend/setup.py", "cmake_line": None},
        "shm_bytes": 1000 * GIB,
        "profiler_dir": {"path": "/data/sglang-cache/profile", "exists": True, "is_dir": True, "writable": True},
    },
    "expected_versions": {"torch": "2.6.0", "torch_npu": "2.6.0", "python": "3.11"},
}


def statuses(ev, limits=None):
    return dict((f["check"], f["status"]) for f in rules.evaluate(ev, limits))


def problems(ev, limits=None):
    return sorted(c for c, s in statuses(ev, limits).items() if s == rules.PROBLEM)


def test_a_clean_server_has_every_check_ok():
    found = rules.evaluate(copy.deepcopy(CLEAN))
    assert [f["check"] for f in found] == rules.CHECK_IDS
    assert [f for f in found if f["status"] != rules.OK] == []
    assert all(f["fix"] == "" for f in found)


def _set(ev, path, value):
    node = ev
    for key in path[:-1]:
        node = node[key]
    if value is _DELETE:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value


_DELETE = object()

# One planted cause per case: (what is changed in the evidence, the check that must catch it).
PLANTED = [
    ([(("env", "USE_VLLM_CUSTOM_ALLREDUCE"), "0")], "custom_allreduce"),
    ([(("env", "USE_VLLM_CUSTOM_ALLREDUCE"), _DELETE)], "custom_allreduce"),
    ([(("server_info", "disable_custom_all_reduce"), True)], "custom_allreduce"),
    ([(("server_info", "attention_backend"), "torch_native")], "attention_backend"),
    ([(("server_info", "device"), "cpu")], "device"),
    ([(("server_info", "disable_overlap_schedule"), False)], "overlap_schedule"),
    ([(("server_info", "mem_fraction_static"), 0.5)], "mem_fraction"),
    ([(("env", "ASCEND_P2P_ENABLE"), "0")], "p2p"),
    ([(("server_info", "nnodes"), 2), (("env", "HCCL_CONNECT_TIMEOUT"), "60")], "hccl_timeout"),
    ([(("server_info", "nnodes"), 2), (("env", "HCCL_CONNECT_TIMEOUT"), _DELETE)], "hccl_timeout"),
    ([(("shm_bytes",), 64 * 1024 ** 2)], "shm"),
    ([(("probe", "profiler_dir", "writable"), False)], "profiler_dir"),
    ([(("probe", "profiler_dir", "exists"), False), (("probe", "profiler_dir", "is_dir"), False)], "profiler_dir"),
    ([(("probe", "profiler_dir", "path"), None)], "profiler_dir"),
    ([(("probe", "dists", "torch_npu"), "2.5.1")], "torch"),
    ([(("probe", "dists", "torch_npu"), None)], "torch"),
    ([(("probe", "modules", "triton"), None)], "triton"),
    ([(("probe", "heuristics", "old_import_line"), 31)], "fix_outofresources"),
    ([(("probe", "vllm_ascend_setup", "cmake_line"), 120)], "fix_cmakedir"),
    ([(("command_env_wrapper",), False)], "cann_env"),
    ([(("listeners",), {"30000": [{"pid": 77, "comm": "nginx", "ours": False}]})], "port"),
    ([(("unit_state", "ActiveState"), "activating"), (("unit_state", "SubState"), "auto-restart"),
      (("unit_state", "NRestarts"), "3")], "unit"),
    ([(("unit_state", "ActiveState"), "failed"), (("unit_state", "SubState"), "failed")], "unit"),
    ([(("health",), 503)], "health"),
]


@pytest.mark.parametrize("changes,check", PLANTED, ids=["%s-%d" % (case[1], i) for i, case in enumerate(PLANTED)])
def test_each_planted_cause_is_found_by_its_check_alone(changes, check):
    ev = copy.deepcopy(CLEAN)
    for path, value in changes:
        _set(ev, path, value)
    assert problems(ev) == [check]
    found = [f for f in rules.evaluate(ev) if f["check"] == check][0]
    assert found["fix"] and found["evidence"]


def test_settings_fall_back_from_server_info_to_the_command_line():
    ev = copy.deepcopy(CLEAN)
    ev["server_info"] = None
    assert problems(ev) == []
    ev["launch"] = rules.parse_launch(["--tp", "2", "--device", "npu", "--attention-backend", "ascend",
                                       "--mem-fraction-static=0.6"])
    assert problems(ev) == ["mem_fraction", "overlap_schedule"]
    ev["launch"]["attention_backend"] = None
    assert "attention_backend" in problems(ev)


def test_tp1_needs_neither_p2p_nor_custom_allreduce_but_is_warned():
    ev = copy.deepcopy(CLEAN)
    ev["server_info"]["tp_size"] = 1
    ev["server_info"]["disable_overlap_schedule"] = False
    ev["env"]["ASCEND_P2P_ENABLE"] = "0"
    ev["env"]["USE_VLLM_CUSTOM_ALLREDUCE"] = "0"
    found = statuses(ev)
    assert found["p2p"] == rules.OK and found["overlap_schedule"] == rules.OK
    assert found["custom_allreduce"] == rules.WARNING


def test_the_hccl_timeout_matters_only_for_several_nodes():
    ev = copy.deepcopy(CLEAN)
    ev["env"]["HCCL_CONNECT_TIMEOUT"] = "60"
    assert problems(ev) == []
    ev["server_info"]["nnodes"] = 2
    assert problems(ev) == ["hccl_timeout"]
    assert problems(ev, {"min_hccl_connect_timeout": 30}) == []


def test_limits_are_variables():
    ev = copy.deepcopy(CLEAN)
    ev["shm_bytes"] = 16 * GIB
    assert problems(ev) == []
    assert problems(ev, {"min_shm_bytes": 32 * GIB}) == ["shm"]
    assert problems(ev, {"min_mem_fraction": 0.95}) == ["mem_fraction"]


def test_an_image_without_torch_is_not_installed_rather_than_a_problem():
    ev = copy.deepcopy(CLEAN)
    ev["probe"]["dists"] = {}
    ev["probe"]["modules"] = {"torch": None, "triton": None, "vllm_ascend": None}
    ev["probe"]["heuristics"] = {"path": None, "old_import_line": None, "autotuner_provides": None}
    ev["probe"]["vllm_ascend_setup"] = {"path": None, "cmake_line": None}
    found = dict((f["check"], f) for f in rules.evaluate(ev))
    for check in ("torch", "triton", "fix_outofresources", "fix_cmakedir"):
        assert found[check]["status"] == rules.NOT_INSTALLED, found[check]
    assert "torch is not installed" in found["torch"]["evidence"]
    assert problems(ev) == []


def test_the_old_inductor_import_is_fine_while_triton_still_provides_the_name():
    ev = copy.deepcopy(CLEAN)
    ev["probe"]["heuristics"]["old_import_line"] = 31
    ev["probe"]["heuristics"]["autotuner_provides"] = True
    assert problems(ev) == []


def test_an_image_that_differs_from_the_stack_profile_is_a_warning():
    ev = copy.deepcopy(CLEAN)
    ev["probe"]["dists"].update({"torch": "2.8.0", "torch_npu": "2.8.0.post2"})
    assert statuses(ev)["torch"] == rules.WARNING


def test_a_stopped_server_is_judged_from_its_record():
    ev = copy.deepcopy(CLEAN)
    ev.update({"source": "record", "health": None, "health_error": "Connection refused", "server_info": None,
               "command_env_wrapper": True, "probe_source": "image"})
    ev["unit_state"].update({"ActiveState": "inactive", "SubState": "dead"})
    found = statuses(ev)
    assert found["unit"] == rules.PROBLEM and found["health"] == rules.PROBLEM
    assert found["profiler_dir"] == rules.SKIPPED
    assert found["attention_backend"] == rules.OK


def test_a_configured_server_that_is_not_deployed():
    found = rules.evaluate({"name": "extra", "unit": "npu-sglang@extra.service", "record": None,
                            "unit_state": {"LoadState": "loaded", "ActiveState": "inactive"}})
    assert [(f["check"], f["status"]) for f in found] == [("unit", rules.PROBLEM)]
    assert "not deployed" in found[0]["evidence"]


def test_parse_launch_reads_aliases_inline_values_and_the_last_occurrence():
    got = rules.parse_launch(["python3", "-m", "sglang.launch_server", "--tp", "2", "--tensor-parallel-size=4",
                              "--attention-backend", "ascend", "--nnodes", "2", "--node-rank", "1",
                              "--nccl-init-addr", "10.0.0.1:5000", "--disable-overlap-schedule",
                              "--enable-p2p-check", "--mem-fraction-static", "0.85", "--port", "8021"])
    assert got["tp"] == 4 and got["nnodes"] == 2 and got["node_rank"] == 1 and got["port"] == 8021
    assert got["dist_init_addr"] == "10.0.0.1:5000" and got["mem_fraction"] == 0.85
    assert got["overlap_disabled"] and got["p2p_check"] and not got["custom_allreduce_disabled"]
    assert rules.dist_port(got["dist_init_addr"]) == 5000
    assert rules.dist_port("[fd00::1]:6000") == 6000


def test_secrets_never_leave():
    argv = ["sh", "-c", 'exec "$@" --api-key "$(cat /run/secrets/sglang_api_key)"', "sglang",
            "--api-key", "s3cret", "--admin-api-key=t0p", "--port", "1"]
    out = redact_argv(argv)
    assert "s3cret" not in json.dumps(out) and "t0p" not in json.dumps(out)
    assert out[5] == REDACTED and out[6] == "--admin-api-key=" + REDACTED
    assert "cat /run/secrets" not in out[2]
    env = rules.pick_env({"SGLANG_API_KEY": "s3cret", "ASCEND_P2P_ENABLE": "1", "PATH": "/bin"})
    assert env == {"ASCEND_P2P_ENABLE": "1"}
    info = rules.safe_server_info({"api_key": "s3cret", "tp_size": 2, "admin_api_key": "x"})
    assert info == {"tp_size": 2}


def test_the_env_wrapper_is_recognised_in_commands_and_scripts_but_not_in_comments():
    assert rules.uses_env_wrapper(["/usr/local/bin/npu-sglang-env", "sh", "-c", "x"])
    assert rules.uses_env_wrapper(["sh", "-c", ". /usr/local/Ascend/ascend-toolkit/set_env.sh && exec python3"])
    assert not rules.uses_env_wrapper(["sh", "-c", 'exec "$@"', "sglang", "python3"])
    script = "#!/bin/sh\n# runs through npu-sglang-env when the image has it\nexec docker run img \\\n  sh -c x\n"
    assert not rules.uses_env_wrapper(script)
    assert rules.uses_env_wrapper(script.replace("img \\", "img \\\n  npu-sglang-env \\"))


def test_release_compares_the_release_part_only():
    assert rules.release("2.6.0.post1") == rules.release("2.6.0") == rules.release("2.6.0+cpu") == (2, 6, 0)
    assert rules.release("2.6") == (2, 6, 0)
    assert rules.release("2.5.1") != rules.release("2.6.0")
    assert rules.release("") is None and rules.release("dev") is None


def test_proc_net_listeners_of_this_machine():
    """A socket this test listens on is found in the kernel's own table, an unbound port is not."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    try:
        port = sock.getsockname()[1]
        inode = os.stat("/proc/self/fd/%d" % sock.fileno()).st_ino
        with open("/proc/net/tcp", encoding="ascii") as handle:
            found = rules.parse_proc_net_listeners(handle.read())
        assert (port, inode) in found
    finally:
        sock.close()


def test_proc_net_listeners_skip_connected_sockets():
    text = ("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
            "   0: 00000000:7530 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5150 1 0\n"
            "   1: 0100007F:7530 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 5151 1 0\n")
    assert rules.parse_proc_net_listeners(text) == [(30000, 5150)]


def test_the_table_wraps_every_cell_to_its_column():
    rows = [{"instance": "main", "check": "p2p", "status": "problem", "evidence": "x " * 80, "fix": "y" * 130}]
    lines = rules.render_table(rows)
    assert len(set(len(line) for line in lines)) == 1
    assert sum(1 for line in lines if line.startswith("| main")) == 1
    assert "".join(line.split("|")[5].strip() for line in lines[3:-1]) == "y" * 130


# --------------------------------------------------------------------------- the probe, for real

def _dist(site, name, version, files=None):
    info = os.path.join(site, "%s-%s.dist-info" % (name.replace("-", "_"), version))
    os.makedirs(info)
    with open(os.path.join(info, "METADATA"), "w", encoding="utf-8") as handle:
        handle.write("Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, version))
    for rel, text in (files or {}).items():
        path = os.path.join(site, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)


OLD_IMPORT = "from triton.runtime.autotuner import (\n    Heuristics,\n    OutOfResources,\n)\n"
NEW_IMPORT = "from triton.runtime.errors import OutOfResources\n"


def run_probe(site, src=None, env=None):
    full_env = dict(os.environ, PYTHONPATH=site, PYTHONNOUSERSITE="1")
    full_env.pop("SGLANG_TORCH_PROFILER_DIR", None)
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, "-c", rules.PROBE_SCRIPT, json.dumps({"vllm_ascend_src": src or []})],
                          env=full_env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def probe_ev(probe):
    ev = copy.deepcopy(CLEAN)
    ev["probe"] = probe
    return ev


def test_probe_of_a_good_image_layout(tmp_path):
    site = str(tmp_path / "site")
    _dist(site, "torch", "2.6.0", {"torch/__init__.py": "raise SystemExit('torch must not be imported')\n",
                                   "torch/_inductor/runtime/triton_heuristics.py": "import os\n" + NEW_IMPORT})
    _dist(site, "torch_npu", "2.6.0.post1", {"torch_npu/__init__.py": "raise SystemExit('no import')\n"})
    # triton is imported (in a child process): this one imports; torch and torch_npu never are.
    _dist(site, "triton-ascend", "3.2.0", {"triton/__init__.py": "__version__ = '3.2.0'\n",
                                           "triton/runtime/autotuner.py": "class Autotuner: pass\n"})
    src = tmp_path / "vllm-ascend"
    src.mkdir()
    (src / "setup.py").write_text("cmd = [sys.executable, '-m', 'pybind11', '--cmakedir']\n")
    profile = tmp_path / "profile"
    profile.mkdir()
    probe = run_probe(site, [str(src)], {"SGLANG_TORCH_PROFILER_DIR": str(profile)})
    assert probe["dists"]["torch"] == "2.6.0" and probe["dists"]["torch_npu"] == "2.6.0.post1"
    assert probe["dists"]["triton_ascend"] == "3.2.0" and probe["modules"]["triton"].endswith("triton")
    assert probe["imports"]["triton"] == {"ok": True, "version": "3.2.0"}
    assert probe["heuristics"]["old_import_line"] is None
    assert probe["vllm_ascend_setup"]["cmake_line"] is None
    assert probe["profiler_dir"] == {"path": str(profile), "exists": True, "is_dir": True, "writable": True}
    assert probe["shm_bytes"] > 0
    found = statuses(probe_ev(probe))
    for check in ("torch", "triton", "fix_outofresources", "fix_cmakedir", "profiler_dir"):
        assert found[check] == rules.OK, (check, found)


def test_probe_of_a_broken_image_layout(tmp_path):
    site = str(tmp_path / "site")
    _dist(site, "torch", "2.6.0", {"torch/__init__.py": "",
                                   "torch/_inductor/runtime/triton_heuristics.py": "import os\n\n" + OLD_IMPORT})
    _dist(site, "torch_npu", "2.5.1", {"torch_npu/__init__.py": ""})
    src = tmp_path / "vllm-ascend"
    src.mkdir()
    (src / "setup.py").write_text("# was: --cmake\nimport sys\nout = check_output([sys.executable, '-m', 'pybind11', '--cmake'])\n")
    probe = run_probe(site, [str(src)], {"SGLANG_TORCH_PROFILER_DIR": str(tmp_path / "nowhere")})
    assert probe["heuristics"]["old_import_line"] == 3
    assert probe["vllm_ascend_setup"]["cmake_line"] == 3
    assert probe["modules"]["triton"] is None
    assert probe["profiler_dir"]["exists"] is False
    assert problems(probe_ev(probe)) == ["fix_cmakedir", "fix_outofresources", "profiler_dir", "torch", "triton"]


def test_a_triton_that_is_there_but_does_not_import_is_a_problem(tmp_path):
    site = str(tmp_path / "site")
    _dist(site, "torch", "2.6.0", {"torch/__init__.py": "raise SystemExit('torch must not be imported')\n"})
    _dist(site, "torch_npu", "2.6.0", {"torch_npu/__init__.py": ""})
    _dist(site, "triton-ascend", "3.2.0", {
        "triton/__init__.py": "raise ImportError('libascend_hal.so: cannot open shared object file')\n"})
    probe = run_probe(site)
    assert probe["imports"]["triton"] == {"ok": False,
                                          "error": "ImportError: libascend_hal.so: cannot open shared object file"}
    result = next(item for item in rules.evaluate(probe_ev(probe)) if item["check"] == "triton")
    assert result["status"] == rules.PROBLEM
    assert result["evidence"].endswith("but `import triton` fails: ImportError: libascend_hal.so: cannot open "
                                       "shared object file"), result


def test_probe_of_an_image_without_torch(tmp_path):
    site = str(tmp_path / "site")
    os.makedirs(site)
    probe = run_probe(site)
    if probe["dists"].get("torch") or probe["modules"].get("torch"):
        pytest.skip("this interpreter has torch installed")
    found = statuses(probe_ev(probe))
    assert [found[c] for c in ("torch", "triton", "fix_outofresources", "fix_cmakedir")] == [rules.NOT_INSTALLED] * 4
    assert found["profiler_dir"] == rules.PROBLEM  # SGLANG_TORCH_PROFILER_DIR unset
