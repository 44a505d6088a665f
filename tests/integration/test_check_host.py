"""The README's commands on a machine that lacks a prerequisite: one sentence with its fix, at once.

`make demo` is run for real, each time with one prerequisite taken away: debootstrap off the PATH,
a Docker socket that does not answer, a checkout on a file system with almost no room. Each stops
within seconds, before the virtualenv or a container exists, with the line that names the fix.
"""
import os
import shutil
import subprocess
import time

import pytest

from simtest import ROOT

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the sim runs as root")


def _path_without(tmp_path, tool):
    """A PATH with every command of the current one except `tool`."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for directory in os.environ["PATH"].split(os.pathsep) + ["/usr/sbin", "/sbin"]:
        if not os.path.isdir(directory):
            continue
        for name in os.listdir(directory):
            target = bindir / name
            source = os.path.join(directory, name)
            if name != tool and not target.exists() and os.access(source, os.X_OK) and os.path.isfile(source):
                target.symlink_to(source)
    return str(bindir)


def _make(cwd, target="demo", **env):
    full = dict(os.environ)
    full.pop("MAKEFLAGS", None)
    full.update(env)
    began = time.time()
    proc = subprocess.run(["make", "--no-print-directory", target], cwd=cwd, env=full, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120, check=False)
    return proc, time.time() - began


def _clone(dest):
    subprocess.run(["git", "clone", "-q", ROOT, str(dest)], check=True)
    return str(dest)


def _sim_containers():
    return subprocess.run(["docker", "ps", "-aq", "--filter", "label=npu.sglang.sim"], text=True,
                          stdout=subprocess.PIPE, check=True).stdout.split()


def test_this_machine_passes_every_check():
    proc, _seconds = _make(ROOT, "check-host", CHECK_FOR="test")
    assert proc.returncode == 0, proc.stdout
    assert "check-host: this machine can run `make test` (15 checks passed)" in proc.stdout


@pytest.mark.parametrize("case", ["debootstrap", "docker-socket"])
def test_make_demo_stops_at_once_naming_what_is_missing(tmp_path, case):
    checkout = _clone(tmp_path / "clone")
    before = _sim_containers()
    if case == "debootstrap":
        env = {"PATH": _path_without(tmp_path, "debootstrap")}
        line = ("check-host: debootstrap: debootstrap is not installed: the simulator builds its node images "
                "from the Debian mirror with it (no image registry is used). Fix: apt-get install debootstrap")
    else:
        env = {"DOCKER_HOST": "unix://%s" % (tmp_path / "no-daemon.sock")}
        line = "check-host: docker: the Docker engine does not answer ("
    proc, seconds = _make(checkout, **env)
    assert proc.returncode != 0, proc.stdout
    assert seconds < 30, seconds
    lines = proc.stdout.splitlines()
    assert any(item.startswith(line) for item in lines), proc.stdout
    assert "Traceback" not in proc.stdout
    # Every failed check's line ends in its fix.
    unfixed = [item for item in lines if item.startswith("check-host: ") and "Fix: " not in item
               and "check(s) failed" not in item]
    assert unfixed == [], unfixed
    assert "check-host: 1 of 14 check(s) failed for `make demo`; nothing was started" in proc.stdout
    # Nothing started: no virtualenv, no simulated node.
    assert not os.path.exists(os.path.join(checkout, ".venv"))
    assert _sim_containers() == before


def test_make_demo_on_a_full_disk_says_so(tmp_path):
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(small)], check=True)
    try:
        checkout = _clone(small / "clone")
        proc, seconds = _make(checkout)
        assert proc.returncode != 0, proc.stdout
        assert seconds < 30, seconds
        assert "GiB free under the checkout %s, 3 GiB needed" % checkout in proc.stdout, proc.stdout
        assert "Traceback" not in proc.stdout
        assert not os.path.exists(os.path.join(checkout, ".venv"))
        # A user who knows better skips that one check; then the others pass and make goes on
        # (here: dry run, so nothing starts).
        full = dict(os.environ, SKIP="disk-checkout")
        dry = subprocess.run(["make", "-n", "demo", "SKIP=disk-checkout"], cwd=checkout, env=full, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
        assert "--skip disk-checkout" in dry.stdout, dry.stdout
        skipped = subprocess.run([os.path.join(checkout, "tests", "sim", "check-host"), "--skip", "disk-checkout"],
                                 text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
        assert skipped.returncode == 0, skipped.stdout
        assert "skipped: disk-checkout" in skipped.stdout
    finally:
        subprocess.run(["umount", "-l", str(small)], check=False)


def test_simctl_names_a_missing_tool_instead_of_a_traceback(tmp_path):
    env = dict(os.environ, PATH=_path_without(tmp_path, "docker"))
    proc = subprocess.run([os.path.join(ROOT, "tests", "sim", "simctl"), "status"], env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60, check=False)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stdout
    assert proc.stdout.strip().splitlines()[-1] == (
        "simctl: docker is not installed (the simulator runs it). Fix: apt-get install docker.io "
        "(tests/sim/check-host lists everything the simulator needs)")
    assert shutil.which("docker", path=env["PATH"]) is None
