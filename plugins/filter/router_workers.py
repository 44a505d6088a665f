# -*- coding: utf-8 -*-
# Copyright: npu.sglang maintainers
# Apache-2.0 (see the collection's LICENSE)
"""Filter npu.sglang.router_workers: the router's workers from the fleet's resolved servers."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: router_workers
author:
  - npu.sglang maintainers (@npu-sglang)
version_added: "0.1.0"
short_description: The SGLang servers of the fleet as the router's workers, and their shared API key
description:
  - Reads the fact C(sglang_service_resolved) (the instance resolver's servers, M(npu.sglang.resolve_instances))
    and the servers' API keys of every host in O(hosts), and returns one worker per server head
    (the ranks above 0 of a multi-node server have no HTTP API) with the URL the router reaches it at
    (the server's own address, or the host's C(ansible_host) when it listens on every address).
  - Fails, naming the host and the fix, when a host's servers are not resolved, when two servers
    answer at one URL, or when the servers do not share one API key (sglang-router sends one key to
    every worker).
positional: _input, hosts
options:
  _input:
    description: C(hostvars).
    type: dict
    required: true
  hosts:
    description: The inventory hosts of the fleet.
    type: list
    elements: str
    required: true
  key:
    description: Return the servers' shared API key (empty for none) instead of the workers.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Show the workers of the router
  ansible.builtin.debug:
    msg: "{{ hostvars | npu.sglang.router_workers(groups['npu_nodes']) | map(attribute='url') }}"
"""

RETURN = r"""
_value:
  description: >-
    One dict per worker with C(host), C(name), C(url) and C(auth) (whether it takes an API key);
    with O(key), the shared API key as a string.
  type: raw
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.npu.sglang.plugins.module_utils.router import workers


def router_workers(hostvars, hosts, key=False):
    """The workers (or with key=True their shared API key) of the fleet `hosts`."""
    fleet = []
    for host in hosts or []:
        facts = hostvars[host]
        instances = facts["sglang_service_resolved"] if "sglang_service_resolved" in facts else None
        keys = facts["_sglang_service_keys"] if "_sglang_service_keys" in facts else {}
        address = facts["ansible_host"] if "ansible_host" in facts else host
        fleet.append((host, address, instances, keys))
    try:
        found, shared = workers(fleet)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc))
    return shared if key else found


class FilterModule(object):
    """Router filters."""

    def filters(self):
        return {"router_workers": router_workers}
