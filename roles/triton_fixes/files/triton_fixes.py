"""The recipe's two source edits, run by the role npu.sglang.triton_fixes inside the container.

  python3 - '{"fixes": [...], "check": false}'  < triton_fixes.py

Each entry of "fixes" is {"name": <a key of FIXES>, "file": <path>} or, for a file inside an
installed package, {"name": ..., "module": "torch", "relpath": "_inductor/..."}: the package is
found with importlib.util.find_spec, which reads the import path without importing the package
(PyPI's x86_64 torch does not import without its CUDA libraries).

A fix replaces every occurrence of its old text by its new text. It changes the file only when
the old text is there, keeps the original once as <file>.npu-sglang.orig, and fails, naming the
file and both texts, when neither text is in the file (the upstream code moved: the fix has to
be looked at again or switched off). Prints one JSON object: {"results": [{name, file, status,
replaced, backup, summary}]}, status being "changed", "already" (the new text is there, the old is not) or
"would change" in check mode. Exit status 1 with the reason on stderr when a fix cannot apply.
"""
import importlib.util
import json
import os
import shutil
import sys

BACKUP_SUFFIX = ".npu-sglang.orig"

FIXES = {
    # vllm-ascend's setup.py asks pybind11 for its CMake directory with the option pybind11
    # removed; newer pybind11 releases know only --cmakedir.
    "pybind11_cmakedir": {
        "old": '"--cmake"',
        "new": '"--cmakedir"',
    },
    # torch's inductor imports OutOfResources from the module where triton used to define it;
    # the triton the Ascend stack installs has it in triton.runtime.errors.
    "outofresources": {
        "old": "from triton.runtime.autotuner import OutOfResources",
        "new": "from triton.runtime.errors import OutOfResources",
    },
}


class FixError(Exception):
    """A fix that cannot be applied; the message says which file and why."""


def locate(module, relpath):
    """Path of relpath inside the installed package module, without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise FixError("the package %s is not installed for %s, so %s cannot be found"
                       % (module, sys.executable, relpath))
    for base in spec.submodule_search_locations:
        path = os.path.join(base, relpath)
        if os.path.isfile(path):
            return path
    raise FixError("%s is not in the installed package %s (%s)"
                   % (relpath, module, ", ".join(spec.submodule_search_locations)))


def apply_fix(name, path, check=False):
    """Apply the fix name to path; return its result dict or raise FixError."""
    fix = FIXES[name]
    if not os.path.isfile(path):
        raise FixError("%s: %s does not exist" % (name, path))
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    count = text.count(fix["old"])
    backup = path + BACKUP_SUFFIX
    result = {"name": name, "file": path, "replaced": count,
              "backup": backup if os.path.exists(backup) else None}
    if count == 0:
        if fix["new"] in text:
            result["status"] = "already"
            return result
        raise FixError("%s: neither the old text %r nor the new text %r is in %s; the upstream "
                       "code moved, so look at the file again or switch this fix off"
                       % (name, fix["old"], fix["new"], path))
    if check:
        result["status"] = "would change"
        return result
    if not os.path.exists(backup):
        shutil.copy2(path, backup)
    result["backup"] = backup
    mode = os.stat(path).st_mode & 0o7777
    tmp = path + ".npu-sglang.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text.replace(fix["old"], fix["new"]))
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    result["status"] = "changed"
    return result


def run(request):
    results = []
    for entry in request.get("fixes", []):
        name = entry["name"]
        if name not in FIXES:
            raise FixError("unknown fix %r (known: %s)" % (name, ", ".join(sorted(FIXES))))
        path = entry.get("file") or locate(entry["module"], entry["relpath"])
        result = apply_fix(name, path, check=bool(request.get("check")))
        result["summary"] = "%s: %s in %s%s" % (
            name, result["status"], path,
            "" if not result["backup"] else " (original kept as %s)" % result["backup"])
        results.append(result)
    return {"results": results}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: triton_fixes.py '<json request>'")
    try:
        print(json.dumps(run(json.loads(sys.argv[1])), sort_keys=True))
    except FixError as err:
        sys.exit("triton_fixes: %s" % err)
