"""Filter npu.sglang.size_bytes: the collection's one size parser, in Python and through Ansible.

The Ansible runs use the real collection loader (ansible.cfg resolves npu.sglang.* to this
checkout): the filter as a playbook calls it, and npu_preflight's judge.j2, which reads the shm
size with it.
"""
import json
import os
import subprocess
import sys

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.npu.sglang.plugins.filter.size_bytes import FilterModule
from ansible_collections.npu.sglang.plugins.module_utils.config_rules import size_bytes

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
BIN = os.path.dirname(sys.executable)
GIB = 1024 ** 3


def ansible_env():
    return dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_FORCE_COLOR="0",
                ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", PATH=BIN + os.pathsep + os.environ["PATH"])


def run_playbook(tmp_path, playbook, variables):
    (tmp_path / "play.yml").write_text(json.dumps(playbook))
    (tmp_path / "vars.json").write_text(json.dumps(variables))
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           str(tmp_path / "play.yml"), "-e", "@" + str(tmp_path / "vars.json")],
                          cwd=ROOT, env=ansible_env(), text=True, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=120, check=False)
    assert proc.stdout.strip().startswith("{"), proc.stdout + proc.stderr
    tasks = json.loads(proc.stdout)["plays"][0]["tasks"]
    return list(tasks[0]["hosts"]["localhost"]["results"])


def test_the_filter_is_the_module_utils_parser():
    flt = FilterModule().filters()["size_bytes"]
    for value in ("1000g", "16G", "512m", "1024", 1073741824):
        assert flt(value) == size_bytes(value)
    assert flt("1000g") == 1000 * GIB and flt("16G") == 16 * GIB and flt("512m") == 512 * 1024 ** 2
    assert flt("1024") == 1024 and flt(1073741824) == GIB


@pytest.mark.parametrize("value", ["1.5g", "16gb", "", "lots", None, True, -1])
def test_the_filter_fails_with_a_clear_text(value):
    with pytest.raises(AnsibleFilterError) as err:
        FilterModule().filters()["size_bytes"](value)
    assert "is not a size" in str(err.value) or "is negative" in str(err.value)
    assert "1000g" in str(err.value)


def test_playbooks_call_it_by_its_fqcn(tmp_path):
    values = ["1000g", "16G", "512m", "1024", 1073741824, "1.5g"]
    results = run_playbook(tmp_path, [{
        "hosts": "localhost", "gather_facts": False,
        "tasks": [{"name": "Read a size", "ansible.builtin.debug": {"msg": "{{ item | npu.sglang.size_bytes }}"},
                   "loop": "{{ sizes }}", "ignore_errors": True}]}], {"sizes": values})
    got = [r.get("msg") if not r.get("failed") else "FAILED: " + r["msg"] for r in results]
    assert got[:5] == [1000 * GIB, 16 * GIB, 512 * 1024 ** 2, 1024, GIB], got
    assert got[5].startswith("FAILED") and "'1.5g' is not a size" in got[5], got[5]


# Preflight's judge.j2 on a 32 GiB host: shm above the memory is a problem. Sizes with units the
# old hand-written parser misread ("b", "t") and malformed ones (silently 0 before) included.
JUDGE_CASES = [
    ("16g", False), ("32g", False), ("33g", True), ("64G", True), ("40000m", True), ("17179869184", False),
    ("34359739392b", True), ("1t", True), ("1024k", False),
]


def test_preflight_judges_the_shm_size_with_the_filter(tmp_path):
    chips = [{"npu_id": i, "chip_id": 0, "name": "910B3", "health": "OK"} for i in range(8)]
    devnodes = ["/dev/davinci%d" % i for i in range(8)] + ["/dev/davinci_manager", "/dev/devmm_svm", "/dev/hisi_hdc"]
    variables = {
        "_npu_preflight_host": {"stdout_lines": ["docker=24.0.7", "docker_root=/var/lib/docker",
                                                 "free_kb=999999999", "mem_kb=%d" % (32 * 1024 * 1024),
                                                 "governor=performance"]},
        "_npu_preflight_info": {"ansible_facts": {"npu": {"chips": chips, "software": {"driver_version": "24.1"}}}},
        "_npu_preflight_devnodes": {"files": [{"path": p} for p in devnodes]},
        "npu_preflight_devices": list(range(8)), "npu_preflight_accepted_health": ["OK"],
        "npu_preflight_ascend_root": "/usr/local/Ascend", "npu_preflight_min_docker_version": "20.10",
        "npu_preflight_min_free_gb": 1, "npu_preflight_kernel_settings": {},
        "npu_preflight_enforce_kernel_settings": False, "npu_preflight_cpu_governor": "",
        "npu_preflight_enforce_cpu_governor": False,
        "sizes": [c[0] for c in JUDGE_CASES] + ["lots"],
    }
    judge = os.path.join(ROOT, "roles", "npu_preflight", "templates", "judge.j2")
    results = run_playbook(tmp_path, [{
        "hosts": "localhost", "gather_facts": False,
        "tasks": [{"name": "Judge", "ansible.builtin.debug": {
            "msg": "{{ lookup('ansible.builtin.template', '%s') | from_json }}" % judge},
            "vars": {"npu_preflight_shm_size": "{{ item }}"}, "loop": "{{ sizes }}", "ignore_errors": True}]}],
        variables)
    for (size, too_big), result in zip(JUDGE_CASES, results):
        assert not result.get("failed"), result
        flagged = any("exceeds the host memory" in p for p in result["msg"]["problems"])
        assert flagged == too_big, (size, result["msg"])
        assert len(result["msg"]["problems"]) == int(too_big), (size, result["msg"])
    malformed = results[-1]
    assert malformed.get("failed") and "'lots' is not a size" in malformed["msg"], malformed
