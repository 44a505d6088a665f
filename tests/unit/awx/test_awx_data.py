"""The AWX objects of awx/ (infra.aap_configuration data format) and playbooks/awx_configure.yml."""
import json
import os
import re
import subprocess
import sys

import ansible
import jinja2
import jinja2.meta
import pytest
import yaml

from awxdata import ROOT, Unsafe, awx_data, awx_offered_playbooks, load_yaml

DATA = awx_data()
CONFIGURE = os.path.join(ROOT, "playbooks", "awx_configure.yml")
AWX_COLLECTION = os.path.join(os.path.dirname(os.path.dirname(ansible.__file__)), "ansible_collections", "awx", "awx")
# What the issue asks templates for (deploy ... teardown), plus the report step of the workflow.
REQUIRED_PLAYBOOKS = ["playbooks/%s.yml" % name for name in (
    "site", "preflight", "benchmark", "compare", "profile", "accuracy", "doctor", "rolling_restart",
    "upgrade", "teardown", "report", "router")]
# Credential types AWX has built in; others must be defined in controller_credential_types.
BUILTIN_CREDENTIAL_TYPES = {"Machine", "Vault", "Source Control"}
# Variables AWX itself gives a running job, and inputs of the credential types' injectors.
RUNTIME_VARIABLES = {"awx_job_id", "awx_workflow_job_id", "api_key"}
SECRET_INPUTS = {"ssh_key_data", "ssh_key_unlock", "password", "become_password", "vault_password", "api_key"}


def names(kind):
    return [item["name"] for item in DATA[kind]]


def test_every_template_names_a_playbook_that_awx_offers():
    offered = awx_offered_playbooks()
    missing = [t["playbook"] for t in DATA["controller_templates"] if not os.path.isfile(os.path.join(ROOT, t["playbook"]))]
    assert not missing, "job templates name playbooks that do not exist: %s" % missing
    # AWX accepts a template only for a playbook of the project's scan (Project.playbook_files).
    hidden = [t["playbook"] for t in DATA["controller_templates"] if t["playbook"] not in offered]
    assert not hidden, "AWX does not offer these playbooks, so it refuses their templates: %s" % hidden


def test_every_playbook_of_the_issue_has_a_template():
    have = {t["playbook"] for t in DATA["controller_templates"]}
    assert set(REQUIRED_PLAYBOOKS) <= have, sorted(set(REQUIRED_PLAYBOOKS) - have)
    assert len(names("controller_templates")) == len(set(names("controller_templates")))


def test_references_resolve():
    projects, inventories = set(names("controller_projects")), set(names("controller_inventories"))
    environments, credentials = set(names("controller_execution_environments")), set(names("controller_credentials"))
    types = set(names("controller_credential_types")) | BUILTIN_CREDENTIAL_TYPES
    for project in DATA["controller_projects"]:
        assert project["default_environment"] in environments
    for source in DATA["controller_inventory_sources"]:
        assert source["inventory"] in inventories and source["source_project"] in projects
        assert source["execution_environment"] in environments
    for credential in DATA["controller_credentials"]:
        assert credential["credential_type"] in types, credential["name"]
    for template in DATA["controller_templates"]:
        assert template["project"] in projects and template["inventory"] in inventories, template["name"]
        assert template["execution_environment"] in environments, template["name"]
        assert set(template["credentials"]) <= credentials, template["name"]
    templates = set(names("controller_templates"))
    for workflow in DATA["controller_workflows"]:
        identifiers = [node["identifier"] for node in workflow["workflow_nodes"]]
        assert len(identifiers) == len(set(identifiers))
        for node in workflow["workflow_nodes"]:
            assert node["unified_job_template"]["type"] == "job_template"
            assert node["unified_job_template"]["name"] in templates
            for edges in (node.get("related") or {}).values():
                assert {edge["identifier"] for edge in edges} <= set(identifiers)


def test_the_workflow_is_deploy_benchmark_report():
    playbook = {t["name"]: t["playbook"] for t in DATA["controller_templates"]}
    (workflow,) = DATA["controller_workflows"]
    nodes = {n["identifier"]: n for n in workflow["workflow_nodes"]}
    edges = set()
    for identifier, node in nodes.items():
        for kind, targets in (node.get("related") or {}).items():
            for target in targets:
                edges.add((playbook[node["unified_job_template"]["name"]], kind,
                           playbook[nodes[target["identifier"]]["unified_job_template"]["name"]]))
        del identifier
    assert edges == {("playbooks/site.yml", "success_nodes", "playbooks/benchmark.yml"),
                     ("playbooks/benchmark.yml", "always_nodes", "playbooks/report.yml")}


def test_the_benchmark_and_the_report_meet_in_one_run_directory():
    """The benchmark names its run after the workflow job; the report reads that run's raw/."""
    by_playbook = {t["playbook"]: t for t in DATA["controller_templates"]}
    bench = by_playbook["playbooks/benchmark.yml"]["extra_vars"]
    report = by_playbook["playbooks/report.yml"]["extra_vars"]
    run_id = "awx-{{ awx_workflow_job_id | default(awx_job_id) }}"
    assert isinstance(bench["sglang_bench_run_id"], Unsafe) and bench["sglang_bench_run_id"] == run_id
    assert bench["sglang_bench_report_dir"] == "{{ npu_sglang_awx_reports_dir }}"
    raw = "{%% raw %%}%s{%% endraw %%}" % run_id[len("awx-"):]
    assert report["report_input_dir"] == "{{ npu_sglang_awx_reports_dir }}/awx-%s/raw" % raw
    assert report["report_output_dir"] == "{{ npu_sglang_awx_reports_dir }}/awx-%s/report" % raw


def _strings(value, path=""):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, "%s.%s" % (path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, "%s[%d]" % (path, index))
    elif isinstance(value, str):
        yield path, value


def test_templates_are_split_between_configure_time_and_job_time():
    env = jinja2.Environment(autoescape=False)  # nosec B701 - only parsed, never rendered to HTML
    known = {k for k in DATA if k.startswith("npu_sglang_awx_")} | {"lookup", "playbook_dir"}
    for path, text in _strings({k: v for k, v in DATA.items() if k.startswith("controller_")}):
        if "{{" not in text and "{%" not in text:
            assert not isinstance(text, Unsafe), "%s: !unsafe on a plain string" % path
            continue
        found = jinja2.meta.find_undeclared_variables(env.parse(text))
        if isinstance(text, Unsafe):
            assert found <= RUNTIME_VARIABLES, "%s: a job-time template reads %s" % (path, found - RUNTIME_VARIABLES)
        else:
            assert found <= known, "%s is templated by awx_configure.yml but reads %s (mark job-time templates " \
                "!unsafe)" % (path, found - known)


def test_no_secret_is_stored():
    for credential in DATA["controller_credentials"]:
        assert credential.get("update_secrets") is False, "%s: AWX must keep the secrets set there" % credential["name"]
        for key, value in (credential.get("inputs") or {}).items():
            if key in SECRET_INPUTS:
                assert isinstance(value, str) and re.search(r"\{\{.*npu_sglang_awx_\w+.*\}\}", value), (
                    "%s.%s must come from the environment, not from the repository" % (credential["name"], key))
    for variable in ("npu_sglang_awx_ssh_key_file", "npu_sglang_awx_vault_password", "npu_sglang_awx_api_key"):
        assert re.fullmatch(r"\{\{ lookup\('ansible\.builtin\.env', 'NPU_SGLANG_AWX_\w+'\) \}\}", DATA[variable]), variable
    for template in DATA["controller_templates"] + DATA["controller_workflows"]:
        for question in (template.get("survey_spec") or {}).get("spec", []):
            assert not (question["type"] == "password" and question.get("default")), question["variable"]


# --- playbooks/awx_configure.yml ---------------------------------------------------------------

def _module_options(module):
    name = module.split(".")[-1]
    with open(os.path.join(AWX_COLLECTION, "plugins", "modules", name + ".py"), encoding="utf-8") as handle:
        source = handle.read()
    doc = yaml.safe_load(re.search(r"DOCUMENTATION = r?'''(.*?)'''", source, re.S).group(1))
    options = set(doc["options"])
    for option in doc["options"].values():
        options |= set(option.get("aliases") or [])
    return options


def _configure_tasks():
    (play,) = load_yaml(CONFIGURE)
    for task in play["tasks"]:
        module = [k for k in task if k.startswith("awx.awx.")]
        if module:
            yield task, module[0], task[module[0]]


# Tasks that act on an object rather than apply it: they take the keys they name.
NOT_APPLYING = {"awx.awx.inventory_source_update"}


def test_awx_configure_passes_every_key_of_the_data():
    """Every object of awx/ goes to its module whole (the task's args are the loop item, perhaps
    over defaults of ours), and every key of it is an option of that module."""
    applied = {}
    for task, module, args in _configure_tasks():
        source = re.search(r"\b(controller_\w+)", str(task.get("loop", "")))
        assert source, task["name"]
        if module in NOT_APPLYING:
            continue
        assert args is None, "%s: arguments listed one by one drop the keys not listed: %s" % (task["name"], args)
        whole = re.fullmatch(r"\{\{ (?:.* \| combine\(item\)|item)(?: \| combine\(.*\))? \}\}",
                             " ".join(task.get("args", "").split()), re.S)
        assert whole, "%s: args must be the whole item: %s" % (task["name"], task.get("args"))
        applied[source.group(1)] = module
    for kind, items in DATA.items():
        if not kind.startswith("controller_"):
            continue
        assert kind in applied, "awx_configure.yml never applies %s" % kind
        options = _module_options(applied[kind])
        for item in items:
            unknown = set(item) - options
            assert not unknown, "%s %r: %s are not options of %s" % (kind, item.get("name"), sorted(unknown), applied[kind])


def _ansible_env(**extra):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    for key in list(env):
        if key.startswith(("CONTROLLER_", "TOWER_", "NPU_SGLANG_AWX_")):
            del env[key]
    env.update(extra)
    return env


def _playbook(*args, **env):
    return subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook")] + list(args),
                          cwd=ROOT, env=_ansible_env(**env), text=True, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=300, check=False)


def test_data_as_ansible_templates_it(tmp_path):
    """What the awx.awx modules receive: configure-time templates rendered, job-time ones kept."""
    out = tmp_path / "rendered.json"
    playbook = tmp_path / "render.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "Render", "hosts": "localhost", "connection": "local", "gather_facts": False,
        "tasks": [
            {"name": "Load", "ansible.builtin.include_vars": {"dir": os.path.join(ROOT, "awx"), "extensions": ["yml"]}},
            {"name": "Write", "ansible.builtin.copy": {"dest": str(out), "mode": "0600", "content": (
                "{{ {'t': controller_templates, 'c': controller_credentials, 'ct': controller_credential_types,"
                " 'p': controller_projects, 's': controller_settings} | to_json }}")}}]}]))
    proc = _playbook(str(playbook), "-e", "npu_sglang_awx_scm_url=https://git.example.org/npu-sglang.git",
                     NPU_SGLANG_AWX_API_KEY="k-123")
    assert proc.returncode == 0, proc.stdout
    rendered = json.loads(out.read_text())
    report = [t for t in rendered["t"] if t["playbook"] == "playbooks/report.yml"][0]
    assert report["extra_vars"]["report_input_dir"] == \
        "/var/lib/npu-sglang/reports/awx-{{ awx_workflow_job_id | default(awx_job_id) }}/raw"
    bench = [t for t in rendered["t"] if t["playbook"] == "playbooks/benchmark.yml"][0]
    assert bench["extra_vars"] == {"sglang_bench_report_dir": "/var/lib/npu-sglang/reports",
                                   "sglang_bench_run_id": "awx-{{ awx_workflow_job_id | default(awx_job_id) }}"}
    assert bench["organization"] == "Default" and rendered["p"][0]["scm_url"] == "https://git.example.org/npu-sglang.git"
    assert rendered["ct"][0]["injectors"]["extra_vars"]["sglang_service_api_key"] == "{{ api_key }}"
    inputs = {c["name"]: c["inputs"] for c in rendered["c"]}
    assert inputs["npu.sglang API key"]["api_key"] == "k-123"
    assert inputs["npu.sglang vault"]["vault_password"] == ""
    assert inputs["npu.sglang nodes (SSH)"]["ssh_key_data"] == ""
    assert rendered["s"][0]["value"] == ["/var/lib/npu-sglang/reports:/var/lib/npu-sglang/reports:z"]


def test_the_ee_image_is_tagged_with_galaxy_yml_version(tmp_path):
    """awx/npu_sglang_awx.yml reads the version from galaxy.yml next to the playbooks' directory,
    as awx_configure.yml (playbooks/) sees it."""
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "galaxy.yml").write_text("version: 9.8.7\n")
    playbook = tmp_path / "playbooks" / "render.yml"
    out = tmp_path / "image.txt"
    playbook.write_text(yaml.safe_dump([{
        "name": "Render", "hosts": "localhost", "connection": "local", "gather_facts": False,
        "tasks": [
            {"name": "Load", "ansible.builtin.include_vars": {"file": os.path.join(ROOT, "awx", "npu_sglang_awx.yml")}},
            {"name": "Write", "ansible.builtin.copy": {"dest": str(out), "mode": "0600", "content": "{{ npu_sglang_awx_ee_image }}"}}]}]))
    proc = _playbook(str(playbook))
    assert proc.returncode == 0, proc.stdout
    assert out.read_text() == "registry.example.org/npu-sglang-ee:9.8.7"


def test_awx_configure_passes_syntax_check():
    proc = _playbook("--syntax-check", "-i", "inventories/prod", CONFIGURE)
    assert proc.returncode == 0, proc.stdout


def test_awx_configure_needs_the_controller_and_the_repository():
    proc = _playbook(CONFIGURE)
    assert proc.returncode != 0
    assert "Set CONTROLLER_HOST" in proc.stdout, proc.stdout[-3000:]


def test_awx_configure_refuses_a_repository_url_without_its_scheme():
    """Validated by the rule table before any request to the controller."""
    proc = _playbook(CONFIGURE, "-e", "npu_sglang_awx_scm_url=git.example.org/npu-sglang.git",
                     CONTROLLER_HOST="https://127.0.0.1:1", CONTROLLER_OAUTH_TOKEN="not-a-token")
    assert proc.returncode != 0
    assert "npu_sglang_awx_scm_url = 'git.example.org/npu-sglang.git'" in proc.stdout, proc.stdout[-3000:]
    assert "127.0.0.1:1" not in proc.stdout.split("Validate the repository URL", 1)[1]


@pytest.mark.parametrize("vault_password, skipped", [("", True), ("s3cret", False)])
def test_awx_configure_reaches_the_controller(vault_password, skipped):
    """Everything before the first API call runs for real; the controller here refuses connections,
    so the play stops at the first awx.awx module, naming the controller it tried."""
    proc = _playbook(CONFIGURE, "-e", "npu_sglang_awx_scm_url=https://git.example.org/npu-sglang.git",
                     CONTROLLER_HOST="https://127.0.0.1:1", CONTROLLER_OAUTH_TOKEN="not-a-token",
                     NPU_SGLANG_AWX_VAULT_PASSWORD=vault_password)
    assert proc.returncode == 2, proc.stdout[-3000:]
    assert "TASK [Register the execution environment]" in proc.stdout
    assert "trying to connect to https://127.0.0.1:1/api/v2/execution_environments/" in proc.stdout, proc.stdout[-3000:]
    assert ("Not created, and not attached to the templates: npu.sglang vault" in proc.stdout) == skipped
    assert "s3cret" not in proc.stdout


# Keys this repository's objects do not use, one per kind, each an option of the real module.
EXTRA_KEYS = [
    ("controller_execution_environments", {"name": "ee", "image": "registry.example.org/ee:1"}, "credential", "registry login"),
    ("controller_projects", {"name": "p", "organization": "Default", "scm_type": "git",
                             "scm_url": "https://git.example.org/p.git"}, "scm_credential", "git login"),
    ("controller_templates", {"name": "t", "project": "p", "playbook": "site.yml", "inventory": "i"}, "labels", ["gpu", "nightly"]),
]
KINDS_IN_ORDER = ["controller_execution_environments", "controller_credential_types", "controller_credentials",
                  "controller_projects", "controller_inventories", "controller_inventory_sources", "controller_templates",
                  "controller_workflows"]


def _apply_one(tmp_path, kind, item):
    """Run awx_configure.yml with `item` the only object (the kinds before it empty) against a
    controller that refuses connections; return the run and the module's result for the item."""
    extra = dict((k, []) for k in KINDS_IN_ORDER[:KINDS_IN_ORDER.index(kind)])
    extra[kind] = [item]
    path = tmp_path / "objects.yml"
    path.write_text(yaml.safe_dump(extra))
    proc = _playbook(CONFIGURE, "-vvv", "-e", "npu_sglang_awx_scm_url=https://git.example.org/npu-sglang.git",
                     "-e", "@%s" % path, CONTROLLER_HOST="https://127.0.0.1:1", CONTROLLER_OAUTH_TOKEN="not-a-token",
                     ANSIBLE_CALLBACK_RESULT_FORMAT="json")
    match = re.search(r"^failed: \[localhost\] \(item=%s\) => (\{.*?^\})$" % re.escape(item["name"]), proc.stdout, re.M | re.S)
    assert match, proc.stdout[-4000:]
    return proc, json.loads(match.group(1))


@pytest.mark.parametrize("kind, item, key, value", EXTRA_KEYS, ids=[k[2] for k in EXTRA_KEYS])
def test_a_key_we_do_not_use_reaches_the_module(tmp_path, kind, item, key, value):
    """The real awx.awx module validates its arguments and records them (-vvv keeps the invocation)
    before its first request, which fails here: the added key is among them, as given."""
    proc, result = _apply_one(tmp_path, kind, dict(item, **{key: value}))
    assert proc.returncode == 2
    assert "trying to connect to https://127.0.0.1:1/api/v2/" in result["msg"], result["msg"]
    assert result["invocation"]["module_args"][key] == value, result["invocation"]["module_args"]


def test_a_key_no_module_knows_fails_naming_it(tmp_path):
    proc, result = _apply_one(tmp_path, "controller_projects", {
        "name": "p", "organization": "Default", "scm_type": "git", "scm_url": "https://git.example.org/p.git",
        "scm_colour": "blue"})
    assert proc.returncode == 2
    assert "Unsupported parameters for (awx.awx.project) module: scm_colour" in result["msg"], result["msg"]
    assert "trying to connect" not in proc.stdout, "the project must fail before any request"
