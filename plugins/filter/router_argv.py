# -*- coding: utf-8 -*-
# Copyright: npu.sglang maintainers
# Apache-2.0 (see the collection's LICENSE)
"""Filter npu.sglang.router_argv: the sglang-router command line (module_utils/router.py)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: router_argv
author:
  - npu.sglang maintainers (@npu-sglang)
version_added: "0.1.0"
short_description: The arguments of sglang-router's launch_router
description:
  - Turns the router's settings into the flags of C(python -m sglang_router.launch_router) of
    sglang-router 0.3.2 - address and port, worker URLs, policy (with the cache-aware knobs only
    for C(cache_aware)), health checks, Prometheus address - then the extra arguments.
  - The API key is not among them; the launcher reads it from a root-only file.
positional: _input, urls
options:
  _input:
    description: The role's settings, C(sglang_router_*) without the prefix.
    type: dict
    required: true
  urls:
    description: The workers' URLs.
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Show the router's arguments
  ansible.builtin.debug:
    msg: "{{ settings | npu.sglang.router_argv(['http://10.0.0.1:30000']) }}"
"""

RETURN = r"""
_value:
  description: The arguments, as strings.
  type: list
  elements: str
"""

from ansible_collections.npu.sglang.plugins.module_utils.router import argv


class FilterModule(object):
    """Router filters."""

    def filters(self):
        return {"router_argv": argv}
