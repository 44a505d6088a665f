# -*- coding: utf-8 -*-
# Copyright: npu.sglang maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Turn normalised run records into the report's findings.

* series: the runs of one host, engine and workload (dataset, input and output length),
  indexed by max concurrency;
* knee: per series, the highest output throughput whose TTFT and TPOT are within the SLA;
* cluster: output throughput summed over the hosts per engine, workload and concurrency;
* comparison: SGLang/vLLM ratios when both engines ran the same workload on the same host;
* regressions: throughput drops and P99 rises against a baseline ``summary.json``;
* limits: per-run SLA limits (P99 TTFT, mean TPOT, P99 E2E, output throughput, completed
  share) and the runs that break them;
* ``build_summary``: everything above as the JSON-ready ``summary.json`` document.

Missing and failed runs stay visible as such: a cell is ``{"state": "missing"}`` or
``{"state": "failed"}``, never a zero.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import math

from ansible_collections.npu.sglang.plugins.module_utils import bench_metrics
from ansible_collections.npu.sglang.plugins.module_utils.bench_results import (
    RECORD_FIELDS, STATUS_FAILED, new_record,
)

SUMMARY_SCHEMA = "npu.sglang.bench_report/1"
SWEEP_CONCURRENCIES = (8, 16, 32, 64, 128)
FIXED_BATCH = 32
SLA_STATS = ("mean", "median", "p90", "p95", "p99")
CLUSTER_HOST = "(cluster)"


class BaselineError(Exception):
    """The baseline summary cannot be read."""


# --------------------------------------------------------------------------- grouping

def is_random_dataset(dataset):
    return dataset is None or dataset.startswith("random")


def workload_of(record):
    """(dataset, input len, output len) of a run; lengths only count for random datasets.

    A run that does not name its dataset (console output, vLLM JSON) counts as ``random``.
    """
    dataset = record.get("dataset") or "random"
    if is_random_dataset(dataset):
        return (dataset, record.get("random_input_len"), record.get("random_output_len"))
    return (dataset, None, None)


def workload_label(workload):
    dataset, input_len, output_len = workload
    if input_len is None and output_len is None:
        return dataset or "unknown workload"
    text = "in %s / out %s" % ("?" if input_len is None else input_len, "?" if output_len is None else output_len)
    if dataset and dataset != "random":
        text = "%s %s" % (dataset, text)
    return text


def series_label(engine, workload, host=None):
    parts = [] if host is None else [host]
    parts.extend([engine or "?", workload_label(workload)])
    return " ".join(parts)


def point_id(record):
    """The load point of a run: ``c32`` (max concurrency 32) or ``r4.0``/``rinf`` (request rate)."""
    if record.get("max_concurrency") is not None:
        return "c%d" % record["max_concurrency"]
    rate = record.get("request_rate")
    if rate is None:
        return "run:%s" % record.get("run")
    if math.isinf(rate):
        return "rinf"
    return "r%g" % rate


def _order(record):
    return (record.get("source_file") or "", record.get("source_line") or 0, record.get("run") or "")


def index_series(records):
    """{(host, engine, workload): {concurrency: record}}; the last of repeated runs wins."""
    series = {}
    for record in sorted(records, key=_order):
        if record.get("max_concurrency") is None:
            continue
        key = (record.get("host"), record.get("engine"), workload_of(record))
        series.setdefault(key, {})[record["max_concurrency"]] = record
    return series


def _sort_key(key):
    host, engine, workload = key
    dataset, input_len, output_len = workload
    return (str(host), str(engine), str(dataset), input_len or 0, output_len or 0)


def sorted_series_keys(series):
    return sorted(series, key=_sort_key)


def state_of(record):
    """``missing`` (no run), ``failed`` (completed nothing) or ``ok``."""
    if record is None:
        return "missing"
    if record.get("status") == STATUS_FAILED:
        return "failed"
    return "ok"


# --------------------------------------------------------------------------- knee

def find_knees(records, sla_ttft_ms, sla_tpot_ms, stat="p99"):
    """Per host and series, the concurrency of highest output throughput within the SLA.

    A run is within the SLA when its TTFT and TPOT (of the chosen statistic) are known and at or
    below the limits. A series with no such run has a knee of None and a reason.
    """
    if stat not in SLA_STATS:
        raise ValueError("sla stat must be one of %s" % ", ".join(SLA_STATS))
    ttft_field = "ttft_%s_ms" % stat
    tpot_field = "tpot_%s_ms" % stat
    series = index_series(records)
    knees = {}
    for key in sorted_series_keys(series):
        host, engine, workload = key
        points = series[key]
        best = None
        reasons = []
        for concurrency in sorted(points):
            record = points[concurrency]
            if state_of(record) != "ok" or record.get("output_throughput") is None:
                reasons.append("c%d failed" % concurrency)
                continue
            ttft = record.get(ttft_field)
            tpot = record.get(tpot_field)
            if ttft is None or tpot is None:
                reasons.append("c%d has no %s TTFT/TPOT" % (concurrency, stat))
                continue
            if ttft > sla_ttft_ms or tpot > sla_tpot_ms:
                continue
            if best is None or record["output_throughput"] > best["output_throughput"]:
                best = record
        label = series_label(engine, workload)
        entry = {"engine": engine, "workload": workload_label(workload), "sla_stat": stat,
                 "sla_ttft_ms": sla_ttft_ms, "sla_tpot_ms": sla_tpot_ms}
        if best is None:
            entry.update({"max_concurrency": None, "output_throughput": None, "ttft_ms": None, "tpot_ms": None, "run": None,
                          "reason": "no run within the SLA" + (" (%s)" % "; ".join(reasons) if reasons else "")})
        else:
            entry.update({"max_concurrency": best["max_concurrency"], "output_throughput": best["output_throughput"],
                          "ttft_ms": best[ttft_field], "tpot_ms": best[tpot_field], "run": best["run"], "reason": None})
        knees.setdefault(host, {})[label] = entry
    return knees


# --------------------------------------------------------------------------- cluster

def cluster_points(records):
    """The registry's cluster rates (bench_metrics.cluster_fields) summed over hosts, per engine,
    workload and concurrency.

    A point is only summed when every host that ran that engine and workload has a good run with
    the first of them there; otherwise it is ``failed`` or ``missing`` with the hosts named. Another
    rate that some host lacks is None at that point.
    """
    fields = bench_metrics.cluster_fields()
    series = index_series(records)
    groups = {}
    for (host, engine, workload), points in series.items():
        groups.setdefault((engine, workload), {})[host] = points
    rows = []
    for engine, workload in sorted(groups, key=lambda item: _sort_key((None, item[0], item[1]))):
        hosts = groups[(engine, workload)]
        concurrencies = sorted(set(c for points in hosts.values() for c in points))
        for concurrency in concurrencies:
            failed = []
            missing = []
            sums = dict.fromkeys(fields, 0.0)
            for host in sorted(hosts):
                record = hosts[host].get(concurrency)
                state = state_of(record)
                if state == "missing":
                    missing.append(host)
                elif state == "failed" or record.get(fields[0]) is None:
                    failed.append(host)
                else:
                    for key in fields:
                        sums[key] = None if sums[key] is None or record.get(key) is None else sums[key] + record[key]
            state = "failed" if failed else ("missing" if missing else "ok")
            row = {
                "engine": engine, "workload": workload_label(workload), "workload_key": list(workload),
                "max_concurrency": concurrency, "hosts": len(hosts), "state": state,
                "failed_hosts": failed, "missing_hosts": missing,
            }
            row.update((key, sums[key] if state == "ok" else None) for key in fields)
            rows.append(row)
    return rows


# --------------------------------------------------------------------------- comparison

# The registry's comparison figures (bench_metrics.compare_fields), then the chips' memory, which
# npu-smi measures beside the client and so is no metric of the registry.
COMPARE_FIELDS = tuple((key, bench_metrics.label(key)) for key in bench_metrics.compare_fields()) + (("hbm_used_mb", "HBM used MB"),)


def ratio(numerator, denominator):
    """numerator/denominator, or None when either is unknown or the denominator is 0."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def compare_cell(sglang, vllm, field):
    """One SGLang/vLLM comparison for a field: values, ratio and the state of each side."""
    cell = {"sglang": None, "vllm": None, "ratio": None,
            "sglang_state": state_of(sglang), "vllm_state": state_of(vllm)}
    if cell["sglang_state"] == "ok":
        cell["sglang"] = sglang.get(field)
    if cell["vllm_state"] == "ok":
        cell["vllm"] = vllm.get(field)
    cell["ratio"] = ratio(cell["sglang"], cell["vllm"])
    return cell


def compare_engines(records):
    """SGLang/vLLM ratios per host, workload and concurrency, or None if one engine is absent.

    Returns a dict with ``rows`` (every concurrency either engine ran), and the views the seed
    comparison reports: ``fixed_batch`` (concurrency 32), ``sweep`` (8 to 128), ``long`` (the
    runs with the longest output length, when more than one output length was measured).
    """
    engines = set(record.get("engine") for record in records)
    if "sglang" not in engines or "vllm" not in engines:
        return None
    series = index_series(records)
    pairs = {}
    for (host, engine, workload), points in series.items():
        if engine in ("sglang", "vllm"):
            pairs.setdefault((host, workload), {})[engine] = points
    rows = []
    for host, workload in sorted(pairs, key=lambda item: _sort_key((item[0], "", item[1]))):
        sides = pairs[(host, workload)]
        if "sglang" not in sides or "vllm" not in sides:
            continue
        concurrencies = sorted(set(sides["sglang"]) | set(sides["vllm"]))
        for concurrency in concurrencies:
            sglang = sides["sglang"].get(concurrency)
            vllm = sides["vllm"].get(concurrency)
            row = {"host": host, "workload": workload_label(workload), "output_len": workload[2],
                   "max_concurrency": concurrency, "metrics": {}}
            for field, _title in COMPARE_FIELDS:
                row["metrics"][field] = compare_cell(sglang, vllm, field)
            rows.append(row)
    if not rows:
        return {"rows": [], "fixed_batch": [], "sweep": [], "long": [], "long_output_len": None,
                "note": "SGLang and vLLM never ran the same workload on the same host"}
    output_lens = sorted(set(row["output_len"] for row in rows if row["output_len"] is not None))
    long_len = output_lens[-1] if len(output_lens) > 1 else None
    sweep = []
    for host_workload in _unique((row["host"], row["workload"], row["output_len"]) for row in rows):
        host, label, output_len = host_workload
        present = dict((row["max_concurrency"], row) for row in rows if (row["host"], row["workload"]) == (host, label))
        if len(set(present) & set(SWEEP_CONCURRENCIES)) < 2:
            # One load point is no sweep (e.g. a single long-generation run); it shows in the other tables.
            continue
        for concurrency in SWEEP_CONCURRENCIES:
            if concurrency in present:
                sweep.append(present[concurrency])
            else:
                sweep.append(_missing_row(host, label, output_len, concurrency))
    fixed = [row for row in rows if row["max_concurrency"] == FIXED_BATCH]
    for host, label, output_len in _unique((row["host"], row["workload"], row["output_len"]) for row in sweep):
        if not any((row["host"], row["workload"]) == (host, label) for row in fixed):
            fixed.append(_missing_row(host, label, output_len, FIXED_BATCH))
    long_rows = [row for row in rows if long_len is not None and row["output_len"] == long_len]
    return {"rows": rows, "fixed_batch": fixed, "sweep": sweep, "long": long_rows, "long_output_len": long_len,
            "note": None if long_len is not None else "only one output length was measured, so there are no longer generations to compare"}


def _missing_row(host, label, output_len, concurrency):
    row = {"host": host, "workload": label, "output_len": output_len, "max_concurrency": concurrency, "metrics": {}}
    for field, _title in COMPARE_FIELDS:
        row["metrics"][field] = compare_cell(None, None, field)
    return row


def _unique(items):
    seen = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


# --------------------------------------------------------------------------- regressions

def load_baseline(path):
    """The run records of a baseline ``summary.json`` written by this report."""
    try:
        with open(path, "rb") as handle:
            document = json.loads(handle.read().decode("utf-8"))
    except (IOError, OSError) as exc:
        raise BaselineError("baseline %s cannot be read: %s" % (path, exc))
    except ValueError as exc:
        raise BaselineError("baseline %s is not valid JSON: %s" % (path, exc))
    if not isinstance(document, dict) or not isinstance(document.get("hosts"), dict):
        raise BaselineError("baseline %s is not a bench_report summary.json (no 'hosts' object)" % path)
    return records_from_summary(document)


def records_from_summary(document):
    records = []
    for host, data in document["hosts"].items():
        runs = data.get("runs") if isinstance(data, dict) else None
        if not isinstance(runs, dict):
            continue
        for run_id, stored in runs.items():
            record = new_record()
            for field in RECORD_FIELDS:
                if field in stored:
                    record[field] = _from_json_value(stored[field])
            record["host"] = record.get("host") or host
            record["run"] = record.get("run") or run_id
            records.append(record)
    return records


def _point_key(record):
    return (record.get("host"), record.get("engine"), workload_of(record), point_id(record))


def _pct_change(base, current):
    if base is None or current is None or base == 0:
        return None
    return (current - base) / base * 100.0


def check_regressions(records, baseline_records, max_throughput_drop_pct, max_p99_rise_pct):
    """Compare runs with the baseline at the same host, engine, workload and load point.

    Returns (regressions, compared): a regression is an output throughput drop beyond
    ``max_throughput_drop_pct``, a P99 TTFT/TPOT/ITL rise beyond ``max_p99_rise_pct``, or a run
    that succeeded in the baseline and failed now. ``compared`` counts the load points checked.
    """
    current = {}
    for record in sorted(records, key=_order):
        current[_point_key(record)] = record
    base = {}
    for record in sorted(baseline_records, key=_order):
        base[_point_key(record)] = record
    regressions = []
    compared = 0
    for key in sorted(base, key=lambda item: (str(item[0]), str(item[1]), str(item[2]), item[3])):
        if key not in current:
            continue
        old = base[key]
        new = current[key]
        if state_of(old) != "ok":
            continue
        compared += 1
        where = {"host": key[0], "engine": key[1], "workload": workload_label(key[2]), "point": key[3],
                 "max_concurrency": new.get("max_concurrency"), "run": new.get("run"), "baseline_run": old.get("run")}
        if state_of(new) != "ok":
            entry = dict(where)
            entry.update({"metric": "status", "baseline": old.get("status"), "current": new.get("status"),
                          "change_pct": None, "limit_pct": None, "kind": "failed"})
            regressions.append(entry)
            continue
        # The registry's figures: a rate (higher is better) may drop by max_throughput_drop_pct,
        # a latency's P99 (lower is better) rise by max_p99_rise_pct.
        for field, better in bench_metrics.regression_checks():
            change = _pct_change(old.get(field), new.get(field))
            if change is None:
                continue
            if better == bench_metrics.HIGHER and -change > max_throughput_drop_pct:
                limit, kind = -float(max_throughput_drop_pct), "throughput_drop"
            elif better == bench_metrics.LOWER and change > max_p99_rise_pct:
                limit, kind = float(max_p99_rise_pct), "p99_rise"
            else:
                continue
            entry = dict(where)
            entry.update({"metric": field, "baseline": old[field], "current": new[field],
                          "change_pct": change, "limit_pct": limit, "kind": kind})
            regressions.append(entry)
    return regressions, compared


# --------------------------------------------------------------------------- SLA limits

# limit name -> (record field, kind): "max" limits are upper bounds, "min" lower bounds. The
# metrics' limits come from the registry (bench_metrics.sla_limits); the share of completed
# prompts is a figure of the run, not a metric.
COMPLETED_RATIO_LIMIT = "min_completed_ratio"
LIMITS = bench_metrics.sla_limits()
LIMITS[COMPLETED_RATIO_LIMIT] = ("completed_ratio", "min")


class LimitsError(ValueError):
    """A limits dict with an unknown key or a value that is not a number >= 0."""


def clean_limits(limits):
    """The limits that are set, as floats; raise LimitsError naming a bad key or value."""
    cleaned = {}
    for key, value in (limits or {}).items():
        if key not in LIMITS:
            raise LimitsError("unknown SLA limit %r (known: %s)" % (key, ", ".join(sorted(LIMITS))))
        if value is None or value == "":
            continue
        if isinstance(value, bool):
            raise LimitsError("SLA limit %s must be a number >= 0, got %r" % (key, value))
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise LimitsError("SLA limit %s must be a number >= 0, got %r" % (key, value))
        if math.isnan(number) or number < 0:
            raise LimitsError("SLA limit %s must be a number >= 0, got %r" % (key, value))
        if key == "min_completed_ratio" and number > 1:
            raise LimitsError("SLA limit min_completed_ratio is a share of the prompts (0 to 1), got %r" % (value,))
        cleaned[key] = number
    return cleaned


def check_limits(records, limits, engines=("sglang",)):
    """Runs of the given engines that break a limit: one finding per run and limit.

    A failed run breaks every limit it is checked against (it has no numbers to meet them); a
    value the run did not report breaks nothing but is listed with ``kind`` ``unknown``.
    """
    limits = clean_limits(limits)
    findings = []
    if not limits:
        return findings
    for record in sorted(records, key=lambda item: (str(item.get("host")), _order(item))):
        if engines and record.get("engine") not in engines:
            continue
        where = {"host": record.get("host"), "run": record.get("run"), "engine": record.get("engine"),
                 "workload": workload_label(workload_of(record)), "max_concurrency": record.get("max_concurrency")}
        failed = state_of(record) != "ok"
        for name in sorted(limits):
            field, kind = LIMITS[name]
            if field == "completed_ratio":
                requested = record.get("num_prompts")
                completed = record.get("completed")
                value = None if not requested or completed is None else completed / float(requested)
                if failed and value is None:
                    value = 0.0
            else:
                value = None if failed else record.get(field)
            entry = dict(where)
            entry.update({"limit": name, "bound": kind, "threshold": limits[name], "value": value})
            if value is None:
                if failed:
                    entry["kind"] = "failed"
                    findings.append(entry)
                else:
                    entry["kind"] = "unknown"
                    findings.append(entry)
                continue
            broken = value > limits[name] if kind == "max" else value < limits[name]
            if broken:
                entry["kind"] = "failed" if failed else "violation"
                findings.append(entry)
    return findings


def limit_violations(findings):
    """The findings that fail the gate (``unknown`` values only warn)."""
    return [item for item in findings if item.get("kind") != "unknown"]


# --------------------------------------------------------------------------- summary document

def _to_json_value(value):
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
    return value


def _from_json_value(value):
    if value == "inf":
        return float("inf")
    if value == "-inf":
        return float("-inf")
    return value


def json_ready(value):
    """A copy with inf as the string "inf" and NaN as null, so the output is strict JSON."""
    if isinstance(value, dict):
        return dict((key, json_ready(item)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    return _to_json_value(value)


def unique_run_ids(records):
    """Give every run of a host a distinct id (a repeated tag gets ``#2``, ``#3``...)."""
    seen = {}
    for record in sorted(records, key=_order):
        key = (record.get("host"), record.get("run"))
        count = seen.get(key, 0) + 1
        seen[key] = count
        if count > 1:
            record["run"] = "%s#%d" % (record["run"], count)
    return records


def build_summary(inputs, title, sla_ttft_ms, sla_tpot_ms, sla_stat="p99", baseline_records=None, baseline_path=None,
                  max_throughput_drop_pct=5.0, max_p99_rise_pct=10.0, limits=None, limits_engines=("sglang",)):
    """The whole analysis as one JSON-ready dict (``summary.json``); also used by the renderers."""
    records = unique_run_ids(list(inputs.runs))
    simulated_hosts = sorted(set(record["host"] for record in records if record.get("simulated")))
    accuracy = []
    for entry in inputs.accuracy:
        entry = dict(entry)
        if entry.get("host") in simulated_hosts:
            entry["simulated"] = True
        accuracy.append(entry)
    knees = find_knees(records, sla_ttft_ms, sla_tpot_ms, sla_stat)
    hosts = {}
    for record in sorted(records, key=lambda item: (str(item.get("host")), _order(item))):
        host = hosts.setdefault(record["host"], {"runs": {}, "accuracy": [], "knee": {}})
        host["runs"][record["run"]] = dict((field, record.get(field)) for field in RECORD_FIELDS)
    for entry in sorted(accuracy, key=lambda item: (str(item.get("host")), item.get("source_file") or "", item.get("source_line") or 0)):
        hosts.setdefault(entry["host"], {"runs": {}, "accuracy": [], "knee": {}})["accuracy"].append(entry)
    for host, knee in knees.items():
        hosts[host]["knee"] = knee
    ordered_hosts = dict((host, hosts[host]) for host in sorted(hosts, key=str))
    regressions = []
    compared = 0
    if baseline_records is not None:
        regressions, compared = check_regressions(records, baseline_records, max_throughput_drop_pct, max_p99_rise_pct)
    limits = clean_limits(limits)
    limit_findings = check_limits(records, limits, limits_engines)
    summary = {
        "schema": SUMMARY_SCHEMA,
        "title": title,
        "simulated": bool(simulated_hosts) or any(entry.get("simulated") for entry in accuracy),
        "simulated_hosts": simulated_hosts,
        "counts": {
            "hosts": len(ordered_hosts),
            "runs": len(records),
            "failed_runs": sum(1 for record in records if record.get("status") == STATUS_FAILED),
            "accuracy_entries": len(accuracy),
            "skipped_inputs": len(inputs.skipped),
        },
        "engines": sorted(set(record["engine"] for record in records if record.get("engine"))),
        "sla": {"ttft_ms": sla_ttft_ms, "tpot_ms": sla_tpot_ms, "stat": sla_stat},
        "hosts": ordered_hosts,
        "cluster": cluster_points(records),
        "comparison": compare_engines(records),
        "baseline": {"path": baseline_path, "compared_points": compared,
                     "max_throughput_drop_pct": max_throughput_drop_pct, "max_p99_rise_pct": max_p99_rise_pct}
        if baseline_records is not None else None,
        "regressions": regressions,
        "limits": {"values": limits, "engines": list(limits_engines or []), "findings": limit_findings,
                   "violations": len(limit_violations(limit_findings))} if limits else None,
        "skipped": sorted(inputs.skipped, key=lambda item: (item["file"], item["line"] or 0)),
    }
    return json_ready(summary)


def summary_records(summary):
    """The run records of a summary document, with inf restored (for plots and tables)."""
    return records_from_summary(summary)
