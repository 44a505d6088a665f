# -*- coding: utf-8 -*-
# Copyright: npu.sglang maintainers
# Apache-2.0 (see the collection's LICENSE)
"""Filters npu.sglang.stack_problems and npu.sglang.stack_moved (module_utils/stack_rules.py)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: stack_problems
author:
  - npu.sglang maintainers (@npu-sglang)
version_added: "0.1.0"
short_description: What a container's Python, CANN, torch and torch_npu break of the stack matrix
description:
  - Compares what was found in a container with the stack profile, by the rules of the stack
    matrix (module_utils/stack_rules.py), the same rules the validation play applies to the
    profile itself.
  - Returns one sentence per problem; an empty list when the container fits the profile.
positional: _input, stack, what, container
options:
  _input:
    description: What the container has, C({python, cann, torch, torch_npu, triton_ascend}).
    type: dict
    required: true
  stack:
    description: The resolved stack profile (C(npu_stack_resolved)).
    type: dict
    required: true
  what:
    description: How the sentences name the container, for example C(The base image).
    type: str
    required: true
  container:
    description: The container's name.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Check the build container against the stack
  ansible.builtin.fail:
    msg: "{{ _problems | join(' ') }}"
  when: _problems | length > 0
  vars:
    _problems: "{{ {'python': '3.11', 'cann': '8.2.RC1', 'torch': '2.6.0', 'torch_npu': '2.6.0'}
      | npu.sglang.stack_problems(npu_stack_resolved, 'The build container', 'sglang-build') }}"
"""

RETURN = r"""
_value:
  description: One sentence per problem, each with its fix.
  type: list
  elements: str
"""

from ansible_collections.npu.sglang.plugins.module_utils.stack_rules import container_problems, moved_packages, pins, sources


def stack_problems(found, stack, what, container):
    return container_problems(stack, found or {}, what, container)


def stack_moved(installed, stack):
    """[{key, distribution, pinned, installed, text}] of the pinned distributions not at their pin."""
    return [dict(zip(("key", "distribution", "pinned", "installed"), row),
                 text="%s is %s, the profile pins %s (%s)" % (row[1], row[3] or "not installed", row[2], row[0]))
            for row in moved_packages(stack, installed or {})]


def stack_pins(stack, skip=None):
    """[{key, name, version}] of the profile's pinned distributions, less the keys in skip."""
    return pins(stack, skip or ())


def stack_sources(stack):
    """[{name, repo, ref}] of the profile's git sources."""
    return sources(stack)


class FilterModule(object):
    """Stack matrix filters."""

    def filters(self):
        return {"stack_problems": stack_problems, "stack_moved": stack_moved,
                "stack_pins": stack_pins, "stack_sources": stack_sources}
