# -*- coding: utf-8 -*-
# Copyright: npu.sglang maintainers
# Apache-2.0 (see the collection's LICENSE)
"""The one instance resolver: a host's entries of sglang_service_instances, with every setting.

An instance's own key wins over the role variable sglang_service_<key> (config_rules.
instance_settings, the rule validation applies too). From the merged settings come the launch
line (module_utils/launch.py), the container's environment and devices, and the unit's names.
The unit, the health gate, the smoke tests, the doctor's record and the benchmark read the list
this returns (fact sglang_service_resolved); the API keys are returned apart.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.npu.sglang.plugins.module_utils.config_rules import INSTANCE_KEYS, instance_settings
from ansible_collections.npu.sglang.plugins.module_utils.launch import launch_args

CHIP_DEVICE = re.compile(r"^/dev/davinci[0-9]+:")


def _group(settings, groups):
    name = settings.get("node_group")
    if name in (None, ""):
        return []
    return list(groups.get(str(name)) or [])


def resolve(entries, values, host, groups, spec, env_defaults, address_of=None):
    """(instances, keys): the resolved servers of `host` and {name: api_key}.

    values: the host's sglang_service_<key> variables (templated); groups: the inventory groups;
    spec: the docker_npu_spec fact; env_defaults: sglang_service_env_defaults; address_of(host):
    the address other nodes reach a host at (its ansible_host), for a multi-node head.
    """
    address_of = address_of or (lambda name: name)
    resolved, keys = [], {}
    for entry in entries or []:
        entry = entry if isinstance(entry, dict) else {}
        settings = instance_settings(entry, values)
        group = _group(settings, groups)
        multi = len(group) > 1
        if "tp" not in entry and isinstance(entry.get("devices"), list):
            # A server on its own chips: tp = its chips on every node of its group.
            settings["tp"] = len(entry["devices"]) * max(len(group), 1)
        devices = [int(d) for d in settings.get("devices") or []]
        nnodes = len(group) if multi else 1
        node_rank = group.index(host) if multi and host in group else 0
        head = ("%s:%s" % (address_of(group[0]), settings.get("dist_port"))) if multi else None
        argv = list(settings.get("launcher") or []) + launch_args(settings, nnodes, node_rank, head)
        # The runtime numbers the chips a container sees from 0 (sglang PR #14266): without
        # --privileged the container sees only its own chips, so their ids are 0..n-1.
        visible = devices if spec.get("privileged") else list(range(len(devices)))
        env = dict(env_defaults or {})
        env.update({"ASCEND_RT_VISIBLE_DEVICES": ",".join(str(d) for d in visible),
                    "SGLANG_TORCH_PROFILER_DIR": settings.get("profiler_dir")})
        if settings.get("socket_ifname"):
            env.update({"HCCL_SOCKET_IFNAME": settings["socket_ifname"], "GLOO_SOCKET_IFNAME": settings["socket_ifname"]})
        merged = dict(spec.get("env") or {})
        merged.update(env)
        merged.update(settings.get("env") or {})
        chips = ["/dev/davinci%d" % d for d in devices]
        docker_devices = [d for d in spec.get("devices") or [] if not CHIP_DEVICE.match(str(d))]
        docker_devices += ["%s:%s:rwm" % (chip, chip) for chip in chips]
        api_key = settings.get("api_key")
        api_key = "" if api_key is None else str(api_key)
        name = entry.get("name")
        keys[name] = api_key
        resolved.append({
            "name": name,
            "unit": "npu-sglang@%s.service" % name,
            "container": "npu-sglang-%s" % name,
            "image": settings.get("image"),
            "port": int(settings.get("port")),
            "host": settings.get("host"),
            "devices": devices,
            "tp": int(settings.get("tp")),
            "argv": argv,
            "env": merged,
            "auth": len(api_key) > 0,
            "profiler_dir": settings.get("profiler_dir"),
            "node_rank": node_rank,
            "nnodes": nnodes,
            "docker_devices": docker_devices,
        })
    return resolved, keys


def variable_names():
    """The role variables an instance falls back to."""
    return ["sglang_service_" + key for key in INSTANCE_KEYS]
