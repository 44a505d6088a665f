"""One container definition: every `docker run` of an NPU container takes its options from the spec."""
import os
import re
import subprocess

import pytest

from ansible_collections.npu.sglang.plugins.module_utils.container import SpecError, docker_run_options

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
SPEC = {"image": "cann:8.2", "privileged": False, "capabilities": ["SYS_ADMIN", "NET_ADMIN"],
        "security_opts": ["seccomp=unconfined"], "network_mode": "host", "shm_size": "16g",
        "devices": ["/dev/davinci0:/dev/davinci0:rwm", "/dev/davinci1:/dev/davinci1:rwm", "/dev/davinci_manager"],
        "volumes": ["/usr/local/Ascend/driver:/usr/local/Ascend/driver:ro", "/data/models:/data/models:ro"],
        "env": {"B": "2", "ASCEND_RT_VISIBLE_DEVICES": "0,1"}}


def test_every_part_of_the_spec_becomes_an_option():
    assert docker_run_options(SPEC) == [
        "--network=host", "--shm-size=16g", "--cap-add=SYS_ADMIN", "--cap-add=NET_ADMIN",
        "--security-opt=seccomp=unconfined", "--device=/dev/davinci0:/dev/davinci0:rwm",
        "--device=/dev/davinci1:/dev/davinci1:rwm", "--device=/dev/davinci_manager",
        "--volume=/usr/local/Ascend/driver:/usr/local/Ascend/driver:ro", "--volume=/data/models:/data/models:ro",
        "--env=ASCEND_RT_VISIBLE_DEVICES=0,1", "--env=B=2"]


def test_a_server_keeps_the_spec_but_its_own_chips_and_env_file():
    options = docker_run_options(dict(SPEC, privileged=True), devices=["/dev/davinci1:/dev/davinci1:rwm"],
                                 env_file="/etc/npu-sglang/a.env", volumes=["/k:/run/secrets/k:ro"])
    assert "--privileged" in options and "--cap-add=SYS_ADMIN" in options
    assert [o for o in options if o.startswith("--device=")] == ["--device=/dev/davinci1:/dev/davinci1:rwm"]
    assert options[-2:] == ["--volume=/k:/run/secrets/k:ro", "--env-file=/etc/npu-sglang/a.env"]
    assert not any(o.startswith("--env=") for o in options)


@pytest.mark.parametrize("spec", [None, {"network_mode": "host"}])
def test_a_missing_spec_is_named(spec):
    with pytest.raises(SpecError, match="docker_npu"):
        docker_run_options(spec)


def test_no_container_is_assembled_by_hand():
    """Outside module_utils/container.py nothing maps the spec's parts to docker run options."""
    files = subprocess.run(["git", "ls-files", "roles", "playbooks", "plugins"], cwd=ROOT, text=True,
                           stdout=subprocess.PIPE, check=True).stdout.split()
    pattern = re.compile(r"--cap-add|--security-opt|docker_npu_spec\.(capabilities|devices|volumes)\s*\|\s*map")
    offenders = []
    for name in files:
        if name.endswith("module_utils/container.py") or name.endswith("filter/docker_run_options.py"):
            continue
        with open(os.path.join(ROOT, name), encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                if pattern.search(line):
                    offenders.append("%s:%d: %s" % (name, number, line.strip()))
    assert offenders == []
    users = []
    for name in files:
        with open(os.path.join(ROOT, name), encoding="utf-8", errors="replace") as handle:
            text = handle.read()
        if "npu.sglang.docker_run_options" in text and not name.startswith("plugins/"):
            users.append(name)
        if "import npu_options" in text:
            users.append(name)
    assert sorted(users) == ["playbooks/hardware_check.yml", "plugins/module_utils/bench_command.py",
                             "roles/sglang_service/tasks/smoke.yml", "roles/sglang_service/templates/run.j2"]
