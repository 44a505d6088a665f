"""Image distribution through a registry (roles/sglang_build/tasks/distribute.yml), on a private
2-node simulated cluster with the sim's registry (Debian's docker-registry, htpasswd auth).

The builder (node1) has an image the other node lacks: the CANN stand-in plus a 20 MB layer of its
own. With sglang_build_distribute_registry set, the builder pushes it, node2 pulls it (its base
layers it has already), and the controller's archive cache stays empty: no image byte passes
through the controller. A second run moves nothing.
"""
import json
import os
import sys

import pytest

from simtest import SIMCTL, private_cluster, recap, run, tool

pytestmark = [pytest.mark.sim, pytest.mark.slow]

PREFIX = "dist-it-node"
NETWORK = "dist-it-net"
IMAGE = "npu-sglang:dist-it"
PLAY = """---
- name: Distribute the image
  hosts: npu_nodes
  gather_facts: false
  tasks:
    - name: Compute the container spec
      ansible.builtin.import_role:
        name: npu.sglang.docker_npu
    - name: Run the task file under test
      ansible.builtin.import_role:
        name: npu.sglang.sglang_build
        tasks_from: distribute
"""


def on(node, *cmd, check=True):
    return run(["docker", "exec", node] + list(cmd), check=check)


def image_id(node):
    proc = on(node, "docker", "image", "inspect", "-f", "{{.Id}}", IMAGE, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


@pytest.fixture(scope="module")
def cluster(sim_image, tmp_path_factory):
    del sim_image
    base = tmp_path_factory.mktemp("distribute")
    with private_cluster(base, PREFIX, NETWORK, nodes=2, chips=2) as made:
        info = json.loads(run([sys.executable, SIMCTL, "registry", "up"], env=made["env"]).stdout.strip().splitlines()[-1])
        with open(info["password_file"], encoding="utf-8") as handle:
            password = handle.read().strip()
        builder = PREFIX + "1"
        on(builder, "docker", "run", "--name", "dist-it-payload", made["image"], "sh", "-c",
           "head -c 20971520 /dev/urandom > /payload")
        on(builder, "docker", "commit", "dist-it-payload", IMAGE)
        on(builder, "docker", "rm", "dist-it-payload")
        book = os.path.join(str(base), "distribute.yml")
        with open(book, "w", encoding="utf-8") as handle:
            handle.write(PLAY)
        yield dict(made, registry=info, password=password, book=book, builder=builder, cache=str(base / "cache"))


def distribute(cluster):
    extra = {"sglang_build_builder": cluster["builder"], "sglang_build_image": IMAGE,
             "sglang_build_cache_dir": cluster["cache"],
             "sglang_build_distribute_registry": cluster["registry"]["name"] + "/npu-sglang-it",
             "sglang_build_distribute_registry_username": cluster["registry"]["username"],
             "sglang_build_distribute_registry_password": cluster["password"],
             "sglang_build_pull_concurrency": 1}
    return run([tool("ansible-playbook"), cluster["book"], "-i", cluster["inventory"], "-e", json.dumps(extra)],
               check=False, timeout=600)


def test_nodes_pull_from_the_registry_and_the_controller_moves_nothing(cluster):
    want = image_id(cluster["builder"])
    assert want and image_id(PREFIX + "2") is None
    out = distribute(cluster)
    assert out.returncode == 0, out.stdout[-5000:]
    assert image_id(PREFIX + "2") == want
    # No archive was made, fetched or copied: the controller's cache was never even created.
    assert not os.path.exists(cluster["cache"]), os.listdir(cluster["cache"])
    assert "Push the image to the registry] ***" in out.stdout
    assert cluster["password"] not in out.stdout
    # The layers came through the registry: node2 has the registry's name of the image too.
    ref = "%s/npu-sglang-it/%s" % (cluster["registry"]["name"], IMAGE)
    assert on(PREFIX + "2", "docker", "image", "inspect", "-f", "{{.Id}}", ref).stdout.strip() == want

    again = distribute(cluster)
    assert again.returncode == 0, again.stdout[-3000:]
    stats = recap(again.stdout)
    assert all(host["changed"] == 0 for host in stats.values()), again.stdout[-3000:]
