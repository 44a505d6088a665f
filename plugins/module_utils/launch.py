# -*- coding: utf-8 -*-
# Copyright: npu.sglang maintainers
# Apache-2.0 (see the collection's LICENSE)
"""The launch command line of one server: one table from setting to SGLang flag.

launch_args(settings, nnodes, node_rank, dist_init_addr) is the only place that turns a server's
settings into `python -m sglang.launch_server` arguments: the unit's argv (the instance resolver,
module_utils/instances.py) and the validation's launch-contract check (config_rules) both call it.
Adding a launch flag is one row here plus its option (with its default, if it has one) and its
instance key in roles/sglang_service/meta/argument_specs.yml: config_rules.INSTANCE_KEYS, the
settings an instance entry may set and the resolver reads, and the flag's validation row are built
from this table.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

# (setting, flag, kind, rule)
# kind: "value" always given; "optional" given unless null or empty; "switch" a flag without a
# value, given when the setting is true.
# rule: what validation holds the value to. "bool" and "choices" are the option's type and choices
# in roles/sglang_service/meta/argument_specs.yml; "own" is the setting's hand-written row of
# config_rules.VARIABLE_CHECKS (a rule that reads other settings); any other name is a kind of
# value of config_rules.LAUNCH_RULES ("int>=1", "int>=1|null", "int>=0", "fraction", "number>0",
# "abs path", "word", "text"), from which config_rules makes the setting's row.
# A flag's default is the option's default in that argument spec (the resolver and the validation
# fall back to it); this table never repeats it.
LAUNCH_FLAGS = (
    ("model_path", "--model-path", "value", "own"),
    ("served_model_name", "--served-model-name", "optional", "own"),
    ("tp", "--tp-size", "value", "own"),
    ("device", "--device", "value", "own"),
    ("attention_backend", "--attention-backend", "value", "own"),
    ("grammar_backend", "--grammar-backend", "optional", "choices"),
    ("disable_overlap_schedule", "--disable-overlap-schedule", "switch", "bool"),
    ("max_total_tokens", "--max-total-tokens", "optional", "own"),
    ("mem_fraction_static", "--mem-fraction-static", "optional", "fraction"),
    ("quantization", "--quantization", "optional", "choices"),
    ("chunked_prefill_size", "--chunked-prefill-size", "optional", "own"),
    ("host", "--host", "value", "own"),
    ("port", "--port", "value", "own"),
    ("enable_metrics", "--enable-metrics", "switch", "bool"),
)
# The flags of a server spread over several nodes, set from its node group.
MULTI_NODE_FLAGS = ("--nnodes", "--node-rank", "--dist-init-addr")


def _true(value):
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _given(value):
    return value is not None and str(value) != ""


def launch_args(settings, nnodes=1, node_rank=0, dist_init_addr=None):
    """The arguments after the launcher, in the unit's order: the table, the node group, extra_args."""
    argv = []
    for key, flag, kind, _rule in LAUNCH_FLAGS:
        value = settings.get(key)
        if kind == "switch":
            if _true(value):
                argv.append(flag)
        elif kind == "value" or _given(value):
            argv += [flag, str(value)]
    if int(nnodes) > 1:
        argv += ["--nnodes", str(nnodes), "--node-rank", str(node_rank), "--dist-init-addr", str(dist_init_addr)]
    argv += [str(a) for a in (settings.get("extra_args") or [])]
    return argv


def flag_setting(flag):
    """The setting behind a flag of the table, else None (extra_args or the node group)."""
    for key, name, _kind, _rule in LAUNCH_FLAGS:
        if name == flag:
            return key
    return None
