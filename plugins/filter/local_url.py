# -*- coding: utf-8 -*-
# Copyright: npu.sglang maintainers
# Apache-2.0 (see the collection's LICENSE)
"""Filter npu.sglang.local_url: the URL of a listener from its own host (module_utils/router.py)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: local_url
author:
  - npu.sglang maintainers (@npu-sglang)
version_added: "0.1.0"
short_description: The URL a process on the same host reaches a server or router at
description:
  - Returns C(http://<address>:<port>) for a listener on O(_input). An address that means every
    address (C(0.0.0.0), C(::), empty) becomes C(127.0.0.1); an IPv6 address is put in brackets.
  - The router's own URL, the routers the drain reaches and the servers' health and load checks all
    use it, so a listen address means the same URL everywhere.
positional: _input, port
options:
  _input:
    description: The listen address (C(sglang_service_host), C(sglang_router_host)).
    type: str
    required: true
  port:
    description: The listen port.
    type: int
    required: true
"""

EXAMPLES = r"""
- name: Show the router's local URL
  ansible.builtin.debug:
    msg: "{{ sglang_router_host | npu.sglang.local_url(sglang_router_port) }}"
"""

RETURN = r"""
_value:
  description: The URL, without a trailing slash (C(http://127.0.0.1:30000), C(http://[fd00::5]:30000)).
  type: str
"""

from ansible_collections.npu.sglang.plugins.module_utils.router import local_url


class FilterModule(object):
    """URL filters."""

    def filters(self):
        return {"local_url": local_url}
