"""site.yml and benchmark.yml through ansible_runner.run, the way AWX runs a job template.

Each job gets a private data dir laid out as AWX lays it out: project/ (a copy of the checkout, as
a project sync leaves it), inventory/hosts (an executable that prints the inventory as JSON, made
from what `ansible-inventory --list --export` reads from the inventory source, as an AWX inventory
sync stores it), env/extravars (the template's extra variables and survey answers, typed as AWX
types them), env/envvars (the collection and role paths AWX computes from the project's
ansible.cfg, the ssh control path), env/ssh_key (the machine credential: the key goes to an
ssh-agent, not to the inventory). The job events must hold no failed and no unreachable task, and
the benchmark job must leave its report.

The cluster: the shared simulated cluster of the session (conftest.py), deployed from nothing
by the e2e test before this file runs; the deploy job finds the image built and in place.
"""
import configparser
import csv
import json
import os
import shutil
import subprocess

import ansible_runner
import pytest

from simtest import BIN, IMAGE_CACHE, ROOT, tool, tool_env

pytestmark = [pytest.mark.sim, pytest.mark.slow]

RUN_ID = "awx-4242"
# Survey answers and template extra variables, with the types AWX gives them (a multiselect answer
# is a list of strings, an integer answer an int).
SURVEY = {
    "npu_sglang_target": "npu_nodes",
    "npu_stack_profile": "seed",
    "sglang_service_model_path": "/data/models/sim-model",
    "sglang_service_port": 30000,
    "sglang_bench_concurrency": ["1", "2"],
    "sglang_bench_input_len": 32,
    "sglang_bench_output_len": 8,
    "sglang_bench_num_prompts": 4,
}


@pytest.fixture(scope="module")
def cluster(shared_cluster, shared_deploy):
    assert shared_deploy["first_rc"] == 0, "the shared cluster's deploy failed (see test_sim_e2e.py)"
    return shared_cluster


def _copy_project(dest):
    """The checkout as a project sync leaves it: the files git tracks or would track, links kept."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, check=True, text=True,
                           stdout=subprocess.PIPE).stdout.splitlines()
    for rel in files:
        src, dst = os.path.join(ROOT, rel), os.path.join(dest, rel)
        if not os.path.lexists(src):
            continue
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if os.path.islink(src):
            os.symlink(os.readlink(src), dst)
        elif os.path.isfile(src):
            shutil.copy2(src, dst)


def _awx_inventory(hosts_file, workdir):
    """What an AWX inventory sync of the sim inventory stores, and the credential it needs."""
    source = os.path.join(workdir, "inventory-source")
    os.makedirs(source)
    shutil.copy2(hosts_file, os.path.join(source, "hosts.yml"))
    shutil.copytree(os.path.join(ROOT, "inventories", "sim", "group_vars"), os.path.join(source, "group_vars"))
    # stdout alone, as AWX stores it: the tools may warn on stderr (cryptography 51 warns at
    # ansible-core's import of its SSH agent code).
    proc = subprocess.run([tool("ansible-inventory"), "-i", source, "--list", "--export"], cwd=ROOT, env=tool_env(None),
                          text=True, capture_output=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(proc.stdout)
    # The key is the machine credential's, not a variable of the inventory.
    key_file = None
    for scope in [data.get("all", {}).get("vars", {})] + list(data.get("_meta", {}).get("hostvars", {}).values()):
        key_file = scope.pop("ansible_ssh_private_key_file", key_file)
    assert key_file, "the sim inventory names no ssh key"
    with open(key_file, encoding="utf-8") as handle:
        return data, handle.read()


def _awx_envvars(project, private_data_dir):
    """As AWX's RunJob.build_env: the project's ansible.cfg paths after the job's requirements dirs."""
    config = {}
    parser = configparser.ConfigParser()
    parser.read(os.path.join(project, "ansible.cfg"))
    if parser.has_section("defaults"):
        config = dict(parser["defaults"])
    env = {"ANSIBLE_CONFIG": os.path.join(project, "ansible.cfg"), "ANSIBLE_HOST_KEY_CHECKING": "False",
           "ANSIBLE_RETRY_FILES_ENABLED": "False", "ANSIBLE_SSH_CONTROL_PATH_DIR": os.path.join(private_data_dir, "cp"),
           "ANSIBLE_FORCE_COLOR": "False",
           # The EE's tools are on its PATH; here they are this venv's.
           "PATH": BIN + os.pathsep + os.environ.get("PATH", "")}
    for key, setting, folder, default in (
            ("ANSIBLE_COLLECTIONS_PATH", "collections_path", "requirements_collections",
             "~/.ansible/collections:/usr/share/ansible/collections"),
            ("ANSIBLE_ROLES_PATH", "roles_path", "requirements_roles",
             "~/.ansible/roles:/usr/share/ansible/roles:/etc/ansible/roles")):
        paths = default.split(":")
        if setting in config:
            paths = [config[setting]] + paths
        env[key] = ":".join([os.path.join(private_data_dir, folder)] + paths)
    return env


def run_job(workdir, name, playbook, extravars, hosts_file):
    """One AWX-style job through ansible_runner.run; returns (runner, events)."""
    private_data_dir = os.path.join(workdir, name)
    project = os.path.join(private_data_dir, "project")
    _copy_project(project)
    inventory, key = _awx_inventory(hosts_file, os.path.join(workdir, name + "-sync"))
    os.makedirs(os.path.join(private_data_dir, "inventory"))
    script = os.path.join(private_data_dir, "inventory", "hosts")
    with open(script, "w", encoding="utf-8") as handle:
        handle.write("#! /usr/bin/env python3\nprint(%r)\n" % json.dumps(inventory))
    os.chmod(script, 0o700)
    os.makedirs(os.path.join(private_data_dir, "env"))
    os.makedirs(os.path.join(private_data_dir, "cp"), mode=0o700)
    for filename, content in (("extravars", json.dumps(extravars)),
                              ("envvars", json.dumps(_awx_envvars(project, private_data_dir))),
                              ("ssh_key", key)):
        with open(os.path.join(private_data_dir, "env", filename), "w", encoding="utf-8") as handle:
            handle.write(content)
    os.chmod(os.path.join(private_data_dir, "env", "ssh_key"), 0o600)
    events = []
    runner = ansible_runner.run(private_data_dir=private_data_dir, playbook=playbook, ident=name, quiet=True,
                                event_handler=lambda event: events.append(event) or True)
    return runner, events


def _problems(events):
    bad = []
    for event in events:
        data = event.get("event_data") or {}
        if event["event"] == "runner_on_unreachable" or (event["event"] == "runner_on_failed"
                                                         and not data.get("ignore_errors")):
            res = data.get("res") or {}
            bad.append("%s %s [%s]: %s" % (event["event"], data.get("host"), data.get("task"),
                                           str(res.get("msg") or res.get("stderr") or "")[:400]))
    return bad


def _stdout(runner):
    with open(os.path.join(runner.config.artifact_dir, "stdout"), encoding="utf-8") as handle:
        return handle.read()[-8000:]


@pytest.fixture(scope="module")
def jobs(cluster, tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("awx-jobs"))
    reports = os.path.join(workdir, "reports")
    deploy = run_job(workdir, "deploy", "playbooks/site.yml",
                     dict(SURVEY, sglang_build_cache_dir=IMAGE_CACHE), cluster["inventory"])
    bench = None
    if deploy[0].status == "successful":
        bench = run_job(workdir, "benchmark", "playbooks/benchmark.yml",
                        dict(SURVEY, sglang_bench_report_dir=reports, sglang_bench_run_id=RUN_ID,
                             # No run through the router here, for CI time: test_secrets.py covers it.
                             sglang_bench_fleet_concurrency=[], sglang_bench_router_policies=[]),
                        cluster["inventory"])
    return {"deploy": deploy, "benchmark": bench, "reports": reports, "nodes": cluster["nodes"]}


def test_site_runs_as_an_awx_job(jobs):
    runner, events = jobs["deploy"]
    assert not _problems(events), "\n".join(_problems(events)) + "\n" + _stdout(runner)
    assert runner.status == "successful" and runner.rc == 0, _stdout(runner)
    hosts = {e["event_data"].get("host") for e in events if e["event"] == "runner_on_ok"}
    assert set(jobs["nodes"]) <= hosts, hosts
    assert not runner.stats["failures"] and not runner.stats["dark"], runner.stats


def test_benchmark_runs_as_an_awx_job_and_leaves_its_report(jobs):
    assert jobs["benchmark"], "the deploy job failed, so the benchmark job did not run"
    runner, events = jobs["benchmark"]
    assert not _problems(events), "\n".join(_problems(events)) + "\n" + _stdout(runner)
    assert runner.status == "successful" and runner.rc == 0, _stdout(runner)
    report = os.path.join(jobs["reports"], RUN_ID, "report")
    for name in ("report.html", "report.md", "summary.json", "results.csv"):
        assert os.path.isfile(os.path.join(report, name)), name
    # Every node ran both concurrencies of the survey, and each run completed.
    with open(os.path.join(report, "results.csv"), encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for node in jobs["nodes"]:
        runs = [r for r in rows if r["host"] == node and r["engine"] == "sglang"]
        assert sorted(r["max_concurrency"] for r in runs) == ["1", "2"], rows
        assert all(r["status"] == "ok" and r["completed"] == r["num_prompts"] for r in runs), runs
