#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: npu.sglang maintainers
# Apache-2.0 (see the collection's LICENSE)
# The work is done by the action plugin of the same name, on the controller.
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: resolve_instances
short_description: The servers of a host with every setting, from the inventory
version_added: "0.1.0"
description:
  - Reads C(sglang_service_instances) and the C(sglang_service_*) role variables an instance falls
    back to, C(docker_npu_spec), C(sglang_service_env_defaults) and the inventory groups, and returns
    each server of the host resolved - its launch line, container environment and devices, unit
    and container names - as the unit, the health gate, the smoke tests, the doctor's record and
    the benchmark read it. The instance's own key wins over the role variable (the rule validation
    applies too).
  - The API keys come back apart, in RV(keys); give the task C(no_log) if it is registered.
  - Runs on the controller; takes no options.
options: {}
attributes:
  check_mode:
    support: full
    description: Reads only.
  diff_mode:
    support: none
    description: No diff.
  platform:
    support: full
    platforms: posix
    description: Runs on the controller.
author:
  - npu.sglang maintainers (@npu-sglang)
"""

EXAMPLES = r"""
- name: Resolve the servers of this node
  npu.sglang.resolve_instances:
  register: _resolved
  no_log: true
"""

RETURN = r"""
instances:
  description: One entry per server, without its API key.
  returned: always
  type: list
  elements: dict
  sample:
    - name: main
      unit: npu-sglang@main.service
      container: npu-sglang-main
      image: npu-sglang:seed-0123456789ab
      port: 30000
      host: 0.0.0.0
      devices: [0, 1, 2, 3, 4, 5, 6, 7]
      tp: 8
      argv: [python3, -m, sglang.launch_server, --model-path, /data/models/m, --tp-size, "8"]
      env: {ASCEND_RT_VISIBLE_DEVICES: "0,1,2,3,4,5,6,7"}
      auth: false
      profiler_dir: /var/lib/npu-sglang/profile
      node_rank: 0
      nnodes: 1
      docker_devices: ["/dev/davinci0:/dev/davinci0:rwm"]
keys:
  description: The API key of each server by name (empty for none).
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec={}, supports_check_mode=True)
    module.fail_json(msg="npu.sglang.resolve_instances runs as an action plugin on the controller")


if __name__ == "__main__":
    main()
