"""roles/ascend_stack/files/ascend_stack.py: what differs from the stack, and the file writer."""
import importlib.util
import json
import os
import subprocess
import sys

import pytest

from upstream import ROOT

SCRIPT = os.path.join(ROOT, "roles", "ascend_stack", "files", "ascend_stack.py")
# No __pycache__ next to the role's files (they are part of the build fingerprint).
sys.dont_write_bytecode = True
_spec = importlib.util.spec_from_file_location("ascend_stack", SCRIPT)
stack = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(stack)

WANTED = {
    "torch": "2.6.0", "torchvision": "0.21.0", "torch_index_url": "",
    "torch_npu": {"version": "2.6.0", "wheel": ""},
    "triton_ascend": {"source": "pypi", "version": "3.2.0", "repo": "", "ref": "", "dir": "",
                      "subdir": ""},
}
SEED = {"torch": "2.6.0", "torchvision": "0.21.0", "torch_npu": "2.6.0", "triton_ascend": "3.2.0",
        "triton": None}


@pytest.mark.parametrize("have, want, same", [
    ("2.6.0", "2.6.0", True),
    ("2.6.0+cpu", "2.6.0", True),       # a CPU index build satisfies the plain version
    ("2.6.0", "2.6.0+cpu", False),      # an explicit local label must match
    ("2.6.0.post1", "2.6.0", False),
    ("2.5.1", "2.6.0", False),
    (None, "2.6.0", False),
])
def test_same_version(have, want, same):
    assert stack.same_version(have, want) is same


def test_nothing_to_do_when_the_stack_is_there():
    assert stack.todo(WANTED, dict(SEED), None) == []


def test_each_difference_is_one_step():
    versions = dict(SEED, torchvision="0.20.1", torch_npu=None)
    assert stack.todo(WANTED, versions, None) == ["torch", "torch_npu"]
    assert stack.todo(WANTED, dict(SEED, triton_ascend="3.1.0"), None) == ["triton_ascend"]


def test_a_cuda_triton_is_removed_and_triton_ascend_put_back():
    assert stack.todo(WANTED, dict(SEED, triton="3.2.0"), None) == ["remove_cuda_triton", "triton_ascend"]


def test_a_torch_npu_wheel_sets_the_wanted_version():
    wanted = dict(WANTED, torch_npu={"version": "2.6.0",
                                     "wheel": "/d/torch_npu-2.6.0.post1-cp311-cp311-manylinux_2_17_aarch64.whl"})
    assert stack.todo(wanted, dict(SEED), None) == ["torch_npu"]
    assert stack.todo(wanted, dict(SEED, torch_npu="2.6.0.post1"), None) == []
    with pytest.raises(stack.StepError):
        stack.wheel_version("/d/torch_npu.whl")


def test_triton_from_git_follows_repo_and_ref():
    triton = {"source": "git", "version": "", "repo": "https://git.example/triton-ascend.git",
              "ref": "abc123", "dir": "/opt/t", "subdir": ""}
    wanted = dict(WANTED, triton_ascend=triton)
    marker = stack.marker_text(triton)
    assert stack.todo(wanted, dict(SEED), marker) == []
    assert stack.todo(wanted, dict(SEED), "https://git.example/triton-ascend.git def456") == ["triton_ascend"]
    assert stack.todo(wanted, dict(SEED, triton_ascend=None), marker) == ["triton_ascend"]


def test_probe_reads_versions_without_importing_torch(tmp_path):
    # A torch whose import fails, as PyPI's x86_64 torch does without its CUDA libraries.
    pkg = tmp_path / "torch"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("raise ImportError('torch must not be imported')\n")
    for name, version in (("torch", "2.6.0"), ("torchvision", "0.21.0"), ("torch_npu", "2.5.1")):
        info = tmp_path / ("%s-%s.dist-info" % (name, version))
        info.mkdir()
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, version))
    with open(SCRIPT, encoding="utf-8") as handle:
        source = handle.read()
    request = {"action": "probe", "ascend_root": str(tmp_path / "Ascend"), "wanted": WANTED}
    proc = subprocess.run([sys.executable, "-", json.dumps(request)], input=source, text=True,
                          capture_output=True, check=False, env=dict(os.environ, PYTHONPATH=str(tmp_path)))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["installed"]["torch"] == "2.6.0"
    assert out["python_mm"] == "%d.%d" % sys.version_info[:2]
    assert out["toolkit"]["set_env"] is False
    assert out["installed"]["torchvision"] == "0.21.0"
    assert out["todo"][:1] == ["torch_npu"]


def test_put_writes_only_what_differs(tmp_path):
    path = str(tmp_path / "bin" / "npu-sglang-env")
    files = [{"path": path, "content": "#!/bin/bash\nexec \"$@\"\n", "mode": "0755"}]
    assert stack.put({"files": files})["changed"] is True
    assert os.stat(path).st_mode & 0o777 == 0o755
    assert stack.put({"files": files})["changed"] is False
    os.chmod(path, 0o644)
    assert stack.put({"files": files, "check": True})["changed"] is True
    assert os.stat(path).st_mode & 0o777 == 0o644
    assert stack.put({"files": files})["changed"] is True
    assert os.stat(path).st_mode & 0o777 == 0o755


def test_pip_global_key_is_added_once_and_keeps_the_file(tmp_path):
    path = str(tmp_path / "pip.conf")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("# the image's mirror\n[global]\nindex-url = https://mirror.example/simple\n"
                     "[install]\ntrusted-host = mirror.example\n")
    assert stack.set_pip_global(path, "break-system-packages", "true", check=True) is True
    assert "break-system-packages" not in open(path, encoding="utf-8").read()
    assert stack.set_pip_global(path, "break-system-packages", "true") is True
    text = open(path, encoding="utf-8").read()
    assert text == ("# the image's mirror\n[global]\nbreak-system-packages = true\n"
                    "index-url = https://mirror.example/simple\n[install]\ntrusted-host = mirror.example\n")
    assert stack.set_pip_global(path, "break-system-packages", "true") is False
    assert open(path, encoding="utf-8").read() == text


def test_pip_global_section_is_made_or_fixed(tmp_path):
    missing = str(tmp_path / "etc" / "pip.conf")
    assert stack.set_pip_global(missing, "break-system-packages", "true") is True
    assert open(missing, encoding="utf-8").read() == "[global]\nbreak-system-packages = true\n"
    other = str(tmp_path / "other.conf")
    with open(other, "w", encoding="utf-8") as handle:
        handle.write("[global]\nbreak-system-packages=false\n")
    assert stack.set_pip_global(other, "break-system-packages", "true") is True
    assert open(other, encoding="utf-8").read() == "[global]\nbreak-system-packages = true\n"


def test_a_step_error_is_one_line_on_stderr_and_status_1(tmp_path):
    with open(SCRIPT, encoding="utf-8") as handle:
        source = handle.read()
    wanted = dict(WANTED, torch_npu={"version": "", "wheel": "/wheels/torch_npu.whl"})
    request = {"action": "probe", "ascend_root": str(tmp_path), "wanted": wanted}
    proc = subprocess.run([sys.executable, "-", json.dumps(request)], input=source, text=True,
                          capture_output=True, check=False)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == ("ascend_stack: /wheels/torch_npu.whl is not a wheel file name "
                           "(name-version-pyver-abi-platform.whl)\n")
