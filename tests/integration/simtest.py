"""Shared helpers of the integration tests: the repo root, the venv's tools, the sim cluster."""
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# The checkout as ansible_collections.npu.sglang (.collections links to it), for the tests that
# check with the collection's own module_utils.
if os.path.join(ROOT, ".collections") not in sys.path:
    sys.path.insert(0, os.path.join(ROOT, ".collections"))
BIN = os.path.dirname(sys.executable)
SIMCTL = os.path.join(ROOT, "tests", "sim", "simctl")
STATE = os.environ.get("NPU_SIM_STATE", os.path.join(ROOT, ".sim"))
# The shared cluster's controller image cache (conftest.py): "exactly one build" holds on every
# run, and later tests on that cluster find the image there.
IMAGE_CACHE = os.path.join(STATE, "e2e-image-cache")


def tool(name):
    return os.path.join(BIN, name)


def tool_env(env=None):
    """The environment commands run in: the project's ansible.cfg, this venv's tools, no colour."""
    full_env = dict(os.environ)
    full_env.update({"ANSIBLE_CONFIG": os.path.join(ROOT, "ansible.cfg"),
                     "PATH": BIN + os.pathsep + full_env.get("PATH", ""),
                     "ANSIBLE_FORCE_COLOR": "0", "PY_COLORS": "0"})
    full_env.update(env or {})
    return full_env


def run(cmd, timeout=1800, env=None, check=True, **kw):
    """Run a command from the repo root with the project's ansible.cfg; fail with its output."""
    proc = subprocess.run(cmd, cwd=ROOT, env=tool_env(env), timeout=timeout, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False, **kw)
    if check and proc.returncode != 0:
        pytest.fail("%s exited %d:\n%s" % (" ".join(cmd), proc.returncode, proc.stdout[-20000:]),
                    pytrace=False)
    return proc


@pytest.fixture(scope="session")
def sim_image():
    """The simulated node image (built once, cached by recipe hash)."""
    out = run([sys.executable, SIMCTL, "build"]).stdout.strip().splitlines()
    return out[-1]


def run_acting_on(cmd, pattern, action, timeout=3600):
    """Run a command from the repo root as run() does, reading its output as it comes; call
    action() once, at the first line matching `pattern`. Returns (exit code, output, what
    action() returned, None when no line matched)."""
    proc = subprocess.Popen(cmd, cwd=ROOT, env=tool_env(), text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    lines, acted, done = [], None, False
    deadline = time.time() + timeout
    for line in proc.stdout:
        lines.append(line)
        if not done and re.match(pattern, line):
            acted, done = action(), True
        if time.time() > deadline:
            proc.kill()
    proc.wait()
    return proc.returncode, "".join(lines), acted


def recap(output):
    """{host: {ok, changed, unreachable, failed, ...}} from the last PLAY RECAP of a run."""
    stats = {}
    for line in output.split("PLAY RECAP")[-1].splitlines():
        match = re.match(r"^(\S+)\s+:\s+(.*)$", line.strip())
        if match:
            stats[match.group(1)] = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", match.group(2)))
    return stats


def included_for(output, tasks_file):
    """Hosts an include_tasks of tasks_file ran for."""
    hosts = []
    for line in output.splitlines():
        match = re.match(r"^included: \S*/%s for (.*?)(?: => .*)?$" % re.escape(tasks_file), line)
        if match:
            hosts += [h.strip() for h in match.group(1).split(",")]
    return hosts


def image_tag(output):
    """The serving image's tag that sglang_build says in a playbook's output, or None."""
    match = re.search(r"msg: '?([^\s:']+:[^\s:']+): (?:built now|found )", output)
    return match.group(1) if match else None


# A harmless proxy setting every test deploy gives the build: it must reach the build steps only,
# never the image's environment (test_sim_e2e looks).
PROXY_PROBE = "proxy-probe.invalid"
SITE_ARGS = ["-i", "inventories/sim", "-e", "sglang_build_cache_dir=" + IMAGE_CACHE,
             "-e", '{"sglang_build_proxy_env": {"no_proxy": "%s"}}' % PROXY_PROBE]


def site_playbook(*args, timeout=3600, check=True):
    """ansible-playbook against the shared sim cluster (inventories/sim) with its image cache."""
    return run([tool("ansible-playbook")] + SITE_ARGS + list(args), timeout=timeout, check=check)


@contextlib.contextmanager
def private_cluster(base, prefix, network, nodes=1, chips=8):
    """A simulated cluster of its own (node names, network, inventory and simctl state under
    `base`), sharing the simulator's images and mirrors; removed at the end. Yields the inventory
    directory (with the sim group_vars and an empty group_vars/npu_nodes), the simctl
    environment and the CANN stand-in image the nodes carry."""
    state = os.path.join(str(base), "state")
    os.makedirs(state)
    for name in ("cache", "mirrors"):
        os.symlink(os.path.join(ROOT, ".sim", name), os.path.join(state, name))
    inventory = os.path.join(str(base), "inventory")
    os.makedirs(inventory)
    env = {"NPU_SIM_STATE": state, "NPU_SIM_PREFIX": prefix, "NPU_SIM_NETWORK": network,
           "NPU_SIM_INVENTORY": os.path.join(inventory, "hosts.yml")}
    try:
        run([sys.executable, SIMCTL, "up", "--nodes", str(nodes), "--chips", str(chips)], env=env, timeout=900)
        shutil.copytree(os.path.join(ROOT, "inventories", "sim", "group_vars"), os.path.join(inventory, "group_vars"))
        os.makedirs(os.path.join(inventory, "group_vars", "npu_nodes"))
        with open(env["NPU_SIM_INVENTORY"], encoding="utf-8") as handle:
            hosts = handle.read()
        image = re.search(r"docker_npu_image:\s*(\S+)", hosts).group(1)
        yield {"inventory": inventory, "env": env, "image": image, "hosts": hosts}
    finally:
        run([sys.executable, SIMCTL, "down"], env=env, check=False)
        left = run(["docker", "ps", "-a", "-q", "--filter", "name=^" + prefix]).stdout.split()
        assert not left, "teardown left containers behind: %s" % left


@contextlib.contextmanager
def standin_cluster(base, prefix, network, nodes, settings=None):
    """A private cluster whose servers run the SGLang API simulator from the CANN stand-in image:
    no build, the simulator started by python3, the CANN toolkit declared as a prebuilt CANN image
    declares it. `settings` go into the same group_vars file. Yields private_cluster's dict plus
    `ips`, node name -> address."""
    with private_cluster(base, prefix, network, nodes=nodes) as made:
        values = {"sglang_service_image": made["image"], "sglang_service_entrypoint": [],
                  "sglang_service_env": {"ASCEND_TOOLKIT_HOME": "/usr/local/Ascend/ascend-toolkit/latest"},
                  "sglang_service_health_timeout": 60, "sglang_service_restart_sec": 2}
        values.update(settings or {})
        with open(os.path.join(made["inventory"], "group_vars", "npu_nodes", "standin.yml"), "w", encoding="utf-8") as fh:
            fh.write("---\n" + json.dumps(values, indent=2) + "\n")
        ips = dict(re.findall(r"^\s+(%s\d+):\s*\n\s+ansible_host:\s*(\S+)" % re.escape(prefix), made["hosts"], re.M))
        yield dict(made, ips=ips)
