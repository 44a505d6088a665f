"""roles/sglang_bench/files/bench_driver.py with a fake client module (no Ansible, no Docker).

The fake client is run exactly as the role runs the driver: `python -c "<driver source>"` with the
plan on stdin. Its heavy dependency and a stand-in `transformers` count, in files, how often they
are imported and how often a tokenizer is loaded, so the test sees what the driver loads once.
"""
import json
import os
import subprocess
import sys
import tarfile
import textwrap
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
DRIVER = os.path.join(ROOT, "roles", "sglang_bench", "files", "bench_driver.py")

HEAVY = """
import os
with open(os.environ["FAKE_COUNTS"] + ".imports", "a") as handle:
    handle.write("%d\\n" % os.getpid())
"""

TRANSFORMERS = """
import os


class AutoTokenizer(object):
    @classmethod
    def from_pretrained(cls, path, trust_remote_code=False):
        with open(os.environ["FAKE_COUNTS"] + ".loads", "a") as handle:
            handle.write("%s %d\\n" % (path, os.getpid()))
        return {"path": path, "loaded_by": os.getpid()}
"""

# The fake client: like sglang.bench_serving, a module whose parser and run live under
# `if __name__ == "__main__"`, a get_tokenizer, and one JSON line appended to --output-file.
CLIENT = """
import argparse
import json
import sys
import time

import fakeheavy  # noqa: F401
from transformers import AutoTokenizer


def get_tokenizer(path):
    return AutoTokenizer.from_pretrained(path, trust_remote_code=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", default="ok")
    parser.add_argument("--tokenizer")
    parser.add_argument("--output-file")
    args = parser.parse_args()
    tokenizer = get_tokenizer(args.tokenizer)
    print("client starts, mode %s" % args.mode)
    sys.stderr.write("a warning on stderr\\n")
    if args.mode == "sleep":
        time.sleep(60)
    if args.mode == "nothing":
        sys.exit(0)
    if args.mode == "fail":
        sys.stderr.write("Traceback: boom\\nValueError: the server said no\\n")
        sys.exit(3)
    if args.mode == "raise":
        raise RuntimeError("unhandled in the client")
    with open(args.output_file, "a") as handle:
        handle.write(json.dumps({"duration": 1.5, "completed": 4, "main": __name__, "argv0": sys.argv[0],
                                 "tokenizer_loaded_by": tokenizer["loaded_by"]}) + "\\n")
"""


@pytest.fixture
def fake(tmp_path):
    lib = tmp_path / "lib"
    (lib / "transformers").mkdir(parents=True)
    (lib / "transformers" / "__init__.py").write_text(textwrap.dedent(TRANSFORMERS), encoding="utf-8")
    (lib / "fakeheavy.py").write_text(textwrap.dedent(HEAVY), encoding="utf-8")
    (lib / "fakeclient.py").write_text(textwrap.dedent(CLIENT), encoding="utf-8")
    node = tmp_path / "node"
    node.mkdir()
    return {"lib": str(lib), "node": node, "counts": str(tmp_path / "counts")}


def _run(fake, modes, timeout=30, kill_after=2, module="fakeclient"):
    runs = []
    for index, mode in enumerate(modes):
        name = "main_sglang_in8_out8_c%d" % (index + 1)
        base = str(fake["node"] / name)
        runs.append({"name": name, "args": ["--mode", mode, "--tokenizer", "/models/tok", "--output-file", base + ".jsonl"],
                     "output_file": base + ".jsonl", "log_file": base + ".log", "meta_file": base + ".meta.json",
                     "tokenizer": "/models/tok", "meta": {"run": name, "max_concurrency": index + 1, "status": "planned"}})
    plan = {"module": module, "timeout": timeout, "kill_after": kill_after, "archive": str(fake["node"] / "sweep.tar"), "runs": runs}
    env = dict(os.environ, PYTHONPATH=fake["lib"], FAKE_COUNTS=fake["counts"])
    with open(DRIVER, encoding="utf-8") as handle:
        source = handle.read()
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", source], input=json.dumps(plan), cwd=str(fake["node"]), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False, timeout=120)
    return proc, time.monotonic() - started


def _meta(fake, index):
    return json.loads((fake["node"] / ("main_sglang_in8_out8_c%d.meta.json" % index)).read_text(encoding="utf-8"))


def _lines(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read().splitlines()


def test_each_run_leaves_its_result_log_and_metadata(fake):
    proc, _took = _run(fake, ["ok", "fail", "nothing", "raise", "ok"])
    assert proc.returncode == 0, proc.stderr
    ok = _meta(fake, 1)
    assert ok["status"] == "ok" and ok["rc"] == 0 and ok["error"] is None
    assert ok["run"] == "main_sglang_in8_out8_c1" and ok["max_concurrency"] == 1  # the plan's fields are kept
    assert ok["start"] <= ok["end"] and len(ok["start"]) == len("2026-12-05 13:14:05.123456")
    result = json.loads((fake["node"] / "main_sglang_in8_out8_c1.jsonl").read_text(encoding="utf-8"))
    # The client ran as `python -m fakeclient` would run it.
    assert result["main"] == "__main__" and result["argv0"].endswith("fakeclient.py")
    # The console log is stdout, then stderr, as the per-run container's log was.
    assert _lines(str(fake["node"] / "main_sglang_in8_out8_c1.log")) == ["client starts, mode ok", "a warning on stderr"]

    failed = _meta(fake, 2)
    assert failed["status"] == "failed" and failed["rc"] == 3
    assert failed["error"] == ("exit code 3, no result line: a warning on stderr | Traceback: boom | "
                               "ValueError: the server said no")
    assert not (fake["node"] / "main_sglang_in8_out8_c2.jsonl").exists()

    nothing = _meta(fake, 3)
    assert nothing["status"] == "failed" and nothing["rc"] == 0
    assert nothing["error"] == "exit code 0, no result line: a warning on stderr"

    raised = _meta(fake, 4)
    assert raised["status"] == "failed" and raised["rc"] == 1
    assert raised["error"].startswith("exit code 1, no result line: ") and "RuntimeError: unhandled in the client" in raised["error"]
    assert _meta(fake, 5)["status"] == "ok"  # a failed run does not stop the sweep

    # One line per run on the driver's output, then the archive.
    lines = [line for line in proc.stdout.splitlines() if line.startswith("bench-driver: main_")]
    assert len(lines) == 5 and lines[0].startswith("bench-driver: main_sglang_in8_out8_c1: done, ")
    assert lines[1].startswith("bench-driver: main_sglang_in8_out8_c2: FAILED (exit code 3, no result line), ")
    with tarfile.open(str(fake["node"] / "sweep.tar")) as archive:
        names = sorted(archive.getnames())
        assert all(member.mode == 0o644 and member.uid == 0 for member in archive.getmembers())
    expected = ["main_sglang_in8_out8_c%d.%s" % (index, ext) for index in (1, 5) for ext in ("jsonl", "log", "meta.json")]
    expected += ["main_sglang_in8_out8_c%d.%s" % (index, ext) for index in (2, 3, 4) for ext in ("log", "meta.json")]
    assert names == sorted(expected)
    assert not list(fake["node"].glob("*.stderr")) and not list(fake["node"].glob("*.part"))


def test_the_client_and_the_tokenizer_are_loaded_once(fake):
    proc, _took = _run(fake, ["ok", "ok", "ok"])
    assert proc.returncode == 0, proc.stderr
    imports = _lines(fake["counts"] + ".imports")
    loads = _lines(fake["counts"] + ".loads")
    assert len(imports) == 1 and len(loads) == 1, (imports, loads)
    # Loaded by the driver before the forks: every run uses that tokenizer object.
    loader = int(loads[0].split()[1])
    for index in (1, 2, 3):
        result = json.loads((fake["node"] / ("main_sglang_in8_out8_c%d.jsonl" % index)).read_text(encoding="utf-8"))
        assert result["tokenizer_loaded_by"] == loader
    assert "bench-driver: imported fakeclient in " in proc.stdout
    assert "bench-driver: loaded the tokenizer /models/tok in " in proc.stdout
    # No runpy warning about a module imported before its execution.
    assert "RuntimeWarning" not in (fake["node"] / "main_sglang_in8_out8_c1.log").read_text(encoding="utf-8")


def test_a_run_past_its_timeout_is_killed_and_recorded(fake):
    proc, took = _run(fake, ["sleep", "ok"], timeout=1, kill_after=1)
    assert proc.returncode == 0, proc.stderr
    assert took < 30  # the client sleeps 60 s: killed, not waited for
    meta = _meta(fake, 1)
    assert meta["status"] == "failed" and meta["rc"] == 128 + 15
    assert meta["error"] == "timed out after 1 s, no result line: a warning on stderr"
    assert _meta(fake, 2)["status"] == "ok"


def test_a_client_that_cannot_be_imported_fails_each_run_with_its_message(fake):
    proc, _took = _run(fake, ["ok", "ok"], module="no_such_client")
    assert proc.returncode == 0, proc.stderr
    assert "bench-driver: cannot import no_such_client" in proc.stdout
    for index in (1, 2):
        meta = _meta(fake, index)
        assert meta["status"] == "failed" and meta["rc"] == 1
        assert "No module named no_such_client" in meta["error"]


def test_an_earlier_result_of_the_same_run_is_replaced(fake):
    (fake["node"] / "main_sglang_in8_out8_c1.jsonl").write_text('{"duration": 99}\n', encoding="utf-8")
    proc, _took = _run(fake, ["ok"])
    assert proc.returncode == 0, proc.stderr
    lines = _lines(str(fake["node"] / "main_sglang_in8_out8_c1.jsonl"))
    assert len(lines) == 1 and json.loads(lines[0])["duration"] == 1.5
