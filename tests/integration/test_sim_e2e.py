"""The simulated cluster end to end: bring it up, run site.yml twice, look inside, tear down."""
import os
import re
import sys
import time

import pytest

from simtest import SIMCTL, run, tool

NODES = int(os.environ.get("NPU_SIM_NODES", "3"))
CHIPS = int(os.environ.get("NPU_SIM_CHIPS", "8"))


def recap(output):
    """{host: {ok, changed, unreachable, failed, ...}} from a PLAY RECAP."""
    stats = {}
    for line in output.split("PLAY RECAP")[-1].splitlines():
        match = re.match(r"^(\S+)\s+:\s+(.*)$", line.strip())
        if match:
            stats[match.group(1)] = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", match.group(2)))
    return stats


@pytest.fixture(scope="module")
def cluster(sim_image):
    started = time.time()
    run([sys.executable, SIMCTL, "up", "--nodes", str(NODES), "--chips", str(CHIPS)], timeout=900)
    up_seconds = time.time() - started
    names = run(["docker", "ps", "--filter", "label=npu.sglang.sim", "--format", "{{.Names}}"]).stdout.split()
    yield {"nodes": sorted(names), "up_seconds": up_seconds}
    run([sys.executable, SIMCTL, "down"])
    left = run(["docker", "ps", "-a", "-q", "--filter", "label=npu.sglang.sim"]).stdout.split()
    left += run(["docker", "volume", "ls", "-q", "--filter", "label=npu.sglang.sim"]).stdout.split()
    left += run(["docker", "network", "ls", "-q", "--filter", "label=npu.sglang.sim"]).stdout.split()
    assert not left, "teardown left containers, volumes or networks behind: %s" % left


def test_cluster_came_up(cluster):
    assert len(cluster["nodes"]) == NODES
    print("sim cluster of %d nodes up in %.1fs" % (NODES, cluster["up_seconds"]))


def test_nodes_look_like_atlas_hosts(cluster):
    for node in cluster["nodes"]:
        table = run(["docker", "exec", node, "npu-smi", "info"]).stdout
        assert len(re.findall(r"^\|\s*\d+\s+910B3\s+\|\s*OK", table, re.M)) == CHIPS, table
        devices = run(["docker", "exec", node, "sh", "-c", "ls /dev/davinci*"]).stdout.split()
        assert sorted(devices) == sorted(["/dev/davinci%d" % i for i in range(CHIPS)] + ["/dev/davinci_manager"])
        assert run(["docker", "exec", node, "docker", "info", "-f", "{{.ServerVersion}}"]).stdout.strip()


def test_ansible_reaches_every_node_over_ssh(cluster):
    out = run([tool("ansible"), "npu_nodes", "-i", "inventories/sim", "-m", "ansible.builtin.command",
               "-a", "hostname"]).stdout
    for node in cluster["nodes"]:
        assert re.search(r"^%s \| CHANGED" % re.escape(node), out, re.M), out


def test_site_converges_then_is_idempotent(cluster):
    first = run([tool("ansible-playbook"), "site.yml", "-i", "inventories/sim"], timeout=3600)
    stats = recap(first.stdout)
    assert set(cluster["nodes"]) <= set(stats), first.stdout[-5000:]
    assert all(s["failed"] == 0 and s["unreachable"] == 0 for s in stats.values()), stats
    second = run([tool("ansible-playbook"), "site.yml", "-i", "inventories/sim"], timeout=3600)
    stats = recap(second.stdout)
    changed = dict((h, s["changed"]) for h, s in stats.items() if s["changed"])
    assert not changed, "second run changed something: %s\n%s" % (changed, second.stdout[-8000:])
