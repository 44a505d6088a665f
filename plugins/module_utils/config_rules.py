# -*- coding: utf-8 -*-
# Copyright: npu.sglang maintainers
# Apache-2.0 (see the collection's LICENSE)
"""Cross-field rules for the collection's variables, checked on the controller before any host
is contacted (action plugin npu.sglang.validate_inventory), and the size parser the filter
npu.sglang.size_bytes and the preflight role share.

The rules read a mapping of effective values (what the host sets, else the role default) and
yield Problem(variable, value, reason, fix). They are pure: no I/O, no Ansible.

Two kinds of rules, both tables:
- VARIABLE_CHECKS: one row per variable (or variable name pattern): a check of its value alone.
- RULES: one function per cross-field rule; the per-instance ones are the INSTANCE_CHECKS table,
  run on every server of sglang_service_instances with instance_settings().
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible_collections.npu.sglang.plugins.module_utils.launch import flag_setting, launch_args
from ansible_collections.npu.sglang.plugins.module_utils.sglang_args import check_argv
from ansible_collections.npu.sglang.plugins.module_utils.stack_rules import profile_problems

# ---------------------------------------------------------------------------------------------
# Sizes: the one parser (docker_npu_shm_size, the filter npu.sglang.size_bytes, preflight).

SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4,
              "p": 1024 ** 5}
SIZE_RE = re.compile(r"^([0-9]+)([bkmgtp]?)$", re.IGNORECASE)
SIZE_FORMAT = ("a whole number of bytes, or a whole number with one unit letter b, k, m, g, t or p "
               "(powers of 1024, either case), e.g. 1000g, 16G, 512m or 1073741824")


def size_bytes(value):
    """Bytes of a Docker-style size: an int (bytes) or a string "<digits>[bkmgtp]".

    "1000g", "16G", "512m", "1024" and 1073741824 are sizes; units are powers of 1024 and of
    either case, as docker run --shm-size and community.docker read them. Fractions ("1.5g"),
    two-letter units ("16gb"), signs, booleans and empty values raise ValueError with a text
    saying what a size looks like.
    """
    if isinstance(value, bool) or value is None:
        raise ValueError("%r is not a size; a size is %s" % (value, SIZE_FORMAT))
    if isinstance(value, int):
        if value < 0:
            raise ValueError("%r is negative; a size is %s" % (value, SIZE_FORMAT))
        return int(value)
    if not isinstance(value, str):
        raise ValueError("%r (%s) is not a size; a size is %s" % (value, type(value).__name__, SIZE_FORMAT))
    match = SIZE_RE.match(value.strip())
    if not match:
        raise ValueError("%r is not a size; a size is %s" % (value, SIZE_FORMAT))
    return int(match.group(1)) * SIZE_UNITS[match.group(2).lower()]


# Below this the server dies on its IPC queues; above this no host has that memory (the host's
# real memory is checked by npu_preflight).
SHM_MIN_BYTES = 1024 ** 3
SHM_MAX_BYTES = 64 * 1024 ** 4

# ---------------------------------------------------------------------------------------------
# Problems.

SECRET_NAME = re.compile(r"api_key|password|token$|secret", re.IGNORECASE)
REDACTED = "<hidden>"


def redact(name, value):
    """value with secrets hidden: a secret variable's non-empty value, and any secret key inside
    dicts or lists (instances carry api_key)."""
    if SECRET_NAME.search(str(name or "")) and value is not None and str(value).strip():
        return REDACTED
    if isinstance(value, dict):
        return dict((k, redact(k, v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [redact(None, v) for v in value]
    return value


class Problem:
    """One thing wrong: variable, its value (secrets hidden), why, and what to do."""

    def __init__(self, variable, value, reason, fix):
        self.variable = variable
        self.value = redact(variable, value)
        self.reason = reason
        self.fix = fix

    def render(self, host):
        return "host %s: %s = %r: %s. Fix: %s" % (
            host, self.variable, _plain(self.value), self.reason, self.fix)

    def as_dict(self):
        return {"variable": self.variable, "value": self.value, "reason": self.reason, "fix": self.fix}

    def __repr__(self):
        return "Problem(%r, %r, %r, %r)" % (self.variable, self.value, self.reason, self.fix)


def _plain(value):
    """Ansible's tagged str/int/list/dict subclasses as plain Python, so %r prints like YAML."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, dict):
        return dict((_plain(k), _plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    for kind in (str, int, float):
        if isinstance(value, kind):
            return kind(value)
    return value


# ---------------------------------------------------------------------------------------------
# Value helpers.

BOOL_WORDS = {"true": True, "yes": True, "on": True, "1": True,
              "false": False, "no": False, "off": False, "0": False, "": False}


def as_bool(value):
    """True/False as Ansible's bool filter reads them; None for anything else."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    return BOOL_WORDS.get(str(value).strip().lower())


def as_int(value):
    """An int from an int or a decimal string; None otherwise (booleans and floats are not ints)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str) and re.match(r"^\s*-?[0-9]+\s*$", value):
        return int(value)
    return None


def as_number(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    try:
        return float(str(value))
    except ValueError:
        return None


def blank(value):
    return value is None or not str(value).strip()


def chip_ids(value, text=False):
    """(ids, None) from a list of chip ids (or, with text, an "0,1,2" string as in
    ASCEND_RT_VISIBLE_DEVICES); (None, reason) when unreadable."""
    if isinstance(value, str) and not text:
        return None, "a string, not a list (the role would read its characters as chips)"
    if isinstance(value, str):
        items = [part.strip() for part in value.split(",")] if value.strip() else []
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        return None, "not a list of chip ids"
    ids = [as_int(item) for item in items]
    bad = [item for item, num in zip(items, ids) if num is None]
    if bad:
        return None, "%s %s not chip ids (whole numbers)" % (
            ", ".join(repr(_plain(b)) for b in bad), "is" if len(bad) == 1 else "are")
    return ids, None


def chip_id_problems(ids, board):
    """Reasons why a list of chip ids is not a set of chips of one board."""
    reasons = []
    dupes = sorted(set(i for i in ids if ids.count(i) > 1))
    if dupes:
        reasons.append("chip ids %s appear more than once" % dupes)
    beyond = [i for i in ids if i < 0 or i >= board]
    if beyond:
        reasons.append("chip ids %s are not on a %d-chip board (ids 0-%d)" % (beyond, board, board - 1))
    return reasons


def option_value(args, option):
    """The value of --option in an argv list ("--option V" or "--option=V"), else None."""
    args = [str(a) for a in (args or [])] if isinstance(args, (list, tuple)) else []
    found = None
    for index, arg in enumerate(args):
        if arg == option and index + 1 < len(args):
            found = args[index + 1]
        elif arg.startswith(option + "="):
            found = arg[len(option) + 1:]
    return found


# ---------------------------------------------------------------------------------------------
# Instances: the merge of sglang_service_instances entries with the role variables.

INSTANCE_PREFIX = "sglang_service_"
# The per-server settings: an entry of sglang_service_instances may set any of these by its short
# name. meta/argument_specs.yml of sglang_service lists exactly these (plus name) as suboptions
# (a unit test keeps the two in step); the role's resolver, module_utils/instances.py, merges
# them with instance_settings below.
INSTANCE_KEYS = (
    "model_path", "served_model_name", "devices", "tp", "device", "attention_backend",
    "grammar_backend", "disable_overlap_schedule", "max_total_tokens", "mem_fraction_static",
    "quantization", "chunked_prefill_size", "enable_metrics", "host", "port", "auth", "api_key",
    "extra_args", "env", "launcher", "image", "profiler_dir", "node_group", "dist_port",
    "socket_ifname",
)
# Keys only the validation reads: auth makes it require a non-empty api_key; the role itself
# turns authentication on whenever the key is non-empty.
VALIDATION_ONLY_KEYS = ("auth",)


def instance_settings(instance, values):
    """The effective settings of one server of sglang_service_instances.

    For every key K of INSTANCE_KEYS the setting is instance[K] when the instance dict has the
    key K (even when its value is null or empty: the instance said so), else the role variable
    sglang_service_K from values (the host's effective variables). The instance's name is
    instance["name"]. One setting is derived: an instance that sets devices but not tp gets
    tp = the number of its devices (a server on its own chips). Nothing else is merged: no deep
    merge of env or extra_args. The role's resolver (module_utils/instances.py) uses this function,
    so validation and the units read the same settings.
    """
    instance = instance if isinstance(instance, dict) else {}
    settings = {"name": instance.get("name")}
    for key in INSTANCE_KEYS:
        settings[key] = instance[key] if key in instance else values.get(INSTANCE_PREFIX + key)
    if "tp" not in instance and isinstance(instance.get("devices"), list):
        settings["tp"] = len(instance["devices"])
    return settings


class Instance:
    """One server of a host, with the variable name behind each of its settings."""

    def __init__(self, index, entry, values, ctx):
        self.index = index
        self.entry = entry if isinstance(entry, dict) else {}
        self.settings = instance_settings(self.entry, values)
        self.name = self.settings["name"] if self.settings["name"] is not None else "#%d" % index
        self.values = values
        self.ctx = ctx
        # Over a node group, a server on its own chips uses them on every node.
        if "tp" not in self.entry and isinstance(self.entry.get("devices"), list):
            self.settings["tp"] = len(self.entry["devices"]) * self.nnodes()

    def __getitem__(self, key):
        return self.settings[key]

    def var(self, key):
        """Where the setting comes from: the instance entry's key or the role variable."""
        if key in self.entry:
            return "sglang_service_instances[%d].%s" % (self.index, key)
        return INSTANCE_PREFIX + key

    def problem(self, key, reason, fix, value=None):
        return Problem(self.var(key), self.settings[key] if value is None else value,
                       "server %s: %s" % (self.name, reason), fix)

    def group(self):
        """The inventory group of a multi-node server (list of hosts), or None."""
        name = self.settings["node_group"]
        if blank(name):
            return None
        return self.ctx.get("groups", {}).get(str(name))

    def nnodes(self):
        group = self.group()
        return len(group) if group and len(group) > 1 else 1

    def chips(self):
        return chip_ids(self.settings["devices"])[0]


def instances(values, ctx):
    entries = values.get("sglang_service_instances")
    if not isinstance(entries, list):
        return []
    return [Instance(i, e, values, ctx) for i, e in enumerate(entries) if isinstance(e, dict)]


# ---------------------------------------------------------------------------------------------
# Variable checks: one row per variable; a check returns the reason the value is wrong, or None.

def check_image(value):
    if blank(value):
        return "an image name cannot be empty"
    if re.search(r"\s", str(value)):
        return "an image name cannot contain white space"
    return None


def check_registry(value):
    """host[:port][/namespace], as docker tag takes it before the image name; empty for none."""
    if blank(value):
        return None
    text = str(value)
    if re.search(r"\s", text) or "://" in text:
        return "a registry is host[:port][/namespace], without a scheme or white space"
    if text.endswith("/") or not re.match(r"^[A-Za-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)*$", text):
        return "not a registry reference host[:port][/namespace]"
    return None


def check_percentage(value):
    num = as_number(value)
    if num is None or not 0 <= num <= 100:
        return "not a percentage from 0 to 100"
    return None


def check_serial(value):
    """A play's serial: a count of hosts (at least 1) or a percentage of them (1% to 100%)."""
    text = str(value).strip()
    if text.endswith("%"):
        num = as_number(text[:-1])
        return None if num is not None and 0 < num <= 100 else "not a percentage from 1% to 100%"
    return check_positive_int(value)


def check_bool(value):
    return None if as_bool(value) is not None else "not a true/false value"


def check_optional_image(value):
    return None if blank(value) else check_image(value)


def check_name(value):
    if blank(value):
        return "a name cannot be empty"
    return None


def check_git_ref(value):
    if value is not None and re.search(r"\s", str(value)):
        return "a git ref cannot contain white space"
    return None


def check_shm(value):
    try:
        size = size_bytes(value)
    except ValueError:
        return "not a size Docker understands"
    if size == 0:
        return "0 bytes: Docker would silently use its 64 MB default, and the server dies on IPC queues"
    if size < SHM_MIN_BYTES:
        return "below 1 GiB: the server dies on its IPC queues (Docker's default is 64 MB)"
    if size > SHM_MAX_BYTES:
        return "larger than 64 TiB, more memory than any Atlas host has"
    return None


def check_positive_int(value):
    num = as_int(value)
    if num is None:
        return "not a whole number"
    if num <= 0:
        return "must be at least 1"
    return None


def check_port(value):
    num = as_int(value)
    if num is None or not 1 <= num <= 65535:
        return "not a TCP port (1-65535)"
    return None


def check_share(value):
    num = as_number(value)
    if num is None or not 0 <= num <= 1:
        return "not a share between 0 and 1"
    return None


def check_release(value):
    if blank(value) or not re.match(r"^[0-9][0-9A-Za-z.+!-]*$", str(value)):
        return "not a release version such as 0.3.2"
    return None


def optional(check):
    """check, with null (unset) accepted."""
    def run(value):
        return None if value is None else check(value)
    run.__name__ = "optional_" + check.__name__
    return run


def check_concurrency(value):
    if not isinstance(value, (list, tuple)):
        return "not a list (the sweep is a YAML list of concurrencies)"
    if not value:
        return "the concurrency sweep is empty"
    bad = [v for v in value if as_int(v) is None or as_int(v) <= 0]
    if bad:
        return "%s %s not positive whole numbers" % (
            ", ".join(repr(_plain(b)) for b in bad), "is" if len(bad) == 1 else "are")
    return None


SLA_KEYS = ("ttft_p99_ms", "tpot_mean_ms", "e2e_p99_ms", "min_output_throughput", "min_completed_ratio")


def check_sla(value):
    if not isinstance(value, dict):
        return "not a dict of limits"
    unknown = sorted(str(k) for k in value if k not in SLA_KEYS)
    if unknown:
        return "unknown limits %s" % ", ".join(unknown)
    reasons = []
    for key in SLA_KEYS:
        if value.get(key) is None:
            continue
        num = as_number(value[key])
        if num is None:
            reasons.append("%s is not a number" % key)
        elif num < 0:
            reasons.append("%s is negative" % key)
        elif key == "min_completed_ratio" and num > 1:
            reasons.append("min_completed_ratio is above 1")
    return "; ".join(reasons) or None


class Check:
    """A row of VARIABLE_CHECKS: variables whose name matches, their check, and the fix."""

    def __init__(self, pattern, check, fix):
        self.pattern = re.compile("^%s$" % pattern)
        self.check = check
        self.fix = fix

    def names(self, values):
        return sorted(name for name in values if self.pattern.match(name))


IMAGE_FIX = "give the image reference (repository[:tag]) without spaces, e.g. mindie:2.1.RC1.B060-800I-A2"
VARIABLE_CHECKS = [
    Check("docker_npu_image", check_image, IMAGE_FIX),
    Check("sglang_build_image_name", check_image, "give the repository of the built image, e.g. npu-sglang"),
    Check("docker_npu_container_name", check_name, "give the work container a name, e.g. sglang-build"),
    Check(r"sglang_build_\w+_ref", check_git_ref, "give a branch, tag or commit id without spaces"),
    Check("(docker_npu|npu_preflight)_shm_size", check_shm,
          "write %s; the recipe uses 1000g, upstream at least 16g" % SIZE_FORMAT),
    Check("sglang_build_distribute_registry", check_registry,
          "give the registry as host[:port][/namespace], e.g. harbor.example.org:5000/npu, or leave it empty"),
    Check("sglang_build_pull_concurrency", check_positive_int,
          "let at least 1 node pull at a time, e.g. 8"),
    # The playbooks' own settings (npu_sglang_*).
    Check("npu_sglang_target", check_name, "name the inventory group (or pattern) to run on, e.g. npu_nodes"),
    Check("npu_sglang_max_fail_percentage", check_percentage,
          "give the share of hosts that may fail before a play stops, from 0 to 100 (default 100)"),
    Check("npu_sglang_(rolling|upgrade|smoke)_serial", check_serial,
          "give how many nodes go at a time: a whole number of at least 1, or a percentage such as 25%"),
    Check("npu_sglang_hardware_check_load_seconds", check_positive_int,
          "give the seconds of load in the hardware check, e.g. 60"),
    Check("npu_sglang_(hardware_checks|teardown_images)", check_bool, "write true or false"),
    Check("npu_sglang_(upgrade|hardware_check)_image", check_optional_image, IMAGE_FIX),
    # The router (roles/sglang_router); its policy and types are checked by the role's argument spec.
    Check("npu_sglang_router_group", check_name, "name the inventory group of the router hosts, e.g. sglang_router"),
    Check("sglang_router_version", check_release, "pin a release of sglang-router the package index has, e.g. 0.3.2"),
    Check("sglang_router_(prometheus_)?port", check_port, "choose a free port between 1024 and 65535, e.g. 30080"),
    Check("sglang_router_cache_threshold", check_share, "give the matched share of a prompt from 0 to 1, e.g. 0.3"),
    Check("sglang_router_(health_check_interval_secs|health_failure_threshold|health_success_threshold"
          "|health_check_timeout_secs|health_timeout|eviction_interval_secs|max_tree_size)", check_positive_int,
          "give a whole number of at least 1, e.g. 10"),
    Check("sglang_bench_concurrency", check_concurrency,
          "list the concurrencies to sweep as positive whole numbers, e.g. [1, 8, 32, 64]"),
    Check("sglang_bench_(profile_)?num_prompts", optional(check_positive_int),
          "set the number of prompts per run to a positive whole number, e.g. 200 (or null for the default)"),
    Check("sglang_bench_sla", check_sla,
          "give limits >= 0 (min_completed_ratio between 0 and 1) for the keys %s" % ", ".join(SLA_KEYS)),
]


def rule_variables(values, ctx):
    """VARIABLE_CHECKS on every matching variable; a value computed from a templated role default
    is left to the variable it is computed from."""
    derived = ctx.get("derived", ())
    for row in VARIABLE_CHECKS:
        for name in row.names(values):
            reason = None if name in derived else row.check(values.get(name))
            if reason:
                yield Problem(name, values.get(name), reason, row.fix)


# ---------------------------------------------------------------------------------------------
# The stack profile and its overrides.

def _stack(values, ctx):
    name = values.get("npu_stack_profile")
    stacks = ctx.get("stacks", {})
    if name not in stacks:
        return name, None
    stack = dict(stacks[name])
    overrides = values.get("npu_stack_overrides")
    stack.update(overrides if isinstance(overrides, dict) else {})
    return name, stack


def rule_stack_profile(values, ctx):
    name, stack = _stack(values, ctx)
    if stack is None:
        yield Problem("npu_stack_profile", name, "no such stack profile (no file roles/npu_stack/vars/stacks/%s.yml)" % name,
                      "use one of %s" % ", ".join(sorted(ctx.get("stacks", {}))))


def rule_stack_versions(values, ctx):
    name, stack = _stack(values, ctx)
    if stack is None:
        return
    for keys, reason, fix in profile_problems(stack):
        yield Problem("npu_stack_overrides", keys, "stack %s: %s" % (name, reason), fix)
    python = str(ctx["stacks"][name].get("python"))
    if str(stack.get("python")) != python:
        yield Problem("npu_stack_overrides", {"python": stack.get("python")},
                      "the stack %s is pinned for Python %s: its base image carries that Python and its torch_npu "
                      "wheels are built for it" % (name, python),
                      "keep python at %s, or write a stack profile for the other Python with its own base image"
                      % python)


# Keys of the resolved stack: (name pattern, check, fix).
STACK_KEY_CHECKS = [
    (r".+_ref", check_git_ref, "give a branch, tag or commit id without spaces"),
    (r".+_repo", lambda v: "a git URL is empty" if blank(v) else None,
     "give the URL of the repository or of its mirror"),
    (r"base_image", check_image, IMAGE_FIX),
]


def rule_stack_keys(values, ctx):
    stack = _stack(values, ctx)[1]
    if stack is None:
        return
    for key in sorted(stack):
        for pattern, check, fix in STACK_KEY_CHECKS:
            reason = re.match("^%s$" % pattern, key) and check(stack[key])
            if reason:
                yield Problem("npu_stack_overrides", {key: stack[key]}, reason, fix)


# ---------------------------------------------------------------------------------------------
# Chips: every list of chip ids (ASCEND_RT_VISIBLE_DEVICES in all its sources).

def _board(values):
    return as_int(values.get("docker_npu_board_chips")) or 8


def chip_sources(values, ctx):
    """(variable, value, text) of every list of chip ids the host configures; text: a string
    "0,1" is the form (environment variables)."""
    derived = ctx.get("derived", ())
    for name in ("docker_npu_devices", "npu_preflight_devices", "sglang_service_devices"):
        if values.get(name) is not None and name not in derived:
            yield name, values[name], False
    envs = [(name, values.get(name)) for name in ("docker_npu_env", "sglang_service_env")]
    for inst in instances(values, ctx):
        if "devices" in inst.entry:
            yield inst.var("devices"), inst["devices"], False
        if "env" in inst.entry:
            envs.append((inst.var("env"), inst["env"]))
    for name, env in envs:
        if isinstance(env, dict) and "ASCEND_RT_VISIBLE_DEVICES" in env:
            yield name + ".ASCEND_RT_VISIBLE_DEVICES", env["ASCEND_RT_VISIBLE_DEVICES"], True


def rule_chip_lists(values, ctx):
    board = _board(values)
    for name, value, text in chip_sources(values, ctx):
        ids, unreadable = chip_ids(value, text)
        if unreadable:
            yield Problem(name, value, unreadable, "list chip ids as whole numbers, e.g. [0, 1, 2, 3] (or \"0,1,2,3\" in an environment)")
            continue
        if not ids:
            yield Problem(name, value, "no chip is in use", "list the chip ids to use, e.g. [0, 1, 2, 3]")
            continue
        for reason in chip_id_problems(ids, board):
            yield Problem(name, value, reason,
                          "list each chip once, with ids 0-%d (or set docker_npu_board_chips for a larger board)" % (board - 1))


# ---------------------------------------------------------------------------------------------
# Servers (sglang_service_instances): one check per function, run on every instance.

PAGE_SIZE_ASCEND = 128
QUANTIZATIONS = ("w8a8_int8", "modelslim", "compressed-tensors", "awq", "gptq", "auto-round", "gguf")
HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9._-]+$")


def inst_tp(inst):
    # An entry that brings its own chips but not its own tp inherits sglang_service_tp (counted
    # over sglang_service_devices): the fix is a tp in that entry.
    tp_var = inst.var("tp")
    if "devices" in inst.entry and "tp" not in inst.entry:
        tp_var = "sglang_service_instances[%d].tp" % inst.index
    tp = as_int(inst["tp"])
    if tp is None or tp < 1:
        yield inst.problem("tp", "the tensor parallel size is not a positive whole number",
                           "set %s to the number of chips one model copy spans, e.g. 8" % tp_var)
        return
    chips = inst.chips()
    if chips is None:
        return
    used = len(set(chips)) * inst.nnodes()
    where = "%d chips in use" % used if inst.nnodes() == 1 else "%d chips in use (%d per node x %d nodes)" % (
        used, len(set(chips)), inst.nnodes())
    if tp > used:
        yield inst.problem("tp", "tp %d is larger than the %s" % (tp, where),
                           "set %s to at most %d, or give the server more chips (%s)" % (tp_var, used, inst.var("devices")))
    elif used % tp:
        yield inst.problem("tp", "tp %d does not divide the %s" % (tp, where),
                           "set %s to a divisor of %d (e.g. %d), or change %s" % (tp_var, used, used, inst.var("devices")))


def inst_page_size(inst):
    value = inst["max_total_tokens"]
    if value is None or str(value).strip() == "":
        return
    tokens = as_int(value)
    if tokens is None or tokens < 1:
        yield inst.problem("max_total_tokens", "not a positive whole number",
                           "give the token pool size as a whole number, or null for SGLang's choice")
    elif str(inst["attention_backend"]) == "ascend" and tokens < PAGE_SIZE_ASCEND:
        yield inst.problem("max_total_tokens",
                           "below the page size %d of the ascend attention backend" % PAGE_SIZE_ASCEND,
                           "set max_total_tokens to at least %d (a multiple of %d), or null"
                           % (PAGE_SIZE_ASCEND, PAGE_SIZE_ASCEND))


def inst_backend_device(inst):
    if str(inst["attention_backend"]) == "ascend" and str(inst["device"]) != "npu":
        yield inst.problem("device", "the ascend attention backend runs only on device npu",
                           "set device to npu, or choose another attention_backend")


def inst_quantization(inst):
    value = inst["quantization"]
    if not blank(value) and str(value) not in QUANTIZATIONS:
        yield inst.problem("quantization", "not a quantization SGLang loads on Ascend",
                           "use one of %s, or empty for none" % ", ".join(QUANTIZATIONS))


def inst_ports(inst):
    keys = ["port"] + (["dist_port"] if inst.group() else [])
    for key in keys:
        port = as_int(inst[key])
        if port is None or not 1 <= port <= 65535:
            yield inst.problem(key, "not a TCP port (1-65535)", "choose a free port between 1024 and 65535")


def inst_model_path(inst):
    path = inst["model_path"]
    if blank(path):
        yield inst.problem("model_path", "no model to serve",
                           "set sglang_service_model_path to the model directory on the nodes, e.g. /data/models/Qwen3-8B")
        return
    path = str(path)
    if path.startswith("/"):
        yield from _model_in_mounts(inst, path)
        return
    dummy = option_value(inst["extra_args"], "--load-format") == "dummy"
    if HUB_ID.match(path):
        if not dummy:
            yield inst.problem("model_path",
                               "not an absolute path; read as a hub id (org/name), every node would download "
                               "the weights at start",
                               "download the model and give its absolute path, or add '--load-format dummy' "
                               "to extra_args for a run without real weights")
        return
    yield inst.problem("model_path", "not an absolute path",
                       "give the absolute path of the model directory on the nodes, e.g. /data/models/Qwen3-8B")


def container_dirs(values):
    """The directories the serving container mounts, as (variable, container path); None when unknown."""
    found = []
    keys = ("docker_npu_model_dir", "docker_npu_cache_dir", "docker_npu_mounts")
    model_dir, cache_dir, mounts = (values.get(key) for key in keys)
    if model_dir is None and cache_dir is None and mounts is None:
        return None
    for name, value in (("docker_npu_model_dir", model_dir), ("docker_npu_cache_dir", cache_dir)):
        if not blank(value):
            found.append((name, str(value)))
    for entry in mounts if isinstance(mounts, list) else []:
        parts = str(entry).split(":")
        found.append(("docker_npu_mounts", parts[1] if len(parts) > 1 else parts[0]))
    return found


def _model_in_mounts(inst, path):
    """The server reads its model inside the container at the same path: some mount must hold it."""
    dirs = container_dirs(inst.values)
    if dirs is None:
        return
    norm = os.path.normpath(path)
    for _name, directory in dirs:
        directory = os.path.normpath(directory)
        if norm == directory or norm.startswith(directory.rstrip("/") + "/"):
            return
    where = ", ".join("%s %s" % (name, directory) for name, directory in dirs) or "none"
    model_dir = inst.values.get("docker_npu_model_dir") or "/data/models"
    yield inst.problem("model_path", "outside every directory the serving container mounts (%s), so the server "
                       "would not find it" % where,
                       "put the model under docker_npu_model_dir (%s, mounted read-only), or set "
                       "docker_npu_model_dir to the directory that holds it" % model_dir)


def inst_auth(inst):
    auth = as_bool(inst["auth"])
    if auth is None:
        yield inst.problem("auth", "not a boolean", "set auth to true or false")
    elif auth and blank(inst["api_key"]):
        yield inst.problem("api_key", "authentication is on (auth: true) but the API key is empty",
                           "set sglang_service_api_key from Ansible Vault or an AWX credential, or set "
                           "auth to false", value=inst["api_key"] if inst["api_key"] is not None else "")


def inst_nodes(inst):
    name = inst["node_group"]
    groups = inst.ctx.get("groups", {})
    host = inst.ctx.get("host")
    explicit = option_value(inst["extra_args"], "--nnodes")
    if not blank(name):
        if str(name) not in groups:
            yield inst.problem("node_group", "no inventory group of that name",
                               "name the inventory group whose hosts serve this model together")
            return
        if host not in groups[str(name)]:
            yield inst.problem("node_group", "this host is not in group %s (%s)" % (name, ", ".join(groups[str(name)])),
                               "add the host to the group, or set node_group for the group's hosts only")
            return
    if inst.nnodes() > 1 and blank(inst["socket_ifname"]):
        yield inst.problem("socket_ifname",
                           "a server over %d nodes needs the network interface HCCL and Gloo use between them"
                           % inst.nnodes(),
                           "set %s to the interface the nodes reach each other on, e.g. eth0 (see ip -br addr)"
                           % inst.var("socket_ifname"))
    if explicit is not None and as_int(explicit) != inst.nnodes():
        size = inst.nnodes()
        yield inst.problem("extra_args", "--nnodes %s does not match the %d node(s) of %s" % (
            explicit, size, "group %s" % name if not blank(name) else "a server without node_group"),
            "drop --nnodes from extra_args (the role sets it from sglang_service_node_group), or make the group %s hosts"
            % explicit)


def inst_launch_contract(inst):
    """The server's launch arguments against the parser of the SGLang release the stack builds
    (roles/npu_stack/files/sglang_cli/<release>.json, read from that release's own source)."""
    stack = _stack(inst.values, inst.ctx)[1] or {}
    release = stack.get("sglang_release")
    options = inst.ctx.get("contracts", {}).get(str(release))
    if options is None:
        return
    argv = launch_args(inst.settings, inst.nnodes(), 0, "head:%s" % inst["dist_port"])
    for flag, message in check_argv(options, argv):
        key = flag_setting(flag) or "extra_args"
        yield inst.problem(key, "SGLang %s (the release of stack %s) refuses it: %s" % (release, stack.get("name"), message),
                           "use what that release's launch_server accepts (python -m sglang.launch_server --help "
                           "of sglang %s), or a stack profile of a release that has it" % release)


INSTANCE_CHECKS = [inst_tp, inst_page_size, inst_backend_device, inst_quantization, inst_ports,
                   inst_model_path, inst_auth, inst_nodes, inst_launch_contract]


def rule_instances(values, ctx):
    for inst in instances(values, ctx):
        for check in INSTANCE_CHECKS:
            yield from check(inst)


def rule_instances_apart(values, ctx):
    """Servers of one host need distinct names, distinct ports and disjoint chips."""
    servers = instances(values, ctx)
    names, ports, owner = {}, {}, {}
    for inst in servers:
        if inst.name in names:
            yield Problem("sglang_service_instances[%d].name" % inst.index, inst.name,
                          "servers #%d and #%d have the same name (one unit npu-sglang@%s)"
                          % (names[inst.name].index, inst.index, inst.name),
                          "give every server of sglang_service_instances its own name")
        names.setdefault(inst.name, inst)
        port = as_int(inst["port"])
        if port in ports:
            yield inst.problem("port", "servers %s and %s both listen on port %s" % (ports[port].name, inst.name, port),
                               "give every server of the host its own port (set port per instance)")
        ports.setdefault(port, inst)
        shared = sorted(c for c in set(inst.chips() or []) if c in owner)
        if shared:
            yield inst.problem("devices", "servers %s and %s share chips %s" % (owner[shared[0]].name, inst.name, shared),
                               "give each server its own chips (set devices per instance)")
        for chip in inst.chips() or []:
            owner.setdefault(chip, inst)


RULES = [rule_variables, rule_stack_profile, rule_stack_versions, rule_stack_keys, rule_chip_lists,
         rule_instances, rule_instances_apart]


def check_rules(values, ctx, rules=None):
    """Problems of every rule. values: the host's effective variables; ctx: host, groups, stacks,
    and optionally set (names the host sets) and derived (names whose value is computed from a
    templated role default, left to the variables they are computed from)."""
    problems = []
    for rule in rules or RULES:
        problems.extend(rule(values, ctx))
    return problems
