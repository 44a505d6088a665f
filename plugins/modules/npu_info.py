#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: npu.sglang maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: npu_info
short_description: Gather facts about the Ascend NPUs of a host and the software stack on it
version_added: "0.1.0"
description:
  - Runs C(npu-smi info) and reports every NPU chip (health, power, temperature, AI Core load, HBM or
    device memory, PCIe bus id) and the processes running on them, as the fact C(ansible_facts.npu).
  - The table of C(npu-smi info) is read through its header rows, so Atlas 800I/800T A2 (910B), Atlas 300I Duo
    (310P3, two chips per NPU id, no HBM column) and A3 (910_93, two chips per NPU id) boards all parse.
  - Optionally reads C(npu-smi info -l) and C(npu-smi info -t board -i N) for each NPU, the driver, firmware
    and CANN toolkit versions from the files the Ascend installers leave, and the versions of the Python
    packages of an interpreter (read from package metadata; C(torch_npu) is never imported).
  - Reads only; never changes anything on the host.
author:
  - npu.sglang maintainers (@npu-sglang)
options:
  npu_smi_path:
    description:
      - Path of the C(npu-smi) executable.
      - When not set, C(npu-smi) is searched in E(PATH), then in C(/usr/local/sbin) and C(/usr/local/bin).
      - Only needed when O(gather) contains V(chips) or V(board).
    type: path
  ascend_root:
    description:
      - Directory the Ascend driver, firmware and CANN toolkit are installed in.
      - C(driver/version.info), C(firmware/version.info) and
        C(ascend-toolkit/latest/<arch>-linux/ascend_toolkit_install.info) are read from here.
    type: path
    default: /usr/local/Ascend
  ascend_install_info:
    description:
      - The install record the driver installer writes, reported as RV(ansible_facts.npu.software.ascend_install).
    type: path
    default: /etc/ascend_install.info
  python_path:
    description:
      - A Python interpreter whose package versions (python, torch, torch_npu, torchvision, triton,
        triton-ascend, sglang, vllm, vllm-ascend) are reported as RV(ansible_facts.npu.python).
      - The versions come from package metadata (C(importlib.metadata)) in a subprocess; no package is imported,
        so this works on hosts where C(torch_npu) cannot load.
      - Setting it gathers V(python) whether or not O(gather) lists it.
    type: path
  gather:
    description:
      - What to gather.
      - V(chips) runs C(npu-smi info). V(board) runs C(npu-smi info -l) and C(npu-smi info -t board -i N).
        V(software) reads the version files under O(ascend_root). V(python) needs O(python_path).
    type: list
    elements: str
    choices: [chips, board, software, python]
    default: [chips, software]
attributes:
  check_mode:
    description: Can run in check mode and returns the same facts as without it.
    support: full
  diff_mode:
    description: Returns no diff; the module changes nothing.
    support: none
  facts:
    description: Everything it finds is returned as the host fact C(ansible_facts.npu).
    support: full
notes:
  - The module never reports a change.
  - C(npu-smi) missing, exiting non-zero, or printing text that cannot be read makes the task fail with a message
    naming the C(npu-smi) path and the first line that could not be read.
'''

EXAMPLES = r'''
- name: Gather NPU chips and the driver / CANN versions
  npu.sglang.npu_info:

- name: Fail when a chip is not healthy
  ansible.builtin.assert:
    that: ansible_facts.npu.chips | rejectattr('health', 'equalto', 'OK') | list | length == 0
    fail_msg: "unhealthy NPUs: {{ ansible_facts.npu.chips | rejectattr('health', 'equalto', 'OK') | map(attribute='npu_id') | list }}"

- name: Everything, including the Python stack of a venv
  npu.sglang.npu_info:
    gather: [chips, board, software, python]
    python_path: /opt/sglang/venv/bin/python

- name: Only the software versions (no npu-smi needed)
  npu.sglang.npu_info:
    gather: [software]
    ascend_root: /usr/local/Ascend
'''

RETURN = r'''
ansible_facts:
  description: Facts to add to C(ansible_facts).
  returned: always
  type: dict
  contains:
    npu:
      description: What was gathered about the NPUs. Keys of parts not in O(gather) are absent.
      returned: always
      type: dict
      contains:
        npu_smi_path:
          description: The C(npu-smi) that was run.
          returned: when O(gather) contains V(chips) or V(board)
          type: str
          sample: /usr/local/sbin/npu-smi
        npu_smi_version:
          description: Version in the first row of C(npu-smi info); null when the row is not printed.
          returned: when O(gather) contains V(chips)
          type: str
          sample: 24.1.rc1
        count:
          description: Number of chips in the table (an Atlas 300I Duo or A3 NPU id has two).
          returned: when O(gather) contains V(chips)
          type: int
          sample: 8
        chips:
          description: One entry per chip, in the order C(npu-smi) prints them. Values a board does not print are null.
          returned: when O(gather) contains V(chips)
          type: list
          elements: dict
          contains:
            npu_id:
              description: NPU id (the C(-i) of C(npu-smi)).
              type: int
              sample: 0
            chip_id:
              description: Chip number within the NPU.
              type: int
              sample: 0
            device_id:
              description: The C(Phy-ID) / C(Device) column of boards with two chips per NPU (the C(davinci) device number); null elsewhere.
              type: int
              sample: 1
            name:
              description: Chip name.
              type: str
              sample: 910B3
            health:
              description: Health as printed (V(OK), V(Warning), V(Alarm), V(Critical)).
              type: str
              sample: OK
            power_w:
              description: Power draw in watts; null when not printed (second chip of an NPU, 310P3).
              type: float
              sample: 97.6
            temp_c:
              description: Temperature in degrees Celsius.
              type: int
              sample: 52
            aicore_pct:
              description: AI Core usage in percent.
              type: int
              sample: 0
            hbm_used_mb:
              description: HBM in use, MB; null on boards without HBM.
              type: int
              sample: 3525
            hbm_total_mb:
              description: HBM size, MB; null on boards without HBM.
              type: int
              sample: 65536
            memory_used_mb:
              description: Device memory (DDR) in use, MB.
              type: int
              sample: 0
            memory_total_mb:
              description: Device memory (DDR) size, MB.
              type: int
              sample: 0
            bus_id:
              description: PCIe bus id; null when printed as NA.
              type: str
              sample: "0000:C1:00.0"
        processes:
          description: Processes running on the NPUs.
          returned: when O(gather) contains V(chips)
          type: list
          elements: dict
          contains:
            npu_id:
              description: NPU id.
              type: int
              sample: 2
            chip_id:
              description: Chip number within the NPU.
              type: int
              sample: 0
            pid:
              description: Process id.
              type: int
              sample: 1333928
            name:
              description: Process name; null when C(npu-smi) prints none (processes in containers).
              type: str
              sample: python
            memory_mb:
              description: NPU memory of the process, MB.
              type: int
              sample: 37709
        board:
          description: C(npu-smi info -l), with the C(npu-smi info -t board -i N) keys merged into each NPU.
          returned: when O(gather) contains V(board)
          type: dict
          contains:
            total_count:
              description: C(Total Count) of C(npu-smi info -l).
              type: int
              sample: 8
            npus:
              description: >-
                One dict per NPU with the printed keys in snake case (C(npu_id), C(chip_count), C(product_name),
                C(serial_number), C(software_version), C(firmware_version), C(pcie_bus_info), C(board_id), ...).
              type: list
              elements: dict
              sample: [{"npu_id": 0, "chip_count": 1, "serial_number": "102415083974", "pcie_bus_info": "0000:C1:00.0"}]
        software:
          description: Versions read from the Ascend install files; null when a file is missing.
          returned: when O(gather) contains V(software)
          type: dict
          contains:
            driver_version:
              description: C(Version) of C(driver/version.info).
              type: str
              sample: 24.1.rc2.2
            firmware_version:
              description: C(Version) of C(firmware/version.info).
              type: str
              sample: 7.5.0.3.220
            cann_version:
              description: C(version) of the CANN toolkit's C(ascend_toolkit_install.info) under C(ascend-toolkit/latest).
              type: str
              sample: 8.1.RC1
            cann_arch:
              description: C(arch) of that file.
              type: str
              sample: aarch64
            ascend_install:
              description: All C(key=value) pairs of O(ascend_install_info).
              type: dict
              sample: {"UserName": "HwHiAiUser", "Driver_Install_Path_Param": "/usr/local/Ascend"}
        python:
          description: Versions of the Python packages of O(python_path); null for a package that is not installed.
          returned: when O(python_path) is set
          type: dict
          contains:
            python:
              description: Interpreter version.
              type: str
              sample: 3.11.6
            torch:
              description: torch version.
              type: str
              sample: 2.6.0
            torch_npu:
              description: torch-npu version.
              type: str
              sample: 2.6.0.post1
            torchvision:
              description: torchvision version.
              type: str
              sample: 0.21.0
            triton:
              description: triton version.
              type: str
              sample: 3.2.0
            triton_ascend:
              description: triton-ascend version.
              type: str
              sample: 3.2.0
            sglang:
              description: sglang version.
              type: str
              sample: 0.5.5
            vllm:
              description: vllm version.
              type: str
              sample: 0.8.5
            vllm_ascend:
              description: vllm-ascend version.
              type: str
              sample: 0.8.5rc1
'''

import glob
import json
import os
import platform

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.npu.sglang.plugins.module_utils.npu_smi import (
    NpuSmiParseError,
    parse_board,
    parse_info,
    parse_key_value,
    parse_list,
)

SEARCH_DIRS = ('/usr/local/sbin', '/usr/local/bin')

# Runs in the interpreter given as python_path (Python 2.7 or 3.x). Reads package metadata only.
VERSION_PROBE = r'''
import json, platform
try:
    from importlib import metadata as md
    def version(name):
        return md.version(name)
except ImportError:
    try:
        import importlib_metadata as md
        def version(name):
            return md.version(name)
    except ImportError:
        import pkg_resources
        def version(name):
            return pkg_resources.get_distribution(name).version
wanted = {
    "torch": ["torch"], "torch_npu": ["torch-npu", "torch_npu"], "torchvision": ["torchvision"],
    "triton": ["triton"], "triton_ascend": ["triton-ascend", "triton_ascend"], "sglang": ["sglang"],
    "vllm": ["vllm"], "vllm_ascend": ["vllm-ascend", "vllm_ascend"],
}
found = {"python": platform.python_version()}
for key, names in wanted.items():
    found[key] = None
    for name in names:
        try:
            found[key] = version(name)
            break
        except Exception:
            pass
print(json.dumps(found, sort_keys=True))
'''
PYTHON_KEYS = ('python', 'torch', 'torch_npu', 'torchvision', 'triton', 'triton_ascend', 'sglang', 'vllm', 'vllm_ascend')


def is_executable(path):
    return os.path.isfile(path) and os.access(path, os.X_OK)


def find_npu_smi(module):
    wanted = module.params['npu_smi_path']
    if wanted:
        if not is_executable(wanted):
            module.fail_json(msg='npu-smi not found or not executable at %s' % wanted, npu_smi_path=wanted)
        return wanted
    dirs = [entry for entry in os.environ.get('PATH', '').split(os.pathsep) if entry] + list(SEARCH_DIRS)
    for directory in dirs:
        candidate = os.path.join(directory, 'npu-smi')
        if is_executable(candidate):
            return candidate
    module.fail_json(msg='npu-smi not found in PATH, %s' % ', '.join(SEARCH_DIRS), npu_smi_path=None)


def first_line(text):
    for line in (text or '').splitlines():
        if line.strip():
            return line.strip()
    return ''


def run_npu_smi(module, npu_smi, args, parser):
    command = [npu_smi] + args
    shown = ' '.join(command)
    try:
        rc, out, err = module.run_command(command, check_rc=False)
    except (OSError, IOError) as exc:
        module.fail_json(msg="could not run '%s': %s" % (shown, exc), npu_smi_path=npu_smi)
    if rc != 0:
        reason = first_line(err) or first_line(out) or 'no output'
        module.fail_json(msg="'%s' exited with rc=%d: %s" % (shown, rc, reason), npu_smi_path=npu_smi,
                         rc=rc, stdout=out, stderr=err)
    try:
        return parser(out)
    except NpuSmiParseError as exc:
        module.fail_json(msg="could not read the output of '%s' (%s); first line it could not read: %r"
                         % (shown, exc.reason, exc.line), npu_smi_path=npu_smi, bad_line=exc.line,
                         bad_line_number=exc.lineno, stdout=out)


def read_kv_file(module, path):
    """key=value pairs of a file; None when the file does not exist."""
    try:
        with open(path, 'rb') as handle:
            text = handle.read().decode('utf-8', 'replace')
    except (OSError, IOError) as exc:
        if not os.path.exists(path):
            return None
        module.fail_json(msg='could not read %s: %s' % (path, exc))
    try:
        return parse_key_value(text)
    except NpuSmiParseError as exc:
        module.fail_json(msg='could not read %s (%s); first line it could not read: %r' % (path, exc.reason, exc.line),
                         bad_line=exc.line, bad_line_number=exc.lineno)


def toolkit_info_path(root):
    """ascend_toolkit_install.info of ascend-toolkit/latest, preferring this machine's architecture."""
    latest = os.path.join(root, 'ascend-toolkit', 'latest')
    preferred = os.path.join(latest, '%s-linux' % platform.machine(), 'ascend_toolkit_install.info')
    if os.path.isfile(preferred):
        return preferred
    found = sorted(glob.glob(os.path.join(latest, '*-linux', 'ascend_toolkit_install.info')))
    return found[0] if found else None


def gather_software(module):
    root = module.params['ascend_root']
    driver = read_kv_file(module, os.path.join(root, 'driver', 'version.info')) or {}
    firmware = read_kv_file(module, os.path.join(root, 'firmware', 'version.info')) or {}
    toolkit_path = toolkit_info_path(root)
    toolkit = (read_kv_file(module, toolkit_path) if toolkit_path else None) or {}
    cann_arch = toolkit.get('arch')
    if cann_arch is None and toolkit_path:
        cann_arch = os.path.basename(os.path.dirname(toolkit_path))[:-len('-linux')]
    return {
        'driver_version': driver.get('Version') or driver.get('version'),
        'firmware_version': firmware.get('Version') or firmware.get('version'),
        'cann_version': toolkit.get('version') or toolkit.get('Version'),
        'cann_arch': cann_arch,
        'ascend_install': read_kv_file(module, module.params['ascend_install_info']),
    }


def gather_python(module):
    python = module.params['python_path']
    if not is_executable(python):
        module.fail_json(msg='python_path %s is not an executable file' % python)
    rc, out, err = module.run_command([python, '-c', VERSION_PROBE], check_rc=False)
    if rc != 0:
        module.fail_json(msg="'%s' could not report its package versions (rc=%d): %s"
                         % (python, rc, first_line(err) or first_line(out) or 'no output'), stderr=err)
    try:
        found = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        module.fail_json(msg="'%s' printed something other than package versions; first line: %r"
                         % (python, first_line(out)), stdout=out)
    return dict((key, found.get(key)) for key in PYTHON_KEYS)


def gather_board(module, npu_smi):
    listing = run_npu_smi(module, npu_smi, ['info', '-l'], parse_list)
    npus = []
    for entry in listing['npus']:
        board = run_npu_smi(module, npu_smi, ['info', '-t', 'board', '-i', str(entry['npu_id'])], parse_board)
        merged = dict(entry)
        merged.update(board)
        npus.append(merged)
    return {'total_count': listing['total_count'], 'npus': npus}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            npu_smi_path=dict(type='path'),
            ascend_root=dict(type='path', default='/usr/local/Ascend'),
            ascend_install_info=dict(type='path', default='/etc/ascend_install.info'),
            python_path=dict(type='path'),
            gather=dict(type='list', elements='str', choices=['chips', 'board', 'software', 'python'],
                        default=['chips', 'software']),
        ),
        supports_check_mode=True,
    )
    gather = set(module.params['gather'])
    if 'python' in gather and not module.params['python_path']:
        module.fail_json(msg='gather contains python but python_path is not set')

    facts = {}
    if gather & set(['chips', 'board']):
        npu_smi = find_npu_smi(module)
        facts['npu_smi_path'] = npu_smi
        if 'chips' in gather:
            facts.update(run_npu_smi(module, npu_smi, ['info'], parse_info))
        if 'board' in gather:
            facts['board'] = gather_board(module, npu_smi)
    if 'software' in gather:
        facts['software'] = gather_software(module)
    if module.params['python_path']:
        facts['python'] = gather_python(module)

    module.exit_json(changed=False, ansible_facts={'npu': facts})


if __name__ == '__main__':
    main()
