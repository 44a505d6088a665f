"""What AWX finds in this repository as a project: the playbooks its scan offers (the operators'
ones, and only the known kinds of other file), collections/requirements.yml, and the inventory source."""
import json
import os
import re
import subprocess
import sys

from awxdata import ROOT, awx_data, awx_offered_playbooks, load_yaml, project_files


def _is_playbook(rel):
    """A YAML list of plays or playbook imports."""
    content = load_yaml(os.path.join(ROOT, rel))
    return isinstance(content, list) and content and all(
        isinstance(item, dict) and ("hosts" in item or "import_playbook" in item or "ansible.builtin.import_playbook" in item)
        for item in content)


def real_playbooks():
    """The playbooks users run: site.yml and playbooks/*.yml."""
    files = project_files()
    candidates = ["site.yml"] + [f for f in files if f.startswith("playbooks/") and f.count("/") == 1 and f.endswith(".yml")]
    return sorted(f for f in candidates if f in files and _is_playbook(f))


def _is_yaml_inventory(rel):
    """A YAML inventory: a mapping of groups (all: children: ... hosts: ...), not a list of plays."""
    content = load_yaml(os.path.join(ROOT, rel))
    return isinstance(content, dict) and "all" in content


# What AWX's scan offers besides the operators' playbooks. AWX has no ignore list: only the directory
# names of skip_directory() hide a file, so these show in the playbook list of a template's form too.
# Each entry: the files (a regex on the path), what they are, and the reason AWX cannot be kept from them.
NOT_FOR_OPERATORS = {
    r"extensions/molecule/[^/]+/[^/]+\.yml": (
        _is_playbook, "the molecule scenarios' plays (converge, prepare, verify, the shared ones): molecule's collection "
        "layout puts them under extensions/molecule/, a directory name skip_directory() does not know"),
    r"tests/.+\.ya?ml": (_is_playbook, "plays of the test harness"),
    r"inventories/[^/]+/hosts\.yml": (
        _is_yaml_inventory, "YAML inventories: AWX's line rule takes a group's indented `hosts:` key for a play"),
}


def test_awx_offers_exactly_the_playbooks():
    """AWX offers the operators' playbooks, and besides them only the files of NOT_FOR_OPERATORS."""
    offered, wanted = set(awx_offered_playbooks()), set(real_playbooks())
    assert "site.yml" in wanted and "playbooks/benchmark.yml" in wanted
    missing = sorted(wanted - offered)
    assert not missing, "AWX's project scan would not offer these playbooks: %s" % missing
    unexplained, matched = [], set()
    for rel in sorted(offered - wanted):
        pattern = next((p for p in NOT_FOR_OPERATORS if re.fullmatch(p, rel)), None)
        if pattern is None:
            unexplained.append(rel)
            continue
        matched.add(pattern)
        check, what = NOT_FOR_OPERATORS[pattern]
        assert check(rel), "%s is offered as one of %s, but it is not: %s" % (rel, pattern, what)
    assert not unexplained, (
        "AWX's project scan would offer files that are neither site.yml, playbooks/*.yml nor in NOT_FOR_OPERATORS: %s"
        % unexplained)
    assert matched == set(NOT_FOR_OPERATORS), "NOT_FOR_OPERATORS lists files AWX no longer offers: %s" % sorted(
        set(NOT_FOR_OPERATORS) - matched)


def test_templates_use_only_the_operators_playbooks():
    wanted = set(real_playbooks())
    wrong = {t["name"]: t["playbook"] for t in awx_data()["controller_templates"] if t["playbook"] not in wanted}
    assert not wrong, "job templates on playbooks that are not site.yml or playbooks/*.yml: %s" % wrong


def test_the_scan_rule_is_awx_rule(tmp_path):
    """The model of AWX's scan on a tree that has each of its cases."""
    files = {
        "play.yml": "---\n- name: P\n  hosts: all\n",
        "fqcn_import.yml": "---\n- name: I\n  ansible.builtin.import_playbook: play.yml\n",
        "short_import.yaml": "- import_playbook: play.yml\n",
        "vaulted.yml": "$ANSIBLE_VAULT;1.1;AES256\n3031\n",
        "nested_hosts.yml": "all:\n  children:\n    g:\n      hosts:\n        h1: {}\n",
        "vars_only.yml": "---\nhosts_count: 3\nsome: value\n",
        "not_yaml.txt": "- hosts: all\n",
        "roles/r/tasks/main.yml": "- hosts: all\n",
        "sub/tasks/t.yml": "- hosts: all\n",
        "inv/group_vars/all.yml": "- hosts: all\n",
        "inv/host_vars/h.yml": "- hosts: all\n",
        ".hidden/p.yml": "- hosts: all\n",
        "deep/er/play.yml": "- hosts: all\n",
    }
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (tmp_path / "linked").symlink_to(tmp_path / "deep")
    listed = sorted(files) + ["linked/er/play.yml"]
    assert awx_offered_playbooks(str(tmp_path), listed) == sorted([
        "deep/er/play.yml", "fqcn_import.yml", "nested_hosts.yml", "play.yml", "short_import.yaml", "vaulted.yml"])


def test_collections_requirements_at_the_root():
    """AWX installs collections/requirements.yml on every project sync: it must hold every
    dependency of galaxy.yml, with the same version range."""
    requirements = load_yaml(os.path.join(ROOT, "collections", "requirements.yml"))
    listed = {c["name"]: c.get("version", "*") for c in requirements["collections"]}
    galaxy = load_yaml(os.path.join(ROOT, "galaxy.yml"))
    assert galaxy["dependencies"] and listed == {k: str(v) for k, v in galaxy["dependencies"].items()}
    assert "collections/requirements.yml" in project_files()


def test_inventory_source_reads_as_awx_reads_it():
    """An AWX inventory sync runs ansible-inventory --list --export on the source path of the
    project checkout; it must give the group the playbooks target, with its hosts."""
    files = project_files()
    for source in awx_data()["controller_inventory_sources"]:
        path = source["source_path"]
        assert any(f == path or f.startswith(path.rstrip("/") + "/") for f in files), "%s is not in the project" % path
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
        proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-inventory"), "-i", path,
                               "--list", "--export"], cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr
        inventory = json.loads(proc.stdout)
        assert inventory["npu_nodes"]["hosts"], inventory
        hosts_yml = load_yaml(os.path.join(ROOT, path, "hosts.yml"))
        assert sorted(inventory["npu_nodes"]["hosts"]) == sorted(hosts_yml["all"]["children"]["npu_nodes"]["hosts"])
