"""The SGLang router in front of the fleet, on a private 2-node simulated cluster.

The servers run the SGLang API simulator from the CANN stand-in image (no build, as in
test_faults.py); the router is the real sglang-router from the package index, on the first node
(the sim inventory's group sglang_router). Requests through the router reach every node; with one
node's server stopped, after the router's health checks no request fails; started again, it comes
back into the router. The servers share an API key, which must reach no command line. That a
second run changes nothing is checked by test_sim_e2e.py: the sim inventory puts the router on
the first node, so the e2e's second site.yml (changed=0 on every host) runs the role again.

benchmark.yml then runs through the router, with the real client (sglang 0.4.9's bench_serving,
the image test_bench_fidelity.py builds, loaded into the first node's Docker): a tiny fleet sweep
and the routing policy comparison on the shared-prefix workload, whose report must hold the fleet
section and show cache_aware with more cached tokens than round_robin.
"""
import json
import re
import time
import urllib.request

import pytest

from simtest import recap, run, standin_cluster, tool
# pytest fixtures, used by their names as arguments: the image with the real client.
from test_bench_fidelity import client_image, client_python  # noqa: F401 # pylint: disable=unused-import

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


def test_the_benchmark_goes_through_the_router_and_cache_aware_keeps_more_prefix_hits(routed, client_image, tmp_path):
    """benchmark.yml on the router's node: per-node point c=2, the fleet at c=4 (2 per server) and
    both policies on 4 groups of 4 prompts sharing a 512-token system prompt."""
    cluster = routed
    load = run(["sh", "-c", 'docker save "$1" | docker exec -i "$2" docker load', "sh", client_image, NODES[0]], timeout=600)
    assert load.returncode == 0, load.stdout
    settings = {"sglang_bench_image": client_image, "sglang_bench_env_wrapper": [], "sglang_bench_report_dir": str(tmp_path),
                "sglang_bench_run_id": "fleet", "sglang_bench_concurrency": [2], "sglang_bench_input_len": 64,
                "sglang_bench_output_len": 8, "sglang_bench_min_prompts": 8, "sglang_bench_prompts_per_concurrency": 2,
                "sglang_bench_gsp_num_groups": 4, "sglang_bench_gsp_prompts_per_group": 4, "sglang_bench_gsp_system_prompt_len": 512,
                "sglang_bench_gsp_question_len": 16, "sglang_bench_gsp_output_len": 4, "sglang_bench_gsp_concurrency": 4}
    out = playbook(cluster, "playbooks/benchmark.yml", "--limit", NODES[0] + ",localhost", "-e", json.dumps(settings))
    assert out.returncode == 0, out.stdout[-8000:]
    assert KEY not in out.stdout
    fleet = json.loads((tmp_path / "fleet" / "report" / "summary.json").read_text(encoding="utf-8"))["fleet"]
    assert fleet["workers"] == 2 and fleet["policy"] == "round_robin"
    assert [(row["max_concurrency"], row["server_share"], row["state"]) for row in fleet["sweep"]] == [(4, 2, "ok")]
    assert fleet["sweep"][0]["output_throughput"] > 0 and fleet["sweep"][0]["nodes_output_throughput"] is not None
    policies = dict((row["policy"], row) for row in fleet["policies"])
    assert sorted(policies) == ["cache_aware", "round_robin"] and all(row["state"] == "ok" for row in policies.values())
    assert policies["cache_aware"]["cached_tokens"] > policies["round_robin"]["cached_tokens"], policies
    assert "## Fleet through the router" in (tmp_path / "fleet" / "report" / "report.md").read_text(encoding="utf-8")
    assert "npu.sglang: fleet through the router:" in out.stdout
    # The temporary router is gone and the production one was left alone.
    assert on(NODES[0], "systemctl", "is-active", "npu-sglang-bench-router.service", check=False).stdout.strip() != "active"
    assert on(NODES[0], "systemctl", "is-active", "npu-sglang-router.service").stdout.strip() == "active"
    assert not any(KEY.encode() in path.read_bytes() for path in tmp_path.rglob("*") if path.is_file())


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
