"""The molecule scenarios: molecule's collection layout (extensions/molecule/<role>/ over the base
extensions/molecule/config.yml), one per role, found by a plain `molecule list`."""
import os
import re
import subprocess
import sys

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCENARIOS = os.path.join(ROOT, "extensions", "molecule")
ROLES = sorted(r for r in os.listdir(os.path.join(ROOT, "roles")) if os.path.isdir(os.path.join(ROOT, "roles", r)))
# Roles whose scenario is still to be written, each with the reason. Empty when every role has one.
NO_SCENARIO_YET = {
}


def scenarios():
    return sorted(d for d in os.listdir(SCENARIOS) if os.path.isfile(os.path.join(SCENARIOS, d, "molecule.yml")))


def test_no_scenario_outside_the_collection_layout():
    # molecule 25+ reads a collection's scenarios from extensions/molecule only when molecule/ is absent.
    assert not os.path.exists(os.path.join(ROOT, "molecule"))


def test_one_scenario_per_role():
    missing = sorted(set(ROLES) - set(scenarios()) - set(NO_SCENARIO_YET))
    assert not missing, "roles without a scenario under extensions/molecule/: %s" % missing
    stale = sorted(set(NO_SCENARIO_YET) & set(scenarios()))
    assert not stale, "NO_SCENARIO_YET names roles that have a scenario now: %s" % stale
    strays = sorted(set(scenarios()) - set(ROLES))
    assert not strays, "scenarios named after no role: %s" % strays


def test_each_scenario_converges_its_role_and_can_fail():
    """converge.yml applies the role of the scenario's name, and verify.yml asserts something."""
    for name in scenarios():
        converge = open(os.path.join(SCENARIOS, name, "converge.yml"), encoding="utf-8").read()
        assert re.search(r"npu\.sglang\.%s\b" % name, converge), "%s/converge.yml does not apply the role" % name
        verify = yaml.safe_load(open(os.path.join(SCENARIOS, name, "verify.yml"), encoding="utf-8"))
        modules = [k for play in verify for task in play.get("tasks", []) for k in task]
        assert "ansible.builtin.assert" in modules, "%s/verify.yml asserts nothing" % name


def test_molecule_list_from_a_plain_shell(tmp_path):
    """What a user's shell has after `make venv` and activating it: the venv's bin on PATH, no
    ANSIBLE_* or NPU_SIM_* variables, no .env.yml (HOME is empty too)."""
    env = {"PATH": os.path.dirname(sys.executable) + os.pathsep + "/usr/local/bin:/usr/bin:/bin",
           "HOME": str(tmp_path), "LANG": "C.UTF-8", "PY_COLORS": "0", "NO_COLOR": "1", "COLUMNS": "300"}
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "molecule"), "--env-file",
                           str(tmp_path / "none.yml"), "list", "--format", "plain"], cwd=ROOT, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "should migrate" not in proc.stdout, proc.stdout[-3000:]
    assert "Found config file %s" % os.path.join(SCENARIOS, "config.yml") in proc.stdout, proc.stdout[-3000:]
    # Plain format: instance, driver, provisioner, scenario, created, converged.
    rows = [line.split() for line in proc.stdout.splitlines()]
    listed = {row[3] for row in rows if len(row) == 6 and row[2] == "ansible"}
    assert listed == set(scenarios()), proc.stdout[-3000:]
