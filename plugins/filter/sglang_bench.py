# -*- coding: utf-8 -*-
# Copyright: npu.sglang maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Filters of role sglang_bench: the benchmark plan and its command lines.

The logic lives in module_utils/bench_command.py; these wrappers turn its errors into Ansible's.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.npu.sglang.plugins.module_utils.bench_command import (
    BenchPlanError, bench_runs, bench_targets, docker_run, redact, server_flags, vllm_server_args,
)
from ansible_collections.npu.sglang.plugins.module_utils.bench_fleet import (
    cache_deltas, fleet_concurrency, fleet_runs, router_variant,
)


def _wrap(func, name):
    def run(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except BenchPlanError as exc:
            raise AnsibleFilterError("%s: %s" % (name, exc))
    run.__name__ = name
    run.__doc__ = func.__doc__
    return run


class FilterModule(object):
    """Benchmark plan filters."""

    def filters(self):
        return {
            "bench_targets": _wrap(bench_targets, "bench_targets"),
            "bench_runs": _wrap(bench_runs, "bench_runs"),
            "bench_docker_run": _wrap(docker_run, "bench_docker_run"),
            "bench_vllm_args": _wrap(vllm_server_args, "bench_vllm_args"),
            "bench_redact": _wrap(redact, "bench_redact"),
            "bench_server_flags": _wrap(server_flags, "bench_server_flags"),
            "bench_fleet_concurrency": _wrap(fleet_concurrency, "bench_fleet_concurrency"),
            "bench_fleet_runs": _wrap(fleet_runs, "bench_fleet_runs"),
            "bench_router_variant": _wrap(router_variant, "bench_router_variant"),
            "bench_cache_deltas": _wrap(cache_deltas, "bench_cache_deltas"),
        }
