"""The report's "Fleet through the router" section: the runs of <run>/fleet/, beside the per-node
sweep summed at each server's share, the policy table with the servers' cache hits, and its place
in report.md, report.html and summary.json."""
import json
import os
import shutil

from ansible_collections.npu.sglang.plugins.module_utils.bench_analysis import build_summary
from ansible_collections.npu.sglang.plugins.module_utils.bench_report_fleet import best, failed, fleet_summary
from ansible_collections.npu.sglang.plugins.module_utils.bench_report_render import (
    HTML_FILE, MARKDOWN_FILE, SUMMARY_FILE, render_files,
)
from ansible_collections.npu.sglang.plugins.module_utils.bench_results import collect_inputs

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
CLUSTER = os.path.join(ROOT, "tests", "unit", "fixtures", "bench", "cluster")


def _line(name, concurrency, throughput, dataset="random", ttft=200.0, completed=64):
    return {"tag": name, "backend": "sglang", "dataset_name": dataset, "max_concurrency": concurrency,
            "random_input_len": 1024, "random_output_len": 512, "duration": 10.0, "completed": completed,
            "request_throughput": throughput / 512, "output_throughput": throughput, "mean_ttft_ms": ttft,
            "p99_ttft_ms": ttft * 2, "mean_tpot_ms": 8.0, "p99_tpot_ms": 9.5}


def _run(fleet_dir, name, fleet, line=None, cache=None, status="ok"):
    meta = {"host": "node1", "run": name, "instance": "fleet", "engine": "sglang", "backend": "sglang",
            "max_concurrency": (line or {}).get("max_concurrency", 32), "input_len": 1024, "output_len": 512,
            "status": status, "simulated": True, "fleet": fleet, "error": None if line else "exit code 1, no result line"}
    with open(os.path.join(fleet_dir, name + ".meta.json"), "w", encoding="utf-8") as handle:
        json.dump(meta, handle)
    if line:
        with open(os.path.join(fleet_dir, name + ".jsonl"), "w", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")
    if cache:
        with open(os.path.join(fleet_dir, name + ".cache.json"), "w", encoding="utf-8") as handle:
            json.dump(cache, handle)


def _cache(policy, cached, prompt):
    return {"policy": policy, "workers": [
        {"url": "http://n%d:30000" % i, "before": {}, "after": {},
         "added": {"cached_tokens": cached[i] if cached else None, "prompt_tokens": prompt[i]}} for i in range(2)]}


def _input(tmp_path):
    root = str(tmp_path / "run")
    shutil.copytree(os.path.join(CLUSTER, "raw"), os.path.join(root, "raw"))
    fleet_dir = os.path.join(root, "fleet")
    os.makedirs(fleet_dir)
    sweep = {"kind": "sweep", "policy": "cache_aware", "workers": 2}
    _run(fleet_dir, "fleet_sglang_in1024_out512_c16", sweep, _line("f16", 16, 1650.0))
    _run(fleet_dir, "fleet_sglang_in1024_out512_c30", sweep, _line("f30", 30, 2500.0))
    _run(fleet_dir, "fleet_sglang_in1024_out512_c64", sweep, status="failed")
    _run(fleet_dir, "fleet_sglang_round_robin_in1088_out32_c16", {"kind": "policy", "policy": "round_robin", "workers": 2},
         _line("rr", 16, 800.0, "generated-shared-prefix", ttft=90.0), _cache("round_robin", [1000, 1200], [8000, 8000]))
    _run(fleet_dir, "fleet_sglang_cache_aware_in1088_out32_c16", {"kind": "policy", "policy": "cache_aware", "workers": 2},
         _line("ca", 16, 900.0, "generated-shared-prefix", ttft=60.0), _cache("cache_aware", [6000, 6000], [8000, 8000]))
    _run(fleet_dir, "fleet_sglang_random_in1088_out32_c16", {"kind": "policy", "policy": "random", "workers": 2},
         _line("rd", 16, 700.0, "generated-shared-prefix"), _cache("random", None, [8000, 8000]))
    return root


def _summary(root):
    inputs = collect_inputs(root, exclude=[os.path.join(root, "fleet")])
    summary = build_summary(inputs, "t", 2000.0, 100.0, "p99")
    summary["fleet"] = fleet_summary(root, summary)
    return summary


def test_each_fleet_point_stands_beside_the_per_node_sweep_summed_at_each_server_share(tmp_path):
    summary = _summary(_input(tmp_path))
    assert "fleet" not in summary["hosts"] and sorted(summary["hosts"]) == ["node1", "node2"]
    fleet = summary["fleet"]
    assert (fleet["router_host"], fleet["policy"], fleet["workers"]) == ("node1", "cache_aware", 2)
    rows = dict((row["max_concurrency"], row) for row in fleet["sweep"])
    cluster = [row for row in summary["cluster"] if row["engine"] == "sglang" and row["max_concurrency"] == 8
               and row["workload_key"] == ["random", 1024, 512]][0]
    assert rows[16]["server_share"] == 8 and rows[16]["output_throughput"] == 1650.0
    assert rows[16]["nodes_output_throughput"] == cluster["output_throughput"] and cluster["output_throughput"] > 0
    assert rows[30]["server_share"] == 15 and rows[30]["nodes_output_throughput"] is None and rows[30]["nodes_state"] == "missing"
    broken = [row for row in fleet["sweep"] if row["state"] == "failed"]
    assert len(broken) == 1 and broken[0]["output_throughput"] is None and "no result line" in broken[0]["error"]
    assert failed(fleet) == [{"host": "node1 (router)", "run": "fleet_sglang_in1024_out512_c64", "error": "exit code 1, no result line"}]
    assert best(fleet) == {"output_throughput": 2500.0, "max_concurrency": 30, "workers": 2, "policy": "cache_aware"}


def test_the_policy_table_has_the_hits_the_servers_counted_and_unknown_when_one_did_not(tmp_path):
    summary = _summary(_input(tmp_path))
    fleet = summary["fleet"]
    policies = dict((row["policy"], row) for row in fleet["policies"])
    assert sorted(policies) == ["cache_aware", "random", "round_robin"]
    assert policies["cache_aware"]["cached_tokens"] == 12000 and policies["cache_aware"]["cache_hit_rate"] == 0.75
    assert policies["round_robin"]["cached_tokens"] == 2200 and policies["round_robin"]["ttft_p99_ms"] == 180.0
    assert policies["random"]["cached_tokens"] is None and policies["random"]["cache_hit_rate"] is None
    text = render_files(summary, with_plots=False)[MARKDOWN_FILE].decode("utf-8")
    assert "| cache_aware | 16 | 900.0 | 60.0 | 120.0 | 12000 | 16000 | 75.0% |" in text
    assert "| random | 16 | 700.0 | 200.0 | 400.0 | n/a | n/a | n/a |" in text
    assert "| 16 | 1650.0 |" in text and "| **failed** |" in text


def test_the_section_follows_the_per_node_runs_in_report_md_and_html_and_is_in_summary_json(tmp_path):
    summary = _summary(_input(tmp_path))
    files = render_files(summary, with_plots=False)
    md = files[MARKDOWN_FILE].decode("utf-8")
    assert md.index("## Runs per host") < md.index("## Fleet through the router") < md.index("## SGLang vs vLLM")
    page = files[HTML_FILE].decode("utf-8")
    assert page.index("<h2>Runs per host</h2>") < page.index("<h2>Fleet through the router</h2>") < page.index("</body>")
    assert '<td class="failed num">failed</td>' in page and "<h3>Routing policies on the shared-prefix workload</h3>" in page
    assert json.loads(files[SUMMARY_FILE].decode("utf-8"))["fleet"]["workers"] == 2


def test_a_run_without_fleet_results_has_no_section(tmp_path):
    root = str(tmp_path / "run")
    shutil.copytree(os.path.join(CLUSTER, "raw"), os.path.join(root, "raw"))
    summary = _summary(root)
    assert summary["fleet"] is None and best(None) is None and failed(None) == []
    files = render_files(summary, with_plots=False)
    assert "Fleet through the router" not in files[MARKDOWN_FILE].decode("utf-8") + files[HTML_FILE].decode("utf-8")
