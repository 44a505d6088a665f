"""The validation play: bad values fail on the controller, naming host, variable, value and fix."""
import json
import os
import subprocess
import sys

import pytest

from ansible_collections.npu.sglang.plugins.action.validate_inventory import check_specs, load_role_specs, load_stacks
from ansible_collections.npu.sglang.plugins.module_utils.config_rules import check_rules, shm_bytes

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
BIN = os.path.dirname(sys.executable)


def problems(values):
    specs = load_role_specs()
    ctx = {"host": "h1", "groups": {}, "group_names": [], "stacks": load_stacks(), "specs": specs}
    return check_specs(specs, values) + check_rules(values, ctx)


def test_defaults_are_valid():
    assert problems({}) == []


@pytest.mark.parametrize("values, variable, words", [
    ({"npu_stack_profile": "nightly"}, "npu_stack_profile", "seed"),
    ({"npu_stack_overrides": {"torch_npu": "2.5.1"}}, "npu_stack_overrides", "same release"),
    ({"npu_stack_overrides": {"python": "3.10"}}, "npu_stack_overrides", "Python 3.11"),
    ({"npu_stack_overrides": {"sglang_ref": "my branch"}}, "npu_stack_overrides", "white space"),
    ({"docker_npu_devices": [0, 1, 1]}, "docker_npu_devices", "more than once"),
    ({"docker_npu_devices": [0, 8]}, "docker_npu_devices", "8-chip board"),
    ({"docker_npu_devices": []}, "docker_npu_devices", "no chip"),
    ({"docker_npu_shm_size": "lots"}, "docker_npu_shm_size", "unit"),
    ({"docker_npu_shm_size": "64m"}, "docker_npu_shm_size", "IPC"),
    ({"docker_npu_shm_size": "99999g"}, "docker_npu_shm_size", "16 TiB"),
    ({"docker_npu_image": "  "}, "docker_npu_image", "empty"),
    ({"docker_npu_privileged": "maybe"}, "docker_npu_privileged", "bool"),
    ({"npu_preflight_min_free_gb": "plenty"}, "npu_preflight_min_free_gb", "float"),
])
def test_bad_values_are_named_with_a_fix(values, variable, words):
    found = problems(values)
    assert found, "no problem reported for %r" % values
    text = " ".join(p.render("h1") for p in found)
    assert variable in text and words in text and "Fix:" in text, text


def test_shm_sizes():
    assert shm_bytes("1000g") == 1000 * 1024 ** 3
    assert shm_bytes("16G") == 16 * 1024 ** 3
    assert shm_bytes("512") == 512
    assert shm_bytes("1.5g") is None
    assert shm_bytes("-1g") is None


def test_site_fails_in_validation_before_contacting_hosts(tmp_path):
    # The hosts are on TEST-NET-1 (nothing answers there): had Ansible tried to reach them, the
    # failure would be "unreachable", not the validation message.
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(json.dumps({"all": {"children": {"npu_nodes": {"hosts": {
        "good-node": {"ansible_host": "192.0.2.1"},
        "bad-node": {"ansible_host": "192.0.2.2", "docker_npu_devices": [0, 0, 9]},
    }}}}}))
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "site.yml", "-i", str(inventory)],
                          cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
                                   ANSIBLE_FORCE_COLOR="0"), timeout=300, check=False)
    out = proc.stdout
    assert proc.returncode != 0, out
    assert "host bad-node: docker_npu_devices = [0, 0, 9]" in out, out
    assert "Fix:" in out
    assert "UNREACHABLE" not in out and "Gather the NPU facts" not in out, out
