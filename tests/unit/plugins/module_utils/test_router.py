"""The router's workers (from the instance resolver's output) and its command line."""
import os
import re

import pytest

from ansible_collections.npu.sglang.plugins.module_utils.instances import resolve
from ansible_collections.npu.sglang.plugins.module_utils.router import argv, local_url, workers

from test_instances import SPEC, VALUES

SETTINGS = {"host": "0.0.0.0", "port": 30080, "policy": "cache_aware", "cache_threshold": 0.3,
            "balance_abs_threshold": 64, "balance_rel_threshold": 1.5, "eviction_interval_secs": 60,
            "max_tree_size": 67108864, "health_check_interval_secs": 10, "health_failure_threshold": 3,
            "health_success_threshold": 2, "health_check_timeout_secs": 5, "prometheus_host": "0.0.0.0",
            "prometheus_port": 29000, "log_level": "", "extra_args": []}


def _host(host, address, entries, groups=None, **values):
    merged = dict(VALUES, **values)
    instances, keys = resolve(entries, merged, host, groups or {}, SPEC, {}, lambda name: {"n1": "10.0.0.1"}.get(name, name))
    return (host, address, instances, keys)


def test_every_server_of_every_host_is_a_worker_at_the_address_other_nodes_reach():
    two = [{"name": "a", "devices": [0, 1, 2, 3], "tp": 4, "port": 30000},
           {"name": "b", "devices": [4, 5, 6, 7], "tp": 4, "port": 30001, "host": "10.0.1.2"}]
    found, key = workers([_host("n1", "10.0.0.1", [{"name": "main"}]), _host("n2", "10.0.0.2", two),
                          _host("n3", "fd00::3", [{"name": "main"}])])
    assert [(w["host"], w["name"], w["url"]) for w in found] == [
        ("n1", "main", "http://10.0.0.1:30000"), ("n2", "a", "http://10.0.0.2:30000"),
        ("n2", "b", "http://10.0.1.2:30001"), ("n3", "main", "http://[fd00::3]:30000")]
    assert key == "" and not any(w["auth"] for w in found)


def test_a_multi_node_server_is_one_worker_its_head():
    groups = {"duo": ["n1", "n2"]}
    entry = [{"name": "big", "node_group": "duo", "tp": 16}]
    found = workers([_host("n1", "10.0.0.1", entry, groups), _host("n2", "10.0.0.2", entry, groups)])[0]
    assert [w["url"] for w in found] == ["http://10.0.0.1:30000"]


def test_the_shared_api_key_comes_back_and_differing_keys_are_refused():
    found, key = workers([_host("n1", "a1", [{"name": "main"}], sglang_service_api_key="k1"),
                          _host("n2", "a2", [{"name": "main", "api_key": "k1"}])])
    assert key == "k1" and all(w["auth"] for w in found)
    with pytest.raises(ValueError) as err:
        workers([_host("n1", "a1", [{"name": "main"}], sglang_service_api_key="k1"),
                 _host("n2", "a2", [{"name": "main"}], sglang_service_api_key="k2")])
    assert "n1/main | n2/main" in str(err.value) and "same sglang_service_api_key" in str(err.value)
    assert "k1" not in str(err.value) and "k2" not in str(err.value)
    with pytest.raises(ValueError, match="n2/main"):
        workers([_host("n1", "a1", [{"name": "main"}]), _host("n2", "a2", [{"name": "main"}], sglang_service_api_key="k")])


def test_an_unresolved_host_and_a_url_twice_are_refused_with_the_fix():
    with pytest.raises(ValueError, match="host n2: its servers are not resolved.*playbooks/router.yml"):
        workers([_host("n1", "a1", [{"name": "main"}]), ("n2", "a2", None, {})])
    with pytest.raises(ValueError, match="two servers of the fleet answer at http://a1:30000"):
        workers([_host("n1", "a1", [{"name": "main"}]), _host("n2", "a1", [{"name": "main"}])])


def test_argv_cache_aware_has_its_knobs_round_robin_does_not():
    urls = ["http://10.0.0.1:30000", "http://10.0.0.2:30000"]
    args = argv(SETTINGS, urls)
    assert args[:8] == ["--host", "0.0.0.0", "--port", "30080", "--worker-urls"] + urls + ["--policy"]
    assert args[8] == "cache_aware"
    pairs = dict(zip(args[9::2], args[10::2]))
    assert pairs == {"--cache-threshold": "0.3", "--balance-abs-threshold": "64", "--balance-rel-threshold": "1.5",
                     "--eviction-interval-secs": "60", "--max-tree-size": "67108864",
                     "--health-check-interval-secs": "10", "--health-failure-threshold": "3",
                     "--health-success-threshold": "2", "--health-check-timeout-secs": "5",
                     "--prometheus-host": "0.0.0.0", "--prometheus-port": "29000"}
    rr = argv(dict(SETTINGS, policy="round_robin", log_level="debug", extra_args=["--request-timeout-secs", 600]), urls)
    assert "--cache-threshold" not in rr and rr[rr.index("--policy") + 1] == "round_robin"
    assert rr[-4:] == ["--log-level", "debug", "--request-timeout-secs", "600"]
    assert "--api-key" not in args + rr


@pytest.mark.parametrize("address,port,url", [
    ("10.0.0.5", 30000, "http://10.0.0.5:30000"),
    ("127.0.0.1", "30080", "http://127.0.0.1:30080"),
    ("fd00::5", 30000, "http://[fd00::5]:30000"),
    ("[fd00::5]", 30000, "http://[fd00::5]:30000"),
    ("::1", 30080, "http://[::1]:30080"),
    ("0.0.0.0", 30000, "http://127.0.0.1:30000"),
    ("::", 30080, "http://127.0.0.1:30080"),
    ("", 30000, "http://127.0.0.1:30000"),
    ("node1.example", 30000, "http://node1.example:30000"),
])
def test_local_url_brackets_ipv6_and_reaches_a_wildcard_by_loopback(address, port, url):
    assert local_url(address, port) == url


def test_the_roles_build_no_local_url_inline():
    """The router's URL, the drain's routers and the servers' health and load checks go through the
    filter npu.sglang.local_url; none spells the wildcard-to-loopback rule again."""
    root = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "roles")
    inline, users = [], []
    for folder, _dirs, files in os.walk(root):
        for name in files:
            if name.endswith(".yml"):
                with open(os.path.join(folder, name), encoding="utf-8") as handle:
                    text = handle.read()
                if re.search(r"'0\.0\.0\.0',\s*'::'", text):
                    inline.append(name)
                if "npu.sglang.local_url(" in text:
                    users.append(name)
    assert inline == []
    assert sorted(users) == ["drain.yml", "health.yml", "main.yml"]
