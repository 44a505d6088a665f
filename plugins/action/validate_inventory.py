# -*- coding: utf-8 -*-
# Copyright: npu.sglang maintainers
# Apache-2.0 (see the collection's LICENSE)
"""Action plugin: validate one host's inventory variables on the controller.

Runs entirely on the controller (no module is sent to the host). It checks every variable the
host sets against the argument specs of every role of this collection, then the cross-field
rules in module_utils/config_rules.py, and fails with one line per problem naming the host,
the variable, the value and the fix.
"""
from __future__ import annotations

import os

import yaml

from ansible.errors import AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase

from ansible_collections.npu.sglang.plugins.module_utils.config_rules import (
    Problem,
    check_rules,
)

ROLES_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "roles")
STACKS_DIR = os.path.join(ROLES_DIR, "npu_stack", "vars", "stacks")


def load_role_specs(roles_dir=ROLES_DIR):
    """{role: options} from every roles/*/meta/argument_specs.yml (entry point main)."""
    specs = {}
    for role in sorted(os.listdir(roles_dir)):
        path = os.path.join(roles_dir, role, "meta", "argument_specs.yml")
        if not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
        specs[role] = data.get("argument_specs", {}).get("main", {}).get("options", {}) or {}
    return specs


def load_stacks(stacks_dir=STACKS_DIR):
    stacks = {}
    for name in sorted(os.listdir(stacks_dir)):
        if name.endswith(".yml"):
            with open(os.path.join(stacks_dir, name), encoding="utf-8") as handle:
                stacks[name[:-4]] = (yaml.safe_load(handle) or {}).get("npu_stack_profile_data", {})
    return stacks


def _type_hint(spec):
    kind = spec.get("type", "str")
    if kind == "list" and spec.get("elements"):
        kind = "list of %s" % spec["elements"]
    hint = "a %s" % kind
    if spec.get("choices"):
        hint = "one of %s" % ", ".join(str(c) for c in spec["choices"])
    return hint


def check_specs(specs, values):
    """Type and choice errors for the variables the host sets; unset ones take role defaults."""
    problems = []
    for role, options in specs.items():
        provided = dict((k, values[k]) for k in options if k in values)
        if not provided:
            continue
        # Required options are satisfied by role defaults; only what is set is checked here.
        relaxed = dict((k, dict(v, required=False)) for k, v in options.items())
        result = ArgumentSpecValidator(relaxed).validate(provided)
        for error in result.errors:
            text = str(error)
            name = next((k for k in sorted(provided, key=len, reverse=True) if k in text), None)
            if name is None:
                problems.append(Problem("?", None, text, "see roles/%s/meta/argument_specs.yml" % role))
                continue
            spec = options[name]
            fix = "set %s to %s" % (name, _type_hint(spec))
            description = spec.get("description")
            if description:
                first = description[0] if isinstance(description, list) else description
                fix += " (%s)" % first.rstrip(".")
            problems.append(Problem(name, provided[name], text, fix))
    return problems


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("quiet",))

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        task_vars = task_vars or {}
        host = task_vars.get("inventory_hostname", "?")
        try:
            specs = load_role_specs()
            stacks = load_stacks()
        except (OSError, yaml.YAMLError) as exc:
            raise AnsibleError("cannot read the collection's argument specs: %s" % exc)

        names = set()
        for options in specs.values():
            names.update(options)
        values = {}
        for name in sorted(names):
            if name in task_vars:
                values[name] = self._templar.template(task_vars[name])
        # Variables the rules read that are not role options (inventory facts of the group).
        context = {
            "host": host,
            "groups": task_vars.get("groups", {}),
            "group_names": task_vars.get("group_names", []),
            "stacks": stacks,
            "specs": specs,
        }
        problems = check_specs(specs, values)
        problems += check_rules(values, context)
        result["changed"] = False
        result["checked"] = sorted(values)
        if problems:
            result["failed"] = True
            result["problems"] = [p.as_dict() for p in problems]
            result["msg"] = "invalid configuration for host %s:\n%s" % (
                host, "\n".join("  - " + p.render(host) for p in problems))
        else:
            result["msg"] = "%s: %d variables set in the inventory, all valid" % (host, len(values))
        return result
