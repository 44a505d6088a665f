"""playbooks/doctor.yml on a simulated node: nothing on a clean deployment, every planted
misconfiguration (and nothing else) on a broken one, changed=0 both times, no secret in the output.

The node is a private 1-node cluster (its own prefix, network, inventory and simctl state), so the
test neither needs nor disturbs the e2e cluster. The servers run the SGLang API simulator from
the CANN stand-in image (no build), so the image-content checks report "not installed" there.
"""
import json
import pathlib
import re
import sys
import uuid

import pytest

from simtest import SIMCTL, private_cluster, run, tool

pytestmark = [pytest.mark.sim, pytest.mark.slow]

PREFIX = "doctor-it-node"
NODE = PREFIX + "1"
SECRET = "doctor-secret-" + uuid.uuid4().hex
# The stand-in image has no CANN environment and no npu-sglang-env (the build installs that);
# a clean deployment of it declares the toolkit as a prebuilt CANN image does in its ENV.
TOOLKIT = {"ASCEND_TOOLKIT_HOME": "/usr/local/Ascend/ascend-toolkit/latest"}

CLEAN_VARS = {"sglang_service_env": TOOLKIT}

# Three servers on one node, each with causes of the troubleshooting table planted through
# inventory variables only (values the simulator still starts with).
PLANTED_VARS = {
    "docker_npu_shm_size": "1g",
    "docker_npu_mounts": ["/data:/data", "/opt/npu-sim:/opt/npu-sim:ro", "/srv/doctor-ro:/srv/doctor-ro:ro"],
    # A failing unit waits this long between restarts, so doctor sees it restarting.
    "sglang_service_restart_sec": 60,
    "sglang_service_instances": [
        {"name": "bad", "devices": [0, 1], "tp": 2, "port": 30000, "node_group": "pair", "socket_ifname": "eth0",
         "device": "cpu", "attention_backend": "torch_native", "disable_overlap_schedule": False,
         "mem_fraction_static": 0.5, "profiler_dir": "/srv/doctor-ro/profile",
         "env": {"USE_VLLM_CUSTOM_ALLREDUCE": "0", "ASCEND_P2P_ENABLE": "0", "HCCL_CONNECT_TIMEOUT": "60"}},
        {"name": "nodir", "devices": [2], "tp": 1, "port": 30002, "api_key": SECRET,
         "profiler_dir": "/var/lib/doctor-profile", "env": TOOLKIT},
        {"name": "squat", "devices": [3], "tp": 1, "port": 30001, "env": TOOLKIT},
    ],
}
# "pair" makes "bad" a 2-node server whose head is this node; the second host is never contacted
# (it is not in npu_nodes, the playbooks' target).
PAIR = "all:\n  children:\n    pair:\n      hosts:\n        %s:\n        doctor-ghost:\n          ansible_host: 192.0.2.1\n" % NODE

PLANTED = {
    ("bad", "cann_env"), ("bad", "device"), ("bad", "attention_backend"), ("bad", "custom_allreduce"),
    ("bad", "overlap_schedule"), ("bad", "mem_fraction"), ("bad", "p2p"), ("bad", "hccl_timeout"),
    ("bad", "shm"), ("bad", "profiler_dir"),
    ("nodir", "shm"), ("nodir", "profiler_dir"),
    ("squat", "unit"), ("squat", "health"), ("squat", "port"), ("squat", "shm"),
}
IMAGE_CHECKS = {"torch", "triton", "fix_outofresources", "fix_cmakedir"}


@pytest.fixture(scope="module")
def node(sim_image, tmp_path_factory):
    del sim_image
    with private_cluster(tmp_path_factory.mktemp("doctor"), PREFIX, "doctor-it-net") as cluster:
        yield dict(cluster, inventory=pathlib.Path(cluster["inventory"]))


def configure(node, variables, extra_inventory=None):
    (node["inventory"] / "group_vars" / "npu_nodes" / "doctor.yml").write_text(
        "---\n" + json.dumps(variables, indent=2) + "\n")
    pair = node["inventory"] / "pair.yml"
    if extra_inventory:
        pair.write_text(extra_inventory)
    elif pair.exists():
        pair.unlink()


def serve(node):
    run([tool("ansible-playbook"), "playbooks/serve.yml", "-i", str(node["inventory"]),
         "-e", "sglang_service_image=" + node["image"], "-e", json.dumps({"sglang_service_entrypoint": []})],
        timeout=600)


def on_node(*cmd):
    return run(["docker", "exec", NODE] + list(cmd))


def doctor(node, *extra):
    """doctor.yml with the json callback: (exit code, rows of the probe, the shown text, stats)."""
    proc = run([tool("ansible-playbook"), "playbooks/doctor.yml", "-i", str(node["inventory"])] + list(extra),
               env={"ANSIBLE_STDOUT_CALLBACK": "json", "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1"},
               check=False, timeout=600)
    text = proc.stdout
    start = re.search(r"^\{$", text, re.M)
    assert start, text[-5000:]
    report = json.loads(text[start.start():])
    tasks = [t for play in report["plays"] for t in play["tasks"]]
    probe = [t for t in tasks if t["task"]["name"].endswith("Inspect the servers of this host")]
    assert probe, text[-5000:]
    result = probe[0]["hosts"][NODE]
    assert not result.get("failed"), result
    shown = [t["hosts"][NODE]["msg"] for t in tasks if t["task"]["name"].endswith("Show the findings of this host")]
    return proc.returncode, result["rows"], shown[0] if shown else "", report["stats"][NODE], text


def problem_set(rows):
    return set((r["instance"], r["check"]) for r in rows if r["status"] == "problem")


def test_doctor_finds_nothing_on_a_clean_node(node):
    configure(node, CLEAN_VARS)
    serve(node)
    code, rows, shown, stats, text = doctor(node)
    assert problem_set(rows) == set(), shown
    assert code == 0, text[-3000:]
    assert stats["changed"] == 0 and stats["failures"] == 0
    statuses = dict((r["check"], r["status"]) for r in rows if r["instance"] == "main")
    # The stand-in image has no torch: its own status, not a problem.
    assert set(c for c, s in statuses.items() if s == "not installed") == IMAGE_CHECKS, statuses
    others = dict((c, s) for c, s in statuses.items() if c not in IMAGE_CHECKS)
    assert set(others.values()) == {"ok"}, others
    assert "| main" in shown and "not installed" in shown


def test_doctor_lists_every_planted_misconfiguration(node):
    configure(node, PLANTED_VARS, PAIR)
    run([sys.executable, SIMCTL, "config", NODE, "hccn=true"], env=node["env"])  # hccn.conf for the 2-node server
    serve(node)
    # Another process takes the port of "squat" while it is stopped; its unit then keeps failing.
    on_node("systemctl", "stop", "npu-sglang@squat.service")
    on_node("systemd-run", "--unit=doctor-squatter", "python3", "-m", "http.server", "30001")
    on_node("sh", "-c", "for i in $(seq 50); do ss -Hltn 'sport = :30001' | grep -q . && exit 0; sleep 0.2; done; exit 1")
    on_node("systemctl", "start", "npu-sglang@squat.service")
    on_node("sh", "-c", "for i in $(seq 60); do [ \"$(systemctl show -p SubState --value npu-sglang@squat.service)\""
            " = auto-restart ] && exit 0; sleep 0.5; done; exit 1")

    code, rows, shown, stats, text = doctor(node)
    found = problem_set(rows)
    assert found - PLANTED == set(), "reported without being planted: %s" % sorted(found - PLANTED)
    assert PLANTED - found == set(), "planted but not reported: %s\n%s" % (sorted(PLANTED - found), shown)
    assert code != 0 and stats["failures"] == 1 and stats["changed"] == 0
    for instance, check in PLANTED:
        row = [r for r in rows if r["instance"] == instance and r["check"] == check][0]
        assert row["fix"] and row["evidence"], row
    by = dict(((r["instance"], r["check"]), r) for r in rows)
    assert "python3" in by[("squat", "port")]["evidence"]
    assert "restarting" in by[("squat", "unit")]["evidence"]
    assert "not writable" in by[("bad", "profiler_dir")]["evidence"]
    assert "does not exist" in by[("nodir", "profiler_dir")]["evidence"]
    # nodir needs its API key for /server_info: read, used, never shown.
    assert by[("nodir", "mem_fraction")]["evidence"].endswith("(from server_info), minimum 0.8")
    assert SECRET not in text

    # Report-only, and in check mode: the same findings, and the play passes.
    report_only = doctor(node, "--check", "-e", "sglang_doctor_report_only=true")
    assert report_only[0] == 0 and problem_set(report_only[1]) == PLANTED
    assert report_only[3]["changed"] == 0 and report_only[3]["failures"] == 0
    assert SECRET not in report_only[4]
