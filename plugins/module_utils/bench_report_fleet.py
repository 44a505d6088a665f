# -*- coding: utf-8 -*-
# Copyright: npu.sglang maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The report's "Fleet through the router" section (module bench_report).

Reads the runs role sglang_bench made through the router (``<run>/fleet/``, tasks/fleet.yml):
the fleet sweep, each load point beside the per-node sweep summed over the hosts at each server's
share of that load, and the routing policy comparison on the shared-prefix workload with the
prefix-cache hits the servers counted. Builds the section's data (kept in summary.json under
``fleet``) and its blocks, which the report's templates write after the per-node runs.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math
import os

from ansible_collections.npu.sglang.plugins.module_utils.bench_analysis import state_of, workload_of
from ansible_collections.npu.sglang.plugins.module_utils.bench_fleet import FLEET_DIR
from ansible_collections.npu.sglang.plugins.module_utils.bench_results import (
    BenchParseError, load_meta, parse_file, record_from_meta,
)

TITLE = "Fleet through the router"
META_SUFFIX = ".meta.json"
CACHE_SUFFIX = ".cache.json"
FIELDS = ("output_throughput", "request_throughput", "ttft_mean_ms", "ttft_p99_ms", "tpot_mean_ms", "tpot_p99_ms",
          "completed", "num_prompts", "max_concurrency")


def _finite(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if math.isfinite(value) else None


def _read_cache(path):
    """A run's .cache.json (the servers' counters), or None when it is missing or not a JSON object."""
    if not os.path.isfile(path):
        return None
    try:
        return load_meta(path)
    except BenchParseError:
        return None


def load_runs(input_dir):
    """(runs, skipped) of ``<input_dir>/fleet/``: one record per ``.meta.json``, its JSONL result
    parsed (a failed run without one stays, as failed), with ``fleet`` and ``cache`` added."""
    directory = os.path.join(input_dir, FLEET_DIR)
    runs, skipped = [], []
    if not os.path.isdir(directory):
        return runs, skipped
    for name in sorted(os.listdir(directory)):
        if not name.endswith(META_SUFFIX) or name.startswith("."):
            continue
        stem = name[:-len(META_SUFFIX)]
        shown = "%s/%s" % (FLEET_DIR, name)
        try:
            meta = load_meta(os.path.join(directory, name))
        except BenchParseError as exc:
            skipped.append({"file": shown, "error": exc.message})
            continue
        host = str(meta.get("host") or "router")
        result = os.path.join(directory, stem + ".jsonl")
        record = None
        if os.path.isfile(result):
            try:
                found, _accuracy = parse_file(result, display="%s/%s.jsonl" % (FLEET_DIR, stem), host=host, meta=meta)
                record = found[-1] if found else None
            except BenchParseError as exc:
                skipped.append({"file": "%s/%s.jsonl" % (FLEET_DIR, stem), "error": exc.message})
        if record is None:
            record = record_from_meta(meta, host, shown)
        record["fleet"] = meta.get("fleet") if isinstance(meta.get("fleet"), dict) else {}
        record["cache"] = _read_cache(os.path.join(directory, stem + CACHE_SUFFIX))
        runs.append(record)
    return runs, skipped


def _node_sum(summary, record, share):
    """The cluster row of the per-node sweep (SGLang, same workload) at each server's share."""
    if share is None:
        return None
    workload = list(workload_of(record))
    for row in (summary or {}).get("cluster") or []:
        if row.get("engine") == "sglang" and list(row.get("workload_key") or []) == workload and row.get("max_concurrency") == share:
            return row
    return None


def _hits(cache):
    """(cached tokens, prompt tokens, hit rate) the run added over every server; None when any
    server did not count (no metrics)."""
    servers = (cache or {}).get("workers") or []
    if not servers:
        return None, None, None
    cached = prompt = 0.0
    for server in servers:
        added = server.get("added") or {}
        if _finite(added.get("cached_tokens")) is None or _finite(added.get("prompt_tokens")) is None:
            return None, None, None
        cached += added["cached_tokens"]
        prompt += added["prompt_tokens"]
    return cached, prompt, (cached / prompt if prompt > 0 else None)


def _row(record):
    row = dict((field, _finite(record.get(field))) for field in FIELDS)
    row["run"] = record.get("run")
    row["state"] = state_of(record)
    row["error"] = record.get("error")
    return row


def fleet_summary(input_dir, summary):
    """The fleet section's data, or None when the run has no ``fleet/`` results."""
    runs, skipped = load_runs(input_dir)
    if not runs and not skipped:
        return None
    sweep, policies = [], []
    hosts, workers, policy = set(), None, None
    for record in sorted(runs, key=lambda item: (item.get("max_concurrency") or 0, item.get("run") or "")):
        fleet = record["fleet"]
        hosts.add(record.get("host"))
        workers = fleet.get("workers") or workers
        row = _row(record)
        row["policy"] = fleet.get("policy")
        if fleet.get("kind") == "policy":
            row["cached_tokens"], row["prompt_tokens"], row["cache_hit_rate"] = _hits(record.get("cache"))
            policies.append(row)
            continue
        policy = fleet.get("policy") or policy
        count = fleet.get("workers")
        concurrency = row["max_concurrency"]
        share = concurrency // count if count and concurrency and concurrency % count == 0 else None
        node = _node_sum(summary, record, share)
        row.update({"workers": count, "server_share": share,
                    "nodes_output_throughput": _finite((node or {}).get("output_throughput")),
                    "nodes_state": (node or {}).get("state") or ("missing" if share else None)})
        sweep.append(row)
    return {"router_host": ", ".join(sorted(str(host) for host in hosts)), "policy": policy, "workers": workers,
            "sweep": sweep, "policies": sorted(policies, key=lambda item: str(item["policy"])), "skipped": skipped}


def best(fleet):
    """The sweep row of highest output throughput, for the one-line summary; None without one."""
    rows = [row for row in (fleet or {}).get("sweep") or [] if row["state"] == "ok" and row["output_throughput"] is not None]
    if not rows:
        return None
    top = max(rows, key=lambda row: row["output_throughput"])
    return {"output_throughput": top["output_throughput"], "max_concurrency": top["max_concurrency"],
            "workers": top.get("workers"), "policy": top.get("policy")}


def failed(fleet):
    """The runs through the router that completed nothing, as the module's failed_runs lists them."""
    rows = list((fleet or {}).get("sweep") or []) + list((fleet or {}).get("policies") or [])
    return [{"host": "%s (router)" % (fleet.get("router_host") or "?"), "run": row["run"], "error": row["error"]}
            for row in rows if row["state"] == "failed"]


# --------------------------------------------------------------------------- the section

def _cell(row, field, digits=1):
    if row["state"] == "failed":
        return "failed"
    value = row.get(field)
    return "n/a" if value is None else "%.*f" % (digits, value)


def _tables(fleet):
    """[(heading, caption, headers, rows)] of the section."""
    out = []
    if fleet["sweep"]:
        headers = ["Concurrency", "Output tok/s", "Requests/s", "TTFT mean ms", "TTFT p99 ms", "TPOT mean ms", "TPOT p99 ms",
                   "Per-server share c", "Per-node sweep summed, output tok/s", "Through router / summed"]
        rows = []
        for row in fleet["sweep"]:
            nodes = row["nodes_output_throughput"]
            if row["server_share"] is None:
                summed = "n/a"
            elif nodes is None:
                summed = row["nodes_state"] or "missing"
            else:
                summed = "%.1f" % nodes
            ratio = ("%.2f" % (row["output_throughput"] / nodes)
                     if nodes and row["state"] == "ok" and row["output_throughput"] is not None else "n/a")
            rows.append([str(row["max_concurrency"]), _cell(row, "output_throughput"), _cell(row, "request_throughput", 2),
                         _cell(row, "ttft_mean_ms"), _cell(row, "ttft_p99_ms"), _cell(row, "tpot_mean_ms", 2),
                         _cell(row, "tpot_p99_ms", 2), "n/a" if row["server_share"] is None else str(row["server_share"]),
                         summed, ratio])
        out.append(("Fleet sweep (policy %s, %s servers)" % (fleet["policy"] or "?", fleet["workers"] or "?"),
                    "The per-node sweep summed over the hosts at c = fleet concurrency / servers, each server's share. "
                    "Through the router the client sends OpenAI completions (its backend vllm), as bench_serving 0.4.9's "
                    "sglang backends stop on the router's /get_server_info.",
                    headers, rows))
    if fleet["policies"]:
        headers = ["Policy", "Concurrency", "Output tok/s", "TTFT mean ms", "TTFT p99 ms", "Cached tokens", "Prompt tokens",
                   "Cache hit rate"]
        rows = []
        for row in fleet["policies"]:
            rows.append([str(row["policy"]), str(row["max_concurrency"]), _cell(row, "output_throughput"),
                         _cell(row, "ttft_mean_ms"), _cell(row, "ttft_p99_ms"),
                         "n/a" if row["cached_tokens"] is None else "%d" % row["cached_tokens"],
                         "n/a" if row["prompt_tokens"] is None else "%d" % row["prompt_tokens"],
                         "n/a" if row["cache_hit_rate"] is None else "%.1f%%" % (100.0 * row["cache_hit_rate"])])
        out.append(("Routing policies on the shared-prefix workload",
                    "Each policy through its own temporary router over the same servers, their prefix caches flushed before; "
                    "cached and prompt tokens are what the servers' /metrics counters added during the run.",
                    headers, rows))
    return out


def _intro(fleet):
    text = "Runs from %s through its router." % (fleet["router_host"] or "the router host")
    if fleet["skipped"]:
        text += " Skipped: %s." % "; ".join("%s (%s)" % (item["file"], item["error"]) for item in fleet["skipped"])
    return text


def blocks(fleet):
    """The section as report blocks (bench_report_render.build_document lays them out with the rest):
    ("h2" | "h3" | "p", text) and ("table", headers, rows of (text, kind), caption)."""
    if not fleet:
        return []
    out = [("h2", TITLE), ("p", _intro(fleet))]
    for heading, caption, headers, rows in _tables(fleet):
        kinds = [[(item, item if item in ("failed", "missing") else None) for item in row] for row in rows]
        out += [("h3", heading), ("table", headers, kinds, caption)]
    return out
