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

import math
import os
import re

from ansible.module_utils.common.text.formatters import human_to_bytes

from ansible_collections.npu.sglang.plugins.module_utils.bench_analysis import LIMITS
from ansible_collections.npu.sglang.plugins.module_utils.launch import LAUNCH_FLAGS, flag_setting, launch_args
from ansible_collections.npu.sglang.plugins.module_utils.redaction import mask as redact
from ansible_collections.npu.sglang.plugins.module_utils.sglang_args import check_argv
from ansible_collections.npu.sglang.plugins.module_utils.stack_rules import profile_problems

# ---------------------------------------------------------------------------------------------
# Sizes: the one parser (docker_npu_shm_size, the filter npu.sglang.size_bytes, preflight).
#
# Why not simply ansible.builtin.human_to_bytes: one shm size reaches two parsers. The build
# container gets it through community.docker (docker_container's shm_size goes through
# ansible's human_to_bytes), the serving unit's `docker run --shm-size` through the Docker CLI
# (docker/go-units RAMInBytes: `(?i)^(\d+(\.\d+)*) ?([kmgtp])?i?b?$`, the number truncated). They
# disagree: "16gb" and "16GiB" pass Docker and fail human_to_bytes; "1.7k" is 1741 bytes to one
# (rounded) and 1740 to the other (truncated); "16 g" splits into two words on a unit line. So the
# accepted form is what both read alike: digits and at most one unit letter, either case. The
# arithmetic is human_to_bytes' own, so a size means here what it means to community.docker.

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
    return human_to_bytes(match.group(1) + match.group(2).upper())


# Below this the server dies on its IPC queues; above this no host has that memory (the host's
# real memory is checked by npu_preflight).
SHM_MIN_BYTES = 1024 ** 3
SHM_MAX_BYTES = 64 * 1024 ** 4

# ---------------------------------------------------------------------------------------------
# Problems (their values pass through redaction.mask).


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
# name. They are the settings of the launch table (launch.LAUNCH_FLAGS: a launch flag added there
# is one here too) and the server's others below. meta/argument_specs.yml of sglang_service lists
# exactly these (plus name) as suboptions (a unit test keeps the two in step); the role's resolver,
# module_utils/instances.py, merges them with instance_settings below.
SERVER_KEYS = ("devices", "auth", "api_key", "extra_args", "env", "launcher", "image", "profiler_dir", "node_group",
               "dist_port", "socket_ifname")
INSTANCE_KEYS = tuple(row[0] for row in LAUNCH_FLAGS) + SERVER_KEYS
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


# The limits bench_report knows: the metric registry's (bench_metrics.Metric.limit) and the share of
# completed prompts.
SLA_KEYS = tuple(LIMITS)


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


# ---------------------------------------------------------------------------------------------
# Kinds of constraint: each is a check of one value, the rule as the docs print it, a wrong value
# the bad-input matrix uses, and (for numbers) the bounds a survey question must stay within.

class Kind:
    """A constraint: check(value) -> reason or None; text: the rule in words; bad: a wrong value
    (None: no value of the option's type is wrong, see free()); low/high: numeric bounds; choices:
    the allowed values; context: the check reads the host's other variables (check(value, values, ctx))."""

    def __init__(self, check, text, bad, low=None, high=None, choices=None, context=False, companions=None):
        self.companions = companions or {}  # what the bad value needs beside it to be wrong
        self.check = check
        self.text = text
        self.bad = bad
        self.low = low
        self.high = high
        self.choices = choices
        self.context = context


def whole(low=1, high=None, none_ok=False, also=()):
    """A whole number from low (to high); none_ok: null leaves the choice to the program; also:
    extra values with a meaning of their own (SGLang's -1)."""
    def check(value):
        if value is None and none_ok:
            return None
        num = as_int(value)
        if num is None:
            return "not a whole number"
        if num in also:
            return None
        if num < low:
            return "must be at least %d" % low
        if high is not None and num > high:
            return "must be at most %d" % high
        return None
    text = "whole number >= %d" % low if high is None else "whole number %d-%d" % (low, high)
    if also:
        text += " (or %s)" % ", ".join(str(a) for a in also)
    if none_ok:
        text += ", or null"
    return Kind(check, text, low - 1 if low - 1 not in also else high + 1, low, high)


def number(low, high=None, low_open=False, none_ok=False):
    """A number above (or from) low, up to high."""
    def check(value):
        if value is None and none_ok:
            return None
        num = as_number(value)
        if num is None or math.isnan(num):
            return "not a number"
        if num < low or (low_open and num == low):
            return "must be %s %s" % ("above" if low_open else "at least", low)
        if high is not None and num > high:
            return "must be at most %s" % high
        return None
    text = "number %s %s" % ("> " if low_open else ">=", low) if high is None else "number in %s%s, %s]" % (
        "(" if low_open else "[", low, high)
    if none_ok:
        text += ", or null"
    return Kind(check, text, low if low_open else low - 1, low, high)


FRACTION = number(0, 1, low_open=True)
PORT = Kind(whole(1, 65535).check, "TCP port 1-65535", 70000, 1, 65535)


def _abs_path(value):
    if blank(value):
        return "a path cannot be empty"
    text = str(value)
    if not text.startswith("/"):
        return "not an absolute path (a container or unit would read it relative to its own working directory)"
    if re.search(r"[\s:]", text):
        return "a path here cannot contain white space or ':' (it goes into docker -v and unit lines)"
    return None


ABS_PATH = Kind(_abs_path, "absolute path", "data/cache")
OPT_ABS_PATH = Kind(lambda v: None if blank(v) else _abs_path(v), "absolute path, or empty", "data/cache")


def _path(value):
    return "a path cannot be empty" if blank(value) else None


PATH = Kind(_path, "path (relative to the playbook directory or absolute), not empty", "")

URL_RE = re.compile(r"^(https?|file)://[^\s/]*[^\s]*$")


def _url(value):
    if blank(value):
        return "a URL cannot be empty"
    if not URL_RE.match(str(value)) or str(value).rstrip("/").endswith("://"):
        return "not an http(s):// or file:// URL"
    return None


URL = Kind(_url, "http(s):// or file:// URL", "example.org/data.tar")
OPT_URL = Kind(lambda v: None if blank(v) else _url(v), "http(s):// or file:// URL, or empty", "example.org/simple")


def _wheel(value):
    if blank(value):
        return None
    text = str(value)
    if "://" in text and not re.match(r"^https?://\S+$", text):
        return "a URL of the wheel must be http(s)://"
    return None if text.endswith(".whl") else "not a wheel (the file name must end in .whl)"


URL_OR_PATH = Kind(_wheel, "http(s):// URL or path of a .whl file, or empty", "torch_npu-2.6.0.tar.gz")

# The reference grammar of docker (distribution/reference): [host[:port]/]path[:tag][@digest],
# the path in lowercase components.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?"
REPOSITORY_RE = re.compile(r"^(?:%s/)?%s(?:/%s)*$" % (_DOMAIN, _COMPONENT, _COMPONENT))
IMAGE_RE = re.compile(r"^(?:%s/)?%s(?:/%s)*(?::[\w][\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$"
                      % (_DOMAIN, _COMPONENT, _COMPONENT))


def check_image(value):
    if blank(value):
        return "an image name cannot be empty"
    if re.search(r"\s", str(value)):
        return "an image name cannot contain white space"
    if not IMAGE_RE.match(str(value)):
        return "not an image reference [registry/]repository[:tag][@digest] (repository in lowercase)"
    return None


def check_repository(value):
    reason = check_image(value)
    if reason is None and not REPOSITORY_RE.match(str(value)):
        return "a repository without a tag (the tag is the build's fingerprint)"
    return reason


def check_optional_image(value):
    return None if blank(value) else check_image(value)


IMAGE = Kind(check_image, "image reference [registry/]repository[:tag][@digest]", "Mindie:2.1 RC1")
OPT_IMAGE = Kind(check_optional_image, "image reference, or empty", "NPU-Sglang:latest")
REPOSITORY = Kind(check_repository, "image repository without a tag", "npu-sglang:latest")

# docker's container names ([a-zA-Z0-9][a-zA-Z0-9_.-]*).
CONTAINER_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


def _container(value):
    if blank(value):
        return "a container name cannot be empty"
    return None if CONTAINER_RE.match(str(value)) else "not a Docker container name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)"


CONTAINER = Kind(_container, "Docker container name [a-zA-Z0-9][a-zA-Z0-9_.-]*", "sglang build")
OPT_CONTAINER = Kind(lambda v: None if v is None else _container(v),
                     "Docker container name, or unset (the calling role sets it)", "sglang build")


def _word(value):
    if blank(value):
        return "cannot be empty"
    return "cannot contain white space" if re.search(r"\s", str(value)) else None


WORD = Kind(_word, "one word: not empty, no white space", "python 3")
OPT_WORD = Kind(lambda v: None if blank(v) else _word(v), "one word without white space, or empty", "Ascend 910B3")
TEXT = Kind(lambda v: "cannot be empty" if blank(v) else None, "text, not empty", " ")
RUN_ID = Kind(lambda v: None if blank(v) or re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", str(v))
              else "not a directory name ([A-Za-z0-9][A-Za-z0-9._-]*)",
              "directory name [A-Za-z0-9][A-Za-z0-9._-]*, or empty for a timestamp", "../run 1")
SHA256 = Kind(lambda v: None if blank(v) or re.match(r"^[0-9a-fA-F]{64}$", str(v)) else "not a sha256 (64 hex digits)",
              "sha256: 64 hex digits, or empty", "abc123")
VERSION = Kind(lambda v: None if re.match(r"^[0-9]+(\.[0-9]+)*$", str(v)) else "not a version such as 20.10",
               "version such as 20.10", "twenty")
# Linux interface names: at most 15 bytes (IFNAMSIZ 16), no '/', ':' or white space.
IFNAME = Kind(lambda v: None if blank(v) or re.match(r"^[^/:\s]{1,15}$", str(v)) else
              "not a network interface name (at most 15 characters, no '/', ':' or white space)",
              "interface name (at most 15 characters), or empty", "eth0 eth1")
# The Linux cpufreq governors.
GOVERNORS = ("performance", "powersave", "ondemand", "conservative", "schedutil", "userspace")
GOVERNOR = Kind(lambda v: None if str(v) in GOVERNORS else "not a cpufreq governor",
                "one of %s" % ", ".join(GOVERNORS), "turbo", choices=GOVERNORS)


def _rate(value):
    if str(value).strip().lower() == "inf":
        return None
    num = as_number(value)
    if num is None or math.isnan(num) or num <= 0:
        return "not a positive number of requests per second, nor inf"
    return None


RATE = Kind(_rate, "number > 0 (requests per second), or inf (all at once)", 0)
PERCENTAGE = Kind(check_percentage, "number 0-100", 150, 0, 100)
SERIAL = Kind(check_serial, "whole number >= 1, or a percentage 1%-100%", 0, 1)
BOOL = Kind(check_bool, "true or false", "maybe")


def check_size(value):
    try:
        size = size_bytes(value)
    except ValueError:
        return "not a size Docker understands"
    return "0 bytes" if size == 0 else None


SIZE = Kind(check_size, "size > 0: " + SIZE_FORMAT, "16gb")
SHM = Kind(check_shm, "size from 1g to 64t: " + SIZE_FORMAT, "512m")
REGISTRY = Kind(check_registry, "registry host[:port][/namespace] without a scheme, or empty", "https://harbor.example.org")
GIT_REF = Kind(check_git_ref, "git branch, tag or commit without white space", "v0.8.5 rc1")
NAME = Kind(check_name, "not empty", "")

ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _env(value):
    if not isinstance(value, dict):
        return "not a dict of environment variables"
    bad = sorted(str(k) for k in value if not ENV_NAME_RE.match(str(k)))
    if bad:
        return "%s %s not environment variable names ([A-Za-z_][A-Za-z0-9_]*)" % (
            ", ".join(bad), "is" if len(bad) == 1 else "are")
    nested = sorted(str(k) for k, v in value.items() if isinstance(v, (dict, list)))
    if nested:
        return "the values of %s are not strings" % ", ".join(nested)
    return None


ENV = Kind(_env, "dict NAME: value, names [A-Za-z_][A-Za-z0-9_]*, values strings", {"HTTPS-PROXY": "x"})


def _sysctl(value):
    if not isinstance(value, dict):
        return "not a dict of sysctl settings"
    bad = sorted(str(k) for k in value if not re.match(r"^[a-z0-9_]+([./][a-z0-9_-]+)+$", str(k)))
    return "%s: not sysctl keys such as vm.swappiness" % ", ".join(bad) if bad else None


SYSCTL = Kind(_sysctl, "dict of sysctl key (e.g. vm.swappiness): value", {"swappiness": "10"})


def list_of(element, text, bad, nonempty=False):
    """A list whose every element passes element(item) (a reason or None)."""
    def check(value):
        if not isinstance(value, (list, tuple)):
            return "not a list"
        if nonempty and not value:
            return "the list cannot be empty"
        reasons = ["%r: %s" % (_plain(item), element(item)) for item in value if element(item)]
        return "; ".join(reasons) or None
    return Kind(check, ("non-empty list, each " if nonempty else "list, each ") + text, bad)


def _regex(item):
    try:
        re.compile(str(item))
    except re.error as exc:
        return "not a regular expression (%s)" % exc
    return None


def _mount(item):
    """docker -v source:destination[:options]; the destination is absolute."""
    parts = str(item).split(":")
    if len(parts) not in (2, 3) or not all(parts[:2]):
        return "not source:destination[:options]"
    if not parts[1].startswith("/"):
        return "the destination is not an absolute path"
    if "/" in parts[0] and not parts[0].startswith("/"):
        return "the source is neither an absolute path nor a volume name"
    return None


def _mount_or_path(item):
    return _abs_path(item) if ":" not in str(item) else _mount(item)


# PEP 508 distribution names.
DIST_RE = re.compile(r"^([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$")
COMMAND = list_of(_word, "word without white space", ["python3", "-m sglang.launch_server"], nonempty=True)


def free(reason, bad=None):
    """No value of the option's type is wrong: reason says why. bad: a value of the wrong type,
    when the argument spec's type refuses one."""
    return Kind(lambda v: None, "any value (%s)" % reason, bad)


def names_in_instances(value, values, ctx):
    """Server names that sglang_service_instances does not have."""
    del ctx
    if not isinstance(value, (list, tuple)):
        return "not a list of server names"
    known = [i.name for i in instances(values, {})]
    unknown = [str(v) for v in value if str(v) not in known]
    if unknown:
        return "%s %s no server of sglang_service_instances (%s)" % (
            ", ".join(unknown), "is" if len(unknown) == 1 else "are", ", ".join(known) or "none")
    return None


INSTANCE_NAMES = Kind(names_in_instances, "list of names of sglang_service_instances, or empty for all", ["no-such-server"],
                      context=True)


def inventory_host(value, values, ctx):
    del values
    if blank(value):
        return None
    hosts = ctx.get("groups", {}).get("all")
    if hosts is not None and str(value) not in hosts:
        return "no host of the inventory"
    return None


INVENTORY_HOST = Kind(inventory_host, "a host of the inventory, or empty for the first target host", "no-such-node",
                      context=True)


def accuracy_min(value):
    if not isinstance(value, dict):
        return "not a dict task: lowest accuracy"
    unknown = sorted(str(k) for k in value if k not in ACCURACY_TASKS)
    if unknown:
        return "unknown tasks %s (the tasks are %s)" % (", ".join(unknown), ", ".join(ACCURACY_TASKS))
    bad = sorted(str(k) for k, v in value.items() if as_number(v) is None or not 0 <= as_number(v) <= 1)
    return "%s: not an accuracy from 0 to 1" % ", ".join(bad) if bad else None


ACCURACY_TASKS = ("mmlu", "gsm8k")
ENGINES = ("sglang", "vllm")
SLA = Kind(check_sla, "dict of limits >= 0 (min_completed_ratio 0-1) for the keys %s" % ", ".join(SLA_KEYS),
           {"ttft_p99_ms": -1})
CONCURRENCY = Kind(check_concurrency, "non-empty list of whole numbers >= 1", [8, 0])
# The policies the benchmark can compare (sglang-router 0.3.2's --policy choices but manual, which
# routes by a header the benchmark client does not send).
ROUTER_BENCH_POLICIES = ("random", "round_robin", "cache_aware", "power_of_two")
# Parsed by the release's launch_server (roles/npu_stack/files/sglang_cli/<release>.json): a
# value its parser refuses fails as inst_launch_contract says; the cross-field rules add the rest.
SGLANG_FLAG = "checked against the launch_server parser of the stack's SGLang release"


def by_rule(text, bad, companions=None):
    """A constraint a cross-field rule (RULES, INSTANCE_CHECKS) checks: no check of the value alone."""
    return Kind(lambda v: None, text, bad, companions=companions)


class Check:
    """A row of VARIABLE_CHECKS: variables whose name matches, their constraint (a Kind), and the fix."""

    def __init__(self, pattern, kind, fix=None):
        self.pattern = re.compile("^(?:%s)$" % pattern)
        self.kind = kind
        self.fix = fix or "set it to a %s" % kind.text

    def check(self, value, values=None, ctx=None):
        if self.kind.context:
            return self.kind.check(value, values or {}, ctx or {})
        return self.kind.check(value)

    def names(self, values):
        return sorted(name for name in values if self.pattern.match(name))


IMAGE_FIX = "give the image reference (repository[:tag]) without spaces, e.g. mindie:2.1.RC1.B060-800I-A2"
SECONDS = whole(1)
# THE table: every option of every role's argument_specs.yml and every npu_sglang_* setting the
# playbooks read has a row here, or a bool type or choices in its spec (tests/unit/
# test_every_option_validated.py keeps it so); docs/variables.md and the AWX survey checks are
# generated or checked from it.
VARIABLE_CHECKS = [
    # sglang_router (its policy is a choice of the role's argument spec)
    Check("npu_sglang_router_group", NAME, "name the inventory group of the router hosts, e.g. sglang_router"),
    Check("sglang_router_version", Kind(check_release, "release version of sglang-router, e.g. 0.3.2", "latest"),
          "pin a release of sglang-router the package index has, e.g. 0.3.2"),
    Check("sglang_router_(prometheus_)?port", PORT, "choose a free port, e.g. 30080"),
    Check("sglang_router_cache_threshold", Kind(number(0, 1).check, "number in [0, 1]", 1.5, 0, 1),
          "give the matched share of a prompt from 0 to 1, e.g. 0.3"),
    Check("sglang_router_(health_check_interval_secs|health_failure_threshold|health_success_threshold"
          "|health_check_timeout_secs|health_timeout|eviction_interval_secs|max_tree_size)", whole(1),
          "give a whole number of at least 1, e.g. 10"),
    Check("sglang_router_drain_timeout", whole(0), "give the seconds a draining server may take to end its requests, e.g. 120"),
    Check("sglang_router_balance_abs_threshold", whole(0), "give the load difference in requests, e.g. 64"),
    Check("sglang_router_balance_rel_threshold", number(0, low_open=True), "give the load ratio above 0, e.g. 1.5"),
    Check("sglang_router_(venv|config_dir)", ABS_PATH, "give an absolute directory of the router host"),
    Check("sglang_router_python", WORD, "give the Python that makes the virtualenv, e.g. /usr/bin/python3"),
    Check("sglang_router_(prometheus_)?host", WORD, "give an address, e.g. 0.0.0.0 or 127.0.0.1"),
    Check("sglang_router_fleet_group", OPT_WORD, "name the inventory group (or pattern) of the servers, or leave it empty"),
    Check("sglang_router_extra_args", list_of(_word, "one argument word without white space", ["--log-level debug"]),
          "list each flag and each value as its own item, e.g. ['--request-timeout-secs', '600']"),
    Check("sglang_router_venv_packages", list_of(_word, "a package name", ["python3 venv"]),
          "list OS package names, e.g. [python3-venv]"),
    Check("sglang_router_pip_index_url", OPT_URL, "give the index URL with its scheme, or leave it empty"),
    Check("sglang_router_pip_extra_index_urls", list_of(_url, "an http(s):// URL", ["example.org/simple"]),
          "list index URLs with their scheme, e.g. https://mirror.example.org/simple"),
    Check("sglang_router_pip_env", ENV, "write environment variable names with letters, digits and _ only, each with a string value"),
    Check("sglang_router_smoke_prompt", TEXT, "give a short prompt, e.g. The capital of France is"),
    # ascend_stack
    Check("(ascend_stack|triton_fixes)_container", OPT_CONTAINER, "name the build container, e.g. sglang-build"),
    Check("(ascend_stack|triton_fixes)_python", WORD, "give the Python command in the container, e.g. python3"),
    Check("(ascend_stack|npu_preflight)_ascend_root", ABS_PATH, "give the absolute Ascend root, e.g. /usr/local/Ascend"),
    Check("ascend_stack_(torch|pip)_index_url", OPT_URL, "give the index URL, e.g. https://download.pytorch.org/whl/cpu, or empty"),
    Check("ascend_stack_torch_npu_wheel", URL_OR_PATH, "give an https:// URL or a path of the .whl file, or empty"),
    Check("ascend_stack_torch_npu_sha256", SHA256, "give the wheel's sha256 (sha256sum), or empty"),
    Check("ascend_stack_triton_src_dir", ABS_PATH, "give the checkout's absolute path in the container"),
    Check("ascend_stack_triton_subdir", Kind(lambda v: None if blank(v) or not (str(v).startswith("/") or ".." in str(v))
                                             else "not a directory inside the checkout",
                                             "relative directory inside the checkout, or empty", "/python"),
          "give the package directory relative to the checkout, e.g. python, or empty"),
    Check("ascend_stack_pip_exclude", list_of(_regex, "a regular expression", ["nvidia-(["]),
          "list regular expressions of distribution names, e.g. nvidia-.*"),
    Check("ascend_stack_pip_extra_index_urls", list_of(_url, "an http(s):// URL", ["example.org/simple"]),
          "list index URLs with their scheme, e.g. https://mirror.example.org/simple"),
    Check("ascend_stack_pip_trusted_hosts", list_of(lambda i: _word(i) or ("a host, not a URL" if "://" in str(i) else None),
                                                    "host name without scheme", ["https://mirror.example.org"]),
          "list host names without a scheme, e.g. mirror.example.org"),
    Check("ascend_stack_pip_find_links", list_of(_abs_path, "an absolute path in the container", ["wheels"]),
          "list absolute directories in the container, e.g. /opt/wheels"),
    Check("(ascend_stack|sglang_build)_proxy_env|(docker_npu|sglang_service|sglang_bench|sglang_bench_vllm|sglang_build)_env"
          "|sglang_service_env_defaults", ENV,
          "write environment variable names with letters, digits and _ only, each with a string value"),
    Check("ascend_stack_download_dir", OPT_ABS_PATH, "give an absolute directory on the node, or leave it unset"),
    # bench_report
    Check("bench_report_(input|output)_dir|report_(input|output)_dir|sglang_bench_report_dir", PATH,
          "give a directory, e.g. reports/bench"),
    Check("bench_report_title|sglang_bench_title", TEXT, "give the report a title"),
    Check("bench_report_sla_(ttft|tpot)_ms", number(0, low_open=True), "give the limit in milliseconds, above 0, e.g. 2000"),
    Check("bench_report_baseline", free("a summary.json path, or empty for no regression gate; the role reports a missing file")),
    Check("bench_report_max_(throughput_drop|p99_rise)_pct", number(0), "give the tolerated change in percent, >= 0, e.g. 5"),
    Check("bench_report_limits|sglang_bench_sla", SLA,
          "give limits >= 0 (min_completed_ratio between 0 and 1) for the keys %s" % ", ".join(SLA_KEYS)),
    Check("bench_report_limits_engines", list_of(lambda i: None if str(i) in ENGINES else "not an engine",
                                                 "one of %s" % ", ".join(ENGINES), ["sglang", "trt"]),
          "list engines among %s" % ", ".join(ENGINES)),
    # docker_npu
    Check("docker_npu_image", IMAGE, IMAGE_FIX),
    Check("docker_npu_container_name", CONTAINER, "give the work container a name, e.g. sglang-build"),
    Check("docker_npu_sdk_package|sglang_build_zstd_package", WORD, "give the package name, e.g. python3-docker"),
    Check("docker_npu_board_chips", whole(1), "give the chips per board, e.g. 8"),
    Check("(docker_npu|npu_preflight|sglang_service)_devices",
          by_rule("list of chip ids 0..board_chips-1, each once (also ASCEND_RT_VISIBLE_DEVICES in the env dicts)",
                  [0, 0, 1]),
          "list each chip once"),
    Check("docker_npu_extra_devices", list_of(_abs_path, "an absolute device path", ["davinci_manager"]),
          "list device files such as /dev/davinci_manager"),
    Check("docker_npu_capabilities", list_of(lambda i: None if re.match(r"^[A-Za-z_]+$", str(i)) else "not a capability name",
                                             "a capability name such as SYS_ADMIN", ["SYS ADMIN"]),
          "list Linux capabilities such as SYS_ADMIN"),
    Check("docker_npu_security_opts", list_of(_word, "an option without white space", ["seccomp = unconfined"]),
          "list options such as seccomp=unconfined"),
    Check("docker_npu_network_mode", WORD, "give Docker's network mode, e.g. host"),
    Check("(docker_npu|npu_preflight)_shm_size", SHM, "write %s; the recipe uses 1000g, upstream at least 16g" % SIZE_FORMAT),
    Check("docker_npu_driver_mounts", list_of(_mount_or_path, "an absolute path, or source:destination[:options]",
                                              ["usr/local/Ascend/driver"]),
          "list absolute paths of the host, or source:/destination[:ro]"),
    Check("docker_npu_mounts", list_of(_mount, "source:destination[:options], destination absolute", ["/data:data"]),
          "list mounts as /host/path:/container/path[:ro]"),
    Check("docker_npu_(cache|model)_dir", ABS_PATH, "give an absolute directory of the node, e.g. /data/models"),
    # npu_preflight
    Check("npu_preflight_accepted_health", list_of(_word, "a health word of npu-smi", [], nonempty=True),
          "list the npu-smi health values to accept, e.g. [OK]"),
    Check("npu_preflight_npu_smi_path", OPT_ABS_PATH, "give the absolute path of npu-smi, or empty to search PATH"),
    Check("npu_preflight_min_free_gb", number(0, low_open=True), "give the free GiB needed, above 0, e.g. 150"),
    Check("npu_preflight_min_docker_version", VERSION, "give a version such as 20.10"),
    Check("npu_preflight_kernel_settings", SYSCTL, "write sysctl keys such as vm.swappiness"),
    Check("npu_preflight_cpu_governor", GOVERNOR, "use one of %s" % ", ".join(GOVERNORS)),
    # npu_stack (npu_stack_profile: rule_stack_profile, the files of vars/stacks; npu_stack_overrides: the stack rules)
    Check("npu_stack_profile", by_rule("the name of a file of roles/npu_stack/vars/stacks/, e.g. seed", "nightly"),
          "use one of the profiles of roles/npu_stack/vars/stacks/"),
    Check("npu_stack_overrides", by_rule("dict of stack keys; versions consistent, refs without spaces, base image valid",
                                         {"python": "3.10"}), "see roles/npu_stack/vars/stacks"),
    Check("npu_stack_builder|sglang_build_builder|npu_sglang_builder", INVENTORY_HOST,
          "name a host of the inventory (e.g. the first of npu_nodes), or leave it empty"),
    # sglang_bench
    Check("(sglang_bench|sglang_doctor)_instances", INSTANCE_NAMES, "name servers of sglang_service_instances, or give []"),
    Check("sglang_bench_host|sglang_service_host", WORD, "give an address, e.g. 127.0.0.1 or 0.0.0.0"),
    Check("sglang_bench_(vllm_)?image|sglang_service_image|npu_sglang_(upgrade|hardware_check)_image", OPT_IMAGE, IMAGE_FIX),
    Check("sglang_bench_client_module", Kind(lambda v: None if re.match(r"^[A-Za-z_][\w]*(\.[A-Za-z_]\w*)*$", str(v))
                                             else "not auto nor a Python module name",
                                             "auto, or a Python module such as sglang.bench_serving", "sglang bench"),
          "write auto, sglang.bench_serving or sglang.benchmark.serving"),
    Check("sglang_bench_env_wrapper|sglang_service_entrypoint",
          list_of(_word, "a word without white space", ["npu-sglang-env --"]),
          "list the command words, e.g. [npu-sglang-env]"),
    Check("sglang_bench_python|sglang_doctor_python", OPT_WORD, "give the Python command, e.g. python3"),
    Check("sglang_bench_(server_wait|run_timeout|accuracy_timeout|vllm_start_timeout|service_start_timeout)"
          "|sglang_build_step_timeout|sglang_doctor_(http|probe)_timeout|sglang_service_(stop|health)_timeout"
          "|npu_sglang_hardware_check_load_seconds|sglang_doctor_min_hccl_connect_timeout",
          SECONDS, "give the seconds, at least 1"),
    Check("sglang_bench_concurrency|sglang_bench_compare_long_concurrency", CONCURRENCY,
          "list the concurrencies to sweep as positive whole numbers, e.g. [1, 8, 32, 64]"),
    Check("sglang_bench_(profile_)?num_prompts", whole(1, none_ok=True),
          "set the number of prompts per run to a positive whole number, e.g. 200 (or null for the default)"),
    Check("sglang_bench_(prompts_per_concurrency|min_prompts|input_len|output_len|profile_concurrency|profile_max_mb"
          "|gsm8k_num_questions|accuracy_parallel)", whole(1), "give a whole number of at least 1"),
    Check("sglang_bench_compare_long_output_len", whole(0), "give the output length of the long generations, or 0 for none"),
    Check("sglang_bench_range_ratio", FRACTION, "give the ratio in (0, 1], e.g. 1.0 for fixed lengths"),
    Check("sglang_bench_request_rate", RATE, "give requests per second above 0, or inf"),
    Check("sglang_bench_(warmup_requests|seed|accuracy_retries)|sglang_service_restart_sec", whole(0),
          "give a whole number of at least 0"),
    Check("sglang_bench_dataset_path", OPT_ABS_PATH, "give the dataset file's absolute path on the node, or empty"),
    Check("sglang_bench_(tokenizer|model)|sglang_service_served_model_name",
          free("a name or path the client or server resolves itself; empty takes the model path")),
    Check("sglang_bench_backend", Kind(lambda v: None if str(v) in ("sglang", "sglang-oai") else "not a client backend of the SGLang runs",
                                       "sglang or sglang-oai", "openai", choices=("sglang", "sglang-oai")),
          "write sglang (/generate) or sglang-oai (/v1/completions)"),
    Check("sglang_bench_(profile_|vllm_)?extra_args",
          free("arguments handed to the client or vLLM as they are; a wrong one fails that program", bad={"--x": 1})),
    Check("sglang_bench_run_id", RUN_ID, "give a directory name such as 2025-06-01-qwen, or empty"),
    Check("sglang_bench_(node_dir|sglang_src|accuracy_data_dir)|sglang_build_(container_src_dir|log_dir)"
          "|sglang_service_(hccn_tool|config_dir|docker_bin|examples_dir)|triton_fixes_vllm_ascend_dir", ABS_PATH,
          "give an absolute path"),
    Check("sglang_bench_profiler_dir", OPT_ABS_PATH, "give an absolute directory, or empty"),
    Check("sglang_bench_mmlu_nsub", whole(1), "give a number of MMLU subjects, at least 1 (above 57 takes them all)"),
    Check("sglang_bench_accuracy_proxy", OPT_URL, "give the proxy URL, e.g. http://proxy.example.org:3128, or empty"),
    Check("sglang_bench_(mmlu|gsm8k|tiktoken)_url|npu_sglang_awx_scm_url", URL, "give the URL with its scheme"),
    Check("sglang_bench_accuracy_min", Kind(accuracy_min, "dict task (%s): accuracy 0-1" % ", ".join(ACCURACY_TASKS),
                                            {"mmlu": 65}),
          "give the lowest accuracy per task as a fraction, e.g. {mmlu: 0.65}"),
    Check("sglang_bench_vllm_launcher|sglang_service_launcher", COMMAND, "list the command's words, e.g. [python3, -m, sglang.launch_server]"),
    Check("sglang_bench_vllm_port", by_rule("TCP port 1-65535, apart from every server port of the host", 0),
          "choose a free port between 1024 and 65535"),
    Check("sglang_bench_vllm_gpu_memory_utilization", number(0, 1, low_open=True, none_ok=True),
          "give a fraction in (0, 1], e.g. 0.9, or null"),
    Check("sglang_bench_vllm_max_(model_len|num_seqs)", whole(1, none_ok=True), "give a whole number of at least 1, or null"),
    Check("sglang_bench_service_unit_prefix", WORD, "give the unit prefix, e.g. npu-sglang@"),
    # through the router (tasks/fleet.yml)
    Check("sglang_bench_fleet_concurrency",
          Kind(lambda v: None if v is None or v == [] else check_concurrency(v), "list of whole numbers >= 1, [] or null", [0]),
          "list the fleet's concurrencies, e.g. [24, 48], or [] for no sweep through the router, or null for the default"),
    Check("sglang_bench_router_policies",
          list_of(lambda v: None if str(v) in ROUTER_BENCH_POLICIES else "not one of %s" % ", ".join(ROUTER_BENCH_POLICIES),
                  "one of %s" % ", ".join(ROUTER_BENCH_POLICIES), ["manual"]),
          "list sglang-router policies, e.g. [cache_aware, round_robin], or [] for no comparison"),
    Check("sglang_bench_router_(prometheus_)?port", Kind(PORT.check, "TCP port 1-65535, apart from the router's and the servers' ports",
                                                         70000, 1, 65535), "choose a free port of the router host, e.g. 30081"),
    Check("sglang_bench_router_start_timeout", SECONDS, "give the seconds, at least 1"),
    Check("sglang_bench_router_(config_dir|venv)", ABS_PATH, "give the absolute directory role sglang_router uses"),
    Check("sglang_bench_gsp_(num_groups|prompts_per_group|system_prompt_len|question_len|output_len|concurrency)", whole(1),
          "give a whole number of at least 1"),
    # sglang_build
    Check("sglang_build_image_name", REPOSITORY, "give the repository of the built image, e.g. npu-sglang"),
    Check(r"sglang_build_\w+_ref", GIT_REF, "give a branch, tag or commit id without spaces"),
    Check("sglang_build_base_image_archive", OPT_WORD, "give the archive's path, or empty"),
    Check("sglang_build_(registry|distribute_registry)_(username|password)",
          by_rule("any text; username and password together or neither (distribute: with a registry)", "someone")),
    Check("sglang_build_(src|cache)_dir", OPT_WORD, "give a directory without spaces, or leave it unset"),
    Check("sglang_build_distribute_registry", REGISTRY,
          "give the registry as host[:port][/namespace], e.g. harbor.example.org:5000/npu, or leave it empty"),
    Check("sglang_build_(pull_concurrency|expected_minutes|cache_keep)", whole(1), "give a whole number of at least 1, e.g. 8"),
    Check("sglang_build_soc_version", OPT_WORD, "give the SOC_VERSION such as Ascend910B3, or empty"),
    Check("sglang_build_stack_owned", list_of(lambda i: None if DIST_RE.match(str(i)) else "not a distribution name",
                                              "a Python distribution name", ["torch npu"]),
          "list distribution names such as torch_npu"),
    Check("sglang_build_zstd_level", whole(1, 19), "give a zstd level from 1 to 19"),
    # sglang_doctor
    Check("sglang_doctor_min_mem_fraction", FRACTION, "give a fraction in (0, 1], e.g. 0.8"),
    Check("sglang_doctor_min_shm_size", SIZE, "write %s" % SIZE_FORMAT),
    Check("sglang_doctor_vllm_ascend_src", list_of(_abs_path, "an absolute path in the image", ["vllm-ascend"]),
          "list absolute paths, e.g. /opt/sglang-src/vllm-ascend"),
    # sglang_service (per server: INSTANCE_CHECKS, and the rows below on every instance entry)
    Check("sglang_service_instances", by_rule("list of servers: distinct names, ports and chips; each entry's keys "
                                              "follow the sglang_service_<key> rules", [{"name": "main", "prot": 30001}]),
          "give every server its own name, port and chips"),
    Check("sglang_service_model_path", by_rule("absolute path under a mounted directory (or org/name with --load-format dummy)",
                                               "./models/qwen"), "give the model's absolute path"),
    Check("sglang_service_tp", by_rule("whole number >= 1 dividing the chips in use", 3), "give a divisor of the chips"),
    Check("sglang_service_device", by_rule("npu with the ascend attention backend; " + SGLANG_FLAG, "cpu"),
          "set device to npu"),
    Check("sglang_service_attention_backend", by_rule(SGLANG_FLAG, "flash"), "use a backend of the release"),
    Check("sglang_service_max_total_tokens", by_rule("whole number >= 128 (the ascend page size), or null", 64),
          "give at least 128, or null"),
    Check("sglang_service_chunked_prefill_size", whole(1, none_ok=True, also=(-1,)),
          "give tokens per chunk (>= 1), -1 to turn chunked prefill off, or null for SGLang's choice"),
    Check("sglang_service_port", by_rule("TCP port 1-65535, one per server of the host", 70000),
          "choose a free port between 1024 and 65535"),
    Check("sglang_service_dist_port", by_rule("TCP port 1-65535 apart from port (used with node_group)", 70000,
                                              {"sglang_service_node_group": "pair", "sglang_service_tp": 16,
                                               "sglang_service_socket_ifname": "eth0"}),
          "choose a free port between 1024 and 65535"),
    Check("sglang_service_api_key", by_rule("not empty when sglang_service_auth is true", "",
                                            {"sglang_service_auth": True})),
    Check("sglang_service_extra_args", by_rule(SGLANG_FLAG, ["--enable-npu-foo"]), "use flags of the release"),
    Check("sglang_service_profiler_dir", ABS_PATH, "give an absolute directory of the node, e.g. /data/sglang-cache/profile"),
    Check("sglang_service_node_group", by_rule("an inventory group holding this host, or empty", "no-such-group"),
          "name the group whose hosts serve the model together"),
    Check("sglang_service_socket_ifname", IFNAME, "give the interface the nodes reach each other on, e.g. eth0"),
    Check("sglang_service_smoke_prompt", TEXT, "give a prompt for the smoke /generate"),
    # The playbooks' own settings (npu_sglang_*).
    Check("npu_sglang_target", NAME, "name the inventory group (or pattern) to run on, e.g. npu_nodes"),
    Check("npu_sglang_max_fail_percentage", PERCENTAGE,
          "give the share of hosts that may fail before a play stops, from 0 to 100 (default 100)"),
    Check("npu_sglang_(rolling|upgrade|smoke)_serial", SERIAL,
          "give how many nodes go at a time: a whole number of at least 1, or a percentage such as 25%"),
    Check("npu_sglang_(hardware_checks|teardown_images|awx_apply_settings)", BOOL, "write true or false"),
]
# The kinds of value a launch flag's rule may name (launch.LAUNCH_FLAGS): each launch setting whose
# rule is one of these gets its row here, so a new flag with a plain value needs no hand-written row.
LAUNCH_RULES = {
    "int>=1": whole(1),
    "int>=1|null": whole(1, none_ok=True),
    "int>=0": whole(0),
    "fraction": FRACTION,
    "number>0": number(0, low_open=True),
    "abs path": ABS_PATH,
    "word": WORD,
    "text": TEXT,
}
# Rules that need no generated row: the argument spec's type or choices, or a row above.
LAUNCH_RULES_ELSEWHERE = ("bool", "choices", "own")
VARIABLE_CHECKS += [Check(INSTANCE_PREFIX + setting, LAUNCH_RULES[rule])
                    for setting, _flag, _kind, rule in LAUNCH_FLAGS if rule not in LAUNCH_RULES_ELSEWHERE]

# npu_sglang_* names the playbooks use that are no input: custom stats and facts the roles set.
INTERNAL_GLOBALS = {
    "npu_sglang_served": "custom stat of sglang_service for the summary callback",
    "npu_sglang_report": "custom stat of bench_report for the summary callback",
    "npu_sglang_image": "custom stat of sglang_build for the summary callback",
    "npu_sglang_builds": "custom stat of sglang_build for the summary callback",
    "npu_sglang_build_seconds": "custom stat of sglang_build for the summary callback",
    "npu_sglang_validated": "a fact validate.yml sets once a host passed, so a second import skips it",
    "npu_sglang_router": "custom stat of sglang_router for the summary callback",
    "npu_sglang_awx": "the AWX objects awx_configure.yml loads from awx/",
    "npu_sglang_awx_skipped_credentials": "a fact awx_configure.yml computes",
}


def row_for(name):
    """The VARIABLE_CHECKS row of a variable, or None."""
    return next((row for row in VARIABLE_CHECKS if row.pattern.match(name)), None)


def rule_variables(values, ctx):
    """VARIABLE_CHECKS on every matching variable; a value computed from a templated role default
    is left to the variable it is computed from."""
    derived = ctx.get("derived", ())
    for row in VARIABLE_CHECKS:
        for name in row.names(values):
            reason = None if name in derived else row.check(values.get(name), values, ctx)
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


def inst_table(inst):
    """The VARIABLE_CHECKS row of sglang_service_<key> on every key an instance entry sets (the
    role variables themselves are checked by rule_variables)."""
    for key in INSTANCE_KEYS:
        if key not in inst.entry:
            continue
        row = row_for(INSTANCE_PREFIX + key)
        reason = row.check(inst.entry[key], inst.values, inst.ctx) if row else None
        if reason:
            yield inst.problem(key, reason, row.fix)


def inst_dist_port(inst):
    """A server over a node group listens on port and meets its peers on dist_port: two sockets."""
    if inst.group() and as_int(inst["dist_port"]) is not None and as_int(inst["dist_port"]) == as_int(inst["port"]):
        yield inst.problem("dist_port", "the same port as the server's HTTP port %s" % inst["port"],
                           "give %s a port of its own, e.g. 5000" % inst.var("dist_port"))


INSTANCE_CHECKS = [inst_table, inst_dist_port, inst_tp, inst_page_size, inst_backend_device, inst_quantization, inst_ports,
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


def rule_vllm_port(values, ctx):
    """The comparison stops only the server it measures: vLLM needs a port no other server holds."""
    if values.get("sglang_bench_vllm_port") is None:
        return
    port = as_int(values.get("sglang_bench_vllm_port"))
    if port is None or not 1 <= port <= 65535:
        yield Problem("sglang_bench_vllm_port", values.get("sglang_bench_vllm_port"), "not a TCP port (1-65535)",
                      "choose a free port between 1024 and 65535, e.g. 8000")
        return
    for inst in instances(values, ctx):
        for key in ("port", "dist_port") if inst.group() else ("port",):
            if as_int(inst[key]) == port:
                yield Problem("sglang_bench_vllm_port", port, "server %s uses port %s as its %s" % (inst.name, port, key),
                              "give vLLM a port no server of the host uses, e.g. 8000")
                return


def rule_bench_router_ports(values, ctx):
    """On a router host, the policy comparison's temporary router needs ports that neither the
    production router nor a server of the host holds, and two of its own."""
    group = str(values.get("npu_sglang_router_group") or "sglang_router")
    if ctx.get("host") not in (ctx.get("groups") or {}).get(group, []):
        return
    taken = []
    for name in ("sglang_router_port", "sglang_router_prometheus_port"):
        if as_int(values.get(name)) is not None:
            taken.append((as_int(values.get(name)), "the router's %s" % name))
    for inst in instances(values, ctx):
        taken.append((as_int(inst["port"]), "server %s" % inst.name))
    mine = []
    for name in ("sglang_bench_router_port", "sglang_bench_router_prometheus_port"):
        port = as_int(values.get(name))
        if port is None:
            continue
        for other, owner in taken + mine:
            if port == other:
                yield Problem(name, port, "%s uses port %s on this host" % (owner, port),
                              "give the temporary router of the policy comparison free ports, e.g. 30081 and 29001")
                break
        mine.append((port, name))


# Credentials that only work together: (username, password, what they log in to or None).
CREDENTIALS = (
    ("sglang_build_registry_username", "sglang_build_registry_password", None),
    ("sglang_build_distribute_registry_username", "sglang_build_distribute_registry_password",
     "sglang_build_distribute_registry"),
)


def rule_credentials(values, ctx):
    del ctx
    for user, password, target in CREDENTIALS:
        has_user, has_password = not blank(values.get(user)), not blank(values.get(password))
        if has_user != has_password:
            given, missing = (user, password) if has_user else (password, user)
            yield Problem(given, values.get(given), "%s is empty: docker login needs both" % missing,
                          "set both %s and %s, or neither" % (user, password))
        elif has_user and target and blank(values.get(target)):
            yield Problem(target, values.get(target) or "", "credentials are set for it but no registry is given",
                          "set %s to host[:port][/namespace], or drop %s and %s" % (target, user, password))


RULES = [rule_variables, rule_vllm_port, rule_bench_router_ports, rule_credentials, rule_stack_profile, rule_stack_versions, rule_stack_keys, rule_chip_lists,
         rule_instances, rule_instances_apart]


def check_rules(values, ctx, rules=None):
    """Problems of every rule. values: the host's effective variables; ctx: host, groups, stacks,
    and optionally set (names the host sets) and derived (names whose value is computed from a
    templated role default, left to the variables they are computed from)."""
    problems = []
    for rule in rules or RULES:
        problems.extend(rule(values, ctx))
    return problems
