"""Every option of every role's argument_specs.yml, and every npu_sglang_* setting the playbooks
read, has a constraint and a wrong value that validation refuses (issue 14).

The constraint is the option's spec (a bool, or choices) or its row of the one table,
config_rules.VARIABLE_CHECKS. The wrong value is the row's Kind.bad (or, for bool and choices,
one outside them); it is run through the validation action's own code and must come back as a
problem naming the option. A new option without a row, or a row whose wrong value passes, fails
here. The same options and wrong values make the bad-input matrix of
tests/integration/test_bad_input.py.
"""
import os
import re

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from ansible_collections.npu.sglang.plugins.action.validate_inventory import (
    is_template,
    load_contracts,
    load_role_defaults,
    load_role_specs,
    load_stacks,
    validate_host,
)
from ansible_collections.npu.sglang.plugins.module_utils import config_rules as cr

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODEL = {"sglang_service_model_path": "/data/models/Qwen3-8B"}
GROUPS = {"all": ["h1", "h2"], "npu_nodes": ["h1", "h2"], "pair": ["h1", "h2"]}


def spec_options():
    """{option: spec} of every entry point of every role (the first spec of a name wins)."""
    import yaml
    options = {}
    for role in sorted(os.listdir(os.path.join(ROOT, "roles"))):
        path = os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml")
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as handle:
                for entry in (yaml.safe_load(handle).get("argument_specs") or {}).values():
                    for name, spec in (entry.get("options") or {}).items():
                        options.setdefault(name, spec)
    return options


def playbook_globals():
    """npu_sglang_* and report_*_dir names the playbooks read."""
    found = set()
    for base in ("playbooks", "roles"):
        for folder, _dirs, files in os.walk(os.path.join(ROOT, base)):
            for name in files:
                if name.endswith((".yml", ".j2")):
                    with open(os.path.join(folder, name), encoding="utf-8") as handle:
                        found.update(re.findall(r"\b(npu_sglang_[a-z_]+|report_(?:input|output)_dir)\b", handle.read()))
    return sorted(found - set(cr.INTERNAL_GLOBALS))


SPECS = spec_options()
LOADED = (load_role_specs(), load_role_defaults(), load_stacks(), load_contracts())
OPTIONS = sorted(set(SPECS) | set(playbook_globals()))


def wrong_value(name):
    """(value, companions) that validation must refuse for name, or (None, None)."""
    row = cr.row_for(name)
    if row is not None and row.kind.bad is not None:
        return row.kind.bad, row.kind.companions
    spec = SPECS.get(name, {})
    if spec.get("type") == "bool":
        return "maybe", {}
    if spec.get("choices"):
        return (["no-such-choice"] if spec.get("type") == "list" else "no-such-choice"), {}
    return None, None


def constraint(name):
    row = cr.row_for(name)
    spec = SPECS.get(name, {})
    if row is not None:
        return row.kind.text
    if spec.get("type") == "bool":
        return "true or false"
    if spec.get("choices"):
        return "one of %s" % ", ".join(str(c) for c in spec["choices"])
    return None


def problems(**variables):
    task_vars = {"inventory_hostname": "h1", "groups": GROUPS, "group_names": ["npu_nodes", "pair"]}
    for name, value in variables.items():
        task_vars[name] = trust_as_template(value) if isinstance(value, str) else value
    found, _values = validate_host("h1", task_vars, Templar(loader=DataLoader(), variables={}), *LOADED)
    return found


def test_the_walk_finds_the_options():
    assert len(SPECS) > 150 and "sglang_service_port" in OPTIONS and "npu_sglang_target" in OPTIONS


@pytest.mark.parametrize("name", OPTIONS)
def test_every_option_has_a_constraint(name):
    assert constraint(name), (
        "%s has no rule: give it a bool type or choices in its argument_specs.yml, or a row in "
        "config_rules.VARIABLE_CHECKS" % name)
    row = cr.row_for(name)
    if row is not None and row.kind.bad is None:
        assert row.kind.text.startswith("any value ("), "%s: a row without a wrong value must say why (free())" % name


FREE = [n for n in OPTIONS if wrong_value(n)[0] is None]


def test_few_options_take_any_value():
    """The free ones are names and paths a program resolves itself, and secrets."""
    assert len(FREE) <= 6, FREE


@pytest.mark.parametrize("name", [n for n in OPTIONS if n not in FREE])
def test_every_option_refuses_its_wrong_value(name):
    bad, companions = wrong_value(name)
    found = problems(**dict(MODEL, **dict(companions, **{name: bad})))
    mine = [p for p in found if p.variable == name or p.variable.startswith((name + "[", name + "."))]
    assert mine, "%s = %r passed validation (problems: %s)" % (name, bad, [p.render("h1") for p in found])
    for problem in mine:
        assert problem.reason and problem.fix, problem


@pytest.mark.parametrize("name", OPTIONS)
def test_every_default_passes_its_rule(name):
    """The role default (templated where it can be) is valid: the rows add no false alarm."""
    row = cr.row_for(name)
    value = LOADED[1].get(name, SPECS.get(name, {}).get("default"))
    if row is None or value is None or is_template(value):
        return
    assert row.check(value, dict(MODEL, **{name: value}), {"groups": GROUPS}) is None, (name, value)


def test_every_row_names_an_option():
    """A row that matches no option is a leftover."""
    for row in cr.VARIABLE_CHECKS:
        assert any(row.pattern.match(n) for n in OPTIONS) or row.pattern.pattern.find("_ref") > 0, row.pattern.pattern


def test_load_role_specs_agrees_with_the_walk():
    assert set(n for options in load_role_specs().values() for n in options) <= set(SPECS)
