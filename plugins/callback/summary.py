# -*- coding: utf-8 -*-
# Copyright: npu.sglang maintainers
# Apache-2.0 (see the collection's LICENSE)
"""The answer of a run, printed after everything else."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: summary
type: aggregate
short_description: print what a run of the collection's playbooks did, last, ending with the report's path
description:
  - After the play recap, prints a few lines on what the run did, from the custom stats the
    collection's roles set with C(ansible.builtin.set_stats) - the servers that passed the health
    gate, the image builds, the benchmark requests and the best throughput or knee, the time taken,
    and as the very last line the path of the benchmark report, when the run made one.
  - Prints nothing for a run that set none of these stats.
  - With O(summary_file), each run appends its figures as one JSON line to that file and the
    printed summary covers every run in it, so a sequence of playbooks (C(make demo) runs site.yml,
    then benchmark.yml) ends with one summary of the whole. Whoever starts the sequence empties
    the file first.
  - Prints nothing when the stdout callback writes JSON (its output must stay one document); the
    summary file is written all the same.
  - Enabled by C(callbacks_enabled) in the collection's ansible.cfg.
options:
  summary_file:
    description: JSON-lines file that collects the summaries of a sequence of runs; empty for none.
    type: str
    default: ''
    env:
      - name: NPU_SGLANG_SUMMARY_FILE
    ini:
      - section: npu_sglang
        key: summary_file
"""

import json
import os
import time

from ansible import constants as C
from ansible.plugins.callback import CallbackBase

PREFIX = "npu.sglang: "


def _duration(seconds):
    seconds = int(round(seconds))
    if seconds < 60:
        return "%ds" % seconds
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return "%dm %02ds" % (minutes, seconds)
    hours, minutes = divmod(minutes, 60)
    return "%dh %02dm" % (hours, minutes)


def figures(custom, elapsed):
    """One run's figures from its custom stats ('_run' of AggregateStats.custom)."""
    report = custom.get("npu_sglang_report") or {}
    return {
        "elapsed": round(float(elapsed), 1),
        "served": list(custom.get("npu_sglang_served") or []),
        "builds": int(custom.get("npu_sglang_builds") or 0),
        "image": custom.get("npu_sglang_image") or "",
        "build_seconds": float(custom.get("npu_sglang_build_seconds") or 0),
        "report": report if isinstance(report, dict) else {},
        "router": custom.get("npu_sglang_router") if isinstance(custom.get("npu_sglang_router"), dict) else {},
    }


def combine(entries):
    """The figures of a sequence of runs: served and image from the last that set them, builds
    and time summed, the last report."""
    total = {"elapsed": 0.0, "served": [], "builds": 0, "image": "", "build_seconds": 0.0,
             "report": {}, "router": {}, "runs": len(entries)}
    for entry in entries:
        total["elapsed"] += float(entry.get("elapsed") or 0)
        total["builds"] += int(entry.get("builds") or 0)
        total["build_seconds"] += float(entry.get("build_seconds") or 0)
        for key in ("served", "image", "report", "router"):
            if entry.get(key):
                total[key] = entry[key]
    return total


def lines(total):
    """The summary's lines; the report's path, when there is one, is the last."""
    out = []
    if total["image"]:
        if total["builds"]:
            out.append("image %s built (%d build%s, %s)" % (
                total["image"], total["builds"], "" if total["builds"] == 1 else "s",
                _duration(total["build_seconds"])))
        else:
            out.append("image %s found, no build" % total["image"])
    if total["served"]:
        nodes = sorted(set(item.split("/", 1)[0] for item in total["served"]))
        out.append("%d server%s passed the health gate on %d node%s" % (
            len(total["served"]), "" if len(total["served"]) == 1 else "s",
            len(nodes), "" if len(nodes) == 1 else "s"))
    router = total.get("router") or {}
    if router.get("url"):
        workers = int(router.get("workers") or 0)
        out.append("router: %s (%d worker%s)" % (router["url"], workers, "" if workers == 1 else "s"))
    report = total["report"]
    if report:
        text = "%s request%s in %s benchmark run%s on %s host%s" % (
            report.get("requests", 0), "" if report.get("requests") == 1 else "s",
            report.get("runs", 0), "" if report.get("runs") == 1 else "s",
            report.get("hosts", 0), "" if report.get("hosts") == 1 else "s")
        best = report.get("best") or {}
        if best.get("output_throughput") is not None:
            text += "; best output throughput %.1f tok/s (%s, concurrency %s)" % (
                float(best["output_throughput"]), best.get("host"), best.get("max_concurrency"))
        out.append(text)
        knees = report.get("knees") or []
        if knees:
            out.append("knee within the SLA: " + "; ".join(knees))
        fleet = report.get("fleet") or {}
        if isinstance(fleet, dict) and fleet.get("output_throughput") is not None:
            out.append("fleet through the router: %.1f tok/s at concurrency %s (%s servers, policy %s)" % (
                float(fleet["output_throughput"]), fleet.get("max_concurrency"), fleet.get("workers"), fleet.get("policy")))
        if report.get("simulated"):
            out.append("SIMULATED results: the report labels them")
    if out:
        out.append("%s in all%s" % (_duration(total["elapsed"]),
                                    " (%d playbook runs)" % total["runs"] if total["runs"] > 1 else ""))
    if report.get("path"):
        out.append("report: %s" % report["path"])
    return out


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "npu.sglang.summary"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self._began = time.time()

    def v2_playbook_on_start(self, playbook):
        self._began = time.time()

    def v2_playbook_on_stats(self, stats):
        custom = (getattr(stats, "custom", None) or {}).get("_run") or {}
        if not any(key.startswith("npu_sglang_") for key in custom):
            return
        entry = figures(custom, time.time() - self._began)
        entries = [entry]
        path = os.path.expanduser(self.get_option("summary_file") or "")
        if path:
            entries = []
            try:
                with open(path, encoding="utf-8") as handle:
                    entries = [json.loads(line) for line in handle if line.strip()]
            except (IOError, OSError, ValueError):
                entries = []
            entries.append(entry)
            try:
                directory = os.path.dirname(os.path.abspath(path))
                if not os.path.isdir(directory):
                    os.makedirs(directory)
                with open(path, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps(entry, sort_keys=True) + "\n")
            except (IOError, OSError) as exc:
                self._display.warning("npu.sglang.summary: cannot write %s: %s" % (path, exc))
        if "json" in str(C.DEFAULT_STDOUT_CALLBACK).lower():
            return
        self._display.display("")
        for line in lines(combine(entries)):
            self._display.display(PREFIX + line)
