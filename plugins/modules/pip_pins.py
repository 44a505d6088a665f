#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: npu.sglang maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: pip_pins
short_description: Check that pinned packages are published for a Python and an architecture
version_added: "0.1.0"
description:
  - Asks the package index, with C(pip index versions) of the Python that runs the module, which
    versions of each package have a wheel (or are pure Python) for the given Python version and
    machine architecture, and says which pins are not among them.
  - The index is the one given by O(index_url) and O(extra_index_urls), else the one pip is configured
    with where the module runs (run it on the controller with C(ansible_python_interpreter) set to
    C(ansible_playbook_python)).
  - Read-only; the packages are asked for in parallel.
options:
  packages:
    description: The pins.
    type: list
    elements: dict
    required: true
    suboptions:
      key:
        description: The pin's key in the stack profile (for the message).
        type: str
        required: true
      name:
        description: The distribution's name on the index.
        type: str
        required: true
      version:
        description: The pinned version.
        type: str
        required: true
  python_version:
    description: Python version the wheels must be for, C(3.11).
    type: str
    required: true
  architecture:
    description: Machine architecture the wheels must be for (C(aarch64), C(x86_64)).
    type: str
    required: true
  index_url:
    description: Index URL (C(pip --index-url)); empty for pip's configuration.
    type: str
    default: ""
  extra_index_urls:
    description: Further index URLs.
    type: list
    elements: str
    default: []
  trusted_hosts:
    description: Hosts pip may reach without valid TLS.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    description: Asks the index the same way in check mode; it never changes anything.
    support: full
  diff_mode:
    description: Returns no diff; the module changes nothing.
    support: none
author:
  - npu.sglang maintainers (@npu-sglang)
"""

EXAMPLES = r"""
- name: Check the stack's packages on the index
  npu.sglang.pip_pins:
    packages:
      - {key: torch_npu, name: torch-npu, version: 2.6.0}
    python_version: "3.11"
    architecture: aarch64
  delegate_to: localhost
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
"""

RETURN = r"""
packages:
  description: One entry per pin.
  returned: always
  type: list
  elements: dict
  contains:
    key:
      description: The pin's key.
      type: str
    name:
      description: The distribution.
      type: str
    version:
      description: The pinned version.
      type: str
    found:
      description: Whether the index has it for this Python and architecture.
      type: bool
    available:
      description: The versions of the same release the index has (all of them when none share the release).
      type: list
      elements: str
    error:
      description: pip's own message when it found no version at all.
      type: str
    message:
      description: When not found, one sentence naming the pin, where it looked, what it found, and the fix.
      type: str
missing:
  description: The entries of RV(packages) that were not found.
  returned: always
  type: list
  elements: dict
"""

import concurrent.futures
import re
import sys

from ansible.module_utils.basic import AnsibleModule

# Platform tags of manylinux wheels for an architecture: pip expands each manylinux_2_N tag to the
# older glibc levels, and manylinux2014 is manylinux_2_17.
PLATFORMS = ("manylinux_2_28_{arch}", "manylinux2014_{arch}", "linux_{arch}")


def canonical(version):
    return re.sub(r"[-_.]?(rc|post|dev)[-_.]?", r"\1", version.strip().lower())


def release_of(version):
    match = re.match(r"^(\d+(?:\.\d+)*)", version)
    return match.group(1) if match else version


def parse_versions(text):
    """The versions of `pip index versions` output, newest first; [] when it lists none."""
    match = re.search(r"^Available versions:\s*(.*)$", text, re.M)
    return [v.strip() for v in match.group(1).split(",") if v.strip()] if match else []


def pip_argv(params, name):
    argv = [sys.executable, "-m", "pip", "index", "versions", name, "--pre", "--disable-pip-version-check",
            "--python-version", params["python_version"], "--only-binary", ":all:"]
    for platform in PLATFORMS:
        argv += ["--platform", platform.format(arch=params["architecture"])]
    if params["index_url"]:
        argv += ["--index-url", params["index_url"]]
    for url in params["extra_index_urls"]:
        argv += ["--extra-index-url", url]
    for host in params["trusted_hosts"]:
        argv += ["--trusted-host", host]
    return argv


def judge(params, pin, rc, out, err):
    versions = parse_versions(out)
    wanted = canonical(pin["version"])
    found = any(canonical(v) == wanted for v in versions)
    same_release = [v for v in versions if release_of(v) == release_of(pin["version"])]
    error = ""
    if not versions:
        lines = [line for line in (err or out).splitlines() if line.strip() and not line.startswith("WARNING")]
        error = lines[-1].strip() if lines else "pip exited %d" % rc
    result = dict(key=pin["key"], name=pin["name"], version=pin["version"], found=found,
                  available=same_release or versions[:12], error=error)
    if not found:
        result["message"] = (
            "package %s = %s (%s) is not published for Python %s on %s in %s; %s. Fix: pin a published version "
            "(npu_stack_overrides %s) or set ascend_stack_pip_index_url to an index that has it."
            % (pin["key"], pin["version"], pin["name"], params["python_version"], params["architecture"],
               params["index_url"] or "the configured package index",
               ("it has " + ", ".join(result["available"])) if result["available"] else ("pip: " + error),
               pin["key"]))
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            packages=dict(type="list", elements="dict", required=True, options=dict(
                # The pin's name in the stack profile (torch_npu, ...), not a secret.
                key=dict(type="str", required=True, no_log=False),
                name=dict(type="str", required=True),
                version=dict(type="str", required=True))),
            python_version=dict(type="str", required=True),
            architecture=dict(type="str", required=True),
            index_url=dict(type="str", default=""),
            extra_index_urls=dict(type="list", elements="str", default=[]),
            trusted_hosts=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    rc, _out, _err = module.run_command([sys.executable, "-m", "pip", "--version"], check_rc=False)
    if rc != 0:
        module.fail_json(msg="pip is missing from the Python that checks the package pins (%s): install it "
                             "(python3 -m ensurepip, or the python3-pip package)" % sys.executable)

    def ask(pin):
        rc, out, err = module.run_command(pip_argv(module.params, pin["name"]), check_rc=False)
        return judge(module.params, pin, rc, out, err)

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(ask, module.params["packages"]))
    module.exit_json(changed=False, packages=results, missing=[r for r in results if not r["found"]])


if __name__ == "__main__":
    main()
