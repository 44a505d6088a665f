"""Issue 15, one place per fact: a launch flag, a stack profile and a benchmark metric are each
added by editing the files docs/architecture.md's "How to add" names, and nothing else.

Each test copies the collection into a temporary folder, makes only those edits there, and runs
the copy's own code in a fresh Python, where the copy is ansible_collections.npu.sglang. About 20 s
in all on 2 busy cores, most of it the stack profile's one ansible-playbook run of npu_stack.
"""
import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
COPIED = ("plugins", "roles", "playbooks", "docs", os.path.join("tests", "unit"), "galaxy.yml", "meta")


@pytest.fixture
def copy(tmp_path):
    """The collection's code and data in tmp_path/npu_sglang, importable from its own .collections."""
    dest = str(tmp_path / "npu_sglang")
    for name in COPIED:
        source = os.path.join(ROOT, name)
        if os.path.isdir(source):
            shutil.copytree(source, os.path.join(dest, name), ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, os.path.join(dest, name))
    namespace = os.path.join(dest, ".collections", "ansible_collections", "npu")
    os.makedirs(namespace)
    os.symlink(os.path.join("..", "..", ".."), os.path.join(namespace, "sglang"))
    return dest


def edit(copy, path, old, new):
    """Replace the one occurrence of old in the copy's file path."""
    full = os.path.join(copy, path)
    with open(full, encoding="utf-8") as handle:
        text = handle.read()
    assert text.count(old) == 1, "%s: %r found %d times" % (path, old, text.count(old))
    with open(full, "w", encoding="utf-8") as handle:
        handle.write(text.replace(old, new))


def run_in(copy, code):
    """Run code in a fresh Python with the copy first on the path; returns the JSON it prints last."""
    prelude = ("import os, sys\nsys.path[:0] = [%r, %r]\n"
               "from ansible_collections.npu.sglang.plugins.module_utils import launch\n"
               "assert os.path.realpath(launch.__file__).startswith(%r), launch.__file__\n"
               % (os.path.join(copy, ".collections"), os.path.join(copy, "tests", "unit"), os.path.realpath(copy)))
    proc = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], cwd=copy, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


VALIDATE = """
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template
from ansible_collections.npu.sglang.plugins.action.validate_inventory import validate_host

def validate(**variables):
    task_vars = {"inventory_hostname": "h1", "groups": {"all": ["h1"], "npu_nodes": ["h1"]}, "group_names": ["npu_nodes"],
                 "ansible_play_hosts_all": ["h1"], "sglang_service_model_path": "/data/models/Qwen3-8B"}
    for name, value in variables.items():
        task_vars[name] = trust_as_template(value) if isinstance(value, str) else value
    problems, values = validate_host("h1", task_vars, Templar(loader=DataLoader(), variables={}))
    return [p.render("h1") for p in problems], values
"""


# --------------------------------------------------------------------------- a launch flag

def add_launch_flag(copy):
    """--enable-cache-report (a switch of sglang 0.4.9's and 0.5.12.post1's launch parser, in both
    contract files): one row in the table, its option and instance key in the role's spec."""
    edit(copy, "plugins/module_utils/launch.py", '    ("enable_metrics", "--enable-metrics", "switch", "bool"),\n',
         '    ("enable_metrics", "--enable-metrics", "switch", "bool"),\n'
         '    ("enable_cache_report", "--enable-cache-report", "switch", "bool"),\n')
    spec = "roles/sglang_service/meta/argument_specs.yml"
    edit(copy, spec, "          enable_metrics:\n            type: bool\n",
         "          enable_cache_report:\n            type: bool\n"
         "            description: This server's C(sglang_service_enable_cache_report).\n"
         "          enable_metrics:\n            type: bool\n")
    edit(copy, spec, "      sglang_service_enable_metrics:\n",
         "      sglang_service_enable_cache_report:\n        type: bool\n"
         "        description: Pass C(--enable-cache-report).\n"
         "      sglang_service_enable_metrics:\n")


def test_a_launch_flag_is_a_row_and_an_option(copy):
    add_launch_flag(copy)
    got = run_in(copy, VALIDATE + """
import json
from ansible_collections.npu.sglang.plugins.module_utils.instances import resolve, variable_names
from variables_doc import render

def argv(**variables):
    problems, values = validate(**variables)
    names = variable_names()
    servers, _keys = resolve(values["sglang_service_instances"], dict((n, values.get(n)) for n in names), "h1",
                             {"all": ["h1"]}, {"privileged": True, "devices": [], "env": {}}, {})
    return problems, dict((s["name"], s["argv"]) for s in servers), names

on = argv(sglang_service_enable_cache_report=True)
off = argv()
per_server = argv(sglang_service_enable_cache_report=True,
                  sglang_service_instances=[{"name": "a", "devices": [0, 1, 2, 3], "port": 30000},
                                            {"name": "b", "devices": [4, 5, 6, 7], "port": 30001, "enable_cache_report": False}])
bad = validate(sglang_service_enable_cache_report="maybe")[0]
bad_entry = validate(sglang_service_instances=[{"name": "main", "enable_cache_report": "maybe"}])[0]
print(json.dumps({"on": on, "off": off, "per_server": per_server, "bad": bad, "bad_entry": bad_entry,
                  "doc": [line for line in render().splitlines() if "enable_cache_report" in line]}))
""")
    problems, servers, names = got["on"]
    assert problems == []
    assert "sglang_service_enable_cache_report" in names
    assert "--enable-cache-report" in servers["main"] and servers["main"].index("--enable-cache-report") > servers["main"].index("--port")
    assert got["off"][0] == [] and "--enable-cache-report" not in got["off"][1]["main"]
    problems, servers, _names = got["per_server"]
    assert problems == [] and "--enable-cache-report" in servers["a"] and "--enable-cache-report" not in servers["b"]
    assert len(got["bad"]) == 1 and got["bad"][0].startswith("host h1: sglang_service_enable_cache_report = 'maybe': "), got["bad"]
    assert any("enable_cache_report" in line for line in got["bad_entry"]), got["bad_entry"]
    assert got["doc"] == ["| `sglang_service_enable_cache_report` | bool |  | true or false |"]


def add_value_flag(copy):
    """--max-running-requests (an int option of sglang 0.4.9's and 0.5.12.post1's launch parser, in
    both contract files) with a collection default of 64: one row naming its kind of value, its
    option with the default and its instance key in the role's spec. No defaults/main.yml, no
    hand-written validation row."""
    edit(copy, "plugins/module_utils/launch.py", '    ("enable_metrics", "--enable-metrics", "switch", "bool"),\n',
         '    ("enable_metrics", "--enable-metrics", "switch", "bool"),\n'
         '    ("max_running_requests", "--max-running-requests", "value", "int>=1"),\n')
    spec = "roles/sglang_service/meta/argument_specs.yml"
    edit(copy, spec, "          enable_metrics:\n            type: bool\n",
         "          max_running_requests:\n            type: int\n"
         "            description: This server's C(sglang_service_max_running_requests).\n"
         "          enable_metrics:\n            type: bool\n")
    edit(copy, spec, "      sglang_service_enable_metrics:\n",
         "      sglang_service_max_running_requests:\n        type: int\n        default: 64\n"
         "        description: C(--max-running-requests).\n"
         "      sglang_service_enable_metrics:\n")


def test_a_defaulted_value_flag_is_a_row_and_an_option(copy):
    add_value_flag(copy)
    got = run_in(copy, VALIDATE + """
import json
from ansible_collections.npu.sglang.plugins.action.resolve_instances import setting_values
from ansible_collections.npu.sglang.plugins.module_utils.instances import resolve
from variables_doc import render

def argv(entries, **variables):
    # What the role's resolver action reads: the host's variables (here the computed defaults of
    # defaults/main.yml as Ansible templates them, and the model), else the spec's defaults.
    task_vars = {"sglang_service_devices": list(range(8)), "sglang_service_tp": 8,
                 "sglang_service_model_path": "/data/models/Qwen3-8B"}
    task_vars.update(variables)
    values = setting_values(task_vars, lambda value: value)
    servers, _keys = resolve(entries, values, "h1", {"all": ["h1"]}, {"privileged": True, "devices": [], "env": {}}, {})
    return dict((s["name"], s["argv"]) for s in servers)

print(json.dumps({
    "default": argv([{"name": "main"}]),
    "set": argv([{"name": "main"}], sglang_service_max_running_requests=8),
    "entry": argv([{"name": "a", "devices": [0, 1, 2, 3], "port": 30000},
                   {"name": "b", "devices": [4, 5, 6, 7], "port": 30001, "max_running_requests": 16}]),
    "valid": validate()[0], "valid_set": validate(sglang_service_max_running_requests=8)[0],
    "bad": validate(sglang_service_max_running_requests=0)[0],
    "bad_entry": validate(sglang_service_instances=[{"name": "main", "max_running_requests": -3}])[0],
    "doc": [line for line in render().splitlines() if "max_running_requests" in line]}))
""")

    def value(argv):
        return argv[argv.index("--max-running-requests") + 1]
    assert value(got["default"]["main"]) == "64"
    assert value(got["set"]["main"]) == "8"
    assert value(got["entry"]["a"]) == "64" and value(got["entry"]["b"]) == "16"
    assert got["valid"] == [] and got["valid_set"] == []
    assert got["bad"] == ["host h1: sglang_service_max_running_requests = 0: must be at least 1. "
                          "Fix: set it to a whole number >= 1"], got["bad"]
    assert len(got["bad_entry"]) == 1 and got["bad_entry"][0].startswith(
        "host h1: sglang_service_instances[0].max_running_requests = -3: server main: must be at least 1"), got["bad_entry"]
    assert got["doc"] == ["| `sglang_service_max_running_requests` | int | `64` | whole number >= 1 |"]


# --------------------------------------------------------------------------- a stack profile

def test_a_stack_profile_is_one_file(copy):
    """A copy of seed.yml under a new name (its name: key left as it was) is the profile 'mine'."""
    stacks = os.path.join(copy, "roles", "npu_stack", "vars", "stacks")
    shutil.copy2(os.path.join(stacks, "seed.yml"), os.path.join(stacks, "mine.yml"))
    got = run_in(copy, VALIDATE + """
import json
print(json.dumps({"mine": validate(npu_stack_profile="mine")[0], "nope": validate(npu_stack_profile="nope")[0]}))
""")
    assert got["mine"] == []
    assert len(got["nope"]) == 1 and "npu_stack_profile = 'nope'" in got["nope"][0] and "mine" in got["nope"][0], got["nope"]
    # The role, run from the copy: the resolved stack (the image tag's first part is its name).
    playbook = os.path.join(copy, "stack.yml")
    with open(playbook, "w", encoding="utf-8") as handle:
        handle.write(textwrap.dedent("""\
            - hosts: localhost
              gather_facts: false
              roles:
                - npu.sglang.npu_stack
              tasks:
                - ansible.builtin.copy:
                    content: "{{ npu_stack_resolved | to_json }}"
                    dest: "{{ playbook_dir }}/resolved.json"
                    mode: "0644"
            """))
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith("ANSIBLE_"))
    env.update(ANSIBLE_COLLECTIONS_PATH=os.path.join(copy, ".collections"), ANSIBLE_LOCAL_TEMP=os.path.join(copy, ".tmp"),
               ANSIBLE_HOME=os.path.join(copy, ".ansible"))
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           "-e", "npu_stack_profile=mine", "-e", "ansible_python_interpreter=%s" % sys.executable, playbook],
                          cwd=copy, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:]
    with open(os.path.join(copy, "resolved.json"), encoding="utf-8") as handle:
        resolved = json.load(handle)
    assert resolved["name"] == "mine"


# --------------------------------------------------------------------------- a benchmark metric

def test_a_metric_is_one_row(copy):
    """A latency the clients print (the cookbook samples' "Median E2E Latency (ms)") and a rate,
    each a row: the record, results.csv, summary.json, both reports, a plot, an SLA limit and a
    column of the SGLang vs vLLM tables."""
    edit(copy, "plugins/module_utils/bench_metrics.py", "LATENCY_STATS = (",
         'LATENCIES += (Metric("queue", "ms", LOWER, "Queue time", ("queue_time",), ("queue time",), False,\n'
         '                      "Queue", "Time in the queue", ("median",), ("p99",), ("own",),\n'
         '                      (("latency", 6, "p99", "P99 queue", False),)),)\n'
         'RATES += (Metric("goodput", "req/s", HIGHER, "Goodput", ("request_goodput",), ("request goodput (req/s)",), False,\n'
         '                 "Goodput", "Request goodput", True, "min", (), (("throughput", 3, None, "goodput", True),)),)\n'
         "LATENCY_STATS = (")
    got = run_in(copy, """
import csv, io, json
from ansible_collections.npu.sglang.plugins.module_utils.bench_analysis import build_summary, records_from_summary
from ansible_collections.npu.sglang.plugins.module_utils.bench_report_render import render_files
from ansible_collections.npu.sglang.plugins.module_utils.bench_results import collect_inputs
from ansible_collections.npu.sglang.plugins.module_utils import config_rules

folder = os.path.join(os.getcwd(), "raw", "n1")
os.makedirs(folder)
line = {"backend": "sglang", "max_concurrency": 4, "num_prompts": 8, "completed": 8, "duration": 2.0,
        "request_throughput": 4.0, "output_throughput": 400.0, "request_goodput": 3.5,
        "mean_queue_time_ms": 7.0, "median_queue_time_ms": 6.5, "p99_queue_time_ms": 9.25,
        "mean_ttft_ms": 20.0, "p99_ttft_ms": 30.0, "mean_tpot_ms": 5.0, "p99_tpot_ms": 6.0}
with open(os.path.join(folder, "run.jsonl"), "w") as handle:
    handle.write(json.dumps(line) + "\\n")
summary = build_summary(collect_inputs(os.path.join(os.getcwd(), "raw")), "T", 2000.0, 100.0, "p99",
                        limits={"queue_p99_ms": 5, "min_goodput": 4})
files = render_files(summary, with_plots=False)
from ansible_collections.npu.sglang.plugins.module_utils.bench_report_plots import latency_plots
files.update((name, data) for name, data, _caption in latency_plots(records_from_summary(summary)))
rows = list(csv.DictReader(io.StringIO(files["results.csv"].decode())))
# The SGLang vs vLLM comparison of the saved two-engine run of the fixtures.
both = build_summary(collect_inputs(os.path.join(os.getcwd(), "tests", "unit", "fixtures", "bench", "cluster")), "T", 2000.0, 100.0)
compared = render_files(both, with_plots=False)
pair = both["comparison"]["rows"][0]["metrics"]
print(json.dumps({"csv": [rows[0].get("queue_median_ms"), rows[0].get("queue_p99_ms"), rows[0].get("goodput")],
                  "summary": [records_from_summary(json.loads(files["summary.json"].decode()))[0].get(key)
                              for key in ("queue_median_ms", "queue_p99_ms", "goodput")], "md": files["report.md"].decode(),
                  "html": files["report.html"].decode(), "plots": sorted(n for n in files if n.endswith(".png")),
                  "findings": [(f["limit"], f["kind"]) for f in summary["limits"]["findings"]],
                  "rule": config_rules.check_sla({"queue_p99_ms": 1, "min_goodput": 2}),
                  "compare_md": [line for line in compared["report.md"].decode().splitlines() if line.startswith("| Host | Workload | Conc. | SGLang")],
                  "compare_html": compared["report.html"].decode(), "pair": [sorted(pair["goodput"]), sorted(pair["queue_p99_ms"])]}))
""")
    assert got["csv"] == ["6.5", "9.25", "3.5"]
    assert got["summary"] == [6.5, 9.25, 3.5]
    for text in (got["md"], got["html"]):
        assert "Median Queue ms" in text and "Goodput" in text and "6.50" in text and "3.50" in text
    assert "queue.png" in got["plots"]
    assert sorted(got["findings"]) == [["min_goodput", "violation"], ["queue_p99_ms", "violation"]]
    assert got["rule"] is None
    # The comparison tables: goodput after req/s (its place 3), the queue's P99 ratio after ITL's.
    throughput = "| Host | Workload | Conc. | SGLang out tok/s | vLLM out tok/s | Ratio | SGLang req/s | vLLM req/s | Ratio | " \
                 "SGLang goodput | vLLM goodput | Ratio |"
    assert got["compare_md"][:2] == [throughput, throughput], got["compare_md"]
    assert got["compare_md"][2].endswith("| P99 ITL ratio | P99 queue ratio |"), got["compare_md"]
    assert "SGLang goodput" in got["compare_html"] and "P99 queue ratio" in got["compare_html"]
    assert got["pair"] == [["ratio", "sglang", "sglang_state", "vllm", "vllm_state"]] * 2
