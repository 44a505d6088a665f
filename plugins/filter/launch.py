# -*- coding: utf-8 -*-
# Copyright: npu.sglang maintainers
# Apache-2.0 (see the collection's LICENSE)
"""Filter npu.sglang.launch_args: a server's SGLang launch arguments (module_utils/launch.py)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: launch_args
author:
  - npu.sglang maintainers (@npu-sglang)
version_added: "0.1.0"
short_description: The launch_server arguments of one server
description:
  - Turns a server's settings (the keys of C(sglang_service_instances) entries) into the arguments
    of C(python -m sglang.launch_server), from one table of setting to flag, then the node-group
    flags, then C(extra_args).
  - The validation play checks the same arguments against the parser of the stack's SGLang release.
positional: _input, nnodes, node_rank, dist_init_addr
options:
  _input:
    description: The server's settings.
    type: dict
    required: true
  nnodes:
    description: Nodes the server spans.
    type: int
    default: 1
  node_rank:
    description: This node's rank among them.
    type: int
    default: 0
  dist_init_addr:
    description: C(HOST:PORT) of the head, when O(nnodes) > 1.
    type: str
"""

EXAMPLES = r"""
- name: Show the launch arguments
  ansible.builtin.debug:
    msg: "{{ {'model_path': '/data/m', 'tp': 2, 'device': 'npu', 'attention_backend': 'ascend',
      'host': '0.0.0.0', 'port': 30000} | npu.sglang.launch_args }}"
"""

RETURN = r"""
_value:
  description: The arguments, as strings.
  type: list
  elements: str
"""

from ansible_collections.npu.sglang.plugins.module_utils.launch import launch_args


class FilterModule(object):
    """Launch filters."""

    def filters(self):
        return {"launch_args": launch_args}
