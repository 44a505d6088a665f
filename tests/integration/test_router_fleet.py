"""The SGLang router in front of the fleet, on a private 2-node simulated cluster.

The servers run the SGLang API simulator from the CANN stand-in image (no build, as in
test_faults.py); the router is the real sglang-router from the package index, on the first node
(the sim inventory's group sglang_router). Requests through the router reach every node; with one
node's server stopped, after the router's health checks no request fails; started again, it comes
back into the router. The servers share an API key, which must reach no command line. That a
second run changes nothing is checked by test_sim_e2e.py: the sim inventory puts the router on
the first node, so the e2e's second site.yml (changed=0 on every host) runs the role again; here,
check mode before the router's first install says what it would do without failing, and check
mode on the installed router changes nothing. A rolling restart under a steady load
through the router takes each node's server out of the router, restarts it and puts it back, and
not one request fails.
"""
import json
import re
import threading
import time
import urllib.request

import pytest

from simtest import recap, run, standin_cluster, tool

pytestmark = [pytest.mark.sim, pytest.mark.slow]

PREFIX = "router-it-node"
NODES = [PREFIX + str(i) for i in (1, 2)]
KEY = "router-it-shared-key"
INTERVAL, FAILURES = 2, 2


@pytest.fixture(scope="module")
def cluster(sim_image, tmp_path_factory):
    del sim_image
    with standin_cluster(tmp_path_factory.mktemp("router"), PREFIX, "router-it-net", nodes=2, settings={
            "sglang_service_api_key": KEY,
            "sglang_router_policy": "round_robin", "sglang_router_health_check_interval_secs": INTERVAL,
            "sglang_router_health_failure_threshold": FAILURES, "sglang_router_health_success_threshold": 1}) as made:
        yield made


def playbook(cluster, name, *extra):
    return run([tool("ansible-playbook"), name, "-i", cluster["inventory"]] + list(extra), check=False, timeout=900)


def on(node, *cmd, check=True):
    return run(["docker", "exec", node] + list(cmd), check=check)


def call(cluster, path, body=None, timeout=10):
    """(status, parsed body) of a request to the router on the first node, with the key."""
    req = urllib.request.Request("http://%s:30080%s" % (cluster["ips"][NODES[0]], path),
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json", "Authorization": "Bearer " + KEY})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, None
    except (OSError, ValueError):
        return 0, None


def generated(cluster, count):
    """How many of `count` /generate requests through the router answered with text."""
    ok = 0
    for i in range(count):
        status, body = call(cluster, "/generate", {"text": "Request %d to the fleet" % i,
                                                   "sampling_params": {"max_new_tokens": 4}})
        ok += status == 200 and bool((body or {}).get("text"))
    return ok


def routed_to(cluster, node):
    """Requests the router says the node's server answered: its Prometheus counter of successful
    outcomes per worker (the servers' own access logs are block-buffered in a pipe)."""
    url = "http://%s:29000/metrics" % cluster["ips"][NODES[0]]
    with urllib.request.urlopen(url, timeout=10) as resp:
        text = resp.read().decode()
    pattern = r'^smg_worker_cb_outcomes_total\{worker="http://%s:30000",outcome="success"\} (\d+)' % re.escape(cluster["ips"][node])
    match = re.search(pattern, text, re.M)
    return int(match.group(1)) if match else 0


def healthy(cluster):
    status, body = call(cluster, "/workers")
    assert status == 200, status
    return dict((w["url"], w["is_healthy"]) for w in body["workers"])


@pytest.fixture(scope="module")
def routed(cluster):
    out = playbook(cluster, "playbooks/serve.yml")
    assert out.returncode == 0, out.stdout[-5000:]
    # Check mode before the router's first install: it says what it would do, fails nothing and
    # installs nothing (apt's cache is not updated in check mode, so nothing may ask apt).
    out = playbook(cluster, "playbooks/router.yml", "--check")
    assert out.returncode == 0, out.stdout[-5000:]
    assert recap(out.stdout)[NODES[0]]["changed"] > 0, out.stdout[-5000:]
    assert "%s: check mode: the router is not installed yet" % NODES[0] in out.stdout, out.stdout[-5000:]
    for path in ("/opt/npu-sglang/router", "/etc/npu-sglang-router", "/etc/systemd/system/npu-sglang-router.service"):
        assert on(NODES[0], "test", "-e", path, check=False).returncode != 0, path
    out = playbook(cluster, "playbooks/router.yml")
    assert out.returncode == 0, out.stdout[-5000:]
    assert "npu.sglang: router: http://%s:30080 (2 workers)" % cluster["ips"][NODES[0]] in out.stdout, out.stdout[-3000:]
    return cluster


def test_the_router_sees_the_fleet_and_requests_reach_every_node(routed):
    cluster = routed
    urls = ["http://%s:30000" % cluster["ips"][n] for n in NODES]
    assert healthy(cluster) == dict((u, True) for u in urls)
    before = dict((n, routed_to(cluster, n)) for n in NODES)
    assert generated(cluster, 10) == 10
    after = dict((n, routed_to(cluster, n)) for n in NODES)
    assert all(after[n] - before[n] >= 3 for n in NODES), (before, after)
    # The key is on no command line of the router host, nor in the router's unit or settings.
    assert KEY not in on(NODES[0], "ps", "-eo", "args").stdout
    assert KEY not in on(NODES[0], "cat", "/etc/systemd/system/npu-sglang-router.service",
                         "/etc/npu-sglang-router/router.json").stdout
    assert on(NODES[0], "stat", "-c", "%a %U", "/etc/npu-sglang-router/api_key").stdout.strip() == "600 root"
    # Without the key the router refuses.
    req = urllib.request.Request("http://%s:30080/generate" % cluster["ips"][NODES[0]], data=b'{"text": "x"}',
                                 headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=10)
    assert err.value.code == 401


def test_a_stopped_server_leaves_the_router_without_failed_requests_and_comes_back(routed):
    cluster, lost = routed, NODES[1]
    lost_url = "http://%s:30000" % cluster["ips"][lost]
    on(lost, "systemctl", "stop", "npu-sglang@main.service")
    try:
        time.sleep(INTERVAL * (FAILURES + 1) + 1)
        assert healthy(cluster)[lost_url] is False
        assert generated(cluster, 20) == 20
    finally:
        on(lost, "systemctl", "start", "npu-sglang@main.service")
    deadline = time.time() + 90
    while time.time() < deadline and not healthy(cluster)[lost_url]:
        time.sleep(1)
    assert healthy(cluster)[lost_url] is True
    before = routed_to(cluster, lost)
    assert generated(cluster, 6) == 6
    assert routed_to(cluster, lost) > before


def test_check_mode_on_the_installed_router_changes_nothing(routed):
    out = playbook(routed, "playbooks/router.yml", "--check", "--diff")
    assert out.returncode == 0, out.stdout[-5000:]
    stats = recap(out.stdout)
    assert all(stats[n]["changed"] == 0 and stats[n]["failed"] == 0 for n in NODES), stats


def test_a_rolling_restart_under_load_through_the_router_fails_no_request(routed):
    cluster = routed
    urls = ["http://%s:30000" % cluster["ips"][n] for n in NODES]
    results, seen, stop = [], set(), threading.Event()

    def load():
        while not stop.is_set():
            status, body = call(cluster, "/generate", {"text": "Steady load %d" % len(results),
                                                       "sampling_params": {"max_new_tokens": 24, "ignore_eos": True}},
                                timeout=30)
            results.append(status == 200 and bool((body or {}).get("text")))

    def watch():
        """The worker sets the router lists while the restart runs: each node must leave it once."""
        while not stop.is_set():
            status, body = call(cluster, "/workers")
            if status == 200:
                seen.add(tuple(sorted(w["url"] for w in body["workers"])))
            time.sleep(0.2)

    threads = [threading.Thread(target=work) for work in (load, load, load, watch)]
    for thread in threads:
        thread.start()
    try:
        out = playbook(cluster, "playbooks/rolling_restart.yml")
        time.sleep(1)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert out.returncode == 0, out.stdout[-5000:]
    assert len(results) >= 20 and all(results), "%d of %d requests failed" % (results.count(False), len(results))
    # Each node's server was out of the router while it restarted, and both are back and healthy.
    assert all(any(u not in listed for listed in seen) for u in urls), seen
    assert healthy(cluster) == dict((u, True) for u in urls)
    assert generated(cluster, 4) == 4


def test_teardown_removes_the_router_and_the_servers_and_a_second_one_changes_nothing(routed):
    """Last in this module: teardown.yml leaves no unit, container, settings or virtualenv of ours."""
    out = playbook(routed, "playbooks/teardown.yml")
    assert out.returncode == 0, out.stdout[-5000:]
    for node in NODES:
        units = on(node, "systemctl", "list-units", "--all", "--plain", "--no-legend", "npu-sglang*").stdout
        assert not units.strip(), (node, units)
        assert not on(node, "docker", "ps", "-a", "-q", "--filter", "name=npu-sglang").stdout.strip(), node
        assert on(node, "ls", "/etc/npu-sglang", check=False).returncode != 0, node
    for path in ("/etc/npu-sglang-router", "/opt/npu-sglang/router", "/etc/systemd/system/npu-sglang-router.service"):
        assert on(NODES[0], "test", "-e", path, check=False).returncode != 0, path
    again = playbook(routed, "playbooks/teardown.yml")
    assert again.returncode == 0, again.stdout[-5000:]
    stats = recap(again.stdout)
    assert all(stats[n]["changed"] == 0 for n in NODES), stats
