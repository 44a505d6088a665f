"""The benchmark through the router: its load points, its runs, the temporary router's command
line and the servers' prefix-cache counters."""
import pytest

from ansible_collections.npu.sglang.plugins.module_utils.bench_command import BenchPlanError
from ansible_collections.npu.sglang.plugins.module_utils.bench_fleet import (
    cache_counters, cache_deltas, fleet_concurrency, fleet_runs, router_variant,
)
from ansible_collections.npu.sglang.plugins.module_utils.router import argv

from test_router import SETTINGS

TARGET = {"port": 30080, "image": "npu-sglang:1", "model_path": "/data/models/m", "served_model_name": "m", "auth": True}
BASE = {"host": "127.0.0.1", "concurrency": [24, 48], "prompts_per_concurrency": 2, "min_prompts": 8, "input_len": 256,
        "output_len": 32, "request_rate": "inf", "seed": 1, "dataset_name": "random-ids", "node_dir": "/data/bench/r1",
        "extra_args": [], "policy": "cache_aware", "workers": 3, "policies": ["cache_aware", "round_robin"],
        "policy_port": 30081, "gsp": {"num_groups": 4, "prompts_per_group": 8, "system_prompt_len": 512,
                                      "question_len": 32, "output_len": 16, "concurrency": 8}}


def test_null_scales_the_first_per_server_levels_by_the_workers_and_a_list_is_taken_as_given():
    assert fleet_concurrency(None, [8, 16, 32], 3) == [24, 48]
    assert fleet_concurrency(None, [4], 2) == [8]
    assert fleet_concurrency([5, 10], [8, 16], 3) == [5, 10]
    assert fleet_concurrency([], [8, 16], 3) == []
    with pytest.raises(BenchPlanError, match="sglang_bench_fleet_concurrency"):
        fleet_concurrency([0], [8], 2)
    with pytest.raises(BenchPlanError, match="sglang_bench_fleet_concurrency"):
        fleet_concurrency("16", [8], 2)


def test_the_sweep_targets_the_router_and_each_policy_runs_the_shared_prefix_workload_on_the_temporary_port():
    runs = fleet_runs(TARGET, BASE)
    assert [r["name"] for r in runs] == [
        "fleet_sglang_in256_out32_c24", "fleet_sglang_in256_out32_c48",
        "fleet_sglang_cache_aware_in544_out16_c8", "fleet_sglang_round_robin_in544_out16_c8"]
    sweep, policy = runs[0], runs[2]
    assert sweep["fleet"] == {"kind": "sweep", "policy": "cache_aware", "workers": 3}
    assert sweep["port"] == 30080 and sweep["auth"] is True and sweep["num_prompts"] == 48
    assert sweep["client_args"][sweep["client_args"].index("--port") + 1] == "30080"
    # OpenAI completions: bench_serving 0.4.9's sglang backends stop on the router's /get_server_info.
    assert all(r["client_args"][r["client_args"].index("--backend") + 1] == "vllm" and r["engine"] == "sglang" for r in runs)
    assert policy["fleet"] == {"kind": "policy", "policy": "cache_aware", "workers": 3}
    args = policy["client_args"]
    assert args[args.index("--port") + 1] == "30081"
    assert args[args.index("--dataset-name") + 1] == "generated-shared-prefix"
    assert args[args.index("--gsp-num-groups") + 1] == "4" and args[args.index("--gsp-prompts-per-group") + 1] == "8"
    assert args[args.index("--gsp-system-prompt-len") + 1] == "512" and args[args.index("--gsp-output-len") + 1] == "16"
    assert policy["num_prompts"] == 32 and policy["max_concurrency"] == 8
    assert runs[3]["fleet"]["policy"] == "round_robin"


def test_no_levels_and_no_policies_plan_nothing_and_a_repeated_policy_is_refused():
    assert fleet_runs(TARGET, dict(BASE, concurrency=[], policies=[])) == []
    assert [r["fleet"]["kind"] for r in fleet_runs(TARGET, dict(BASE, concurrency=[]))] == ["policy", "policy"]
    with pytest.raises(BenchPlanError, match="twice"):
        fleet_runs(TARGET, dict(BASE, policies=["round_robin", "round_robin"]))
    with pytest.raises(BenchPlanError, match="sglang_bench_gsp_num_groups"):
        fleet_runs(TARGET, dict(BASE, gsp=dict(BASE["gsp"], num_groups=0)))


def test_the_temporary_router_keeps_the_workers_and_changes_only_policy_address_and_ports():
    production = argv(SETTINGS, ["http://10.0.0.1:30000", "http://10.0.0.2:30000"])
    robin = router_variant(production, "round_robin", 30081, 29001)
    assert robin[:10] == ["--host", "127.0.0.1", "--port", "30081", "--policy", "round_robin",
                          "--prometheus-host", "127.0.0.1", "--prometheus-port", "29001"]
    assert robin[robin.index("--worker-urls"):robin.index("--worker-urls") + 3] == [
        "--worker-urls", "http://10.0.0.1:30000", "http://10.0.0.2:30000"]
    assert "--cache-threshold" not in robin and "30080" not in robin and "29000" not in robin
    assert robin.count("--policy") == 1 and robin[robin.index("--health-check-interval-secs") + 1] == "10"
    aware = router_variant(production, "cache_aware", 30081, 29001)
    assert aware[aware.index("--cache-threshold") + 1] == "0.3"
    with pytest.raises(BenchPlanError, match="router.yml"):
        router_variant([], "round_robin", 30081, 29001)


def test_the_cache_counters_are_summed_over_label_sets_and_absent_ones_are_none():
    text = "\n".join([
        "# HELP sglang:cached_tokens_total Number of cached prompt tokens.",
        "# TYPE sglang:cached_tokens_total counter",
        'sglang:cached_tokens_total{model_name="m",tp_rank="0"} 1024.0',
        'sglang:cached_tokens_total{model_name="m",tp_rank="1"} 1024.0',
        'sglang:prompt_tokens_total{model_name="m"} 4096.0',
        'sglang:prompt_tokens_histogram_bucket{le="1"} 5.0',
    ])
    assert cache_counters(text) == {"cached_tokens": 2048.0, "prompt_tokens": 4096.0}
    assert cache_counters("") == {"cached_tokens": None, "prompt_tokens": None}
    assert cache_counters("sglang:prompt_tokens_total 7") == {"cached_tokens": None, "prompt_tokens": 7.0}


def test_the_run_adds_the_difference_of_each_server_counters_and_a_missing_counter_stays_unknown():
    before = ["sglang:cached_tokens_total 100\nsglang:prompt_tokens_total 1000", ""]
    after = ["sglang:cached_tokens_total 600\nsglang:prompt_tokens_total 3000", "sglang:prompt_tokens_total 50"]
    out = cache_deltas(iter(["http://a:30000", "http://b:30000"]), iter(before), after)
    assert out[0] == {"url": "http://a:30000", "before": {"cached_tokens": 100.0, "prompt_tokens": 1000.0},
                      "after": {"cached_tokens": 600.0, "prompt_tokens": 3000.0},
                      "added": {"cached_tokens": 500.0, "prompt_tokens": 2000.0}}
    assert out[1]["added"] == {"cached_tokens": None, "prompt_tokens": None}
    with pytest.raises(BenchPlanError, match="one /metrics text"):
        cache_deltas(["http://a:30000"], [], [])
