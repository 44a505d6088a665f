#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: npu.sglang maintainers
# Apache-2.0 (see the collection's LICENSE)
# The work is done by the action plugin of the same name, on the controller.
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: validate_inventory
short_description: Validate a host's npu.sglang variables on the controller
version_added: "0.1.0"
description:
  - Checks every variable the host sets (inventory, group and host variables, extra vars) against
    the argument specs of every role of the collection (type, choices, elements, the keys of
    each C(sglang_service_instances) entry).
  - Then checks the host's effective values (what it sets, else the role default templated with
    its variables) against cross-field rules, among them tensor parallel size against the chips in
    use, chip ids unique and on the board wherever they are given (C(ASCEND_RT_VISIBLE_DEVICES)
    included), max_total_tokens against the ascend backend's page size, backend against device,
    known quantizations, the stack profile and its versions (torch equal to torch_npu, Python 3.11
    for the seed stack), shm sizes, ports and chips of the servers of one host, multi-node groups,
    benchmark sweep and SLA settings, image names, git refs, the model path, and an API key when
    authentication is required.
  - An C(sglang_service_instances) entry's setting is its own key, else the role variable
    C(sglang_service_<key>).
  - Secret values (API keys) are never shown.
  - Runs only on the controller; no module is sent to the host, so a bad value fails before any
    host is contacted.
  - Fails with one line per problem naming the host, the variable, the value and the fix.
options:
  quiet:
    description: Accepted for future use; the result message is always returned.
    type: bool
    default: false
  only:
    description:
      - Regular expressions of variable names; when given, only problems of matching variables
        fail. For a play on the controller that reads a few settings (playbooks/report.yml) rather
        than a node's whole configuration.
    type: list
    elements: str
attributes:
  check_mode:
    support: full
    description: Reads variables only.
  diff_mode:
    support: none
    description: Nothing to diff.
  platform:
    support: full
    platforms: all
    description: Runs on the controller.
author:
  - npu.sglang maintainers (@npu-sglang)
"""

EXAMPLES = r"""
- name: Validate every host's variables before touching any host
  npu.sglang.validate_inventory:
"""

RETURN = r"""
checked:
  description: Names of the collection variables the host sets.
  returned: always
  type: list
  elements: str
problems:
  description: One entry per problem.
  returned: failed
  type: list
  elements: dict
  contains:
    variable:
      description: The variable at fault.
      type: str
    value:
      description: Its value.
      type: raw
    reason:
      description: What is wrong with it.
      type: str
    fix:
      description: What to do.
      type: str
"""
