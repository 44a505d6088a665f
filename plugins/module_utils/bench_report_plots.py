# -*- coding: utf-8 -*-
# Copyright: npu.sglang maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""PNG plots of the benchmark report, drawn with matplotlib's Agg canvas (no display needed).

matplotlib is imported only when a plot is drawn; ``MatplotlibMissing`` says it is absent.
A failed run is drawn as a cross and a missing run as a hollow circle along the top edge of the
plot, so neither can be read as a zero.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import io
import math
import re

from ansible_collections.npu.sglang.plugins.module_utils import bench_metrics
from ansible_collections.npu.sglang.plugins.module_utils.bench_analysis import (
    index_series, series_label, sorted_series_keys, state_of,
)

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22")
ENGINE_STYLE = {"sglang": "-", "vllm": "--"}


class MatplotlibMissing(Exception):
    """matplotlib cannot be imported on the controller."""


def require_matplotlib():
    """Import matplotlib with the Agg backend, or raise MatplotlibMissing with the cause."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        from matplotlib.figure import Figure  # noqa: F401 pylint: disable=unused-import
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401 pylint: disable=unused-import
    except ImportError as exc:
        raise MatplotlibMissing(str(exc))
    return matplotlib


def safe_name(text):
    """A file-name-safe form of a host name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("_") or "host"


def _figure(width=8.0, height=4.6, rows=1, cols=1):
    from matplotlib.figure import Figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    axes = [figure.add_subplot(rows, cols, index + 1) for index in range(rows * cols)]
    return figure, axes


def _png(figure):
    buffer = io.BytesIO()
    # No Software/date metadata: the same data gives the same bytes, so reruns change nothing.
    figure.savefig(buffer, format="png", metadata={"Software": None}, bbox_inches="tight")
    return buffer.getvalue()


def _concurrency_axis(axis, concurrencies):
    values = sorted(set(concurrencies))
    if values and min(values) > 0 and len(values) > 1 and max(values) / min(values) >= 8:
        axis.set_xscale("log", base=2)
    if values:
        axis.set_xticks(values)
        axis.set_xticklabels([str(value) for value in values])
        axis.minorticks_off()
    axis.set_xlabel("max concurrency")
    axis.grid(True, alpha=0.3)


def _mark_states(axis, color, failed, missing, used_labels):
    """Failed runs (x) and missing runs (o) above the data, in the series' colour, labelled."""
    from matplotlib.transforms import blended_transform_factory
    transform = blended_transform_factory(axis.transData, axis.transAxes)
    for xs, marker, word in ((failed, "x", "failed"), (missing, "o", "missing")):
        if not xs:
            continue
        used_labels.add(word)
        if marker == "x":
            axis.scatter(xs, [0.95] * len(xs), transform=transform, marker="x", s=70, color=color, clip_on=False, zorder=5)
        else:
            axis.scatter(xs, [0.95] * len(xs), transform=transform, marker="o", s=50, facecolors="none", edgecolors=color,
                         clip_on=False, zorder=5)
        for x in xs:
            axis.annotate(word, (x, 0.95), xycoords=transform, textcoords="offset points", xytext=(0, -12), ha="center",
                          fontsize=7, color=color)


def _grid_by_workload(series):
    """Every concurrency any host or engine ran for a workload: the grid a series is expected to fill."""
    grid = {}
    for (host, engine, workload), points in series.items():
        grid.setdefault(workload, set()).update(points)
    return grid


def _draw_series(axis, points, grid, field, color, style, label, used_labels, marker="o"):
    xs = sorted(grid)
    ys = []
    failed = []
    missing = []
    for concurrency in xs:
        record = points.get(concurrency)
        state = state_of(record)
        if state == "missing":
            missing.append(concurrency)
            ys.append(float("nan"))
        elif state == "failed":
            failed.append(concurrency)
            ys.append(float("nan"))
        else:
            value = record.get(field)
            ys.append(float("nan") if value is None else value)
    if any(not math.isnan(value) for value in ys):
        axis.plot(xs, ys, linestyle=style, marker=marker, color=color, label=label)
    _mark_states(axis, color, failed, missing, used_labels)
    return xs


def _finish(axis, title, ylabel, used_labels=(), legend=True):
    """Title, labels, head room for the failed/missing markers, and a legend outside the plot."""
    from matplotlib.lines import Line2D
    axis.set_title(title, fontsize=11)
    axis.set_ylabel(ylabel)
    bottom, top = axis.get_ylim()
    axis.set_ylim(0 if bottom >= 0 else bottom, top * 1.22 if top > 0 else 1.0)
    if not legend:
        return
    handles, labels = axis.get_legend_handles_labels()
    if "failed" in used_labels:
        handles.append(Line2D([], [], linestyle="none", marker="x", color="black"))
        labels.append("failed run")
    if "missing" in used_labels:
        handles.append(Line2D([], [], linestyle="none", marker="o", markerfacecolor="none", color="black"))
        labels.append("missing run")
    if handles:
        axis.legend(handles, labels, fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)


def _sentence(name):
    return name[:1].upper() + name[1:]


def throughput_per_host(records):
    """[(file name, png bytes, caption)] of the registry's throughput (bench_metrics.throughput_plot)
    vs concurrency, one plot per host."""
    drawn = bench_metrics.throughput_plot()
    if drawn is None:
        return []
    metric, name, unit = drawn
    series = index_series(records)
    grid = _grid_by_workload(series)
    hosts = sorted(set(key[0] for key in series), key=str)
    plots = []
    for host in hosts:
        figure, (axis,) = _figure()
        used = set()
        xs = []
        keys = [key for key in sorted_series_keys(series) if key[0] == host]
        for index, key in enumerate(keys):
            _host, engine, workload = key
            xs += _draw_series(axis, series[key], grid[workload], metric.key, PALETTE[index % len(PALETTE)],
                               ENGINE_STYLE.get(engine, ":"), series_label(engine, workload), used)
        _concurrency_axis(axis, xs)
        _finish(axis, "%s vs concurrency: %s" % (_sentence(name), host), unit, used)
        plots.append(("throughput_host_%s.png" % safe_name(host), _png(figure), "%s vs max concurrency on %s." % (metric.title, host)))
    return plots


def throughput_cluster(cluster_rows):
    """The registry's throughput summed over hosts vs concurrency (from the summary's cluster rows)."""
    drawn = bench_metrics.throughput_plot()
    if not cluster_rows or drawn is None:
        return []
    metric, name, unit = drawn
    figure, (axis,) = _figure()
    used = set()
    groups = {}
    for row in cluster_rows:
        groups.setdefault((row["engine"], row["workload"], row["hosts"]), []).append(row)
    xs_all = []
    for index, (engine, label, hosts) in enumerate(sorted(groups, key=lambda item: (str(item[0]), item[1]))):
        rows = sorted(groups[(engine, label, hosts)], key=lambda row: row["max_concurrency"])
        xs = [row["max_concurrency"] for row in rows]
        xs_all += xs
        ys = [row[metric.key] if row["state"] == "ok" and row.get(metric.key) is not None else float("nan") for row in rows]
        color = PALETTE[index % len(PALETTE)]
        if any(not math.isnan(value) for value in ys):
            axis.plot(xs, ys, linestyle=ENGINE_STYLE.get(engine, ":"), marker="o", color=color,
                      label="%s %s (%d host%s)" % (engine, label, hosts, "" if hosts == 1 else "s"))
        _mark_states(axis, color, [row["max_concurrency"] for row in rows if row["state"] == "failed"],
                     [row["max_concurrency"] for row in rows if row["state"] == "missing"], used)
    _concurrency_axis(axis, xs_all)
    _finish(axis, "Cluster %s (sum over hosts) vs concurrency" % name, unit, used)
    return [("throughput_cluster.png", _png(figure),
             "%s summed over all hosts; a point where any host failed or is missing is marked, not summed." % metric.title)]


def _latency_plot(records, fields, titles, file_name, caption, ylabel="ms"):
    series = index_series(records)
    if not series:
        return []
    grid = _grid_by_workload(series)
    figure, axes = _figure(width=8.0 if len(titles) == 1 else 13.0, height=4.6, rows=1, cols=len(titles))
    keys = sorted_series_keys(series)
    for position_axis, (axis, field_group, title) in enumerate(zip(axes, fields, titles)):
        used = set()
        xs = []
        for index, key in enumerate(keys):
            host, engine, workload = key
            color = PALETTE[index % len(PALETTE)]
            label = series_label(engine, workload, host)
            for position, field in enumerate(field_group):
                marker = "o" if position == 0 else "^"
                style = ENGINE_STYLE.get(engine, ":") if position == 0 else ":"
                suffix = "" if len(field_group) == 1 else (" mean" if position == 0 else " p99")
                xs += _draw_series(axis, series[key], grid[workload], field, color, style, label + suffix, used, marker=marker)
        _concurrency_axis(axis, xs)
        _finish(axis, title, ylabel, used, legend=position_axis == len(titles) - 1)
    return [(file_name, _png(figure), caption)]


def latency_plots(records):
    """The plots the metric registry asks for (bench_metrics.latency_plots)."""
    plots = []
    for file_name, fields, titles, caption in bench_metrics.latency_plots():
        plots += _latency_plot(records, [tuple(group) for group in fields], titles, file_name, caption)
    return plots


def ratio_plot(comparison):
    """SGLang/vLLM ratio of the registry's throughput per concurrency (bars), when both engines ran."""
    drawn = bench_metrics.throughput_plot()
    if not comparison or not comparison.get("rows") or drawn is None:
        return []
    metric, name, _unit = drawn
    rows = comparison["rows"]
    groups = []
    for row in rows:
        key = (row["host"], row["workload"])
        if key not in groups:
            groups.append(key)
    concurrencies = sorted(set(row["max_concurrency"] for row in rows))
    figure, (axis,) = _figure(width=max(8.0, 1.0 + 0.9 * len(concurrencies) * max(1, len(groups)) / 2.0))
    width = 0.8 / len(groups)
    positions = list(range(len(concurrencies)))
    for index, key in enumerate(groups):
        color = PALETTE[index % len(PALETTE)]
        by_c = dict((row["max_concurrency"], row) for row in rows if (row["host"], row["workload"]) == key)
        xs = []
        heights = []
        for position, concurrency in zip(positions, concurrencies):
            x = position - 0.4 + width * (index + 0.5)
            row = by_c.get(concurrency)
            if row is None:
                # Neither engine ran this workload at this concurrency on this host: nothing to show.
                continue
            cell = row["metrics"][metric.key]
            if cell["ratio"] is not None:
                xs.append(x)
                heights.append(cell["ratio"])
                axis.annotate("%.2f" % cell["ratio"], (x, cell["ratio"]), ha="center", va="bottom", fontsize=7)
            else:
                why = "failed" if "failed" in (cell["sglang_state"], cell["vllm_state"]) else "missing"
                axis.text(x, 0.02, why, rotation=90, ha="center", va="bottom", fontsize=7, color=color,
                          transform=axis.get_xaxis_transform())
        axis.bar(xs, heights, width=width * 0.9, color=color, label="%s %s" % key)
    axis.axhline(1.0, color="black", linewidth=0.8)
    axis.set_xticks(positions)
    axis.set_xticklabels([str(value) for value in concurrencies])
    axis.set_xlim(-0.6, len(concurrencies) - 0.4)
    axis.set_xlabel("max concurrency")
    axis.grid(True, axis="y", alpha=0.3)
    _finish(axis, "SGLang / vLLM %s ratio (above 1: SGLang faster)" % name, "ratio")
    return [("ratio_sglang_vllm.png", _png(figure), "SGLang/vLLM %s ratio per concurrency; failed or missing pairs are labelled." % name)]


def pareto_front(points):
    """Indices of the points no other point beats on both latency (lower) and throughput (higher)."""
    order = sorted(range(len(points)), key=lambda index: (points[index][0], -points[index][1]))
    front = []
    best = None
    for index in order:
        throughput = points[index][1]
        if best is None or throughput > best:
            front.append(index)
            best = throughput
    return front


def pareto_plot(records):
    """The throughput plots' rate vs the registry's Pareto latency (its mean) for every good run,
    with the Pareto front drawn."""
    drawn = bench_metrics.throughput_plot()
    latency = bench_metrics.pareto_latency()
    if drawn is None or latency is None:
        return []
    rate, name, unit = drawn
    x_key = bench_metrics.latency_key(latency, "mean")
    series = index_series(records)
    figure, (axis,) = _figure()
    everything = []
    plotted = False
    for index, key in enumerate(sorted_series_keys(series)):
        host, engine, workload = key
        points = [(record[x_key], record[rate.key], concurrency)
                  for concurrency, record in sorted(series[key].items())
                  if state_of(record) == "ok" and record.get(x_key) is not None and record.get(rate.key) is not None]
        if not points:
            continue
        plotted = True
        color = PALETTE[index % len(PALETTE)]
        axis.scatter([p[0] for p in points], [p[1] for p in points], color=color, label=series_label(engine, workload, host), zorder=3)
        for latency_ms, throughput, concurrency in points:
            axis.annotate("c%d" % concurrency, (latency_ms, throughput), textcoords="offset points", xytext=(4, 4), fontsize=7)
        everything += points
    if not plotted:
        return []
    front = [everything[index] for index in pareto_front([(p[0], p[1]) for p in everything])]
    axis.plot([p[0] for p in front], [p[1] for p in front], color="black", linewidth=1, linestyle="--", label="Pareto front", zorder=2)
    axis.set_xlabel("mean %s (%s), lower is better" % (latency.short, latency.unit))
    axis.grid(True, alpha=0.3)
    _finish(axis, "Throughput vs latency (Pareto)", unit)
    return [("pareto.png", _png(figure), "%s vs mean %s per run; the dashed line joins the runs no other run beats on both."
             % (_sentence(name), latency.short))]


def all_plots(records, summary):
    """Every plot of the report as [(file name, png bytes, caption)]."""
    require_matplotlib()
    plots = []
    plots += throughput_per_host(records)
    plots += throughput_cluster(summary.get("cluster") or [])
    plots += latency_plots(records)
    plots += ratio_plot(summary.get("comparison"))
    plots += pareto_plot(records)
    return plots
