"""roles/triton_fixes/files/triton_fixes.py against the real files of the pinned versions.

vllm-ascend 0.8.5rc1's setup.py comes from its source distribution and torch 2.6.0's
_inductor/runtime/triton_heuristics.py from the torch 2.6.0 wheel (read by HTTP range, see
upstream.py); both are fetched once into .cache/upstream/.
"""
import importlib.util
import json
import os
import subprocess
import sys

import pytest

from upstream import ROOT, sdist_member, wheel_member

SCRIPT = os.path.join(ROOT, "roles", "triton_fixes", "files", "triton_fixes.py")
# No __pycache__ next to the role's files (they are part of the build fingerprint).
sys.dont_write_bytecode = True
_spec = importlib.util.spec_from_file_location("triton_fixes", SCRIPT)
fixes = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixes)

HEURISTICS = "torch/_inductor/runtime/triton_heuristics.py"


@pytest.fixture(scope="module")
def vllm_ascend_setup():
    return sdist_member("vllm-ascend==0.8.5rc1", "setup.py", ["--pre"])[0]


@pytest.fixture(scope="module")
def torch_heuristics():
    return wheel_member("torch==2.6.0", HEURISTICS)[0]


def _write(tmp_path, rel, text):
    path = tmp_path / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return str(path)


def _read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def test_the_pinned_files_carry_the_old_texts(vllm_ascend_setup, torch_heuristics):
    assert vllm_ascend_setup.count('"-m", "pybind11"') == 1
    assert fixes.FIXES["pybind11_cmakedir"]["old"] in vllm_ascend_setup
    assert fixes.FIXES["pybind11_cmakedir"]["new"] not in vllm_ascend_setup
    assert fixes.FIXES["outofresources"]["old"] in torch_heuristics
    assert fixes.FIXES["outofresources"]["new"] not in torch_heuristics


@pytest.mark.parametrize("name, source", [("pybind11_cmakedir", "vllm_ascend_setup"),
                                          ("outofresources", "torch_heuristics")])
def test_fix_changes_once_and_keeps_the_original(name, source, request, tmp_path):
    original = request.getfixturevalue(source)
    path = _write(tmp_path, "file.py", original)
    os.chmod(path, 0o640)
    fix = fixes.FIXES[name]

    first = fixes.apply_fix(name, path)
    assert first["status"] == "changed"
    assert first["replaced"] == 1
    edited = _read(path)
    assert fix["old"] not in edited and fix["new"] in edited
    # Only the fix's text differs from the upstream file.
    assert edited == original.replace(fix["old"], fix["new"])
    assert _read(path + ".npu-sglang.orig") == original
    assert os.stat(path).st_mode & 0o777 == 0o640

    second = fixes.apply_fix(name, path)
    assert second["status"] == "already"
    assert second["replaced"] == 0
    assert _read(path) == edited
    assert _read(path + ".npu-sglang.orig") == original


def test_the_edited_setup_asks_pybind11_for_cmakedir(vllm_ascend_setup, tmp_path):
    path = _write(tmp_path, "setup.py", vllm_ascend_setup)
    fixes.apply_fix("pybind11_cmakedir", path)
    compact = "".join(_read(path).split())
    assert '[python_executable,"-m","pybind11","--cmakedir"]' in compact


def test_the_backup_is_made_once(torch_heuristics, tmp_path):
    path = _write(tmp_path, "h.py", torch_heuristics)
    fixes.apply_fix("outofresources", path)
    # The file goes back to the old text (a reinstall of torch): the backup stays the first one.
    with open(path + ".npu-sglang.orig", "a", encoding="utf-8") as handle:
        handle.write("# first backup\n")
    _write(tmp_path, "h.py", torch_heuristics)
    assert fixes.apply_fix("outofresources", path)["status"] == "changed"
    assert _read(path + ".npu-sglang.orig").endswith("# first backup\n")


def test_check_mode_reports_without_writing(vllm_ascend_setup, tmp_path):
    path = _write(tmp_path, "setup.py", vllm_ascend_setup)
    result = fixes.apply_fix("pybind11_cmakedir", path, check=True)
    assert result["status"] == "would change"
    assert _read(path) == vllm_ascend_setup
    assert not os.path.exists(path + ".npu-sglang.orig")


def test_moved_upstream_code_fails_naming_file_and_texts(torch_heuristics, tmp_path):
    moved = torch_heuristics.replace("from triton.runtime.autotuner import OutOfResources",
                                     "from triton.runtime import OutOfResources")
    path = _write(tmp_path, "h.py", moved)
    with pytest.raises(fixes.FixError) as err:
        fixes.apply_fix("outofresources", path)
    text = str(err.value)
    assert path in text
    assert "from triton.runtime.autotuner import OutOfResources" in text
    assert "from triton.runtime.errors import OutOfResources" in text
    assert _read(path) == moved
    assert not os.path.exists(path + ".npu-sglang.orig")


def test_missing_file_fails_naming_it(tmp_path):
    path = str(tmp_path / "vllm-ascend" / "setup.py")
    with pytest.raises(fixes.FixError, match="does not exist"):
        fixes.apply_fix("pybind11_cmakedir", path)


def test_torch_is_located_without_importing_it(torch_heuristics, tmp_path, monkeypatch):
    # A torch whose import fails, as PyPI's x86_64 torch does without the CUDA libraries.
    _write(tmp_path, "torch/__init__.py", "raise ImportError('torch must not be imported')\n")
    expected = _write(tmp_path, HEURISTICS, torch_heuristics)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    assert fixes.locate("torch", "_inductor/runtime/triton_heuristics.py") == expected
    assert "torch" not in sys.modules


def test_locate_fails_for_a_missing_package():
    with pytest.raises(fixes.FixError, match="not installed"):
        fixes.locate("no_such_package_npu_sglang", "x.py")


def _run_script(request_obj, tmp_path):
    """The script as the role runs it: source on stdin, request as the argument."""
    with open(SCRIPT, encoding="utf-8") as handle:
        source = handle.read()
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    return subprocess.run([sys.executable, "-", json.dumps(request_obj)], input=source, text=True,
                          capture_output=True, env=env, cwd=str(tmp_path), check=False)


def test_script_applies_both_fixes_as_the_role_calls_it(vllm_ascend_setup, torch_heuristics, tmp_path):
    setup = _write(tmp_path, "vllm-ascend/setup.py", vllm_ascend_setup)
    _write(tmp_path, "torch/__init__.py", "raise ImportError('no import')\n")
    heuristics = _write(tmp_path, HEURISTICS, torch_heuristics)
    request_obj = {"fixes": [
        {"name": "pybind11_cmakedir", "file": setup},
        {"name": "outofresources", "module": "torch",
         "relpath": "_inductor/runtime/triton_heuristics.py"}]}

    proc = _run_script(request_obj, tmp_path)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)["results"]
    assert [(r["name"], r["file"], r["status"]) for r in results] == [
        ("pybind11_cmakedir", setup, "changed"), ("outofresources", heuristics, "changed")]

    again = json.loads(_run_script(request_obj, tmp_path).stdout)["results"]
    assert [r["status"] for r in again] == ["already", "already"]


def test_script_exits_1_with_the_reason(tmp_path):
    setup = _write(tmp_path, "setup.py", "print('no pybind11 here')\n")
    proc = _run_script({"fixes": [{"name": "pybind11_cmakedir", "file": setup}]}, tmp_path)
    assert proc.returncode == 1
    assert setup in proc.stderr and '"--cmakedir"' in proc.stderr
    assert proc.stdout == ""


def test_unknown_fix_is_refused(tmp_path):
    proc = _run_script({"fixes": [{"name": "nope", "file": "x"}]}, tmp_path)
    assert proc.returncode == 1 and "unknown fix" in proc.stderr
