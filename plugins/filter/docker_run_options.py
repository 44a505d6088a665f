# -*- coding: utf-8 -*-
# Copyright: npu.sglang maintainers
# Apache-2.0 (see the collection's LICENSE)
"""Filter npu.sglang.docker_run_options: `docker run` options from the docker_npu container spec."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: docker_run_options
author:
  - npu.sglang maintainers (@npu-sglang)
version_added: "0.1.0"
short_description: The docker run options of an NPU container, from the one container spec
description:
  - Turns the C(docker_npu_spec) fact (network, shm size, privileged, capabilities, security
    options, devices, volumes, environment) into C(docker run) options, one C(--opt=value) token
    each. The servers' units, the smoke examples and the hardware checks all use it.
options:
  _input:
    description: The container spec (the C(docker_npu_spec) fact).
    type: dict
    required: true
  devices:
    description: The container's own devices (a server on some of the chips); default the spec's.
    type: list
    elements: str
  env_file:
    description: An environment file passed instead of the spec's environment.
    type: str
  volumes:
    description: Further mounts, after the spec's.
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: Run a command in an NPU container
  ansible.builtin.command:
    argv: "{{ ['docker', 'run', '--rm'] + (docker_npu_spec | npu.sglang.docker_run_options) + [image, 'npu-smi', 'info'] }}"
"""

RETURN = r"""
_value:
  description: The options, as strings.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.npu.sglang.plugins.module_utils.container import SpecError, docker_run_options


def _options(spec, devices=None, env_file=None, volumes=None):
    try:
        return docker_run_options(spec, devices=devices, env_file=env_file, volumes=volumes)
    except SpecError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    """Container filters."""

    def filters(self):
        return {"docker_run_options": _options}
