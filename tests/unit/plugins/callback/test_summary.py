"""npu.sglang.summary: the run's answer printed after the recap, the report's path last."""
import json
import os
import re
import subprocess
import sys

from ansible_collections.npu.sglang.plugins.callback import summary

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.set_stats:
        data: {npu_sglang_image: "npu-sglang:abc", npu_sglang_builds: %(builds)d, npu_sglang_build_seconds: %(seconds)d}
        aggregate: false
    - ansible.builtin.set_stats:
        data: {npu_sglang_served: ["node1/main", "node2/main"]}
    - ansible.builtin.set_stats:
        data:
          npu_sglang_report: {path: /r/report.html, runs: 10, hosts: 2, requests: 320, simulated: false,
                              best: {host: node2, output_throughput: 1834.25, max_concurrency: 64},
                              knees: ["node1 sglang random in 1024 / out 64 c=32"]}
        aggregate: false
      when: %(report)s
"""


def _play(tmp_path, name, builds, report, summary_file):
    path = tmp_path / (name + ".yml")
    path.write_text(PLAYBOOK % {"builds": builds, "seconds": 754 * builds, "report": report}, encoding="utf-8")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               NPU_SGLANG_SUMMARY_FILE=summary_file, ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"))
    bindir = os.path.dirname(sys.executable)
    proc = subprocess.run([os.path.join(bindir, "ansible-playbook"), "-i", "localhost,", str(path)], cwd=ROOT,
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    assert proc.returncode == 0, proc.stdout
    return [line for line in proc.stdout.splitlines() if line.strip()]


def test_a_sequence_of_runs_ends_with_one_summary_and_the_report_path(tmp_path):
    collected = str(tmp_path / "summary.jsonl")
    first = _play(tmp_path, "site", 1, "false", collected)
    assert first[-3:] == ["npu.sglang: image npu-sglang:abc built (1 build, 12m 34s)",
                          "npu.sglang: 2 servers passed the health gate on 2 nodes",
                          first[-1]]
    assert re.match(r"^npu\.sglang: \d+s in all$", first[-1]), first[-1]
    # The summary comes after the play recap.
    assert first.index(next(line for line in first if line.startswith("PLAY RECAP"))) < len(first) - 3
    last = _play(tmp_path, "bench", 0, "true", collected)
    assert last[-6:-2] == [
        "npu.sglang: image npu-sglang:abc built (1 build, 12m 34s)",
        "npu.sglang: 2 servers passed the health gate on 2 nodes",
        "npu.sglang: 320 requests in 10 benchmark runs on 2 hosts; best output throughput 1834.2 tok/s "
        "(node2, concurrency 64)",
        "npu.sglang: knee within the SLA: node1 sglang random in 1024 / out 64 c=32"]
    assert re.match(r"^npu\.sglang: \d+s in all \(2 playbook runs\)$", last[-2]), last[-2]
    assert last[-1] == "npu.sglang: report: /r/report.html"
    with open(collected, encoding="utf-8") as handle:
        entries = [json.loads(line) for line in handle]
    assert [entry["builds"] for entry in entries] == [1, 0]


def test_a_run_that_sets_no_stats_prints_nothing():
    assert summary.lines(summary.combine([summary.figures({}, 3)])) == []


def test_a_found_image_says_no_build():
    total = summary.combine([summary.figures({"npu_sglang_image": "npu-sglang:abc", "npu_sglang_builds": 0}, 3725)])
    assert summary.lines(total) == ["image npu-sglang:abc found, no build", "1h 02m in all"]


def test_the_router_is_named_with_its_worker_count():
    entry = summary.figures({"npu_sglang_served": ["n1/main", "n2/main"],
                             "npu_sglang_router": {"url": "http://10.0.0.1:30080", "workers": 2}}, 5)
    out = summary.lines(summary.combine([entry]))
    assert out[:2] == ["2 servers passed the health gate on 2 nodes", "router: http://10.0.0.1:30080 (2 workers)"]
    alone = summary.lines(summary.combine([summary.figures({"npu_sglang_router": {"url": "http://h:1", "workers": 1}}, 1)]))
    assert alone[0] == "router: http://h:1 (1 worker)"
    assert not any("router" in line for line in summary.lines(summary.combine([summary.figures({"npu_sglang_served": ["a/b"]}, 1)])))


def test_the_fleet_through_the_router_gets_one_line_after_the_per_node_figures():
    report = {"path": "/r/report.html", "runs": 4, "hosts": 2, "requests": 100,
              "best": {"host": "n1", "output_throughput": 900.0, "max_concurrency": 16},
              "fleet": {"output_throughput": 1650.55, "max_concurrency": 32, "workers": 2, "policy": "cache_aware"}}
    out = summary.lines(summary.combine([summary.figures({"npu_sglang_report": report}, 5)]))
    assert out[1] == "fleet through the router: 1650.5 tok/s at concurrency 32 (2 servers, policy cache_aware)"
    assert out[-1] == "report: /r/report.html"
    report["fleet"] = None
    assert not any("fleet" in line for line in summary.lines(summary.combine([summary.figures({"npu_sglang_report": report}, 5)])))
