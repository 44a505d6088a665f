# -*- coding: utf-8 -*-
# Copyright: npu.sglang maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Write the benchmark report: summary.json, results.csv, report.md, report.html and PNG plots.

``render_files`` builds every output in memory (file name -> bytes); ``write_files`` writes
only those whose content differs, each atomically (temporary file + rename), and says which
changed. ``build_document`` lays the report out as blocks (headings, paragraphs, banners, tables,
images, lists); the Jinja2 templates report.md.j2 and report.html.j2 (autoescaped) write them. The
HTML page is self-contained: inline CSS, plots as base64 data URIs, no script, no network.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import csv
import io
import json
import math
import os
import re
import tempfile

from ansible_collections.npu.sglang.plugins.module_utils import bench_metrics
from ansible_collections.npu.sglang.plugins.module_utils.bench_results import RECORD_FIELDS, STATUS_FAILED
from ansible_collections.npu.sglang.plugins.module_utils.bench_analysis import (
    FIXED_BATCH, SWEEP_CONCURRENCIES, index_series, records_from_summary, sorted_series_keys, state_of,
)
from ansible_collections.npu.sglang.plugins.module_utils.bench_report_plots import all_plots
from ansible_collections.npu.sglang.plugins.module_utils.bench_report_fleet import blocks as fleet_blocks

SUMMARY_FILE = "summary.json"
CSV_FILE = "results.csv"
MARKDOWN_FILE = "report.md"
HTML_FILE = "report.html"

SIMULATED_TEXT = ("SIMULATED: runs on %s were made against the NPU simulator, not real Ascend hardware. Their throughput and "
                  "latency describe the simulator, and any accuracy numbers from those hosts are the simulator's canned answers: "
                  "meaningless, not model scores.")


# --------------------------------------------------------------------------- cells

def fmt(value, digits=2):
    """A table cell for a measured value: n/a when the run did not report it."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if math.isinf(value):
        return "inf"
    if abs(value) >= 1000:
        return "%.1f" % value
    return "%.*f" % (digits, value)


def cell(text, kind=None):
    return {"text": text, "kind": kind}


def state_cell(state):
    return cell(state, state)


def value_cell(record, field, digits=2):
    """A record's field, or failed/missing for a run that is not there to measure."""
    state = state_of(record)
    if state != "ok":
        return state_cell(state)
    return cell(fmt(record.get(field), digits))


def ratio_cell(entry):
    if entry["ratio"] is not None:
        return cell("%.2fx" % entry["ratio"])
    for side in ("sglang_state", "vllm_state"):
        if entry[side] == "failed":
            return state_cell("failed")
    for side in ("sglang_state", "vllm_state"):
        if entry[side] == "missing":
            return state_cell("missing")
    return cell("n/a")


def side_cell(entry, side, digits=2):
    state = entry[side + "_state"]
    if state != "ok":
        return state_cell(state)
    return cell(fmt(entry[side], digits))


class Table(object):
    def __init__(self, headers, rows, caption=None):
        self.headers = headers
        self.rows = [[item if isinstance(item, dict) else cell(str(item)) for item in row] for row in rows]
        self.caption = caption


class Document(object):
    """A report as a list of blocks, rendered to Markdown and to HTML."""

    def __init__(self, title):
        self.title = title
        self.blocks = []

    def add(self, kind, *args):
        self.blocks.append((kind,) + args)


# --------------------------------------------------------------------------- report content

# The run table: the run's identity, then its duration and the registry's figures
# (bench_metrics.table_columns), then its lengths and source file.
_RUN_HEAD = (("Run", None), ("Engine", None), ("Backend", None), ("Conc.", None), ("Rate", None), ("Prompts", None),
             ("Completed", None), ("Failed", None), ("Status", None))
_RUN_FIGURES = (("Duration s", "duration"),) + tuple(bench_metrics.table_columns())
RUN_COLUMNS = _RUN_HEAD + _RUN_FIGURES + (("In/Out len", None), ("Source", None))


def _len_text(record):
    input_len = record.get("random_input_len")
    output_len = record.get("random_output_len")
    if input_len is None and output_len is None:
        return "n/a"
    return "%s/%s" % (fmt(input_len), fmt(output_len))


def _run_row(record):
    status = record.get("status")
    row = [cell(record.get("run") or ""), cell(record.get("engine") or "n/a"), cell(record.get("backend") or "n/a"),
           cell(fmt(record.get("max_concurrency"))), cell(fmt(record.get("request_rate"))), cell(fmt(record.get("num_prompts"))),
           cell(fmt(record.get("completed"))), cell(fmt(record.get("failed"))),
           cell(status, "failed" if status == STATUS_FAILED else ("partial" if status == "partial" else None))]
    for _title, field in _RUN_FIGURES:
        if field == "duration":
            row.append(cell(fmt(record.get(field))))
        else:
            row.append(value_cell(record, field))
    source = record.get("source_file") or ""
    if record.get("source_line"):
        source = "%s:%s" % (source, record["source_line"])
    row += [cell(_len_text(record)), cell(source)]
    return row


def _missing_run_row(engine, workload, concurrency):
    row = [cell("(no run)"), cell(engine or "n/a"), cell("n/a"), cell(str(concurrency)), cell("n/a"), cell("n/a"),
           state_cell("missing"), cell("n/a"), state_cell("missing")]
    row += [state_cell("missing") for _item in _RUN_FIGURES]
    _dataset, input_len, output_len = workload
    row += [cell("%s/%s" % ("?" if input_len is None else input_len, "?" if output_len is None else output_len)), cell("")]
    return row


def host_run_rows(records, host):
    """Rows of a host's run table: its runs, plus a ``missing`` row wherever a series has a hole.

    The expected concurrencies of a series are every concurrency any host or engine ran for the
    same workload.
    """
    series = index_series(records)
    grid = {}
    for (_host, _engine, workload), points in series.items():
        grid.setdefault(workload, set()).update(points)
    rows = []
    host_records = [record for record in records if record.get("host") == host]
    placed = set()
    for key in sorted_series_keys(series):
        if key[0] != host:
            continue
        _host, engine, workload = key
        for concurrency in sorted(grid[workload]):
            record = series[key].get(concurrency)
            if record is None:
                rows.append(_missing_run_row(engine, workload, concurrency))
            else:
                rows.append(_run_row(record))
                placed.add(id(record))
    for record in sorted(host_records, key=lambda item: (item.get("source_file") or "", item.get("source_line") or 0)):
        if id(record) not in placed:
            rows.append(_run_row(record))
    return rows


def _knee_table(summary):
    rows = []
    for host, data in summary["hosts"].items():
        for label, knee in sorted(data.get("knee", {}).items()):
            if knee["max_concurrency"] is None:
                rows.append([cell(host), cell(label), state_cell("none"), cell("n/a"), cell("n/a"), cell("n/a"), cell(knee.get("reason") or "")])
            else:
                rows.append([cell(host), cell(label), cell(str(knee["max_concurrency"])), cell(fmt(knee["output_throughput"])),
                             cell(fmt(knee["ttft_ms"])), cell(fmt(knee["tpot_ms"])), cell(knee.get("run") or "")])
    sla = summary["sla"]
    stat = sla["stat"].upper() if sla["stat"].startswith("p") else sla["stat"]
    return Table(["Host", "Series", "Knee conc.", "Out tok/s", "%s TTFT ms" % stat, "%s TPOT ms" % stat, "Run / note"], rows,
                 "Highest output throughput with %s TTFT <= %s ms and %s TPOT <= %s ms." % (stat, fmt(sla["ttft_ms"]), stat, fmt(sla["tpot_ms"])))


def _cluster_table(summary):
    fields = bench_metrics.cluster_fields()
    rows = []
    for row in summary.get("cluster") or []:
        if row["state"] == "ok":
            note = ""
            sums = [cell(fmt(row[key])) for key in fields]
        else:
            hosts = row["failed_hosts"] if row["state"] == "failed" else row["missing_hosts"]
            note = "%s on %s" % (row["state"], ", ".join(hosts))
            sums = [state_cell(row["state"]) for key in fields]
        rows.append([cell(row["engine"] or "n/a"), cell(row["workload"]), cell(str(row["max_concurrency"])), cell(str(row["hosts"]))]
                    + sums + [cell(note)])
    headers = ["Sum %s" % bench_metrics.short_lower(key) for key in fields]
    return Table(["Engine", "Workload", "Conc.", "Hosts"] + headers + ["Note"], rows,
                 "Throughput summed over hosts; not summed where any host failed or has no run.")


def _compare_table(table, rows, caption):
    """One SGLang/vLLM table of the registry's columns (bench_metrics.compare_columns) over rows."""
    columns = bench_metrics.compare_columns(table)
    headers = ["Host", "Workload", "Conc."]
    for _key, name, sides in columns:
        headers += ["SGLang %s" % name, "vLLM %s" % name, "Ratio"] if sides else ["%s ratio" % name]
    lines = []
    for row in rows:
        line = [cell(row["host"]), cell(row["workload"]), cell(str(row["max_concurrency"]))]
        for key, _name, sides in columns:
            entry = row["metrics"][key]
            line += [side_cell(entry, "sglang"), side_cell(entry, "vllm"), ratio_cell(entry)] if sides else [ratio_cell(entry)]
        lines.append(line)
    return Table(headers, lines, caption)


def _compare_tables(comparison):
    tables = [("Fixed batch %d" % FIXED_BATCH, _compare_table("throughput", comparison["fixed_batch"],
                                                              "SGLang/vLLM at max concurrency %d (the seed reports 1.2-1.35x)." % FIXED_BATCH)),
              ("Concurrency sweep %d to %d" % (SWEEP_CONCURRENCIES[0], SWEEP_CONCURRENCIES[-1]),
               _compare_table("throughput", comparison["sweep"],
                              "Throughput and QPS at concurrency %s." % ", ".join(str(value) for value in SWEEP_CONCURRENCIES))),
              ("TTFT / TPOT / P99", _compare_table("latency", comparison["rows"],
                                                   "Mean TTFT and TPOT in ms; for latency a ratio below 1 means SGLang is faster."))]
    long_caption = ("Runs with the longest output length (%s tokens)." % comparison["long_output_len"]
                    if comparison.get("long_output_len") is not None else (comparison.get("note") or ""))
    tables.append(("Long generations", _compare_table("long", comparison["long"], long_caption)))
    memory_rows = []
    for row in comparison["rows"]:
        entry = row["metrics"].get("hbm_used_mb")
        if entry and (entry.get("sglang") is not None or entry.get("vllm") is not None):
            memory_rows.append([cell(row["host"]), cell(row["workload"]), cell(str(row["max_concurrency"])),
                                side_cell(entry, "sglang", 0), side_cell(entry, "vllm", 0), ratio_cell(entry)])
    if memory_rows:
        tables.append(("Memory use", Table(["Host", "Workload", "Conc.", "SGLang HBM MB", "vLLM HBM MB", "Ratio"], memory_rows,
                                           "HBM in use on the server's chips while it served (npu-smi), summed over its chips.")))
    return tables


def _limits_table(summary):
    rows = []
    for item in summary["limits"]["findings"]:
        kind = item.get("kind")
        rows.append([cell(item["host"]), cell(item["run"]), cell(item["limit"]),
                     cell(("<= " if item["bound"] == "max" else ">= ") + fmt(item["threshold"])),
                     cell("n/a" if item["value"] is None else fmt(item["value"], 3), "failed" if kind in ("violation", "failed") else None),
                     cell(kind, "failed" if kind in ("violation", "failed") else None)])
    return Table(["Host", "Run", "Limit", "Bound", "Value", "Finding"], rows,
                 "Per-run SLA limits on the %s runs; 'unknown' = the run did not report that value (a warning)."
                 % ", ".join(summary["limits"]["engines"] or ["all"]))


def _accuracy_table(summary):
    rows = []
    for host, data in summary["hosts"].items():
        for entry in data.get("accuracy", []):
            note = "SIMULATED: simulator answers, meaningless, not a model score" if entry.get("simulated") else ""
            rows.append([cell(host), cell(entry.get("task") or "n/a"),
                         cell(fmt(entry.get("accuracy"), 3), "simulated" if entry.get("simulated") else None),
                         cell(fmt(entry.get("latency"))), cell(fmt(entry.get("num_requests"))),
                         cell("%s:%s" % (entry.get("source_file"), entry.get("source_line"))), cell(note, "simulated" if note else None)])
    return Table(["Host", "Task", "Accuracy", "Latency s", "Requests", "Source", "Note"], rows)


def _regression_table(summary):
    rows = []
    for entry in summary.get("regressions") or []:
        rows.append([cell(entry["host"]), cell(entry["engine"] or "n/a"), cell(entry["workload"]), cell(entry["point"]), cell(entry["metric"]),
                     cell(fmt(entry["baseline"])), cell(fmt(entry["current"]), "failed"),
                     cell("n/a" if entry["change_pct"] is None else "%+.1f%%" % entry["change_pct"]),
                     cell("n/a" if entry["limit_pct"] is None else "%+.1f%%" % entry["limit_pct"])])
    return Table(["Host", "Engine", "Workload", "Point", "Metric", "Baseline", "Current", "Change", "Limit"], rows)


def _clip(text, limit, note="cut"):
    text = str(text)
    if len(text) <= limit:
        return text
    return "%s ... (%s)" % (text[:limit].rstrip(), note)


def build_document(summary, records, plots):
    """The report's content, shared by report.md and report.html."""
    doc = Document(summary["title"])
    if summary.get("simulated"):
        hosts = ", ".join(summary.get("simulated_hosts") or []) or "some hosts"
        doc.add("banner", SIMULATED_TEXT % hosts)
    counts = summary["counts"]
    doc.add("p", "%d run(s) on %d host(s), engines: %s. Failed runs: %d. Accuracy entries: %d. Skipped inputs: %d." % (
        counts["runs"], counts["hosts"], ", ".join(summary.get("engines") or []) or "none", counts["failed_runs"],
        counts["accuracy_entries"], counts["skipped_inputs"]))
    doc.add("p", "Cells: 'failed' = the run completed no request; 'missing' = no run at that point; 'n/a' = the run did not report that value.")

    doc.add("h2", "Knee (best concurrency within the SLA)")
    doc.add("table", _knee_table(summary))

    if summary.get("baseline") is not None:
        base = summary["baseline"]
        doc.add("h2", "Regression gate")
        doc.add("p", "Baseline %s: %d load point(s) compared; limits: output throughput drop > %s%%, P99 rise > %s%%." % (
            base["path"], base["compared_points"], fmt(base["max_throughput_drop_pct"], 1), fmt(base["max_p99_rise_pct"], 1)))
        if summary.get("regressions"):
            doc.add("banner", "REGRESSION: %d finding(s) against the baseline." % len(summary["regressions"]))
            doc.add("table", _regression_table(summary))
        else:
            doc.add("p", "No regression against the baseline.")

    if summary.get("limits"):
        limits = summary["limits"]
        doc.add("h2", "SLA limits")
        doc.add("p", "Limits: %s." % ", ".join("%s %s" % (name, fmt(value)) for name, value in sorted(limits["values"].items())))
        if limits["violations"]:
            doc.add("banner", "SLA: %d violation(s) of the per-run limits." % limits["violations"])
        if limits["findings"]:
            doc.add("table", _limits_table(summary))
        else:
            doc.add("p", "Every run meets every limit.")

    doc.add("h2", "Runs per host")
    for host in summary["hosts"]:
        doc.add("h3", host)
        rows = host_run_rows(records, host)
        if rows:
            doc.add("table", Table([title for title, _field in RUN_COLUMNS], rows))
        else:
            doc.add("p", "No benchmark runs on this host.")

    if summary.get("cluster"):
        doc.add("h2", "Cluster (sum over hosts)")
        doc.add("table", _cluster_table(summary))

    for block in fleet_blocks(summary.get("fleet")):
        if block[0] == "table":
            doc.add("table", Table(block[1], [[cell(text, kind) for text, kind in row] for row in block[2]], block[3]))
        else:
            doc.add(*block)

    comparison = summary.get("comparison")
    doc.add("h2", "SGLang vs vLLM")
    if comparison is None:
        doc.add("p", "Only one engine was measured; no comparison.")
    elif not comparison["rows"]:
        doc.add("p", comparison.get("note") or "No common workload.")
    else:
        for title, table in _compare_tables(comparison):
            doc.add("h3", title)
            doc.add("table", table)

    doc.add("h2", "Accuracy")
    accuracy = _accuracy_table(summary)
    if accuracy.rows:
        if any(row[-1]["text"] for row in accuracy.rows):
            doc.add("banner", "Accuracy marked SIMULATED comes from the simulator's canned answers: it is meaningless and is not a model score.")
        doc.add("table", accuracy)
    else:
        doc.add("p", "No accuracy results.")

    errors = [[cell(record["host"]), cell(record["run"]), cell(_clip(record["error"], 600), "failed")]
              for record in records if record.get("error")]
    if errors:
        doc.add("h2", "Failed runs")
        doc.add("table", Table(["Host", "Run", "Error"], errors))

    details = [[cell(record["host"]), cell(record["run"]), cell(record.get("command") or "n/a"),
                cell(_clip(record.get("server_flags"), 800, "full list in the run's .meta.json") if record.get("server_flags") else "n/a")]
               for record in records if record.get("command") or record.get("server_flags")]
    if details:
        doc.add("h2", "Commands")
        doc.add("table", Table(["Host", "Run", "Benchmark command", "Server flags"], details))

    doc.add("h2", "Plots")
    if plots:
        for name, _data, caption in plots:
            doc.add("img", name, caption)
    else:
        doc.add("p", "No runs with a max concurrency to plot.")

    doc.add("h2", "Skipped inputs")
    if summary.get("skipped"):
        doc.add("list", ["%s%s: %s" % (item["file"], "" if item["line"] is None else ":%s" % item["line"], item["error"])
                         for item in summary["skipped"]])
    else:
        doc.add("p", "None.")
    return doc


# --------------------------------------------------------------------------- Markdown and HTML

# The templates ship in the collection's role bench_report (roles/bench_report/templates); the role
# hands their folder to the module (templates_dir), as the module runs from a zip that holds only
# Python. Run from a checkout or an installed collection, the renderer finds them itself.
TEMPLATES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                             "roles", "bench_report", "templates")
MARKDOWN_TEMPLATE = "report.md.j2"
HTML_TEMPLATE = "report.html.j2"


class ReportTemplateError(Exception):
    """Jinja2 or a report template cannot be loaded."""


def _md_escape(text):
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _md_cell(item):
    text = _md_escape(item["text"])
    if item.get("kind") in ("failed", "missing", "simulated"):
        return "**%s**" % text
    return text


_NUMERIC = re.compile(r"^(?:[-+]?\d[\d.]*(?:x|%)?|inf|n/a|failed|missing)$")


def _numeric(text):
    """Right-aligned in HTML: a number, a ratio or a percentage, or a state in a number's place."""
    return bool(_NUMERIC.match(str(text)))


def _template(name, templates_dir=None, html=False):
    """A report template, from templates_dir (default: TEMPLATES_DIR); HTML ones autoescape."""
    try:
        import jinja2
    except ImportError as exc:
        raise ReportTemplateError("Jinja2 is needed to render the report (%s)" % exc)
    folder = templates_dir or TEMPLATES_DIR
    if not os.path.isfile(os.path.join(folder, name)):
        raise ReportTemplateError("no report template %s in %s (the role bench_report ships it in its templates/)" % (name, folder))
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(folder), autoescape=html, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    env.filters.update(md_escape=_md_escape, md_cell=_md_cell)
    env.tests["numeric"] = _numeric
    return env.get_template(name)


def render_markdown(doc, templates_dir=None):
    """report.md from its template."""
    return _template(MARKDOWN_TEMPLATE, templates_dir).render(doc=doc).rstrip("\n") + "\n"


def render_html(doc, images, templates_dir=None):
    """The report page; ``images`` maps plot file names to PNG bytes (embedded as data URIs)."""
    encoded = dict((name, base64.b64encode(data).decode("ascii")) for name, data in images.items())
    return _template(HTML_TEMPLATE, templates_dir, html=True).render(doc=doc, images=encoded)


# --------------------------------------------------------------------------- CSV and JSON

def render_csv(records):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(RECORD_FIELDS)
    for record in sorted(records, key=lambda item: (str(item.get("host")), item.get("source_file") or "", item.get("source_line") or 0, item.get("run") or "")):
        row = []
        for field in RECORD_FIELDS:
            value = record.get(field)
            if value is None:
                row.append("")
            elif isinstance(value, list):
                row.append(";".join(str(item) for item in value))
            elif isinstance(value, bool):
                row.append("true" if value else "false")
            elif isinstance(value, float):
                row.append("inf" if math.isinf(value) else repr(value))
            else:
                row.append(str(value))
        writer.writerow(row)
    return buffer.getvalue()


def render_json(summary):
    return json.dumps(summary, indent=2, sort_keys=False, allow_nan=False) + "\n"


def render_files(summary, with_plots=True, templates_dir=None):
    """Every output file as {name: bytes}, built from the summary document alone.

    templates_dir: the folder of report.md.j2 and report.html.j2 (default TEMPLATES_DIR).
    """
    records = records_from_summary(summary)
    plots = all_plots(records, summary) if with_plots else []
    doc = build_document(summary, records, plots)
    files = {
        SUMMARY_FILE: render_json(summary).encode("utf-8"),
        CSV_FILE: render_csv(records).encode("utf-8"),
        MARKDOWN_FILE: render_markdown(doc, templates_dir).encode("utf-8"),
        HTML_FILE: render_html(doc, dict((name, data) for name, data, _caption in plots), templates_dir).encode("utf-8"),
    }
    for name, data, _caption in plots:
        files[name] = data
    return files


# --------------------------------------------------------------------------- writing

def _same_content(path, data):
    try:
        with open(path, "rb") as handle:
            return handle.read() == data
    except (IOError, OSError):
        return False


def write_files(output_dir, files, check_mode=False):
    """Write files whose content differs, atomically. Returns the names that changed (or would)."""
    changed = []
    for name in sorted(files):
        path = os.path.join(output_dir, name)
        if _same_content(path, files[name]):
            continue
        changed.append(name)
        if check_mode:
            continue
        if not os.path.isdir(output_dir):
            os.makedirs(output_dir)
        handle, temp_path = tempfile.mkstemp(prefix=".%s." % name, dir=output_dir)
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(files[name])
            os.chmod(temp_path, 0o644)
            os.replace(temp_path, path)
        except Exception:
            if os.path.exists(temp_path):
                os.unlink(temp_path)
            raise
    return changed
