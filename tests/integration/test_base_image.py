"""The three ways the builder gets the base image (roles/sglang_build/tasks/base_image.yml) and
the check-only task file (base_image_check.yml), on a private 1-node simulated cluster with the
sim's registry (simctl registry, htpasswd auth over plain HTTP).

Only the container spec and these task files run, not the build: the base image is the CANN
stand-in the nodes carry, its `simctl cann` archive, and the same image pushed to the registry.
"""
import base64
import json
import os
import re
import sys
import time

import pytest

from simtest import SIMCTL, private_cluster, recap, run, tool

pytestmark = [pytest.mark.sim, pytest.mark.slow]

PREFIX = "base-image-it-node"
NODE = PREFIX + "1"
NETWORK = "base-image-it-net"
REPO = "npu-sim/cann:base-image-it"

PLAY = """---
- name: Get the base image
  hosts: npu_nodes
  gather_facts: false
  tasks:
    - name: Compute the container spec
      ansible.builtin.import_role:
        name: npu.sglang.docker_npu
    - name: Run the task file under test
      ansible.builtin.import_role:
        name: npu.sglang.sglang_build
        tasks_from: %s
%s"""
SAY_ID = """    - name: Say the base image's Id the fingerprint reads
      ansible.builtin.debug:
        msg: "base image id {{ (_sglang_build_base.images | first).Id }}"
"""


@pytest.fixture(scope="module")
def cluster(sim_image, tmp_path_factory):
    del sim_image
    base = tmp_path_factory.mktemp("base_image")
    with private_cluster(base, PREFIX, NETWORK, nodes=1, chips=2) as made:
        env = made["env"]
        info = json.loads(run([sys.executable, SIMCTL, "registry", "up"], env=env).stdout.strip().splitlines()[-1])
        ref = run([sys.executable, SIMCTL, "registry", "push", made["image"], REPO], env=env).stdout.strip().splitlines()[-1]
        archive = run([sys.executable, SIMCTL, "cann"], env=env).stdout.strip().splitlines()[-1]
        with open(info["password_file"], encoding="utf-8") as handle:
            password = handle.read().strip()
        books = {}
        for name, extra in (("base_image", SAY_ID), ("base_image_check", "")):
            books[name] = os.path.join(str(base), name + ".yml")
            with open(books[name], "w", encoding="utf-8") as handle:
                handle.write(PLAY % (name, extra))
        image_id = run(["docker", "image", "inspect", "-f", "{{.Id}}", made["image"]]).stdout.strip()
        yield dict(made, registry=info, ref=ref, archive=archive, password=password, books=books, image_id=image_id)
    # simctl down removed the registry with the cluster.
    left = run(["docker", "ps", "-a", "-q", "--filter", "name=^%s-registry$" % NETWORK]).stdout.split()
    assert not left, "simctl down left the registry behind: %s" % left


def playbook(cluster, book, *extra, check_mode=False):
    cmd = [tool("ansible-playbook"), cluster["books"][book], "-i", cluster["inventory"]] + list(extra)
    began = time.time()
    out = run(cmd + (["--check"] if check_mode else []), check=False, timeout=600)
    return out.returncode, out.stdout, time.time() - began


def on(*cmd, check=True):
    return run(["docker", "exec", NODE] + list(cmd), check=check)


def node_image_id(ref):
    proc = on("docker", "image", "inspect", "-f", "{{.Id}}", ref, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def remove_from_node(ref):
    on("docker", "rmi", ref, check=False)
    assert node_image_id(ref) is None


def results(out, task):
    """The result words (ok, changed, skipping, fatal) of the task named `task` in the output."""
    words = []
    for chunk in out.split("TASK [")[1:]:
        header, _sep, body = chunk.partition("\n")
        if header.split("] ")[0].endswith(": " + task):
            words += re.findall(r"^(ok|changed|skipping|fatal): \[", body, re.M)
    return words


def said_id(out):
    match = re.search(r"msg: base image id (sha256:[0-9a-f]{64})", out)
    return match.group(1) if match else None


def one_line(out):
    """The output with Ansible's YAML line folding undone, for messages that span lines."""
    return re.sub(r"\s*\n\s*", " ", out)


def registry_vars(cluster, password):
    return ["-e", "docker_npu_image=" + cluster["ref"], "-e", "sglang_build_registry_username=" + cluster["registry"]["username"],
            "-e", "sglang_build_registry_password=" + password]


def test_present_image_does_nothing(cluster):
    assert node_image_id(cluster["image"]) == cluster["image_id"]
    code, out, _seconds = playbook(cluster, "base_image")
    assert code == 0, out[-5000:]
    assert recap(out)[NODE]["changed"] == 0, out[-3000:]
    for task in ("Copy the archive to the builder", "Load the archive", "Log in to the base image's registry", "Pull the image"):
        assert results(out, task) == ["skipping"], (task, out[-5000:])
    assert said_id(out) == cluster["image_id"]


def test_missing_image_is_loaded_from_the_archive(cluster):
    remove_from_node(cluster["image"])
    code, out, _seconds = playbook(cluster, "base_image", "-e", "sglang_build_base_image_archive=" + cluster["archive"])
    assert code == 0, out[-5000:]
    assert results(out, "Load the archive") == ["changed"], out[-5000:]
    assert results(out, "Pull the image") == ["skipping"], out[-5000:]
    assert node_image_id(cluster["image"]) == cluster["image_id"]
    assert said_id(out) == cluster["image_id"]
    assert "npu-sglang-base-image" not in on("ls", "/var/tmp").stdout  # the copy was removed

    again, out, _seconds = playbook(cluster, "base_image", "-e", "sglang_build_base_image_archive=" + cluster["archive"])
    assert again == 0 and recap(out)[NODE]["changed"] == 0, out[-5000:]
    assert results(out, "Load the archive") == ["skipping"], out[-5000:]

    # An archive (here on the builder, loaded in place) that lacks the image fails, naming it all.
    run(["docker", "cp", cluster["archive"], NODE + ":/var/tmp/other.tar"])
    wanted = "npu-sim-cann:not-in-this-archive"
    code, out, _seconds = playbook(cluster, "base_image", "-e", "sglang_build_base_image_archive=/var/tmp/other.tar",
                                   "-e", "sglang_build_base_image_archive_on_builder=true",
                                   "-e", "docker_npu_image=" + wanted)
    assert code != 0, out[-5000:]
    assert re.search(r"host %s: sglang_build_base_image_archive=/var/tmp/other.tar was loaded but holds no image named %s"
                     r" \(docker_npu_image\); it loaded %s\. Fix: set docker_npu_image"
                     % (NODE, re.escape(wanted), re.escape(cluster["image"])), one_line(out)), out[-5000:]
    assert "other.tar" in on("ls", "/var/tmp").stdout  # a path on the builder is the user's: kept


def test_missing_image_is_pulled_with_credentials_that_are_not_kept(cluster):
    remove_from_node(cluster["ref"])
    creds = registry_vars(cluster, cluster["password"])
    # The check first, in check mode: the registry gives the manifest, nothing is pulled.
    code, out, _seconds = playbook(cluster, "base_image_check", *creds, check_mode=True)
    assert code == 0, out[-5000:]
    assert "%s: pullable from npu-sim-registry:5000" % cluster["ref"] in out, out[-3000:]
    assert node_image_id(cluster["ref"]) is None

    code, out, _seconds = playbook(cluster, "base_image", "-v", *creds)
    assert code == 0, out[-5000:]
    assert results(out, "Log in to the base image's registry") == ["changed"], out[-5000:]
    assert results(out, "Pull the image") == ["changed"], out[-5000:]
    assert node_image_id(cluster["ref"]) == cluster["image_id"]
    assert said_id(out) == cluster["image_id"]
    assert cluster["password"] not in out
    # Nothing of the login is left on the node: not in root's client configuration, nor the
    # temporary one.
    config = on("sh", "-c", "cat /root/.docker/config.json 2>/dev/null; true").stdout
    basic = base64.b64encode(("%s:%s" % (cluster["registry"]["username"], cluster["password"])).encode()).decode()
    assert cluster["password"] not in config and basic not in config and "npu-sim-registry" not in config, config
    assert "npu-sglang-docker-" not in on("ls", "-a", "/tmp").stdout


def test_wrong_password_fails_quickly_with_the_fix(cluster):
    remove_from_node(cluster["ref"])
    wrong = "not-the-password-42"
    code, out, seconds = playbook(cluster, "base_image", "-v", *registry_vars(cluster, wrong))
    assert code != 0 and recap(out)[NODE]["failed"] == 1, out[-5000:]
    assert re.search(r"host %s: npu-sim-registry:5000 refused the login of sglang_build_registry_username=npu-sim for the"
                     r" base image %s \(.*401 Unauthorized.*\)\. Fix: set sglang_build_registry_username and"
                     r" sglang_build_registry_password" % (NODE, re.escape(cluster["ref"])), one_line(out)), out[-5000:]
    assert results(out, "Pull the image") == [], out[-5000:]  # stopped at the login
    assert wrong not in out
    assert seconds < 90, seconds
    assert node_image_id(cluster["ref"]) is None
    assert "npu-sglang-docker-" not in on("ls", "-a", "/tmp").stdout


def test_check_fails_when_no_way_gives_the_image(cluster):
    remove_from_node(cluster["ref"])
    code, out, seconds = playbook(cluster, "base_image_check", "-e", "docker_npu_image=" + cluster["ref"], check_mode=True)
    assert code != 0, out[-5000:]
    stats = recap(out)[NODE]
    assert stats["failed"] == 1 and stats["changed"] == 0, stats
    assert re.search(r"host %s: the builder cannot get the base image %s \(docker_npu_image\): it does not have it,"
                     r" sglang_build_base_image_archive is not set, and npu-sim-registry:5000 answered \d+ \(.*no basic auth"
                     r" credentials\) to the request for it without credentials \(sglang_build_registry_username is empty\)\."
                     r" Fix: give sglang_build_registry_username and sglang_build_registry_password"
                     % (NODE, re.escape(cluster["ref"])), one_line(out)), out[-5000:]
    assert seconds < 90, seconds
    assert node_image_id(cluster["ref"]) is None
