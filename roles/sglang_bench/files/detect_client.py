# Run inside the serving image by role sglang_bench (python3 -c "$(cat this)"): which benchmark
# client module the installed sglang has, its version, and the flags its --help lists.
# Prints one JSON object; exits 1 with a message when no client module is found.
import importlib.util
import json
import re
import subprocess
import sys

CANDIDATES = ("sglang.benchmark.serving", "sglang.bench_serving")


def has_module(name):
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def version():
    try:
        from importlib.metadata import version as dist_version
        return dist_version("sglang")
    except Exception:  # pylint: disable=broad-except
        return None


def main():
    module = next((name for name in CANDIDATES if has_module(name)), None)
    if module is None:
        sys.stderr.write("neither %s can be imported by %s\n" % (" nor ".join(CANDIDATES), sys.executable))
        return 1
    proc = subprocess.run([sys.executable, "-m", module, "--help"], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, check=False, timeout=300)
    text = proc.stdout.decode("utf-8", "replace")
    if proc.returncode != 0:
        sys.stderr.write("%s -m %s --help exited %d:\n%s\n" % (sys.executable, module, proc.returncode, text[-4000:]))
        return 1
    flags = sorted(set(re.findall(r"(?<![\w-])(--[a-z0-9][a-z0-9-]*)", text)))
    print(json.dumps({"module": module, "version": version(), "flags": flags, "python": sys.executable}))
    return 0


sys.exit(main())
