"""npu.sglang.logged_job on localhost: success, failure with the log tail, and a job that dies."""
import json
import os
import sys
import time

from simtest import ROOT, run, tool

PLAY = """
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Run the job
      npu.sglang.logged_job:
        label: probe
        log: "{log}"
        argv: ["sh", "-c", {cmd}]
        interval: 1
        timeout: {timeout}
      register: job
      ignore_errors: true
    - name: Keep the result
      ansible.builtin.copy:
        content: "{{{{ job | to_json }}}}"
        dest: "{result}"
        mode: "0644"
"""


def _job(tmp_path, cmd, timeout=60):
    log = str(tmp_path / "logs" / "probe.log")
    book = tmp_path / "play.yml"
    saved = tmp_path / "result.json"
    book.write_text(PLAY.format(log=log, cmd=json.dumps(cmd), timeout=timeout, result=saved))
    began = time.time()
    run([tool("ansible-playbook"), "-i", "localhost,", "-e",
         "ansible_python_interpreter=" + sys.executable, str(book)])
    took = time.time() - began
    result = json.loads(saved.read_text())
    return result, log, took


def test_success_keeps_the_log(tmp_path):
    result, log, _took = _job(tmp_path, "echo one; echo two")
    assert not result.get("failed"), result
    assert result["rc"] == 0 and result["changed"]
    with open(log) as fh:
        assert fh.read().split() == ["one", "two"]


def test_failure_shows_the_tail(tmp_path):
    result, log, _took = _job(tmp_path, "echo broken-step; exit 3")
    assert result["failed"] and result["rc"] == 3
    assert "broken-step" in result["msg"] and log in result["msg"]


def test_a_job_killed_without_exit_code_fails_at_once(tmp_path):
    # The job kills the wrapper that would record its exit code, as an OOM kill or a hangup would.
    result, log, took = _job(tmp_path, "echo about-to-die; kill -9 $PPID; sleep 20", timeout=600)
    assert result["failed"] and result["rc"] is None
    assert "without an exit code" in result["msg"], result["msg"]
    assert "about-to-die" in result["msg"]
    assert took < 120, "waited %.0fs for a dead job" % took
    assert os.path.exists(log + ".pid")


def test_repo_config_keeps_ssh_without_tty():
    with open(os.path.join(ROOT, "ansible.cfg")) as fh:
        assert "usetty = False" in fh.read()
