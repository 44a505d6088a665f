# -*- coding: utf-8 -*-
# Copyright: npu.sglang maintainers
# Apache-2.0 (see the collection's LICENSE)
"""Cross-field rules for the collection's variables, checked on the controller before any host
is contacted (action plugin npu.sglang.validate_inventory).

Each rule reads the effective values (inventory value, else the role default from the argument
spec) and yields Problem(variable, value, reason, fix). Keep rules pure: no I/O, no Ansible.
"""
from __future__ import absolute_import, division, print_function

import re

__metaclass__ = type

ATLAS_A2_CHIPS = 8
SHM_RE = re.compile(r"^([1-9][0-9]*)([bkmg]?)$", re.IGNORECASE)
SHM_FACTOR = {"": 1, "b": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}
# Largest shm we accept as a value at all; the host's memory is checked by preflight.
SHM_MAX_BYTES = 16 * 1024 ** 4


class Problem:
    def __init__(self, variable, value, reason, fix):
        self.variable = variable
        self.value = value
        self.reason = reason
        self.fix = fix

    def render(self, host):
        return "host %s: %s = %r: %s. Fix: %s" % (host, self.variable, self.value, self.reason, self.fix)

    def as_dict(self):
        return {"variable": self.variable, "value": self.value, "reason": self.reason, "fix": self.fix}


def effective(values, specs, name):
    """The inventory value of name, else its role default from the argument specs."""
    if name in values:
        return values[name]
    for options in specs.values():
        if name in options:
            return options[name].get("default")
    return None


def shm_bytes(text):
    match = SHM_RE.match(str(text).strip())
    if not match:
        return None
    return int(match.group(1)) * SHM_FACTOR[match.group(2).lower()]


def _version_tuple(text):
    return tuple(int(p) for p in re.findall(r"\d+", str(text))[:3])


def rule_stack(values, ctx):
    specs, stacks = ctx["specs"], ctx["stacks"]
    name = effective(values, specs, "npu_stack_profile")
    if name not in stacks:
        yield Problem("npu_stack_profile", name, "no such stack profile",
                      "use one of %s" % ", ".join(sorted(stacks)))
        return
    stack = dict(stacks[name])
    stack.update(effective(values, specs, "npu_stack_overrides") or {})
    torch, torch_npu = stack.get("torch"), stack.get("torch_npu")
    if _version_tuple(torch) != _version_tuple(torch_npu):
        yield Problem("npu_stack_overrides", {"torch": torch, "torch_npu": torch_npu},
                      "torch and torch_npu must be the same release (torch_npu is built against one torch)",
                      "set both to one version, e.g. torch 2.6.0 with torch_npu 2.6.0 (or 2.6.0.postN)")
    if name == "seed" and str(stack.get("python")) != "3.11":
        yield Problem("npu_stack_overrides", {"python": stack.get("python")},
                      "the seed stack's torch_npu 2.6.0 wheels are built for Python 3.11 only",
                      "keep python at 3.11 for the seed profile")
    for key in sorted(stack):
        if key.endswith("_ref") and re.search(r"\s", str(stack[key] or "")):
            yield Problem("npu_stack_overrides", {key: stack[key]}, "a git ref cannot contain white space",
                          "give a branch, tag or commit id without spaces")
        if key.endswith("_repo") and not str(stack[key] or "").strip():
            yield Problem("npu_stack_overrides", {key: stack[key]}, "a git URL is empty",
                          "give the URL of the repository or of its mirror")


def rule_devices(values, ctx):
    specs = ctx["specs"]
    board = effective(values, specs, "docker_npu_board_chips") or ATLAS_A2_CHIPS
    for name in ("docker_npu_devices", "npu_preflight_devices"):
        devices = values.get(name)
        if not isinstance(devices, list):
            continue
        if not devices:
            yield Problem(name, devices, "no chip is in use", "list the chip ids to use, e.g. [0, 1, 2, 3]")
            continue
        dupes = sorted(set(d for d in devices if devices.count(d) > 1), key=str)
        if dupes:
            yield Problem(name, devices, "chip ids %s appear more than once" % dupes, "list each chip once")
        beyond = [d for d in devices if not isinstance(d, int) or d < 0 or d >= board]
        if beyond:
            yield Problem(name, devices, "chip ids %s are not on a %d-chip board" % (beyond, board),
                          "use ids 0-%d (or set docker_npu_board_chips for a larger board)" % (board - 1))


def rule_shm(values, ctx):
    shm = effective(values, ctx["specs"], "docker_npu_shm_size")
    if shm is None:
        return
    size = shm_bytes(shm)
    if size is None:
        yield Problem("docker_npu_shm_size", shm, "not a size Docker understands",
                      "write a number with an optional unit b, k, m or g, e.g. 1000g")
    elif size > SHM_MAX_BYTES:
        yield Problem("docker_npu_shm_size", shm, "larger than 16 TiB, more than any Atlas host has",
                      "use at most the host's memory, e.g. 1000g on a 1.5 TB Atlas 800I A2")
    elif size < 1024 ** 3:
        yield Problem("docker_npu_shm_size", shm,
                      "below 1 GiB: the server dies on its IPC queues (Docker's default is 64 MB)",
                      "use at least 16g (upstream) or the recipe's 1000g")


def rule_image(values, ctx):
    for name in ("docker_npu_image", "docker_npu_container_name"):
        if name in values and not str(values[name] or "").strip():
            yield Problem(name, values[name], "empty", "give a non-empty name")


RULES = [rule_stack, rule_devices, rule_shm, rule_image]


def check_rules(values, ctx, rules=None):
    problems = []
    for rule in rules or RULES:
        problems.extend(rule(values, ctx))
    return problems
