"""Fixtures of the integration tests (helpers live in simtest.py).

The shared simulated cluster (inventories/sim) is brought up once per session and deployed by
site.yml from nothing, with exactly one build; test_sim_e2e.py asserts on that deploy, and the
tests after it (the AWX runner jobs, the secret test) reuse the deployed cluster instead of
building again. Tests that need other state run on private clusters of their own. The order:
everything else first, then the shared cluster's users, the e2e test first among them.
"""
import os
import re
import shutil
import sys
import time

import pytest

from simtest import IMAGE_CACHE, ROOT, SIMCTL, SITE_ARGS, run, run_acting_on, site_playbook, tool
from simtest import sim_image  # noqa: F401 pylint: disable=unused-import

# test_check_become.py has a private cluster but loads the image from the e2e's controller cache.
SHARED_CLUSTER_USERS = {"test_sim_e2e.py": 1, "test_runner.py": 2, "test_secrets.py": 3, "test_check_become.py": 4}
NODES = int(os.environ.get("NPU_SIM_NODES", "3"))
CHIPS = int(os.environ.get("NPU_SIM_CHIPS", "8"))


def pytest_collection_modifyitems(session, config, items):
    del session, config
    items.sort(key=lambda item: SHARED_CLUSTER_USERS.get(item.path.name, 0))


@pytest.fixture(scope="session")
def shared_cluster(sim_image):
    del sim_image
    started = time.time()
    run([sys.executable, SIMCTL, "up", "--nodes", str(NODES), "--chips", str(CHIPS)], timeout=900)
    up_seconds = time.time() - started
    prefix = os.environ.get("NPU_SIM_PREFIX", "npu-sim-node")
    # Only this cluster's nodes: other sim clusters (own prefixes) may run on the machine.
    names = [n for n in run(["docker", "ps", "--filter", "label=npu.sglang.sim", "--format", "{{.Names}}"]).stdout.split()
             if re.fullmatch(re.escape(prefix) + r"\d+", n)]
    yield {"nodes": sorted(names, key=lambda n: (len(n), n)), "up_seconds": up_seconds,
           "inventory": os.path.join(ROOT, "inventories", "sim", "hosts.yml")}
    run([sys.executable, SIMCTL, "down"])
    network = os.environ.get("NPU_SIM_NETWORK", "npu-sim")
    mine = re.compile(re.escape(prefix) + r"\d+(-docker)?|" + re.escape(network))
    left = run(["docker", "ps", "-a", "--format", "{{.Names}}", "--filter", "label=npu.sglang.sim"]).stdout.split()
    left += run(["docker", "volume", "ls", "-q", "--filter", "label=npu.sglang.sim"]).stdout.split()
    left += run(["docker", "network", "ls", "--format", "{{.Name}}", "--filter", "label=npu.sglang.sim"]).stdout.split()
    left = [name for name in left if mine.fullmatch(name)]
    assert not left, "teardown left containers, volumes or networks behind: %s" % left


# The build is killed in its first long step (the stack's pip install, minutes of downloads), so
# the failed attempt costs little; what it proves holds for any later step as well.
KILL_AT = r"^TASK \[[^\]]*: Install torch, torchvision, torch_npu and triton-ascend"


def _site_killing_the_build(builder):
    """site.yml from nothing, the build container killed on the builder 20 s into KILL_AT."""
    def kill():
        time.sleep(20)
        return run(["docker", "exec", builder, "sh", "-c",
                    "docker kill $(docker ps -q --filter label=npu.sglang.role=build)"], check=False)
    return run_acting_on([tool("ansible-playbook")] + SITE_ARGS + ["site.yml"], KILL_AT, kill)


@pytest.fixture(scope="session")
def shared_deploy(shared_cluster):
    """From nothing: a site.yml whose build is killed half-way, the re-run that completes it with
    no manual clean-up, and the idempotent run after it."""
    shutil.rmtree(IMAGE_CACHE, ignore_errors=True)
    builder = shared_cluster["nodes"][0]
    began = time.time()
    code, killed_run, killed = _site_killing_the_build(builder)
    killed_seconds = time.time() - began
    began = time.time()
    first = site_playbook("site.yml", check=False)
    first_seconds = time.time() - began
    began = time.time()
    second = site_playbook("site.yml", check=False)
    return {"killed": {"rc": code, "out": killed_run, "kill": killed, "seconds": killed_seconds},
            "first": first.stdout, "first_rc": first.returncode, "first_seconds": first_seconds,
            "second": second.stdout, "second_rc": second.returncode, "second_seconds": time.time() - began,
            "builder": builder}
