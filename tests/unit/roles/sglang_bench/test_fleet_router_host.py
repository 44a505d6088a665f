"""benchmark.yml refuses, before any host is contacted, a router host that the per-node benchmark
does not reach: the fleet's client would run there in the serving image, after the whole sweep."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
BIN = os.path.dirname(sys.executable)
# TEST-NET-1 addresses: nothing answers there, so a contacted host would show as unreachable.
INVENTORY = {"all": {"vars": {"ansible_host": "192.0.2.1", "ansible_ssh_timeout": 2,
                              "sglang_service_model_path": "/data/models/m"},
                     "children": {"npu_nodes": {"hosts": {"node-a": {}, "node-b": {}}},
                                  "sglang_router": {"hosts": {"router-x": {}}}}}}


def benchmark(tmp_path, *extra):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(json.dumps(INVENTORY), encoding="utf-8")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_LOCALHOST_WARNING="False")
    return subprocess.run([os.path.join(BIN, "ansible-playbook"), "playbooks/benchmark.yml", "-i", str(inventory)] + list(extra),
                          cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False, timeout=300)


def test_a_router_host_outside_the_benchmarked_nodes_is_refused_before_any_run(tmp_path):
    out = benchmark(tmp_path)
    assert out.returncode != 0, out.stdout
    assert "host router-x: npu_sglang_router_group = sglang_router:" in out.stdout, out.stdout
    assert "sglang_bench_fleet_concurrency and sglang_bench_router_policies to []" in out.stdout
    assert "UNREACHABLE" not in out.stdout and "Benchmark the SGLang servers" not in out.stdout


@pytest.mark.parametrize("extra", [
    ["-e", '{"sglang_bench_fleet_concurrency": [], "sglang_bench_router_policies": []}'],
    ["--limit", "node-a"],
    ["-e", "npu_sglang_router_group=no_router_here"],
], ids=["fleet-off", "router-not-in-limit", "no-router"])
def test_without_a_run_through_that_router_the_check_lets_the_benchmark_go_on(tmp_path, extra):
    out = benchmark(tmp_path, *extra)
    # The benchmark itself then starts and meets the unreachable TEST-NET nodes.
    assert "npu_sglang_router_group = " not in out.stdout, out.stdout
    assert "PLAY [Benchmark the SGLang servers]" in out.stdout and "UNREACHABLE" in out.stdout, out.stdout
