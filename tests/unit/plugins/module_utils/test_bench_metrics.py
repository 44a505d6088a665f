"""The metric registry (module_utils/bench_metrics.py) drives the parser, the tables and the gate."""
import json

from ansible_collections.npu.sglang.plugins.module_utils import bench_metrics
from ansible_collections.npu.sglang.plugins.module_utils.bench_analysis import COMPARE_FIELDS, check_regressions
from ansible_collections.npu.sglang.plugins.module_utils.bench_results import (
    RECORD_FIELDS, new_record, parse_console_text, parse_json_text,
)


def test_every_row_is_a_field_of_a_record():
    for key in bench_metrics.rate_fields() + bench_metrics.latency_fields():
        assert key in RECORD_FIELDS
    assert bench_metrics.label("ttft_p99_ms") == "P99 TTFT ms" and bench_metrics.label("tpot_mean_ms") == "Mean TPOT ms"
    assert dict(COMPARE_FIELDS)["output_throughput"] == "Output tok/s"


def test_each_json_name_of_a_row_is_read():
    """Every name a row lists, in a line of its own, lands in the row's key."""
    for number, metric in enumerate(bench_metrics.RATES, 1):
        for name in metric.json:
            obj = {"completed": 10, "duration": 2.0, "request_throughput": 5.0, name: 100.0 + number}
            records, _accuracy = parse_json_text(json.dumps(obj), "r.jsonl")
            assert records[0][metric.key] == 100.0 + number, (metric.key, name)
    for metric in bench_metrics.LATENCIES:
        for name in metric.json:
            obj = {"completed": 10, "output_throughput": 1.0, "p99_%s_ms" % name: 42.5, "median_%s_ms" % name: 7.0}
            records, _accuracy = parse_json_text(json.dumps(obj), "r.jsonl")
            assert (records[0]["%s_p99_ms" % metric.key], records[0]["%s_median_ms" % metric.key]) == (42.5, 7.0), name


def _console(line):
    """A console result block holding one figure line besides the request count."""
    text = ("============ Serving Benchmark Result ============\n"
            "Successful requests:                     10\n"
            "%s\n"
            "==================================================\n") % line
    record, = parse_console_text(text, "r.log")
    return record


def test_each_console_label_of_a_row_is_read():
    for metric in bench_metrics.RATES:
        for label in metric.console:
            assert _console("%s:   321.5" % label.capitalize())[metric.key] == 321.5, label
    for metric in bench_metrics.LATENCIES:
        for name in metric.console:
            assert _console("P99 %s (ms):   12.25" % name.upper())["%s_p99_ms" % metric.key] == 12.25, name


def _run(**figures):
    record = new_record()
    record.update({"host": "n1", "engine": "sglang", "status": "ok", "max_concurrency": 8, "completed": 10,
                   "dataset": "random-ids", "random_input_len": 1024, "random_output_len": 512, "run": "r"})
    record.update(figures)
    return record


def test_the_gate_follows_each_rows_direction():
    base = _run(output_throughput=100.0, ttft_p99_ms=100.0, itl_p99_ms=10.0, e2e_p99_ms=1000.0, request_throughput=2.0)
    worse = _run(output_throughput=90.0, ttft_p99_ms=120.0, itl_p99_ms=10.5, e2e_p99_ms=5000.0, request_throughput=1.0)
    regressions, compared = check_regressions([worse], [base], 5.0, 10.0)
    assert compared == 1
    assert [(r["metric"], r["kind"]) for r in regressions] == [("output_throughput", "throughput_drop"), ("ttft_p99_ms", "p99_rise")]
    better = _run(output_throughput=150.0, ttft_p99_ms=50.0, itl_p99_ms=5.0, e2e_p99_ms=500.0, request_throughput=3.0)
    assert check_regressions([better], [base], 5.0, 10.0) == ([], 1)
    gated = set(key for key, _better in bench_metrics.regression_checks())
    assert gated == {"output_throughput", "ttft_p99_ms", "tpot_p99_ms", "itl_p99_ms"}


def test_the_comparison_columns_come_from_the_rows():
    """The SGLang vs vLLM tables as the report has printed them (the rendered report of the saved
    runs stays byte for byte what it was), and summary.json's comparison figures in that order."""
    assert bench_metrics.compare_columns("throughput") == [
        ("output_throughput", "out tok/s", True), ("request_throughput", "req/s", True)]
    assert bench_metrics.compare_columns("latency") == [
        ("ttft_mean_ms", "TTFT", True), ("tpot_mean_ms", "TPOT", True), ("ttft_p99_ms", "P99 TTFT", False),
        ("tpot_p99_ms", "P99 TPOT", False), ("itl_p99_ms", "P99 ITL", False)]
    assert bench_metrics.compare_columns("long") == [
        ("output_throughput", "out tok/s", True), ("tpot_mean_ms", "Mean TPOT", False), ("tpot_p99_ms", "P99 TPOT", False)]
    assert bench_metrics.compare_fields() == ("output_throughput", "request_throughput", "ttft_mean_ms", "tpot_mean_ms",
                                              "ttft_p99_ms", "tpot_p99_ms", "itl_p99_ms")
    assert all(entry[0] in bench_metrics.COMPARE_TABLES for metric in bench_metrics.RATES + bench_metrics.LATENCIES
               for entry in metric.compare)


def test_one_rate_is_the_throughput_plots():
    """The per-host, cluster and ratio plots draw the one rate whose plot names "throughput"."""
    marked = [metric.key for metric in bench_metrics.RATES if any(entry[0] == "throughput" for entry in metric.plot)]
    assert marked == ["output_throughput"]
    metric, name, unit = bench_metrics.throughput_plot()
    assert (metric.key, name, unit) == ("output_throughput", "output throughput", "output tokens/s")


def test_the_cluster_table_and_the_pareto_plot_follow_the_rows(monkeypatch):
    """Which rates the cluster table sums and which latency the Pareto plot draws are fields of
    the rows: marking total throughput for the cluster adds its column, and moving "pareto" to
    TTFT moves the plot's axis and caption."""
    import pytest
    from ansible_collections.npu.sglang.plugins.module_utils import bench_analysis, bench_report_plots, bench_report_render
    assert bench_metrics.cluster_fields() == ("output_throughput", "request_throughput")
    assert bench_metrics.pareto_latency().key == "tpot"
    rates = tuple(metric._replace(cluster=3) if metric.key == "total_throughput" else metric for metric in bench_metrics.RATES)
    latencies = tuple(metric._replace(plot=tuple(entry for entry in metric.plot if entry != "pareto")
                                      + (("pareto",) if metric.key == "ttft" else ()))
                      for metric in bench_metrics.LATENCIES)
    monkeypatch.setattr(bench_metrics, "RATES", rates)
    monkeypatch.setattr(bench_metrics, "LATENCIES", latencies)
    records = [_run(host=host, output_throughput=100.0, request_throughput=2.0, total_throughput=300.0,
                    ttft_mean_ms=40.0, tpot_mean_ms=9.0) for host in ("n1", "n2")]
    rows = bench_analysis.cluster_points(records)
    assert [(row["output_throughput"], row["request_throughput"], row["total_throughput"]) for row in rows] == [(200.0, 4.0, 600.0)]
    table = bench_report_render._cluster_table({"cluster": rows})
    assert table.headers[4:7] == ["Sum out tok/s", "Sum req/s", "Sum total tok/s"]
    # A host without the first rate fails the point; one without another rate leaves that sum out.
    records[1]["total_throughput"] = None
    assert [(row["state"], row["total_throughput"]) for row in bench_analysis.cluster_points(records)] == [("ok", None)]
    pytest.importorskip("matplotlib")
    [(name, png, caption)] = bench_report_plots.pareto_plot(records)
    assert name == "pareto.png" and png.startswith(b"\x89PNG")
    assert caption.startswith("Output throughput vs mean TTFT per run;")
