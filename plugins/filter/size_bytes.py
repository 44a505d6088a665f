# -*- coding: utf-8 -*-
# Copyright: npu.sglang maintainers
# Apache-2.0 (see the collection's LICENSE)
"""Filter npu.sglang.size_bytes: the collection's one size parser (module_utils/config_rules.py)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: size_bytes
author:
  - npu.sglang maintainers (@npu-sglang)
version_added: "0.1.0"
short_description: Bytes of a Docker-style size such as 1000g
description:
  - Reads a size the way C(docker run --shm-size) and C(community.docker) do, and returns it in bytes.
  - A size is a whole number of bytes, or a whole number followed by one unit letter C(b), C(k), C(m),
    C(g), C(t) or C(p) in either case; the units are powers of 1024.
  - Anything else (fractions such as C(1.5g), two-letter units such as C(16gb), signs, booleans, empty
    values) fails with a message saying what a size looks like.
  - The validation play (M(npu.sglang.validate_inventory)) and the preflight role read sizes with the
    same code, so they cannot disagree.
positional: _input
options:
  _input:
    description: The size, for example C(1000g), C(16G), C(512m), C("1024") or C(1073741824).
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: Show the shm size in bytes
  ansible.builtin.debug:
    msg: "{{ docker_npu_shm_size | npu.sglang.size_bytes }}"

- name: Compare the shm size with the host memory
  ansible.builtin.assert:
    that: ('1000g' | npu.sglang.size_bytes) <= ansible_facts.memtotal_mb * 1024 * 1024
    fail_msg: shm is larger than the host memory
"""

RETURN = r"""
_value:
  description: The size in bytes, for example C(1073741824000) for C(1000g) and C(17179869184) for C(16G).
  type: int
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.npu.sglang.plugins.module_utils.config_rules import size_bytes


def size_bytes_filter(value):
    """Bytes of a Docker-style size; AnsibleFilterError when it is not one."""
    try:
        return size_bytes(value)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    """Size filters."""

    def filters(self):
        return {"size_bytes": size_bytes_filter}
