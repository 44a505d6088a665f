# -*- coding: utf-8 -*-
# Copyright: npu.sglang maintainers
# Apache-2.0 (see the collection's LICENSE)
"""The metric registry: one row per benchmark metric, read by the parser and the gates.

A row says what a figure is called in a record (``key``), its unit, which way is better, its label
in tables, and where the clients print it: the keys of a saved JSON line (sglang's
``--output-file``, 2024 to 2026 releases, and ``vllm bench serve --save-result``) and the labels of
the console block "Serving Benchmark Result" (lower case, single spaces), as the parser read them
before this table existed (its tests hold sglang and vLLM samples of each form):

* rates (``RATES``) are one figure each; where the releases disagree on the name, every name is
  listed, the first one found wins;
* latencies (``LATENCIES``) are a family ``<metric>_<stat>_ms`` over ``LATENCY_STATS``; the JSON
  key is ``<stat>_<name>_ms`` and the console label ``<stat> <name> (ms)`` for each listed name.

``regression`` marks the figures the baseline gate compares (bench_analysis.check_regressions):
a rate when it drops, a latency's P99 when it rises, beyond the gate's limits.
Adding a metric is adding a row here: the parser, the record, results.csv and summary.json, the run
table of report.md and report.html, the plots it asks for, its SLA limit and the regression gate
and its columns in the SGLang vs vLLM comparison tables follow (bench_results, bench_analysis,
bench_report_render, bench_report_plots, config_rules read this table).
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections

HIGHER = "higher"
LOWER = "lower"

# key, unit, better, label: what the figure is; json, console: where the clients print it;
# regression: compared by the baseline gate; short, title: its column title and its name in a plot's
# caption; table: shown in the report's run table (a rate: True; a latency: the stats shown);
# limit: its per-run SLA limit (a rate: "min" for a lower bound named min_<key>; a latency: the
# stats with an upper bound named <key>_<stat>_ms); plot: a latency's plots ("own": mean and P99
# against concurrency, <key>.png; "p99": a panel of the P99 figure, p99.png), or for the one rate
# the throughput plots draw (per host, summed over the cluster, the SGLang/vLLM ratio bars)
# ("throughput", its name in their titles, the axis label), or for the one latency whose mean
# the Pareto plot puts against that rate, "pareto"; compare: its columns
# in the SGLang vs vLLM tables (COMPARE_TABLES), each (table, place, stat, name, sides): the column's
# place among that table's figures, the latency's stat (None for a rate), its name in the header,
# and sides: True for three columns (SGLang <name>, vLLM <name>, Ratio), False for "<name> ratio";
# cluster: a rate's column place in the cluster table, which sums it over the hosts (0: not summed;
# the first one is the figure a point needs from every host, and the throughput plots' rate must be
# one of them).
Metric = collections.namedtuple("Metric", "key unit better label json console regression short title table limit plot compare cluster",
                                defaults=((), 0))
# The comparison tables, in the summary's order: the fixed batch and the concurrency sweep show the
# "throughput" figures, then the latency table and the long generations.
COMPARE_TABLES = ("throughput", "latency", "long")

# Throughputs: one figure per run, higher is better.
RATES = (
    Metric("request_throughput", "req/s", HIGHER, "Requests/s",
           ("request_throughput",), ("request throughput (req/s)",), False,
           "Req/s", "Request throughput", True, None, (), (("throughput", 2, None, "req/s", True),), 2),
    Metric("input_throughput", "tok/s", HIGHER, "Input tok/s",
           ("input_throughput",), ("input token throughput (tok/s)",), False,
           "In tok/s", "Input token throughput", False, None, ()),
    Metric("output_throughput", "tok/s", HIGHER, "Output tok/s",
           ("output_throughput",), ("output token throughput (tok/s)",), True,
           "Out tok/s", "Output token throughput", True, "min", (("throughput", "output throughput", "output tokens/s"),),
           (("throughput", 1, None, "out tok/s", True), ("long", 1, None, "out tok/s", True)), 1),
    # sglang 2026 writes total_throughput; vLLM writes total_token_throughput.
    Metric("total_throughput", "tok/s", HIGHER, "Total tok/s",
           ("total_throughput", "total_token_throughput"),
           ("total token throughput (tok/s)", "total throughput (tok/s)"), False,
           "Total tok/s", "Total token throughput", True, None, ()),
)

# Latencies per request, in ms, lower is better: the key is the family's stem; the label names it.
# vLLM says e2el where sglang says e2e_latency (console: "e2e latency").
LATENCIES = (
    Metric("ttft", "ms", LOWER, "TTFT", ("ttft",), ("ttft",), True,
           "TTFT", "Time to first token", ("mean", "p99"), ("p99",), ("own", "p99"),
           (("latency", 1, "mean", "TTFT", True), ("latency", 3, "p99", "P99 TTFT", False))),
    Metric("tpot", "ms", LOWER, "TPOT", ("tpot",), ("tpot",), True,
           "TPOT", "Time per output token", ("mean", "p99"), ("mean",), ("own", "p99", "pareto"),
           (("latency", 2, "mean", "TPOT", True), ("latency", 4, "p99", "P99 TPOT", False),
            ("long", 2, "mean", "Mean TPOT", False), ("long", 3, "p99", "P99 TPOT", False))),
    Metric("itl", "ms", LOWER, "ITL", ("itl",), ("itl",), True,
           "ITL", "Inter-token latency", ("p99",), (), ("p99",), (("latency", 5, "p99", "P99 ITL", False),)),
    Metric("e2e", "ms", LOWER, "E2E latency", ("e2e_latency", "e2el"), ("e2e latency", "e2el"), False,
           "E2E", "End-to-end latency", ("mean",), ("p99",), ()),
)
LATENCY_STATS = ("mean", "median", "std", "p90", "p95", "p99")

# The statistic of a latency the regression gate compares.
REGRESSION_STAT = "p99"


def rate_fields():
    """The record keys of the rates, in the registry's order."""
    return tuple(metric.key for metric in RATES)


def latency_fields():
    """Every latency key of a record: <metric>_<stat>_ms."""
    return tuple("%s_%s_ms" % (metric.key, stat) for metric in LATENCIES for stat in LATENCY_STATS)


def latency_titles():
    """{latency stem: its label}."""
    return dict((metric.key, metric.label) for metric in LATENCIES)


def json_latency_names():
    """{name in a client's JSON key: latency stem} (e2e_latency and e2el are both e2e)."""
    return dict((name, metric.key) for metric in LATENCIES for name in metric.json)


def console_latency_names():
    """{name in a client's console label: latency stem}."""
    return dict((name, metric.key) for metric in LATENCIES for name in metric.console)


def console_rate_labels():
    """{console label: rate key}."""
    return dict((label, metric.key) for metric in RATES for label in metric.console)


def label(key):
    """A table's column title of a record key: the rate's label, or "<Stat> <label> ms" for a latency."""
    for metric in RATES:
        if metric.key == key:
            return metric.label
    for metric in LATENCIES:
        for stat in LATENCY_STATS:
            if key == "%s_%s_ms" % (metric.key, stat):
                return "%s %s %s" % (_stat_title(stat), metric.label, metric.unit)
    raise KeyError("%s is not a metric of the registry" % key)


def json_rate(obj, metric):
    """The first of the metric's JSON keys that the object has a value for, as (key, value)."""
    for name in metric.json:
        if obj.get(name) is not None:
            return name, obj[name]
    return metric.json[0], None


def regression_checks():
    """[(record key, better)] the baseline gate compares, rates first, in the registry's order."""
    checks = [(metric.key, metric.better) for metric in RATES if metric.regression]
    checks += [("%s_%s_ms" % (metric.key, REGRESSION_STAT), metric.better) for metric in LATENCIES if metric.regression]
    return checks


def _stat_title(stat):
    return stat.upper() if stat.startswith("p") else stat.capitalize()


def latency_key(metric, stat):
    """The record key of one statistic of a latency: <key>_<stat>_ms."""
    return "%s_%s_ms" % (metric.key, stat)


def table_columns():
    """[(column title, record key)] of the report's run table, rates first, in the registry's order."""
    columns = [(metric.short, metric.key) for metric in RATES if metric.table]
    columns += [("%s %s %s" % (_stat_title(stat), metric.short, metric.unit), latency_key(metric, stat))
                for metric in LATENCIES for stat in LATENCY_STATS if stat in metric.table]
    return columns


def sla_limits():
    """{limit name: (record key, bound)}: a latency's upper bounds, then a rate's lower bound min_<key>."""
    limits = collections.OrderedDict((latency_key(metric, stat), (latency_key(metric, stat), "max"))
                                     for metric in LATENCIES for stat in metric.limit)
    limits.update(("min_" + metric.key, (metric.key, "min")) for metric in RATES if metric.limit == "min")
    return limits


def latency_plots():
    """The latency plots: [(file name, [[record keys] per panel], [panel titles], caption)]."""
    plots = []
    for metric in LATENCIES:
        if "own" in metric.plot:
            plots.append(("%s.png" % metric.key, [[latency_key(metric, "mean"), latency_key(metric, "p99")]],
                          ["%s vs concurrency (mean solid/dashed, P99 dotted)" % metric.short],
                          "%s (mean and P99) vs max concurrency, every host and engine." % metric.title))
    panel = [metric for metric in LATENCIES if "p99" in metric.plot]
    if panel:
        names = [metric.short for metric in panel]
        plots.append(("p99.png", [[latency_key(metric, "p99")] for metric in panel], ["P99 %s" % name for name in names],
                      "P99 of %s vs max concurrency." % (" and ".join([", ".join(names[:-1]), names[-1]]) if len(names) > 1 else names[0])))
    return plots


def compare_columns(table):
    """[(record key, name, sides)] of one comparison table of COMPARE_TABLES, in their places."""
    columns = []
    for metric in RATES + LATENCIES:
        for name, place, stat, title, sides in metric.compare:
            if name == table:
                columns.append((place, metric.key if stat is None else latency_key(metric, stat), title, sides))
    return [(key, title, sides) for _place, key, title, sides in sorted(columns, key=lambda column: column[0])]


def compare_fields():
    """The record keys the SGLang/vLLM comparison reads, each once, in the tables' order, then the
    rate of the ratio plot (throughput_plot) if no table has it."""
    keys = []
    for table in COMPARE_TABLES:
        keys += [key for key, _title, _sides in compare_columns(table) if key not in keys]
    drawn = throughput_plot()
    if drawn is not None and drawn[0].key not in keys:
        keys.append(drawn[0].key)
    return tuple(keys)


def cluster_fields():
    """The record keys of the rates the cluster table sums over the hosts, in its columns' order."""
    return tuple(metric.key for metric in sorted((metric for metric in RATES if metric.cluster), key=lambda metric: metric.cluster))


def short_lower(key):
    """A rate's column title with a small first letter, for a title that puts a word before it
    (the cluster table's "Sum out tok/s")."""
    short = [metric.short for metric in RATES if metric.key == key][0]
    return short[:1].lower() + short[1:]


def pareto_latency():
    """The latency whose mean the Pareto plot puts against the throughput plots' rate, or None."""
    for metric in LATENCIES:
        if "pareto" in metric.plot:
            return metric
    return None


def throughput_plot():
    """(metric, name, axis label) of the rate the throughput plots draw, or None."""
    for metric in RATES:
        for entry in metric.plot:
            if entry[0] == "throughput":
                return metric, entry[1], entry[2]
    return None
