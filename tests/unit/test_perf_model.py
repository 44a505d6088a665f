"""The arithmetic of `make perf` (tests/perf/perfmodel.py) and its report's deploy section
(tests/perf/perf.py), on made-up counter samples and timings: no Docker, no cluster."""
import os
import sys

import pytest

PERF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "perf")
sys.path.insert(0, PERF)
import perfmodel  # noqa: E402 pylint: disable=wrong-import-position,import-error
import perf  # noqa: E402 pylint: disable=wrong-import-position,import-error


def test_fit_recovers_a_line_and_its_residuals():
    fit = perfmodel.fit_line([(1, 40.0), (2, 55.0), (3, 70.0)])
    assert fit["a"] == pytest.approx(25.0)
    assert fit["b"] == pytest.approx(15.0)
    assert [row[3] for row in fit["residuals"]] == pytest.approx([0.0, 0.0, 0.0])
    assert perfmodel.predict(fit, 64) == pytest.approx(25.0 + 15.0 * 64)


def test_fit_is_least_squares_with_residuals_that_sum_to_zero():
    # Repeats at one N count as points; the line is the least-squares one, not through two points.
    points = [(1, 10.0), (1, 12.0), (2, 15.0), (3, 26.0)]
    fit = perfmodel.fit_line(points)
    ns, ts = [p[0] for p in points], [p[1] for p in points]
    mean_n, mean_t = sum(ns) / 4.0, sum(ts) / 4.0
    slope = sum((n - mean_n) * (t - mean_t) for n, t in points) / sum((n - mean_n) ** 2 for n in ns)
    assert fit["b"] == pytest.approx(slope)
    assert fit["a"] == pytest.approx(mean_t - slope * mean_n)
    residuals = [row[3] for row in fit["residuals"]]
    assert sum(residuals) == pytest.approx(0.0, abs=1e-9)
    assert max(abs(r) for r in residuals) > 1.0  # the points are not on a line, and it shows


def test_no_fit_without_two_distinct_node_counts():
    assert perfmodel.fit_line([(3, 10.0), (3, 12.0)]) is None
    assert perfmodel.fit_line([(1, 10.0), (2, None)]) is None
    assert perfmodel.per_added_node([(1, 5.0)]) is None


def sample(ctl_tx, ctl_rx, nodes):
    return {"controller": {"tx": ctl_tx, "rx": ctl_rx},
            "nodes": dict((n, {"rx": rx, "tx": tx}) for n, (rx, tx) in nodes.items())}


def test_byte_accounting_from_counter_samples():
    before = sample(1000, 500, {"n1": (100, 50), "n2": (200, 60)})
    after = sample(1000 + 3000000, 500 + 70000, {"n1": (100 + 900000, 50 + 40000), "n2": (200 + 2500000000, 60 + 30000)})
    moved = perfmodel.net_delta(before, after)
    assert moved["controller_sent"] == 3000000
    assert moved["controller_received"] == 70000
    assert moved["nodes"]["n1"] == {"received": 900000, "sent": 40000}
    assert moved["nodes"]["n2"]["received"] == 2500000000


def test_a_counter_that_went_back_or_is_missing_is_not_a_figure():
    before = sample(5000, 10, {"n1": (900, 9)})
    after = {"controller": {"tx": 100, "rx": None}, "nodes": {"n1": {"rx": 800, "tx": 20}, "n2": {"rx": 5, "tx": 5}}}
    moved = perfmodel.net_delta(before, after)
    assert moved["controller_sent"] is None  # the bridge was recreated: no difference
    assert moved["controller_received"] is None
    assert moved["nodes"]["n1"] == {"received": None, "sent": 11}
    assert moved["nodes"]["n2"] == {"received": None, "sent": None}  # not in the first sample


def test_bytes_per_added_node_is_the_slope_over_n():
    # A fixed 2 MB of SSH traffic plus 0.4 MB per node: the slope, not the mean per node.
    points = [(1, 2.4e6), (2, 2.8e6), (3, 3.2e6)]
    assert perfmodel.per_added_node(points) == pytest.approx(0.4e6)


def ratio(value):
    return "%.2f" % value


def test_target_lines_say_met_missed_or_not_measured():
    assert perfmodel.target_line("T3/T1", 1.25, 1.3, ratio) == "T3/T1 = 1.25; target <= 1.30: MET"
    assert perfmodel.target_line("T3/T1", 2.1, 1.3, ratio) == "T3/T1 = 2.10; target <= 1.30: MISSED"
    assert perfmodel.target_line("T3/T1", None, 1.3, ratio) == "T3/T1: not measured; target <= 1.30"
    line = perfmodel.target_line("bytes", 1e6, 1e6, perfmodel.human_bytes, below=True)
    assert line == "bytes = 1.00 MB; target < 1.00 MB: MISSED"
    assert perfmodel.target_line("bytes", 0.25e6, 1e6, perfmodel.human_bytes, below=True).endswith(": MET")


def test_human_bytes_and_the_bandwidth_floor():
    assert perfmodel.human_bytes(2882082262) == "2.88 GB"
    assert perfmodel.human_bytes(-1500) == "-1.50 kB"
    assert perfmodel.human_bytes(12) == "12 B"
    assert perfmodel.pull_bound(1.25e9, 64, 1.25e9) == pytest.approx(64.0)
    assert perfmodel.pull_bound(None, 64, 1.25e9) is None
    assert perfmodel.waves(63, 8) == 8
    assert perfmodel.waves(64, 8) == 8
    assert perfmodel.waves(1, 8) == 1


def stat(value):
    """A figure measured twice with the same value, as perf.summary() records it."""
    return None if value is None else {"min": value, "median": value, "runs": [value, value]}


def size(path, nodes, deploy, sent, received, distribute=None):
    lacking = ["n%d" % i for i in range(2 if path == "registry" else 1, nodes + 1)]
    return {"kind": "site", "path": path, "nodes": nodes, "deploy": stat(deploy), "deploy_distribute": stat(distribute),
            "controller_sent": stat(sent), "controller_received": stat(sent / 10.0),
            "received_per_lacking_node": stat(received if lacking else None), "received_builder": stat(1e5),
            "lacking": lacking, "deploy_written_gb": None}


def results():
    sizes = {}
    for nodes, deploy, sent in ((1, 60.0, 2.0e6), (2, 80.0, 2.3e6), (3, 100.0, 2.6e6)):
        sizes["site-registry-%d" % nodes] = size("registry", nodes, deploy, sent, 2.5e9, distribute=45.0)
    for nodes, deploy in ((1, 170.0), (3, 360.0)):
        sizes["site-archive-%d" % nodes] = size("archive", nodes, deploy, nodes * 2.9e9, 2.9e9, distribute=140.0)
    return {"sizes": sizes, "paths": ["registry", "archive"], "cache_before": ["x.tar.zst"], "skipped": {},
            "machine": {"cores": 2}, "assumed": {"registry_gbps": 10.0, "pull_concurrency": 8}}


def test_the_deploy_section_prints_each_path_its_fit_and_its_targets():
    text = "\n".join(perf.deploy_section(results()))
    assert "registry path, starts from:" in text and "archive path, starts from:" in text
    # Registry: 60 + 20 per node -> T = 40 + 20 N, T(64) = 1320 s; T3/T1 = 100/60 misses 1.3.
    assert "T(N) = 40.0s + 20.0s x N; residuals N=1 +0.0s, N=2 +0.0s, N=3 +0.0s; T(64) = 1320s" in text
    assert "T3/T1 = 1.67; target <= 1.30: MISSED" in text
    # 0.3 MB per added node on the registry path: under the 1 MB target.
    assert ("controller bytes per added node (slope of bytes sent over N) = 300.00 kB; target < 1.00 MB: MET"
            in text)
    # The archive path: 2.9 GB per added node, printed for contrast, without a verdict of its own.
    assert "controller bytes per added node (slope of bytes sent over N) = 2.90 GB (no target on this path" in text
    assert "T3/T1 = 2.12; target <= 1.30: MISSED" in text
    assert "each node the image went to (n2, n3) received 2.50 GB" in text
    # The 64-node model states its assumptions and the registry's floor: 63 x 2.5 GB at 1.25 GB/s = 126 s.
    assert "assumptions:" in text and "upper bound" in text and "10 Gbit/s" in text
    assert "the registry serves 2.50 GB to each of 63 nodes in at least 126s" in text
    # 8 rounds of 8 pulls, each the longer of one pull alone (45 s) and 8 x 2.5 GB / 1.25 GB/s = 16 s.
    assert "T(1) 60s + 8 rounds of 8 pulls" in text and "= 420s" in text


def test_one_node_count_gives_no_fit_and_says_so():
    res = results()
    res["sizes"] = dict((k, v) for k, v in res["sizes"].items() if k == "site-registry-1")
    text = "\n".join(perf.deploy_section(res))
    assert "no fit: fewer than two node counts ran" in text
    assert "T3/T1: not measured (N=1 and N=3 both needed; ran N=[1])" in text
    assert "controller bytes per added node (slope of bytes sent over N): not measured" in text
