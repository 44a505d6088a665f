"""The container side of the role npu.sglang.ascend_stack (runs with the container's Python).

  python3 - '<json request>'  < ascend_stack.py

Actions (request["action"]):
  probe    read the Python, pip, CANN toolkit and the installed stack; "todo" lists what differs
           from request["wanted"]. Installed versions come from importlib.metadata: torch itself
           is never imported (PyPI's x86_64 torch does not import without its CUDA libraries).
  put      write files (path, content, mode) when their content or mode differ, and set keys of
           the [global] section of pip configuration files (request["pip_global"]).
  install  install what "todo" lists, through npu-pip, and print the new state.
Prints one JSON object. Exit status 1 with the reason on stderr when a step fails.

request["wanted"]:
  {"torch": "2.6.0", "torchvision": "0.21.0", "torch_index_url": "",
   "torch_npu": {"version": "2.6.0", "wheel": ""},          wheel: a path inside the container
   "triton_ascend": {"source": "pypi", "version": "3.2.0",
                     "repo": "", "ref": "", "dir": "", "subdir": ""}}
"""
import hashlib
import importlib.metadata
import json
import os
import platform
import re
import subprocess
import sys

NPU_PIP = "/usr/local/bin/npu-pip"
NPU_PIP_CONFIG = "/etc/npu-pip.json"
STATE_DIR = "/etc/npu-sglang"
TRITON_MARKER = os.path.join(STATE_DIR, "triton-ascend.source")


class StepError(Exception):
    pass


def installed(dist):
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _version(text):
    try:
        from pip._vendor.packaging.version import Version  # pylint: disable=import-outside-toplevel
        return Version(text)
    except Exception:  # pylint: disable=broad-except
        return None


def same_version(have, want):
    """have satisfies want: equal versions; a local label (+cpu) counts only when want has one."""
    if not have or not want:
        return False
    vh, vw = _version(have), _version(want)
    if vh is None or vw is None:
        return have == want
    if vw.local is None:
        return vh.public == vw.public
    return vh == vw


def wheel_version(path):
    """The version field of a wheel file name (name-version-tags.whl)."""
    parts = os.path.basename(path).split("-")
    if len(parts) < 5 or not path.endswith(".whl"):
        raise StepError("%s is not a wheel file name (name-version-pyver-abi-platform.whl)" % path)
    return parts[1]


def toolkit(root):
    info = {"root": root, "set_env": os.path.isfile(os.path.join(root, "ascend-toolkit", "set_env.sh")),
            "atb_set_env": os.path.isfile(os.path.join(root, "nnal", "atb", "set_env.sh")),
            "version": None}
    latest = os.path.join(root, "ascend-toolkit", "latest")
    if os.path.isdir(latest):
        for name in sorted(os.listdir(latest)):
            path = os.path.join(latest, name, "ascend_toolkit_install.info")
            if name.endswith("-linux") and os.path.isfile(path):
                with open(path, encoding="utf-8", errors="replace") as handle:
                    match = re.search(r"^version=(.+)$", handle.read(), re.M)
                info["version"] = match.group(1).strip() if match else None
                break
    return info


def externally_managed():
    import sysconfig  # pylint: disable=import-outside-toplevel
    return os.path.isfile(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED"))


def read_marker():
    try:
        with open(TRITON_MARKER, encoding="utf-8") as handle:
            return handle.read().strip()
    except FileNotFoundError:
        return None


def marker_text(triton):
    return "%s %s" % (triton["repo"], triton["ref"])


def todo(wanted, versions, marker):
    steps = []
    if not (same_version(versions["torch"], wanted["torch"])
            and same_version(versions["torchvision"], wanted["torchvision"])):
        steps.append("torch")
    npu = wanted["torch_npu"]
    npu_version = wheel_version(npu["wheel"]) if npu.get("wheel") else npu["version"]
    if not same_version(versions["torch_npu"], npu_version):
        steps.append("torch_npu")
    if versions["triton"]:
        # The CUDA triton shares the `triton` module directory with triton-ascend: remove it,
        # then put triton-ascend's files back.
        steps += ["remove_cuda_triton", "triton_ascend"]
    else:
        triton = wanted["triton_ascend"]
        if triton["source"] == "git":
            if not versions["triton_ascend"] or marker != marker_text(triton):
                steps.append("triton_ascend")
        elif not same_version(versions["triton_ascend"], triton["version"]):
            steps.append("triton_ascend")
    return steps


def state(request):
    versions = {
        "torch": installed("torch"),
        "torchvision": installed("torchvision"),
        "torch_npu": installed("torch_npu"),
        "triton_ascend": installed("triton-ascend"),
        "pybind11": installed("pybind11"),
        # The CUDA distribution named triton (triton-ascend's own files are the module triton).
        "triton": installed("triton"),
    }
    marker = read_marker()
    out = {
        "python": platform.python_version(),
        "python_mm": "%d.%d" % sys.version_info[:2],
        "executable": sys.executable,
        "machine": platform.machine(),
        "pip": installed("pip"),
        "externally_managed": externally_managed(),
        "toolkit": toolkit(request.get("ascend_root", "/usr/local/Ascend")),
        "installed": versions,
        "triton_marker": marker,
    }
    if request.get("wanted"):
        out["todo"] = todo(request["wanted"], versions, marker)
    return out


def put(request):
    check = bool(request.get("check"))
    results = []
    for item in request["files"]:
        path, content, mode = item["path"], item["content"], int(item["mode"], 8)
        data = content.encode("utf-8")
        try:
            with open(path, "rb") as handle:
                same = hashlib.sha256(handle.read()).digest() == hashlib.sha256(data).digest()
            same_mode = (os.stat(path).st_mode & 0o7777) == mode
        except FileNotFoundError:
            same, same_mode = False, False
        if check:
            pass
        elif not same:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = path + ".npu-sglang.tmp"
            with open(tmp, "wb") as handle:
                handle.write(data)
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        elif not same_mode:
            os.chmod(path, mode)
        results.append({"path": path, "changed": not (same and same_mode)})
    for path, key, value in request.get("pip_global", []):
        results.append({"path": path, "changed": set_pip_global(path, key, value, check)})
    return {"files": results, "changed": any(r["changed"] for r in results)}


def set_pip_global(path, key, value, check=False):
    """Make `key = value` part of the [global] section of a pip configuration file.

    The file keeps its other lines and comments; a missing [global] section is added at the end.
    Returns whether the file changed (or would change, in check mode).
    """
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except FileNotFoundError:
        lines = []
    wanted = "%s = %s" % (key, value)
    section = None
    insert_at = None
    for index, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1].strip()
            if section == "global":
                insert_at = index + 1
            continue
        name = re.split(r"[=:]", stripped, maxsplit=1)[0].strip()
        if section == "global" and name == key:
            if stripped.replace(" ", "") == wanted.replace(" ", ""):
                return False
            lines[index] = wanted
            insert_at = None
            break
    else:
        if insert_at is None:
            lines += ([""] if lines else []) + ["[global]", wanted]
        else:
            lines.insert(insert_at, wanted)
    if not check:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path + ".npu-sglang.tmp", "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
        os.replace(path + ".npu-sglang.tmp", path)
    return True


def run(argv, what):
    print("ascend_stack: %s: %s" % (what, " ".join(argv)), file=sys.stderr, flush=True)
    # The tools' output goes to stderr: stdout carries only this script's JSON answer.
    proc = subprocess.run(argv, stdout=sys.stderr, check=False)
    if proc.returncode != 0:
        raise StepError("%s failed (exit %d): %s" % (what, proc.returncode, " ".join(argv)))


def _normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def excluded_patterns():
    """npu-pip's exclude patterns (the role writes /etc/npu-pip.json before installing)."""
    try:
        with open(NPU_PIP_CONFIG, encoding="utf-8") as handle:
            return json.load(handle).get("exclude", [])
    except FileNotFoundError:
        return []


def requirements_of(dists):
    """The requirements of installed distributions that apply here, without the distributions
    themselves, torch (installed on its own) and what npu-pip excludes."""
    from pip._vendor.packaging.requirements import Requirement  # pylint: disable=import-outside-toplevel
    skip = set(_normalize(d) for d in dists) | {"torch"}
    patterns = excluded_patterns()
    keep = []
    for dist in dists:
        for line in importlib.metadata.requires(dist) or []:
            req = Requirement(line)
            name = _normalize(req.name)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            if name in skip:
                continue
            pattern = next((p for p in patterns if re.fullmatch(p, name, re.IGNORECASE)), None)
            if pattern is not None:
                sys.stderr.write("ascend_stack: left out %s, required by %s (matches the exclude "
                                 "pattern %r of %s)\n" % (req, dist, pattern, NPU_PIP_CONFIG))
                continue
            if str(req) not in keep:
                keep.append(str(req))
    return keep


def install_without_deps(targets, dists, what, options=()):
    """npu-pip install targets with --no-deps, then the requirements they declare.

    A full resolve would fetch every excluded distribution just to read its metadata (pip
    downloads whole wheels where the index serves no separate metadata: GBs for torch's CUDA
    libraries); installing without dependencies and then the remaining requirements never asks
    for them.
    """
    run([NPU_PIP, "install", "--no-deps"] + list(options) + list(targets), "install " + what)
    extra = requirements_of(dists)
    if extra:
        run([NPU_PIP, "install"] + extra, "install the requirements of " + what)


def install(request):
    wanted = request["wanted"]
    steps = state(request)["todo"]
    for step in steps:
        if step == "torch":
            index = ["--index-url", wanted["torch_index_url"]] if wanted.get("torch_index_url") else []
            install_without_deps(["torch==%s" % wanted["torch"], "torchvision==%s" % wanted["torchvision"]],
                                 ["torch", "torchvision"], "torch and torchvision", index)
        elif step == "torch_npu":
            npu = wanted["torch_npu"]
            # torch_npu pins a torch build (2.6.0 on x86_64: torch==2.6.0+cpu) that the index
            # may not have; torch is installed above, so torch_npu comes without dependencies
            # and its other requirements are installed after it.
            install_without_deps([npu["wheel"] or "torch-npu==%s" % npu["version"]], ["torch_npu"],
                                 "torch_npu", ["--force-reinstall"])
        elif step == "remove_cuda_triton":
            run([sys.executable, "-m", "pip", "uninstall", "-y", "triton"],
                "remove the CUDA triton distribution")
        elif step == "triton_ascend":
            triton = wanted["triton_ascend"]
            if triton["source"] == "git":
                src = triton["dir"]
                run(["rm", "-rf", src], "clear the triton-ascend checkout")
                clone = ["git", "clone", "--recurse-submodules", triton["repo"], src]
                run(clone, "clone triton-ascend")
                if triton["ref"]:
                    run(["git", "-C", src, "-c", "advice.detachedHead=false", "checkout",
                         triton["ref"]], "check out triton-ascend")
                    run(["git", "-C", src, "submodule", "update", "--init", "--recursive"],
                        "update the triton-ascend submodules")
                run([NPU_PIP, "install", "--force-reinstall", "--no-build-isolation",
                     os.path.join(src, triton.get("subdir") or "")], "build triton-ascend")
                os.makedirs(STATE_DIR, exist_ok=True)
                with open(TRITON_MARKER, "w", encoding="utf-8") as handle:
                    handle.write(marker_text(triton) + "\n")
            else:
                install_without_deps(["triton-ascend==%s" % triton["version"]], ["triton-ascend"],
                                     "triton-ascend", ["--force-reinstall"])
    out = state(request)
    out["done"] = steps
    if out["todo"]:
        raise StepError("after installing, these still differ from the stack: %s (installed: %s)"
                        % (", ".join(out["todo"]), json.dumps(out["installed"], sort_keys=True)))
    return out


def main(argv):
    request = json.loads(argv[1])
    try:
        out = {"probe": state, "put": put, "install": install}[request["action"]](request)
    except StepError as err:
        return "ascend_stack: %s" % err
    print(json.dumps(out, sort_keys=True))
    return 0


if __name__ == "__main__":
    # A message for an exit status is printed to stderr, and the status is 1.
    sys.exit(main(sys.argv))
