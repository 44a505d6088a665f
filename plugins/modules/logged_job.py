#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: npu.sglang maintainers
# Apache-2.0 (see the collection's LICENSE)
# The work is done by the action plugin of the same name.
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: logged_job
short_description: Run a long command on the host with its log kept there and progress shown
version_added: "0.1.0"
description:
  - Starts O(argv) on the host in the background (it survives a dropped connection), appends
    its output to O(log) and its exit code to C(<log>.rc), then polls every O(interval) seconds
    and prints the log's last line as a status line while it runs.
  - Fails with the log's tail when the command fails or does not finish within O(timeout).
  - Always reports changed when the command ran; callers decide when it has to run.
options:
  argv:
    description: The command and its arguments (no shell).
    type: list
    elements: str
    required: true
  log:
    description: Log file on the host; its directory is created.
    type: path
    required: true
  label:
    description: Short name shown in the status lines.
    type: str
    default: ""
  timeout:
    description: Seconds to wait for the command.
    type: int
    default: 7200
  interval:
    description: Seconds between polls.
    type: int
    default: 15
  tail_lines:
    description: Lines of the log returned (and shown on failure).
    type: int
    default: 40
attributes:
  check_mode:
    support: none
    description: Nothing runs in check mode.
  diff_mode:
    support: none
    description: No diff.
  platform:
    support: full
    platforms: posix
    description: Needs sh, nohup, setsid and tail on the host.
author:
  - npu.sglang maintainers (@npu-sglang)
"""

EXAMPLES = r"""
- name: Build vllm in the build container
  npu.sglang.logged_job:
    argv: [docker, exec, sglang-build, sh, -c, "cd /opt/sglang-src/vllm && pip install -e ."]
    log: /var/log/npu-sglang/build/vllm.log
    label: vllm
"""

RETURN = r"""
log:
  description: The log file on the host.
  returned: always
  type: str
rc:
  description: Exit code of the command (null when it timed out).
  returned: always
  type: int
elapsed_s:
  description: Seconds the command ran.
  returned: always
  type: float
tail:
  description: Last lines of the log.
  returned: always
  type: list
  elements: str
"""
