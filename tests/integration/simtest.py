"""Shared helpers of the integration tests: the repo root, the venv's tools, the sim cluster."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.dirname(sys.executable)
SIMCTL = os.path.join(ROOT, "tests", "sim", "simctl")


def tool(name):
    return os.path.join(BIN, name)


def run(cmd, timeout=1800, env=None, check=True, **kw):
    """Run a command from the repo root with the project's ansible.cfg; fail with its output."""
    full_env = dict(os.environ)
    full_env.update({"ANSIBLE_CONFIG": os.path.join(ROOT, "ansible.cfg"),
                     "PATH": BIN + os.pathsep + full_env.get("PATH", ""),
                     "ANSIBLE_FORCE_COLOR": "0", "PY_COLORS": "0"})
    full_env.update(env or {})
    proc = subprocess.run(cmd, cwd=ROOT, env=full_env, timeout=timeout, text=True,
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
