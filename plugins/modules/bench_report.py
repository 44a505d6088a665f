#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: npu.sglang maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: bench_report
short_description: Build the benchmark report (JSON, CSV, Markdown, HTML, plots) from collected serving-benchmark results
version_added: "0.1.0"
description:
  - Reads every benchmark result under O(input_dir), recursively, and writes into O(output_dir) the files
    C(summary.json) (per host and run), C(results.csv), C(report.md), a self-contained C(report.html) (inline CSS,
    plots embedded as data URIs, opens from disk with no network) and PNG plots.
  - Understands sglang C(bench_serving --output-file) JSONL of every version (2024 lines, 2025/2026 lines with
    C(tag), C(server_info), p90/p95 keys; C(Infinity) and C(NaN) accepted), C(vllm bench serve) result JSON
    (one object per run), accuracy C(result.jsonl) lines of the sglang MMLU and GSM8K scripts, and saved console
    output of either client (every C(Serving Benchmark Result) block becomes a run).
  - Runs through the SGLang router (C(fleet/<run>.jsonl) with C(.meta.json) and, for the routing policy comparison,
    C(.cache.json), written by role sglang_bench) get their own section, I(Fleet through the router), and
    C(fleet) in C(summary.json); they are not a host's runs.
  - The expected layout is C(raw/<host>/<run>.jsonl|.json|.txt|.log), optionally with C(raw/<host>/<run>.meta.json)
    (keys C(command), C(server_flags), C(engine), C(backend), C(num_prompts), C(max_concurrency), C(input_len),
    C(output_len), C(simulated)) beside a result, and C(accuracy/<host>/result.jsonl). Loose files work too; their
    host is the name of the directory they are in.
  - Plots are output throughput vs max concurrency per host and summed over the cluster, TTFT, TPOT and P99
    (TTFT/TPOT/ITL) vs concurrency, the SGLang/vLLM throughput ratio when both engines ran, and a throughput vs
    latency Pareto plot.
  - The knee of each host, engine and workload is the concurrency with the highest output throughput whose TTFT
    and TPOT (statistic O(sla_stat)) are within O(sla_ttft_ms) and O(sla_tpot_ms).
  - With O(baseline), every load point also in the baseline is compared; an output throughput drop beyond
    O(max_throughput_drop_pct), a P99 TTFT/TPOT/ITL rise beyond O(max_p99_rise_pct), or a run that succeeded in
    the baseline and failed now is a regression.
  - With O(limits), every run of the engines in O(limits_engines) is checked against per-run SLA limits; the
    report lists each violation and the task fails (after writing the report) when O(fail_on_limits) is true.
  - A run that completed no request is shown as failed and a load point with no run as missing, in every table
    and plot; neither is ever shown as zero. A file that cannot be read is skipped and listed by name and line.
  - Runs whose metadata says C(simulated=true) make the report say, at the top, that they were made against the
    simulator, and label accuracy numbers of those hosts as meaningless simulator answers.
  - Runs on the controller. Needs matplotlib in the Python that runs the module.
author:
  - npu.sglang maintainers (@npu-sglang)
requirements:
  - matplotlib (on the controller, in the interpreter that runs the module)
options:
  input_dir:
    description:
      - Directory holding the collected results (searched recursively; hidden directories are skipped).
    type: path
    required: true
  output_dir:
    description:
      - Directory the report is written to; created when missing.
      - When it lies inside O(input_dir) it is not read as input.
    type: path
    required: true
  title:
    description:
      - Title of the report.
    type: str
    default: SGLang on Ascend NPU benchmark report
  sla_ttft_ms:
    description:
      - Time-to-first-token limit of the SLA, in milliseconds, used to find the knee.
    type: float
    default: 2000.0
  sla_tpot_ms:
    description:
      - Time-per-output-token limit of the SLA, in milliseconds, used to find the knee.
    type: float
    default: 100.0
  sla_stat:
    description:
      - Which statistic of TTFT and TPOT the SLA limits apply to.
      - A run that does not report that statistic cannot be shown to be within the SLA and is never the knee.
    type: str
    choices: [mean, median, p90, p95, p99]
    default: p99
  baseline:
    description:
      - A C(summary.json) of an earlier report to compare against (regression gate).
      - Load points are matched by host, engine, workload (dataset, input and output length) and max concurrency
        (or request rate when no concurrency was set).
    type: path
  max_throughput_drop_pct:
    description:
      - Largest accepted fall of output throughput against O(baseline), in percent.
    type: float
    default: 5.0
  max_p99_rise_pct:
    description:
      - Largest accepted rise of P99 TTFT, P99 TPOT or P99 ITL against O(baseline), in percent.
    type: float
    default: 10.0
  fail_on_regression:
    description:
      - Fail the task when a regression against O(baseline) is found. The report is written first either way.
    type: bool
    default: true
  limits:
    description:
      - Per-run SLA limits, each optional and a number >= 0.
      - C(ttft_p99_ms), C(tpot_mean_ms) and C(e2e_p99_ms) are upper bounds in milliseconds; C(min_output_throughput)
        (tokens/s) and C(min_completed_ratio) (completed / requested prompts, 0 to 1) are lower bounds.
      - A failed run breaks every limit; a value the run did not report is listed as unknown and does not fail.
    type: dict
    default: {}
  limits_engines:
    description:
      - Engines whose runs the O(limits) apply to (the vLLM runs of a comparison are a reference, not the service).
    type: list
    elements: str
    default: [sglang]
  fail_on_limits:
    description:
      - Fail the task when a run breaks one of O(limits). The report is written first either way.
    type: bool
    default: true
  templates_dir:
    description:
      - The folder of the report's Jinja2 templates C(report.md.j2) and C(report.html.j2), on the controller.
      - Default, set by the module's action plugin on the controller, the collection's C(roles/bench_report/templates).
    type: path
attributes:
  check_mode:
    description: Reads the inputs and builds the report in memory, writes nothing, and reports what would change.
    support: full
  diff_mode:
    description: Returns no diff.
    support: none
notes:
  - Every output file is compared with what is on disk first and only rewritten (atomically, through a temporary
    file and a rename) when its content differs, so a second run on the same inputs reports no change.
  - The outputs carry no timestamp, for the same reason.
  - Plot files of hosts no longer in the inputs are not removed from O(output_dir).
'''

EXAMPLES = r'''
- name: Build the benchmark report on the controller
  npu.sglang.bench_report:
    input_dir: "{{ playbook_dir }}/../reports/bench"
    output_dir: "{{ playbook_dir }}/../reports/bench-report"
    sla_ttft_ms: 1500
    sla_tpot_ms: 50
  delegate_to: localhost
  run_once: true

- name: Gate on a baseline report, failing on a 5% throughput drop or a 10% P99 rise
  npu.sglang.bench_report:
    input_dir: /srv/bench/2026-01-15
    output_dir: /srv/bench/2026-01-15/report
    baseline: /srv/bench/2026-01-01/report/summary.json
    max_throughput_drop_pct: 5
    max_p99_rise_pct: 10
    fail_on_regression: true
  delegate_to: localhost
  run_once: true
'''

RETURN = r'''
output_dir:
  description: Absolute path of the directory the report was written to.
  returned: always
  type: str
  sample: /srv/bench/report
report:
  description: Absolute path of C(report.html).
  returned: always
  type: str
  sample: /srv/bench/report/report.html
paths:
  description: Absolute paths of every output file.
  returned: always
  type: dict
  contains:
    summary:
      description: C(summary.json), the whole analysis per host and run.
      type: str
    csv:
      description: C(results.csv), one row per run.
      type: str
    markdown:
      description: C(report.md); its plots are the PNG files beside it.
      type: str
    html:
      description: C(report.html), self-contained.
      type: str
    plots:
      description: The PNG plots.
      type: list
      elements: str
  sample:
    summary: /srv/bench/report/summary.json
    csv: /srv/bench/report/results.csv
    markdown: /srv/bench/report/report.md
    html: /srv/bench/report/report.html
    plots: [/srv/bench/report/throughput_host_node1.png, /srv/bench/report/throughput_cluster.png]
changed_files:
  description: Names of the output files whose content changed (or, in check mode, would change).
  returned: always
  type: list
  elements: str
  sample: [report.html, summary.json]
runs:
  description: Number of benchmark runs read.
  returned: always
  type: int
  sample: 21
hosts:
  description: Hosts found in the inputs.
  returned: always
  type: list
  elements: str
  sample: [node1, node2]
simulated:
  description: Whether any run or accuracy result was made against the simulator.
  returned: always
  type: bool
  sample: false
knee:
  description:
    - Per host, per series (C(<engine> <workload>)), the highest-throughput concurrency within the SLA.
    - C(max_concurrency) is null when no run of the series meets the SLA; C(reason) then says why.
  returned: always
  type: dict
  sample:
    node1:
      "sglang in 1024 / out 512":
        engine: sglang
        workload: in 1024 / out 512
        max_concurrency: 32
        output_throughput: 3100.0
        ttft_ms: 800.0
        tpot_ms: 12.0
        run: node1_sglang_in1024_out512_c32
        reason: null
        sla_stat: p99
        sla_ttft_ms: 1000.0
        sla_tpot_ms: 50.0
regressions:
  description: Findings against O(baseline); empty without a baseline.
  returned: always
  type: list
  elements: dict
  sample:
    - host: node1
      engine: sglang
      workload: in 1024 / out 512
      point: c64
      metric: output_throughput
      baseline: 5200.0
      current: 4600.0
      change_pct: -11.5
      limit_pct: -5.0
      kind: throughput_drop
failed_runs:
  description:
    - Runs that completed no request, with the error their metadata recorded (null when none was recorded).
    - Those through the router have the host C(<router host> (router)).
  returned: always
  type: list
  elements: dict
  sample:
    - host: node2
      run: main_sglang_in1024_out512_c128
      error: "exit code 1, no result line: ValueError: Warmup failed"
limit_findings:
  description: Runs that break or cannot be checked against O(limits); empty without limits.
  returned: always
  type: list
  elements: dict
  sample:
    - host: node1
      run: main_sglang_in1024_out512_c128
      engine: sglang
      workload: random-ids in 1024 / out 512
      max_concurrency: 128
      limit: ttft_p99_ms
      bound: max
      threshold: 2000.0
      value: 2450.5
      kind: violation
limit_violations:
  description: Number of findings in RV(limit_findings) that fail the gate (kind C(violation) or C(failed)).
  returned: always
  type: int
  sample: 1
skipped_inputs:
  description: Input files that could not be read, with the line and the reason.
  returned: always
  type: list
  elements: dict
  sample:
    - file: raw/node2/run3.jsonl
      line: 4
      error: "not valid JSON (Expecting ',' delimiter: line 1 column 114 (char 113))"
requests:
  description: Requests completed over all runs of the report.
  returned: always
  type: int
  sample: 480
best:
  description: The completed run with the highest output throughput (tok/s), or null when none has one.
  returned: always
  type: dict
  sample: {host: node1, run: main_sglang_in1024_out64_c64, output_throughput: 1834.2, max_concurrency: 64}
knees:
  description: One line per host and workload whose knee within the SLA was found, with its concurrency.
  returned: always
  type: list
  elements: str
  sample: ["node1 sglang random in 1024 / out 64 c=32"]
fleet:
  description: The sweep point through the router with the highest output throughput (C(<input_dir>/fleet/)), or null.
  returned: always
  type: dict
  sample: {output_throughput: 5210.4, max_concurrency: 48, workers: 3, policy: cache_aware}
'''

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.npu.sglang.plugins.module_utils.bench_results import collect_inputs
from ansible_collections.npu.sglang.plugins.module_utils.bench_analysis import (
    SLA_STATS, BaselineError, LimitsError, build_summary, clean_limits, load_baseline,
)
from ansible_collections.npu.sglang.plugins.module_utils.bench_report_plots import MatplotlibMissing, require_matplotlib
from ansible_collections.npu.sglang.plugins.module_utils.bench_fleet import FLEET_DIR
from ansible_collections.npu.sglang.plugins.module_utils.bench_report_fleet import fleet_summary, best as fleet_best, failed as fleet_failed
from ansible_collections.npu.sglang.plugins.module_utils.bench_report_render import (
    CSV_FILE, HTML_FILE, MARKDOWN_FILE, SUMMARY_FILE, ReportTemplateError, render_files, write_files,
)


def run_module():
    module = AnsibleModule(
        argument_spec=dict(
            input_dir=dict(type="path", required=True),
            output_dir=dict(type="path", required=True),
            title=dict(type="str", default="SGLang on Ascend NPU benchmark report"),
            sla_ttft_ms=dict(type="float", default=2000.0),
            sla_tpot_ms=dict(type="float", default=100.0),
            sla_stat=dict(type="str", default="p99", choices=list(SLA_STATS)),
            baseline=dict(type="path"),
            max_throughput_drop_pct=dict(type="float", default=5.0),
            max_p99_rise_pct=dict(type="float", default=10.0),
            fail_on_regression=dict(type="bool", default=True),
            limits=dict(type="dict", default={}),
            limits_engines=dict(type="list", elements="str", default=["sglang"]),
            fail_on_limits=dict(type="bool", default=True),
            templates_dir=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    input_dir = os.path.abspath(params["input_dir"])
    output_dir = os.path.abspath(params["output_dir"])
    if not os.path.isdir(input_dir):
        module.fail_json(msg="input_dir %s is not a directory" % input_dir)
    try:
        require_matplotlib()
    except MatplotlibMissing as exc:
        module.fail_json(msg=missing_required_lib("matplotlib", reason="to draw the report's plots") + " (import error: %s)" % exc)

    baseline_records = None
    baseline = params["baseline"]
    if baseline:
        baseline = os.path.abspath(baseline)
        try:
            baseline_records = load_baseline(baseline)
        except BaselineError as exc:
            module.fail_json(msg=str(exc))

    try:
        limits = clean_limits(params["limits"])
    except LimitsError as exc:
        module.fail_json(msg=str(exc))

    # The runs through the router (<input_dir>/fleet/) have their own section, not a host's table.
    inputs = collect_inputs(input_dir, exclude=[output_dir, os.path.join(input_dir, FLEET_DIR)])
    summary = build_summary(inputs, params["title"], params["sla_ttft_ms"], params["sla_tpot_ms"], params["sla_stat"],
                            baseline_records=baseline_records, baseline_path=baseline,
                            max_throughput_drop_pct=params["max_throughput_drop_pct"], max_p99_rise_pct=params["max_p99_rise_pct"],
                            limits=limits, limits_engines=params["limits_engines"])
    summary["fleet"] = fleet_summary(input_dir, summary)
    try:
        files = render_files(summary, templates_dir=params["templates_dir"])
    except ReportTemplateError as exc:
        module.fail_json(msg="%s; give templates_dir, the folder of report.md.j2 and report.html.j2" % exc)
    try:
        changed_files = write_files(output_dir, files, check_mode=module.check_mode)
    except (IOError, OSError) as exc:
        module.fail_json(msg="cannot write the report into %s: %s" % (output_dir, exc))

    special = (SUMMARY_FILE, CSV_FILE, MARKDOWN_FILE, HTML_FILE)
    result = dict(
        changed=bool(changed_files),
        output_dir=output_dir,
        report=os.path.join(output_dir, HTML_FILE),
        paths=dict(
            summary=os.path.join(output_dir, SUMMARY_FILE),
            csv=os.path.join(output_dir, CSV_FILE),
            markdown=os.path.join(output_dir, MARKDOWN_FILE),
            html=os.path.join(output_dir, HTML_FILE),
            plots=[os.path.join(output_dir, name) for name in sorted(files) if name not in special],
        ),
        changed_files=changed_files,
        runs=summary["counts"]["runs"],
        hosts=list(summary["hosts"]),
        simulated=summary["simulated"],
        knee=dict((host, data["knee"]) for host, data in summary["hosts"].items() if data.get("knee")),
        regressions=summary["regressions"],
        failed_runs=[dict(host=host, run=run_id, error=record.get("error"))
                     for host, data in summary["hosts"].items() for run_id, record in data["runs"].items()
                     if record.get("status") == "failed"] + fleet_failed(summary["fleet"]),
        limit_findings=summary["limits"]["findings"] if summary["limits"] else [],
        limit_violations=summary["limits"]["violations"] if summary["limits"] else 0,
        skipped_inputs=summary["skipped"],
        requests=sum(int(record.get("completed") or 0) for data in summary["hosts"].values()
                     for record in data["runs"].values()),
        best=best_run(summary),
        fleet=fleet_best(summary["fleet"]),
        knees=["%s %s c=%s" % (host, label, knee["max_concurrency"])
               for host, data in sorted(summary["hosts"].items())
               for label, knee in sorted((data.get("knee") or {}).items())
               if knee.get("max_concurrency") is not None],
    )
    for item in summary["skipped"]:
        where = item["file"] if item["line"] is None else "%s:%s" % (item["file"], item["line"])
        module.warn("skipped input %s: %s" % (where, item["error"]))
    if summary["simulated"]:
        hosts = ", ".join(summary["simulated_hosts"]) or "some hosts"
        module.warn("results of %s were made against the simulator; the report says so and its accuracy numbers are meaningless" % hosts)
    if summary["regressions"] and params["fail_on_regression"]:
        result["msg"] = "%d regression(s) against the baseline %s; see %s" % (len(summary["regressions"]), baseline, result["report"])
        module.fail_json(**result)
    if result["limit_violations"] and params["fail_on_limits"]:
        result["msg"] = "%d SLA limit violation(s); see %s" % (result["limit_violations"], result["report"])
        module.fail_json(**result)
    module.exit_json(**result)


def best_run(summary):
    """The run with the highest output throughput, for the one-line summary of a run."""
    best = None
    for host, data in sorted(summary["hosts"].items()):
        for run_id, record in sorted(data["runs"].items()):
            value = record.get("output_throughput")
            if record.get("status") == "ok" and value is not None and (best is None or value > best["output_throughput"]):
                best = dict(host=host, run=run_id, output_throughput=value,
                            max_concurrency=record.get("max_concurrency"))
    return best


def main():
    run_module()


if __name__ == "__main__":
    main()
