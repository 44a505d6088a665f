"""roles/ascend_stack/files/npu-pip: pip without the excluded distributions.

The parsing and planning functions are tested directly, and the whole script with the real pip
of the test environment against wheels made here (a package index on disk, --no-index).
"""
import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys
import zipfile

import pytest

from upstream import ROOT

SCRIPT = os.path.join(ROOT, "roles", "ascend_stack", "files", "npu-pip")
# No __pycache__ next to the role's files (they are part of the build fingerprint).
sys.dont_write_bytecode = True
_loader = importlib.machinery.SourceFileLoader("npu_pip", SCRIPT)
_spec = importlib.util.spec_from_loader("npu_pip", _loader)
npu_pip = importlib.util.module_from_spec(_spec)
_loader.exec_module(npu_pip)

DEFAULT_EXCLUDE = ["nvidia-.*", "triton"]


@pytest.fixture(scope="module")
def parser():
    return npu_pip.install_parser()


def test_split_args_keeps_options_and_drops_what_names_requirements(parser):
    args = ["-r", "req.txt", "--index-url", "X", "-v", "torch==2.6.0", "-e", ".",
            "--no-build-isolation", "-qq", "--extra-index-url=Y", "-rfoo.txt", "--pre",
            "-c", "c.txt", "--index", "Z", "./local-dir", "--editable=/src/x"]
    keep, dropped = npu_pip.split_args(args, parser)
    assert dropped is True
    assert keep == ["--index-url", "X", "-v", "--no-build-isolation", "-q", "-q",
                    "--extra-index-url=Y", "--pre", "-c", "c.txt", "--index-url", "Z"]


def test_split_args_without_requirements(parser):
    assert npu_pip.split_args(["--upgrade", "--target", "/t"], parser) == (
        ["--upgrade", "--target", "/t"], False)


def test_exclude_patterns_match_whole_normalized_names():
    assert npu_pip.excluded_by("nvidia_cublas_cu12", DEFAULT_EXCLUDE) == "nvidia-.*"
    assert npu_pip.excluded_by("Triton", DEFAULT_EXCLUDE) == "triton"
    # triton-ascend provides the triton module on NPU: it must not be caught by "triton".
    assert npu_pip.excluded_by("triton-ascend", DEFAULT_EXCLUDE) is None
    assert npu_pip.excluded_by("torch", DEFAULT_EXCLUDE) is None


def _item(name, version, **info):
    item = {"metadata": {"name": name, "version": version}, "download_info": info.pop("download_info", {})}
    item.update(info)
    return item


def test_plan_pins_index_packages_and_keeps_local_and_direct_targets():
    report = {"install": [
        _item("torch", "2.6.0", download_info={"url": "https://files.example/torch.whl",
                                               "archive_info": {}}),
        _item("nvidia-cudnn-cu12", "9.1.0.70", download_info={"url": "https://x/n.whl"}),
        _item("triton", "3.2.0", download_info={"url": "https://x/t.whl"}),
        _item("vllm-ascend", "0.8.5rc1", is_direct=True,
              download_info={"url": "file:///opt/sglang-src/vllm-ascend", "dir_info": {"editable": True}}),
        _item("plain", "1.0", is_direct=True,
              download_info={"url": "file:///src/plain%20dir", "dir_info": {}}),
        _item("torch-npu", "2.6.0", is_direct=True,
              download_info={"url": "file:///data/w/torch_npu-2.6.0-cp311-cp311-linux_x86_64.whl",
                             "archive_info": {"hash": "sha256=00"}}),
        _item("triton-ascend", "3.2.0", is_direct=True,
              download_info={"url": "https://git.example/triton-ascend.git",
                             "vcs_info": {"vcs": "git", "commit_id": "abc123"}}),
    ]}
    targets, left_out = npu_pip.plan(report, DEFAULT_EXCLUDE)
    assert targets == [
        "torch==2.6.0",
        "-e", "/opt/sglang-src/vllm-ascend",
        "/src/plain dir",
        "torch-npu @ file:///data/w/torch_npu-2.6.0-cp311-cp311-linux_x86_64.whl",
        "triton-ascend @ git+https://git.example/triton-ascend.git@abc123",
    ]
    assert left_out == [("nvidia-cudnn-cu12", "9.1.0.70", "nvidia-.*"), ("triton", "3.2.0", "triton")]


def test_pip_env_applies_config_unless_the_environment_sets_it():
    config = {"exclude": [], "env": {"PIP_INDEX_URL": "https://idx.example/simple",
                                     "PIP_FIND_LINKS": "/w"}}
    env = npu_pip.pip_env(config, base={"PIP_FIND_LINKS": "/mine"})
    assert env["PIP_INDEX_URL"] == "https://idx.example/simple"
    assert env["PIP_FIND_LINKS"] == "/mine"


# -- the whole script with the real pip -------------------------------------------------------

def _wheel(directory, name, version, requires=()):
    """A minimal pure-Python wheel, enough for pip to resolve and install."""
    mod = name.replace("-", "_")
    dist_info = "%s-%s.dist-info" % (mod, version)
    path = os.path.join(directory, "%s-%s-py3-none-any.whl" % (mod, version))
    files = {
        "%s/__init__.py" % mod: "VERSION = %r\n" % version,
        "%s/METADATA" % dist_info: "Metadata-Version: 2.1\nName: %s\nVersion: %s\n%s" % (
            name, version, "".join("Requires-Dist: %s\n" % r for r in requires)),
        "%s/WHEEL" % dist_info: "Wheel-Version: 1.0\nGenerator: npu-sglang-test\n"
                                "Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    files["%s/RECORD" % dist_info] = "".join("%s,,\n" % f for f in list(files) + ["%s/RECORD" % dist_info])
    with zipfile.ZipFile(path, "w") as zf:
        for arcname, text in files.items():
            zf.writestr(arcname, text)


@pytest.fixture()
def wheels(tmp_path):
    index = tmp_path / "wheels"
    index.mkdir()
    _wheel(str(index), "app", "1.0", ["libx", "triton==3.2.0", "nvidia-cublas-cu12"])
    _wheel(str(index), "libx", "2.0", ["nvidia-cuda-runtime-cu12"])
    _wheel(str(index), "triton", "3.2.0")
    _wheel(str(index), "nvidia-cublas-cu12", "12.4.5.8")
    _wheel(str(index), "nvidia-cuda-runtime-cu12", "12.4.127")
    return index


def _npu_pip(args, tmp_path, exclude=None, env_config=None):
    config = tmp_path / "npu-pip.json"
    config.write_text(json.dumps({"exclude": DEFAULT_EXCLUDE if exclude is None else exclude,
                                  "env": env_config or {}}), encoding="utf-8")
    env = dict(os.environ, NPU_PIP_CONFIG=str(config), PIP_CONFIG_FILE=os.devnull,
               PIP_DISABLE_PIP_VERSION_CHECK="1")
    for key in ("PIP_FIND_LINKS", "PIP_CONSTRAINT", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"):
        env.pop(key, None)
    return subprocess.run([sys.executable, SCRIPT] + args, env=env, capture_output=True, text=True,
                          check=False, timeout=300)


def _installed(target):
    return sorted(n for n in os.listdir(target) if n.endswith(".dist-info"))


def test_install_leaves_out_excluded_distributions(wheels, tmp_path):
    target = tmp_path / "site"
    proc = _npu_pip(["install", "--no-index", "--target", str(target), "app"], tmp_path,
                    env_config={"PIP_FIND_LINKS": str(wheels)})
    assert proc.returncode == 0, proc.stderr
    assert _installed(target) == ["app-1.0.dist-info", "libx-2.0.dist-info"]
    assert "left out triton 3.2.0" in proc.stderr
    assert "left out nvidia-cublas-cu12 12.4.5.8" in proc.stderr
    assert "left out nvidia-cuda-runtime-cu12 12.4.127" in proc.stderr


def test_install_without_exclusions_installs_everything(wheels, tmp_path):
    target = tmp_path / "site"
    proc = _npu_pip(["install", "--no-index", "--find-links", str(wheels), "--target", str(target),
                     "app"], tmp_path, exclude=[])
    assert proc.returncode == 0, proc.stderr
    assert len(_installed(target)) == 5
    assert "nothing to leave out" in proc.stderr


def test_dry_run_only_reports(wheels, tmp_path):
    target = tmp_path / "site"
    proc = _npu_pip(["install", "--dry-run", "--no-index", "--find-links", str(wheels),
                     "--target", str(target), "app"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "left out triton 3.2.0" in proc.stderr
    assert not target.exists() or _installed(target) == []


def test_unresolvable_request_fails_with_pips_exit_status(wheels, tmp_path):
    proc = _npu_pip(["install", "--no-index", "--find-links", str(wheels), "--target",
                     str(tmp_path / "site"), "no-such-dist"], tmp_path)
    assert proc.returncode != 0
    assert "could not resolve" in proc.stderr


def test_other_commands_go_to_pip(tmp_path):
    proc = _npu_pip(["--version"], tmp_path)
    assert proc.returncode == 0 and proc.stdout.startswith("pip ")
