"""Faults the deployment survives, on a private 3-node simulated cluster.

The servers run the SGLang API simulator from the CANN stand-in image, as test_doctor.py does, so
no build is needed here; the faults that need the real build (the build killed half-way, the
server process killed) are in test_sim_e2e.py on the shared cluster. Each test leaves the cluster
serving for the next one.
"""
import json
import re
import sys
import threading
import time
import urllib.request

import pytest

from simtest import SIMCTL, recap, run, run_acting_on, standin_cluster, tool

pytestmark = [pytest.mark.sim, pytest.mark.slow]

PREFIX = "faults-it-node"
NODES = [PREFIX + str(i) for i in (1, 2, 3)]


@pytest.fixture(scope="module")
def cluster(sim_image, tmp_path_factory):
    del sim_image
    # The servers run the API simulator from the CANN stand-in image (simtest.standin_cluster).
    with standin_cluster(tmp_path_factory.mktemp("faults"), PREFIX, "faults-it-net", nodes=3) as made:
        yield made


def playbook(cluster, name, *extra, check=False, timeout=900):
    return run([tool("ansible-playbook"), name, "-i", cluster["inventory"]] + list(extra), check=check, timeout=timeout)


def on(node, *cmd, check=True):
    return run(["docker", "exec", node] + list(cmd), check=check)


def generate(cluster, node, timeout=5):
    """One /generate from the controller to the node's server; True when it answered with text."""
    body = json.dumps({"text": "The capital of France is", "sampling_params": {"max_new_tokens": 4}}).encode()
    req = urllib.request.Request("http://%s:30000/generate" % cluster["ips"][node], data=body,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status == 200 and "text" in json.loads(resp.read())
    except (OSError, ValueError):
        return False


def started_at(node):
    return on(node, "systemctl", "show", "-p", "ActiveEnterTimestampMonotonic", "--value",
              "npu-sglang@main.service").stdout.strip()


def served_image(node):
    return json.loads(on(node, "cat", "/etc/npu-sglang/main.json").stdout)["image"]


@pytest.fixture(scope="module")
def serving(cluster):
    out = playbook(cluster, "playbooks/serve.yml")
    assert out.returncode == 0, out.stdout[-5000:]
    assert sorted(cluster["ips"]) == NODES, cluster["ips"]
    for node in NODES:
        assert generate(cluster, node), node
    return cluster


def test_unreachable_node_mid_deploy_others_finish_and_a_rerun_completes(serving):
    cluster, lost = serving, NODES[1]
    # A flag change every unit must take, so the re-run has work left on the lost node.
    flag = ["-e", "sglang_service_mem_fraction_static=0.85"]
    # Mid-deploy: the serving play has started on every node when sshd goes away on one.
    code, out, cut = run_acting_on(
        [tool("ansible-playbook"), "playbooks/serve.yml", "-i", cluster["inventory"]] + flag,
        r"^TASK \[npu\.sglang\.sglang_service : ",
        lambda: on(lost, "sh", "-c", "systemctl stop ssh.service ssh.socket 2>/dev/null; pkill -x sshd; true"),
        timeout=900)
    try:
        assert cut, out[-5000:]
        stats = recap(out)
        assert code != 0, out[-5000:]
        assert stats[lost]["unreachable"] == 1, stats
        for node in NODES:
            if node != lost:
                assert stats[node]["failed"] == 0 and stats[node]["unreachable"] == 0, stats
                assert "--mem-fraction-static 0.85" in on(node, "cat", "/etc/npu-sglang/main.run").stdout
                assert generate(cluster, node), node
        assert "--mem-fraction-static 0.85" not in on(lost, "cat", "/etc/npu-sglang/main.run").stdout
    finally:
        on(lost, "systemctl", "start", "ssh.service")
    rerun = playbook(cluster, "playbooks/serve.yml", *flag)
    assert rerun.returncode == 0, rerun.stdout[-5000:]
    stats = recap(rerun.stdout)
    assert stats[lost]["changed"] > 0 and all(stats[n]["changed"] == 0 for n in NODES if n != lost), stats
    assert "--mem-fraction-static 0.85" in on(lost, "cat", "/etc/npu-sglang/main.run").stdout
    assert generate(cluster, lost)
    print("unreachable %s: the other nodes finished, the re-run completed it" % lost)


def test_upgrade_to_an_image_that_fails_the_gate_rolls_back(serving):
    cluster = serving
    assert playbook(cluster, "playbooks/serve.yml").returncode == 0  # every node on the same settings
    broken = "npu-sglang:faults-broken"
    for node in NODES:  # the stand-in image without its Python: the server cannot start
        on(node, "sh", "-c", "docker rm -f faults-mk >/dev/null 2>&1; docker run --name faults-mk --entrypoint sh %s"
           " -c 'rm -f /usr/bin/python3*' && docker commit faults-mk %s >/dev/null && docker rm faults-mk >/dev/null"
           % (cluster["image"], broken))
    before = dict((n, started_at(n)) for n in NODES)
    out = playbook(cluster, "playbooks/upgrade.yml", "-e", "npu_sglang_upgrade_image=" + broken)
    assert out.returncode != 0, out.stdout[-5000:]
    first = NODES[0]
    assert re.search(r"host %s: the new image %s failed: .*Rolled back to %s, which is healthy again"
                     % (re.escape(first), re.escape(broken), re.escape(cluster["image"])), out.stdout), out.stdout[-5000:]
    assert served_image(first) == cluster["image"]
    assert generate(cluster, first)
    for node in NODES[1:]:  # serial 1: the upgrade stopped before the other nodes
        assert started_at(node) == before[node] and served_image(node) == cluster["image"], node
    stats = recap(out.stdout)
    assert stats[first]["failed"] == 1, stats


def test_rolling_restart_under_load_keeps_n_minus_1_nodes_answering(serving):
    cluster = serving
    rounds, stop = [], threading.Event()

    def load():
        while not stop.is_set():
            began = time.time()
            answers = {}
            threads = [threading.Thread(target=lambda n=n: answers.__setitem__(n, generate(cluster, n)))
                       for n in NODES]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            rounds.append((began, answers))
            time.sleep(0.2)

    loader = threading.Thread(target=load)
    loader.start()
    try:
        time.sleep(2)
        before = dict((n, started_at(n)) for n in NODES)
        out = playbook(cluster, "playbooks/rolling_restart.yml")
        time.sleep(2)
    finally:
        stop.set()
        loader.join()
    assert out.returncode == 0, out.stdout[-5000:]
    assert all(started_at(n) != before[n] for n in NODES), "not every unit restarted"
    failed = dict((n, [t for t, a in rounds if not a[n]]) for n in NODES)
    windows = dict((n, (min(ts), max(ts))) for n, ts in failed.items() if ts)
    answering = [sum(a.values()) for _t, a in rounds]
    print("rolling restart under load: %d rounds, %d requests, failed per node %s, fewest answering %d of %d"
          % (len(rounds), len(rounds) * len(NODES), dict((n, len(ts)) for n, ts in failed.items()),
             min(answering), len(NODES)))
    assert len(rounds) > 20, "too few load rounds to judge: %d" % len(rounds)
    assert min(answering) >= len(NODES) - 1, answering
    # A node fails only while it is the one restarting: the failure windows never overlap.
    spans = sorted(windows.values())
    assert all(a[1] < b[0] for a, b in zip(spans, spans[1:])), windows


def test_preflight_refuses_a_node_with_an_unhealthy_chip(serving):
    cluster, sick = serving, NODES[2]
    run([sys.executable, SIMCTL, "config", sick, 'health={"3": "Alarm"}'], env=cluster["env"])
    try:
        out = playbook(cluster, "playbooks/preflight.yml")
    finally:
        run([sys.executable, SIMCTL, "config", sick, "health={}"], env=cluster["env"])
    assert out.returncode != 0
    stats = recap(out.stdout)
    assert stats[sick]["failed"] == 1 and all(stats[n]["failed"] == 0 for n in NODES if n != sick), stats
    assert re.search(r"unhealthy chips in use: chip 3 \(NPU \d+\): Alarm", out.stdout), out.stdout[-5000:]
    assert playbook(cluster, "playbooks/preflight.yml").returncode == 0


def test_a_nearly_full_disk_stops_preflight_before_the_build(serving):
    cluster, node = serving, NODES[0]
    min_free_gb = 5  # inventories/sim: npu_preflight_min_free_gb
    root = on(node, "docker", "info", "-f", "{{.DockerRootDir}}").stdout.strip()
    free_kb = int(on(node, "sh", "-c", "df -Pk %s | awk 'NR==2 {print $4}'" % root).stdout)
    fill_kb = free_kb - (min_free_gb * 1024 * 1024) + 512 * 1024
    filler = root + "/npu-faults-filler"
    try:
        on(node, "fallocate", "-l", "%dK" % fill_kb, filler)
        out = playbook(cluster, "site.yml", "--limit", node)
    finally:
        on(node, "rm", "-f", filler, check=False)
    assert out.returncode != 0
    assert re.search(r"has [\d.]+ GiB free, below npu_preflight_min_free_gb=%d" % min_free_gb, out.stdout), \
        out.stdout[-5000:]
    assert recap(out.stdout)[node]["failed"] == 1
    assert "sglang_build/tasks/build.yml" not in out.stdout and "sglang_build : " not in out.stdout
    assert not on(node, "docker", "ps", "-aq", "--filter", "label=npu.sglang.role=build").stdout.strip()
