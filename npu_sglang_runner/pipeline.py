"""deploy -> benchmark -> report, each stage one ansible-runner job with its own private data dir."""
import datetime
import json
import os
import shutil
import sys
import time

import ansible_runner
import yaml

from .progress import ProgressPrinter

PROJECT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))

# The stages, their playbooks, and what a failure of the stage means for the next ones: the
# report also runs after a failed benchmark (it names the failed runs), as in the AWX workflow
# (awx/templates.yml: benchmark -> always -> report).
STAGES = ("deploy", "benchmark", "report")
PLAYBOOKS = {
    "deploy": "playbooks/site.yml",
    "benchmark": "playbooks/benchmark.yml",
    "report": "playbooks/report.yml",
}
RUNS_AFTER_FAILURE_OF = {"report": "benchmark"}


def default_run_id():
    return "ci-" + datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def parse_extra_vars(items):
    """-e VAR=VALUE (VALUE read as YAML, as -e key=value is not) or -e @FILE (YAML or JSON)."""
    merged = {}
    for item in items or []:
        if item.startswith("@"):
            with open(item[1:], encoding="utf-8") as handle:
                data = yaml.safe_load(handle) or {}
            if not isinstance(data, dict):
                raise ValueError("%s does not hold a mapping of variables" % item[1:])
        elif "=" in item:
            key, value = item.split("=", 1)
            data = {key.strip(): yaml.safe_load(value) if value else ""}
        else:
            data = yaml.safe_load(item)
            if not isinstance(data, dict):
                raise ValueError("-e %r is neither VAR=VALUE, @FILE nor a YAML mapping" % item)
        merged.update(data)
    return merged


def copy_inventory(source, dest):
    """The inventory into <private data dir>/inventory: a directory as it is, a file with the
    group_vars and host_vars beside it."""
    if os.path.isdir(source):
        shutil.copytree(source, dest, symlinks=True)
        return
    os.makedirs(dest)
    shutil.copy2(source, os.path.join(dest, os.path.basename(source)))
    for sub in ("group_vars", "host_vars"):
        beside = os.path.join(os.path.dirname(os.path.abspath(source)), sub)
        if os.path.isdir(beside):
            shutil.copytree(beside, os.path.join(dest, sub), symlinks=True)


def write_private_data_dir(path, inventory, extravars, envvars):
    """The layout AWX gives a job: env/extravars, env/envvars, inventory/ (the project is passed
    separately: the checkout itself)."""
    if os.path.exists(path):
        shutil.rmtree(path)
    os.makedirs(os.path.join(path, "env"))
    with open(os.path.join(path, "env", "extravars"), "w", encoding="utf-8") as handle:
        json.dump(extravars, handle, indent=2, sort_keys=True)
    with open(os.path.join(path, "env", "envvars"), "w", encoding="utf-8") as handle:
        json.dump(envvars, handle, indent=2, sort_keys=True)
    copy_inventory(inventory, os.path.join(path, "inventory"))


def stage_extravars(stage, base, run_id, reports_dir):
    extravars = dict(base)
    extravars.setdefault("sglang_bench_report_dir", reports_dir)
    if stage == "benchmark":
        extravars["sglang_bench_run_id"] = run_id
    if stage == "report":
        run_dir = os.path.join(extravars["sglang_bench_report_dir"], run_id)
        extravars.setdefault("report_input_dir", os.path.join(run_dir, "raw"))
        extravars.setdefault("report_output_dir", os.path.join(run_dir, "report"))
    return extravars


def run_stage(stage, args, extravars, write):
    private_data_dir = os.path.join(args.data_dir, stage)
    envvars = {"ANSIBLE_FORCE_COLOR": "false", "ANSIBLE_NOCOLOR": "true"}
    write_private_data_dir(private_data_dir, args.inventory, extravars, envvars)
    write("== %s: %s (private data dir %s)" % (stage, PLAYBOOKS[stage], private_data_dir))
    printer = ProgressPrinter(stage, write)
    started = time.monotonic()
    kwargs = dict(private_data_dir=private_data_dir, project_dir=args.project_dir,
                  playbook=PLAYBOOKS[stage], ident=stage, quiet=True, event_handler=printer)
    if args.limit:
        kwargs["limit"] = args.limit
    runner = ansible_runner.run(**kwargs)
    stats = runner.stats or {}
    bad_hosts = sorted(set(stats.get("failures", {})) | set(stats.get("dark", {})))
    ok = runner.status == "successful" and runner.rc == 0 and not bad_hosts
    write("== %s: %s, rc %s, %.1fs; %s; log %s" % (
        stage, runner.status, runner.rc, time.monotonic() - started,
        ("failed or unreachable: " + ", ".join(bad_hosts)) if bad_hosts else "no failed host",
        os.path.join(private_data_dir, "artifacts", stage, "stdout")))
    return ok


def run_pipeline(args, write=print):
    """Run the stages in order; returns the process exit code (0 when every stage succeeded)."""
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = [s for s in stages if s not in STAGES]
    if unknown or not stages:
        write("unknown stage(s) %s; the stages are %s" % (", ".join(unknown) or "(none)", ", ".join(STAGES)))
        return 2
    base = parse_extra_vars(args.extra_vars)
    reports_dir = os.path.abspath(args.reports_dir or os.path.join(args.project_dir, "reports"))
    run_id = args.run_id or default_run_id()
    write("run %s: %s on %s; reports in %s"
          % (run_id, " -> ".join(stages), args.inventory, os.path.join(reports_dir, run_id)))
    results = {}
    for stage in STAGES:
        if stage not in stages:
            continue
        failed_before = [s for s in results if not results[s]]
        allowed = RUNS_AFTER_FAILURE_OF.get(stage)
        if failed_before and failed_before != [allowed]:
            write("== %s: not run (%s failed)" % (stage, ", ".join(failed_before)))
            results[stage] = False
            continue
        results[stage] = run_stage(stage, args, stage_extravars(stage, base, run_id, reports_dir), write)
    failed = [s for s in stages if not results.get(s)]
    write("run %s: %s" % (run_id, ("FAILED: " + ", ".join(failed)) if failed else "all stages succeeded"))
    return 1 if failed else 0


def flush_print(line):
    print(line)
    sys.stdout.flush()
