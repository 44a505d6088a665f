"""validate.yml checks a router host outside the fleet before any host is contacted: the router's
own variables and the API key, not the node settings a CPU host does not have."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.dirname(sys.executable)


def inventory(router_vars):
    # TEST-NET-1 addresses: nothing answers there, so a contacted host shows as unreachable.
    return {"all": {"vars": {"ansible_host": "192.0.2.1", "ansible_ssh_timeout": 2},
                    "children": {"npu_nodes": {"hosts": {"node-a": {}},
                                               "vars": {"sglang_service_model_path": "/data/models/m"}},
                                 "sglang_router": {"hosts": {"router-x": router_vars}}}}}


def router_playbook(tmp_path, router_vars):
    path = tmp_path / "hosts.yml"
    path.write_text(json.dumps(inventory(router_vars)), encoding="utf-8")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_LOCALHOST_WARNING="False")
    return subprocess.run([os.path.join(BIN, "ansible-playbook"), "playbooks/router.yml", "-i", str(path)],
                          cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False, timeout=300)


def test_a_bad_router_variable_on_a_router_only_host_fails_before_any_host_is_contacted(tmp_path):
    out = router_playbook(tmp_path, {"sglang_router_port": 99999})
    assert out.returncode != 0, out.stdout
    assert "host router-x: sglang_router_port = 99999: must be at most 65535. Fix: choose a free port" in out.stdout, out.stdout
    assert "UNREACHABLE" not in out.stdout, out.stdout
    # The node settings (here: no model path on the router host) are not the router host's concern.
    assert "sglang_service_model_path" not in out.stdout, out.stdout


@pytest.mark.parametrize("router_vars", [{}, {"sglang_router_port": 30080}], ids=["defaults", "valid-port"])
def test_a_valid_router_only_host_passes_validation(tmp_path, router_vars):
    out = router_playbook(tmp_path, router_vars)
    # Validation passes; the next play meets the unreachable TEST-NET node.
    assert "PLAY [Resolve the fleet's servers for the router]" in out.stdout and "UNREACHABLE" in out.stdout, out.stdout
    assert "invalid configuration" not in out.stdout, out.stdout
