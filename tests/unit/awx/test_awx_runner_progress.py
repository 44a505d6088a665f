"""The runner entry point (npu_sglang_runner): its one-line-per-task view of recorded job events,
and real runs through ansible-runner on the controller (no cluster needed)."""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from awxdata import ROOT

if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from npu_sglang_runner.pipeline import parse_extra_vars, stage_extravars  # noqa: E402 pylint: disable=wrong-import-position
from npu_sglang_runner.progress import ProgressPrinter, format_event  # noqa: E402 pylint: disable=wrong-import-position

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
LINE = re.compile(r"^(?P<stage>\S+)\s+(?P<host>\S+)\s+(?P<status>ok|changed|failed|ignored|skipped|unreachable)\s+"
                  r"(?P<duration>\d+\.\ds|-)\s{2}(?P<task>.+?)(?:  :: (?P<message>.*))?$")
TASK_END = ("runner_on_ok", "runner_on_failed", "runner_on_skipped", "runner_on_unreachable")


def recorded(name):
    with open(os.path.join(FIXTURES, "runner_events_%s.jsonl" % name), encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def printed(events, stage):
    lines = []
    printer = ProgressPrinter(stage, lines.append)
    kept = [printer(event) for event in events]
    assert all(kept), "the printer must keep every event (ansible-runner then writes it to artifacts)"
    return lines, printer


def parsed(line):
    match = LINE.match(line)
    assert match, "not a progress line: %r" % line
    return match.groupdict()


def test_one_line_per_finished_task_and_host():
    events = recorded("report_ok")
    lines, printer = printed(events, "report")
    assert len(lines) == sum(1 for e in events if e["event"] in TASK_END) == 5
    rows = [parsed(line) for line in lines]
    assert {row["stage"] for row in rows} == {"report"}
    assert {row["host"] for row in rows} == {"localhost"}
    build = [row for row in rows if row["task"] == "bench_report : Build the benchmark report on the controller"]
    assert len(build) == 1 and build[0]["status"] == "changed"
    recorded_duration = [e["event_data"]["duration"] for e in events if e["event"] == "runner_on_ok"
                         and e["event_data"]["task"] == "Build the benchmark report on the controller"][0]
    assert build[0]["duration"] == "%.1fs" % recorded_duration
    assert [row["status"] for row in rows].count("skipped") == 2
    assert printer.counts == {"ok": 2, "changed": 1, "skipped": 2}


def test_a_failed_task_shows_its_message():
    lines, _printer = printed(recorded("report_failed"), "report")
    failed = [parsed(line) for line in lines if parsed(line)["status"] == "failed"]
    assert len(failed) == 1
    assert failed[0]["task"] == "bench_report : Build the benchmark report on the controller"
    assert failed[0]["message"] == "input_dir /srv/reports/missing/raw is not a directory"


def test_an_unreachable_host_is_named():
    lines, printer = printed(recorded("preflight_unreachable"), "deploy")
    rows = [parsed(line) for line in lines]
    assert rows[-1]["status"] == "unreachable" and rows[-1]["host"] == "deadnode"
    assert rows[-1]["task"] == "npu_preflight : Gather the NPU facts"
    assert "Connection refused" in rows[-1]["message"]
    # The validation play ran on the controller for that host before.
    assert rows[0]["task"] == "Check the Ansible version" and rows[0]["status"] == "ok"
    assert printer.counts["unreachable"] == 1


def test_a_loop_shows_the_message_of_its_failed_item():
    lines, _printer = printed(recorded("benchmark_unreachable_loop"), "benchmark")
    row = parsed(lines[0])
    assert row["status"] == "unreachable" and row["task"] == "sglang_bench : Create the run's directories on the node"
    assert "Connection refused" in row["message"], row


def test_an_ignored_failure_is_not_a_failure():
    # The recorded failure, as Ansible reports it under ignore_errors: true.
    event = [e for e in recorded("report_failed") if e["event"] == "runner_on_failed"][0]
    event["event_data"]["ignore_errors"] = True
    row = parsed(format_event(event, "report"))
    assert row["status"] == "ignored" and row["message"] is None


def test_other_events_print_nothing():
    for event in recorded("report_ok"):
        if event["event"] not in TASK_END:
            assert format_event(event, "report") is None, event["event"]


def test_long_messages_are_cut_to_one_line():
    event = [e for e in recorded("report_failed") if e["event"] == "runner_on_failed"][0]
    event["event_data"]["res"]["msg"] = "first line\nsecond " + "x" * 500
    line = format_event(event, "report")
    assert "\n" not in line and line.endswith("...") and "first line second x" in line


def test_extra_vars_parse_like_ansible_playbook(tmp_path):
    varfile = tmp_path / "vars.yml"
    varfile.write_text("sglang_bench_concurrency: [1, 2]\n")
    assert parse_extra_vars(["sglang_bench_input_len=32", "@%s" % varfile, "{sglang_bench_title: t}"]) == {
        "sglang_bench_input_len": 32, "sglang_bench_concurrency": [1, 2], "sglang_bench_title": "t"}
    with pytest.raises(ValueError):
        parse_extra_vars(["not-a-mapping"])


def test_stages_share_the_run():
    bench = stage_extravars("benchmark", {}, "ci-1", "/srv/reports")
    report = stage_extravars("report", {}, "ci-1", "/srv/reports")
    assert bench == {"sglang_bench_report_dir": "/srv/reports", "sglang_bench_run_id": "ci-1"}
    assert report["report_input_dir"] == "/srv/reports/ci-1/raw"
    assert report["report_output_dir"] == "/srv/reports/ci-1/report"


# --- real runs through ansible-runner (localhost, or a host that refuses connections) ----------

def runner(*args):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    return subprocess.run([sys.executable, "-m", "npu_sglang_runner"] + list(args), cwd=ROOT, env=env,
                          text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600, check=False)


def test_report_stage_runs_through_ansible_runner(tmp_path):
    shutil.copytree(os.path.join(ROOT, "tests", "unit", "fixtures", "bench", "cluster"), tmp_path / "reports" / "fx")
    proc = runner("-i", "inventories/prod", "--stages", "report", "--run-id", "fx",
                  "--reports-dir", str(tmp_path / "reports"), "--data-dir", str(tmp_path / "pdd"))
    assert proc.returncode == 0, proc.stdout
    rows = [parsed(line) for line in proc.stdout.splitlines() if not line.startswith(("==", "run "))]
    assert ("localhost", "changed", "bench_report : Build the benchmark report on the controller") in [
        (r["host"], r["status"], r["task"]) for r in rows], proc.stdout
    assert (tmp_path / "reports" / "fx" / "report" / "report.html").is_file()
    # The private data dir is laid out as AWX lays out a job's.
    pdd = tmp_path / "pdd" / "report"
    extravars = json.loads((pdd / "env" / "extravars").read_text())
    assert extravars["report_input_dir"] == str(tmp_path / "reports" / "fx" / "raw")
    assert (pdd / "env" / "envvars").is_file() and (pdd / "inventory" / "hosts.yml").is_file()
    assert (pdd / "artifacts" / "report" / "stdout").is_file()
    assert proc.stdout.splitlines()[-1] == "run fx: all stages succeeded"


def test_a_failed_stage_fails_the_run(tmp_path):
    proc = runner("-i", "inventories/prod", "--stages", "report", "--run-id", "none",
                  "--reports-dir", str(tmp_path / "reports"), "--data-dir", str(tmp_path / "pdd"))
    assert proc.returncode == 1, proc.stdout
    assert any(parsed(line)["status"] == "failed" for line in proc.stdout.splitlines()
               if not line.startswith(("==", "run "))), proc.stdout
    assert proc.stdout.splitlines()[-1] == "run none: FAILED: report"


@pytest.fixture
def refusing_inventory(tmp_path):
    """One node whose SSH port refuses connections; its variables pass the validation play."""
    path = tmp_path / "inventory"
    path.mkdir()
    (path / "hosts.yml").write_text(
        "all:\n  children:\n    npu_nodes:\n      hosts:\n        deadnode:\n"
        "          ansible_host: 127.0.0.1\n          ansible_port: 1\n"
        "      vars:\n        ansible_user: root\n        sglang_service_model_path: /data/models/none\n")
    return str(path)


def test_a_failed_deploy_stops_the_run(tmp_path, refusing_inventory):
    proc = runner("-i", refusing_inventory, "--run-id", "dead", "--reports-dir", str(tmp_path / "reports"),
                  "--data-dir", str(tmp_path / "pdd"))
    assert proc.returncode == 1, proc.stdout
    assert any(parsed(line)["status"] == "unreachable" for line in proc.stdout.splitlines()
               if not line.startswith(("==", "run "))), proc.stdout
    assert "== benchmark: not run (deploy failed)" in proc.stdout
    assert "== report: not run (deploy, benchmark failed)" in proc.stdout
    assert proc.stdout.splitlines()[-1] == "run dead: FAILED: deploy, benchmark, report"


def test_the_report_runs_after_a_failed_benchmark(tmp_path, refusing_inventory):
    proc = runner("-i", refusing_inventory, "--stages", "benchmark,report", "--run-id", "dead",
                  "--reports-dir", str(tmp_path / "reports"), "--data-dir", str(tmp_path / "pdd"))
    assert proc.returncode == 1, proc.stdout
    # The benchmark made the run's directory on the controller before the node refused it: the
    # report of that (empty) run is built, and the run still fails.
    assert "== report: successful" in proc.stdout
    assert proc.stdout.splitlines()[-1] == "run dead: FAILED: benchmark"
