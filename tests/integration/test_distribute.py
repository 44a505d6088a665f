"""Image distribution through a registry (roles/sglang_build/tasks/distribute.yml), on a private
2-node simulated cluster with the sim's registry (Debian's docker-registry, htpasswd auth).

The builder (node1) has an image the other node lacks: the CANN stand-in plus a 20 MB layer of its
own. With sglang_build_distribute_registry set, the builder pushes it, node2 pulls it (its base
layers it has already), and the controller's archive cache stays empty: no image byte passes
through the controller. A second run moves nothing.

Then the builder's own choice (provide.yml) when it lacks the image: it pulls the image from the
registry rather than building it; and when only the controller's archive cache has it, it loads
the archive so that it has something to push.
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
# The builder finds its image as site.yml's sglang_build role does, its tag given (fingerprint.yml
# is not run), then the image goes to the nodes that lack it.
PROVIDE = PLAY.replace("    - name: Run the task file under test\n", """\
    - name: Find, pull or build the image on the builder
      ansible.builtin.include_role:
        name: npu.sglang.sglang_build
        tasks_from: provide
      when: inventory_hostname == sglang_build_builder
    - name: Run the task file under test
""")


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
        books = {}
        for name, text in (("distribute", PLAY), ("provide", PROVIDE)):
            books[name] = os.path.join(str(base), name + ".yml")
            with open(books[name], "w", encoding="utf-8") as handle:
                handle.write(text)
        yield dict(made, registry=info, password=password, books=books, builder=builder, cache=str(base / "cache"))


def distribute(cluster, book="distribute", repo="npu-sglang-it"):
    extra = {"sglang_build_builder": cluster["builder"], "sglang_build_image": IMAGE, "sglang_build_tag": IMAGE,
             "sglang_build_cache_dir": cluster["cache"],
             "sglang_build_distribute_registry": cluster["registry"]["name"] + "/" + repo,
             "sglang_build_distribute_registry_username": cluster["registry"]["username"],
             "sglang_build_distribute_registry_password": cluster["password"],
             "sglang_build_pull_concurrency": 1}
    return run([tool("ansible-playbook"), cluster["books"][book], "-i", cluster["inventory"], "-e", json.dumps(extra)],
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


def drop_image(node):
    """Remove every tag of the test image from a node, so that it lacks the image."""
    ids = on(node, "docker", "images", "-q", "--no-trunc").stdout.split()
    tags = on(node, "docker", "images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    have = image_id(node)
    mine = [tag for tag, ident in zip(tags, ids) if have and ident == have]
    if mine:
        on(node, "docker", "rmi", *mine)
    assert image_id(node) is None


def test_a_builder_without_the_image_pulls_it_from_the_registry(cluster):
    # After the test above the registry holds the image. A builder that lost it (a new builder,
    # a pruned one) pulls it: building would take the better part of an hour on real hardware.
    # Had provide.yml chosen to build, build.yml would fail at once here (no sources).
    want = image_id(cluster["builder"])
    assert want
    drop_image(cluster["builder"])
    out = distribute(cluster, "provide")
    assert out.returncode == 0, out.stdout[-5000:]
    # The callback folds long messages: compare with the whitespace made single spaces.
    said = " ".join(out.stdout.split())
    assert "found in the registry %s/npu-sglang-it, pulled, build skipped" % cluster["registry"]["name"] in said, \
        out.stdout[-5000:]
    assert image_id(cluster["builder"]) == want
    assert not os.path.exists(cluster["cache"])


def test_a_builder_loads_the_controllers_archive_to_push_it(cluster):
    # A registry that does not hold the tag (a new repository), a builder and a node without the
    # image, and the image's archive in the controller's cache: the builder loads the archive,
    # pushes, and the node pulls from the registry.
    builder, node = cluster["builder"], PREFIX + "2"
    want = image_id(builder)
    on(builder, "sh", "-c", "docker save %s | zstd -q -o /var/tmp/it.tar.zst" % IMAGE)
    os.makedirs(cluster["cache"])
    archive = os.path.join(cluster["cache"], IMAGE.replace(":", "_") + ".tar.zst")
    run(["docker", "cp", builder + ":/var/tmp/it.tar.zst", archive])
    on(builder, "rm", "/var/tmp/it.tar.zst")
    drop_image(builder)
    drop_image(node)
    out = distribute(cluster, "provide", repo="npu-sglang-it-b")
    assert out.returncode == 0, out.stdout[-5000:]
    assert "found in the controller cache, build skipped" in " ".join(out.stdout.split()), out.stdout[-5000:]
    assert image_id(builder) == want and image_id(node) == want
    ref = "%s/npu-sglang-it-b/%s" % (cluster["registry"]["name"], IMAGE)
    assert on(node, "docker", "image", "inspect", "-f", "{{.Id}}", ref).stdout.strip() == want
    assert not [name for name in on(builder, "ls", "/var/tmp").stdout.split() if name.endswith(".tar.zst")]
