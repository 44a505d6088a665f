# -*- coding: utf-8 -*-
# Copyright: npu.sglang maintainers
# Apache-2.0 (see the collection's LICENSE)
"""Action plugin: validate one host's inventory variables on the controller.

Runs entirely on the controller (no module is sent to the host). It checks every variable the
host sets against the argument specs of every role of this collection, then the cross-field
rules in module_utils/config_rules.py on the host's effective values (what the host sets, else
the role default, templated with the host's variables), and fails with one line per problem
naming the host, the variable, the value and the fix.
"""
from __future__ import annotations

import json
import os
import re

from collections.abc import Mapping

import yaml

from ansible.errors import AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.errors import UnsupportedError
from ansible.plugins.action import ActionBase

from ansible_collections.npu.sglang.plugins.module_utils.config_rules import (
    Problem,
    check_rules,
)

try:  # ansible-core >= 2.19 renders only strings marked as trusted templates
    from ansible.template import trust_as_template
except ImportError:  # pragma: no cover - older ansible-core renders every string
    def trust_as_template(value):
        return value

ROLES_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "roles")
STACKS_DIR = os.path.join(ROLES_DIR, "npu_stack", "vars", "stacks")
# Variables of roles whose argument specs do not exist yet: validated when the host defines them.
# Read by the playbooks without a role default: checked when the inventory or -e sets them.
EXTRA_VARIABLES = re.compile(r"^(sglang_(bench|build)_|npu_sglang_|report_(input|output)_dir$)")
_MISSING = object()


# libyaml's safe loader when PyYAML has it: a host's check reads a dozen files.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load_yaml(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_SAFE_LOADER) or {}  # nosec B506 - a safe loader


def load_role_specs(roles_dir=ROLES_DIR):
    """{role: options} from every roles/*/meta/argument_specs.yml (entry point main)."""
    specs = {}
    for role in sorted(os.listdir(roles_dir)):
        path = os.path.join(roles_dir, role, "meta", "argument_specs.yml")
        if os.path.isfile(path):
            data = _load_yaml(path)
            specs[role] = data.get("argument_specs", {}).get("main", {}).get("options", {}) or {}
    return specs


def load_role_defaults(roles_dir=ROLES_DIR):
    """{variable: raw value} of every roles/*/defaults/main.yml (or defaults/main/*.yml)."""
    defaults = {}
    for role in sorted(os.listdir(roles_dir)):
        base = os.path.join(roles_dir, role, "defaults")
        paths = [os.path.join(base, "main.yml")]
        if os.path.isdir(os.path.join(base, "main")):
            paths = [os.path.join(base, "main", name) for name in sorted(os.listdir(os.path.join(base, "main")))
                     if name.endswith((".yml", ".yaml"))]
        for path in paths:
            if os.path.isfile(path):
                defaults.update(_load_yaml(path))
    return defaults


def load_stacks(stacks_dir=STACKS_DIR):
    """{profile: its data} of every file of roles/npu_stack/vars/stacks: the profiles are these files,
    each named as its file (npu_stack does the same)."""
    stacks = {}
    for name in sorted(os.listdir(stacks_dir)):
        if name.endswith(".yml"):
            data = _load_yaml(os.path.join(stacks_dir, name)).get("npu_stack_profile_data", {})
            stacks[name[:-4]] = dict(data, name=name[:-4])
    return stacks


CONTRACTS_DIR = os.path.join(ROLES_DIR, "npu_stack", "files", "sglang_cli")


def load_contracts(contracts_dir=CONTRACTS_DIR):
    """{SGLang release: options of its launch_server parser} (module_utils/sglang_args.py)."""
    contracts = {}
    for name in sorted(os.listdir(contracts_dir)):
        if name.endswith(".json"):
            with open(os.path.join(contracts_dir, name), encoding="utf-8") as handle:
                data = json.load(handle)
            contracts[data["release"]] = data["options"]
    return contracts


def is_template(value):
    """True when value (or a string inside it) is a Jinja expression."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(is_template(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(is_template(v) for v in value)
    return False


def trusted(value):
    """value with its strings marked as templates (role defaults are the collection's own code)."""
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return dict((k, trusted(v)) for k, v in value.items())
    if isinstance(value, list):
        return [trusted(v) for v in value]
    return value


def _first_line(exc):
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


class HostValues(Mapping):
    """The effective variables of one host, resolved on demand.

    A variable the host sets (inventory, group_vars, host_vars, -e) counts as set when it differs
    from the role default; its templated value is used. Otherwise the role default is templated
    with the host's variables (defaults may reference other variables, e.g. sglang_service_tp
    counts sglang_service_devices); a default that cannot be templated here (it needs facts) is
    unknown (None). Variables with neither take the argument spec's default.
    """

    def __init__(self, task_vars, defaults, specs, templar):
        self.defaults = defaults
        self.spec_defaults = {}
        for options in specs.values():
            for name, spec in options.items():
                if "default" in spec:
                    self.spec_defaults.setdefault(name, spec["default"])
        names = set(defaults) | set(self.spec_defaults)
        for options in specs.values():
            names.update(options)
        names.update(n for n in task_vars if EXTRA_VARIABLES.match(n))
        variables = dict((k, trusted(v)) for k, v in defaults.items())
        variables.update(task_vars)
        self.templar = templar
        self.templar.available_variables = variables
        self.set_names = sorted(n for n in names if n in task_vars
                                and not self._same(task_vars[n], defaults.get(n, _MISSING)))
        self.set_values = {}
        self.template_problems = []
        for name in self.set_names:
            try:
                self.set_values[name] = self.templar.template(task_vars[name])
            except (AnsibleError, TypeError, ValueError) as exc:
                self.template_problems.append(Problem(
                    name, task_vars[name], "cannot be templated (%s)" % _first_line(exc),
                    "fix the expression, or define the variables it uses"))
        self.derived = set(n for n in defaults if n not in self.set_values and is_template(defaults[n]))
        self.names = sorted((set(self.set_values) | set(defaults) | set(self.spec_defaults))
                            - set(n for n in self.set_names if n not in self.set_values))
        self.cache = {}

    @staticmethod
    def _same(value, default):
        try:
            return default is not _MISSING and bool(value == default)
        except Exception:  # pylint: disable=broad-except  # odd types are never a default
            return False

    def __getitem__(self, name):
        if name in self.set_values:
            return self.set_values[name]
        if name in self.cache:
            return self.cache[name]
        if name in self.defaults:
            try:
                value = self.templar.template(trusted(self.defaults[name]))
            except (AnsibleError, TypeError, ValueError):
                value = None  # needs what only a later play knows (facts, the resolved stack)
        elif name in self.spec_defaults:
            value = self.spec_defaults[name]
        else:
            raise KeyError(name)
        self.cache[name] = value
        return value

    def __iter__(self):
        return iter(self.names)

    def __len__(self):
        return len(self.names)

    def __contains__(self, name):
        return name in self.set_values or name in self.defaults or name in self.spec_defaults


def _type_hint(spec):
    kind = spec.get("type", "str")
    if kind == "list" and spec.get("elements"):
        kind = "list of %s" % spec["elements"]
    hint = "a %s" % kind
    if spec.get("choices"):
        hint = "one of %s" % ", ".join(repr(c) if c == "" else str(c) for c in spec["choices"])
    return hint


def _plain_doc(text):
    """Documentation markup (C(x), V(x), O(x), M(x), ...) as plain text."""
    return re.sub(r"\b[A-Z]\(([^)]*)\)", r"\1", str(text)).strip().rstrip(".")


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
            text = str(error).strip().rstrip(".")
            name = next((k for k in sorted(provided, key=len, reverse=True) if k in text), None)
            if name is None:
                problems.append(Problem("?", None, text, "see roles/%s/meta/argument_specs.yml" % role))
                continue
            spec = options[name]
            if isinstance(error, UnsupportedError):
                fix = "remove the unknown key or correct its spelling (%s takes the keys listed)" % name
            else:
                fix = "set %s to %s" % (name, _type_hint(spec))
                description = spec.get("description")
                if description:
                    first = description[0] if isinstance(description, list) else description
                    fix += " (%s)" % _plain_doc(first)
            problems.append(Problem(name, provided[name], text, fix))
    return problems


def validate_host(host, task_vars, templar, specs=None, defaults=None, stacks=None, contracts=None):
    """(problems, HostValues) of one host: template errors, argument spec errors, then the rules.
    A rule's problem on a variable that already has a spec or template problem is left out."""
    specs = load_role_specs() if specs is None else specs
    defaults = load_role_defaults() if defaults is None else defaults
    stacks = load_stacks() if stacks is None else stacks
    contracts = load_contracts() if contracts is None else contracts
    values = HostValues(task_vars, defaults, specs, templar)
    problems = values.template_problems + check_specs(specs, values.set_values)
    ctx = {
        "host": host,
        "groups": task_vars.get("groups", {}),
        "stacks": stacks,
        "contracts": contracts,
        "set": set(values.set_values),
        "derived": values.derived,
    }
    named = set(p.variable for p in problems)
    problems += [p for p in check_rules(values, ctx) if p.variable not in named]
    return problems, values


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("quiet", "only"))

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        task_vars = task_vars or {}
        host = task_vars.get("inventory_hostname", "?")
        try:
            specs, defaults, stacks = load_role_specs(), load_role_defaults(), load_stacks()
            contracts = load_contracts()
        except (OSError, ValueError, yaml.YAMLError) as exc:
            raise AnsibleError("cannot read the collection's argument specs and defaults: %s" % exc)
        problems, values = validate_host(host, task_vars, self._templar.copy_with_new_env(),
                                         specs, defaults, stacks, contracts)
        only = self._task.args.get("only")
        if only:
            patterns = [re.compile("^(?:%s)$" % p) for p in only]
            problems = [p for p in problems if any(pattern.match(p.variable.split("[")[0].split(".")[0]) for pattern in patterns)]
        result["changed"] = False
        result["checked"] = list(values.set_names)
        if problems:
            result["failed"] = True
            result["problems"] = [p.as_dict() for p in problems]
            result["msg"] = "invalid configuration for host %s:\n%s" % (
                host, "\n".join("  - " + p.render(host) for p in problems))
        else:
            result["msg"] = "%s: %d variables set in the inventory, all valid" % (host, len(values.set_names))
        return result
