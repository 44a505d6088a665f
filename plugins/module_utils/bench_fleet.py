# -*- coding: utf-8 -*-
# Copyright: npu.sglang maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The benchmark through the router (role sglang_bench, tasks/fleet.yml), as pure functions.

* ``fleet_concurrency``: the load points of the fleet sweep;
* ``fleet_runs``: the fleet sweep through the router's endpoint and the policy comparison on the
  generated-shared-prefix dataset, planned by ``bench_command.bench_runs``;
* ``router_variant``: the command line of a temporary router that differs from the production one
  only in policy, address and ports;
* ``cache_counters``: the prefix-cache counters of a server's Prometheus text.

The results go to ``<run>/fleet/`` (``FLEET_DIR``), apart from the per-node ``raw/`` tree, and the
report's fleet section (module_utils/bench_report_fleet.py) reads them there.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.npu.sglang.plugins.module_utils.bench_command import BenchPlanError, _int, bench_runs
from ansible_collections.npu.sglang.plugins.module_utils.router import CACHE_AWARE_FLAGS

FLEET_DIR = "fleet"
FLEET_INSTANCE = "fleet"
# The generated-shared-prefix dataset of sglang 0.4.9's bench_serving and its flags.
GSP_DATASET = "generated-shared-prefix"
GSP_FLAGS = (("num_groups", "--gsp-num-groups"), ("prompts_per_group", "--gsp-prompts-per-group"),
             ("system_prompt_len", "--gsp-system-prompt-len"), ("question_len", "--gsp-question-len"),
             ("output_len", "--gsp-output-len"))
# Counters SGLang's tokenizer manager exports with --enable-metrics (srt/metrics/collector.py).
COUNTERS = (("cached_tokens", "sglang:cached_tokens_total"), ("prompt_tokens", "sglang:prompt_tokens_total"))
# The client's backend through the router: OpenAI completions (the request function of its
# sglang-oai backend). bench_serving 0.4.9 ends every run of a backend named sglang* by reading
# /get_server_info's internal_states, and sglang-router 0.3.2 answers that route with its own
# counts ({"router_manager": true, ...}), so those runs stop with a KeyError and write no result.
FLEET_BACKEND = "vllm"
_SAMPLE = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


def fleet_concurrency(levels, per_node, workers, points=2):
    """The fleet's load points: ``levels`` when it is a list (empty: no fleet sweep), else (null)
    the first ``points`` per-server levels times the number of workers, so that each server's
    share of the load is a point of the per-node sweep."""
    workers = _int(workers, "the router's worker count", 1)
    if levels is None or levels == "":
        return [_int(level, "sglang_bench_concurrency", 1) * workers for level in list(per_node or [])[:points]]
    if not isinstance(levels, list):
        raise BenchPlanError("sglang_bench_fleet_concurrency must be a list of whole numbers, [] or null, got %r" % (levels,))
    return [_int(level, "sglang_bench_fleet_concurrency", 1) for level in levels]


def fleet_runs(target, settings, supported=None):
    """The runs through the router: the sweep over ``settings['concurrency']`` on the router's port,
    then one generated-shared-prefix run per policy of ``settings['policies']`` on the temporary
    router's port ``settings['policy_port']``.

    ``target``: the router as a benchmark target (port, image, model_path, served_model_name,
    auth). ``settings``: those of ``bench_runs`` plus policy (the production router's), workers
    (their count), policies, policy_port, gsp (num_groups, prompts_per_group, system_prompt_len,
    question_len, output_len, concurrency). Each run carries ``fleet``: {kind: sweep or policy,
    policy, workers}.
    """
    target = dict(target, name=FLEET_INSTANCE)
    workers = _int(settings.get("workers"), "the router's worker count", 1)
    runs = []
    if settings.get("concurrency"):
        for run in bench_runs([target], dict(settings, engine="sglang", backend=FLEET_BACKEND), supported):
            run["fleet"] = {"kind": "sweep", "policy": settings.get("policy"), "workers": workers}
            runs.append(run)
    gsp = settings.get("gsp") or {}
    values = dict((key, _int(gsp.get(key), "sglang_bench_gsp_%s" % key, 1)) for key, _flag in GSP_FLAGS)
    policies = [str(policy) for policy in settings.get("policies") or []]
    if len(set(policies)) != len(policies):
        raise BenchPlanError("sglang_bench_router_policies lists a policy twice: %r" % (policies,))
    for policy in policies:
        extra = []
        for key, flag in GSP_FLAGS:
            extra += [flag, str(values[key])]
        planned = bench_runs([target], dict(
            settings, engine="sglang", backend=FLEET_BACKEND, label=policy, port=settings.get("policy_port"),
            concurrency=[_int(gsp.get("concurrency"), "sglang_bench_gsp_concurrency", 1)],
            dataset_name=GSP_DATASET, dataset_path="",
            num_prompts=values["num_groups"] * values["prompts_per_group"],
            input_len=values["system_prompt_len"] + values["question_len"], output_len=values["output_len"],
            extra_args=extra + list(settings.get("extra_args") or [])), supported)
        for run in planned:
            run["fleet"] = {"kind": "policy", "policy": policy, "workers": workers}
            runs.append(run)
    return runs


def _drop(argv, flag):
    """argv without ``flag`` and its value."""
    out, skip = [], False
    for item in argv:
        if skip:
            skip = False
        elif item == flag:
            skip = True
        else:
            out.append(item)
    return out


def router_variant(argv, policy, port, prometheus_port, host="127.0.0.1"):
    """The production router's arguments (router.json's argv) with another policy, address and
    ports: same workers, health checks and knobs. A policy other than cache_aware drops the
    cache-aware knobs, which only it reads; switched to cache_aware, knobs the production line
    lacks take sglang-router's defaults."""
    if not isinstance(argv, list) or "--worker-urls" not in argv:
        raise BenchPlanError("the router's settings hold no argv with --worker-urls; deploy it with playbooks/router.yml")
    out = [str(item) for item in argv]
    for flag in ("--host", "--port", "--policy", "--prometheus-host", "--prometheus-port"):
        out = _drop(out, flag)
    if policy != "cache_aware":
        for _key, flag in CACHE_AWARE_FLAGS:
            out = _drop(out, flag)
    return ["--host", str(host), "--port", str(_int(port, "sglang_bench_router_port", 1)), "--policy", str(policy),
            "--prometheus-host", str(host), "--prometheus-port", str(_int(prometheus_port, "sglang_bench_router_prometheus_port", 1))] + out


def cache_counters(text):
    """{cached_tokens, prompt_tokens} summed over the label sets of a Prometheus text; None for a
    counter the text lacks (a server without --enable-metrics)."""
    found = {}
    for line in str(text or "").splitlines():
        match = _SAMPLE.match(line.strip())
        if not match:
            continue
        for key, name in COUNTERS:
            if match.group(1) == name:
                try:
                    found[key] = found.get(key, 0.0) + float(match.group(3))
                except ValueError:
                    pass
    return dict((key, found.get(key)) for key, _name in COUNTERS)


def cache_deltas(urls, before, after):
    """Per server: its counters before and after a run (``before``/``after``: the /metrics texts,
    in the order of ``urls``) and what the run added; a counter absent either time is None."""
    urls, before, after = list(urls or []), list(before or []), list(after or [])
    if not len(urls) == len(before) == len(after):
        raise BenchPlanError("one /metrics text before and one after the run per server, got %d servers, %d and %d texts"
                             % (len(urls), len(before), len(after)))
    out = []
    for url, first, last in zip(urls, before, after):
        first, last = cache_counters(first), cache_counters(last)
        added = dict((key, None if first[key] is None or last[key] is None else last[key] - first[key]) for key, _name in COUNTERS)
        out.append({"url": str(url), "before": first, "after": last, "added": added})
    return out
