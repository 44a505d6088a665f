# -*- coding: utf-8 -*-
# Copyright: npu.sglang maintainers
# Apache-2.0 (see the collection's LICENSE)
"""The doctor's rules: what each cause of the recipe's troubleshooting table looks like in the
evidence of a running server, and the fix for it.

The module npu.sglang.doctor_probe gathers the evidence of each server of a node (systemd, docker
inspect, the container's environment, /server_info, a probe of the image's Python packages run
inside the container, the listeners of its ports) into one dict per server; evaluate() turns that
dict into findings, one per check. Keep this file pure: no I/O, no Ansible. The probe that runs
inside the container is the text PROBE_SCRIPT (standard library only, never imports torch).
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.npu.sglang.plugins.module_utils.redaction import REDACTED, is_secret_name
from ansible_collections.npu.sglang.plugins.module_utils.stack_rules import release

OK = "ok"
PROBLEM = "problem"
WARNING = "warning"
NOT_INSTALLED = "not installed"
SKIPPED = "skipped"
STATUSES = (PROBLEM, WARNING, NOT_INSTALLED, SKIPPED, OK)


# (check id, what it looks at, the fix when it fails). The order is the order of the table.
CHECKS = [
    ("unit", "systemd unit active",
     "journalctl -u UNIT -n 100 shows why it stops; fix the cause reported below, then "
     "systemctl restart UNIT (or run playbooks/serve.yml)"),
    ("health", "server answers /health",
     "read the server log (journalctl -u UNIT); wait for 'The server is fired up' after a start"),
    ("port", "port free for the server",
     "stop the other process on the port or give the server another port "
     "(sglang_service_port / the instance's port), then run playbooks/serve.yml"),
    ("cann_env", "CANN environment sourced",
     "run the launcher through npu-sglang-env (sglang_service_entrypoint: [npu-sglang-env], in every "
     "image built by this collection) or use an image that sets the CANN environment "
     "(ascend-toolkit/set_env.sh, nnal/atb/set_env.sh)"),
    ("device", "device is npu",
     "sglang_service_device: npu"),
    ("attention_backend", "attention backend is ascend",
     "sglang_service_attention_backend: ascend (the torch backend is several times slower)"),
    ("custom_allreduce", "custom all-reduce on",
     "USE_VLLM_CUSTOM_ALLREDUCE=1 in the server's environment (sglang_service_env_defaults; remove "
     "the override from sglang_service_env) and no --disable-custom-all-reduce"),
    ("overlap_schedule", "overlap schedule off with tp > 1",
     "sglang_service_disable_overlap_schedule: true (--disable-overlap-schedule)"),
    ("mem_fraction", "KV cache memory fraction",
     "sglang_service_mem_fraction_static: 0.9 (--mem-fraction-static); lower it only when the "
     "server runs out of memory"),
    ("p2p", "P2P between the chips (tp > 1)",
     "ASCEND_P2P_ENABLE=1 in the server's environment (sglang_service_env_defaults); check the "
     "links with --enable-p2p-check"),
    ("hccl_timeout", "HCCL connect timeout (multi-node)",
     "HCCL_CONNECT_TIMEOUT=1800 in the server's environment (sglang_service_env_defaults)"),
    ("shm", "shared memory (/dev/shm)",
     "docker_npu_shm_size: 16g or more (the recipe uses 1000g), then run playbooks/serve.yml"),
    ("profiler_dir", "profiler directory writable",
     "set sglang_service_profiler_dir to a directory under a read-write mount of the container "
     "(docker_npu_mounts, e.g. /data), then run playbooks/serve.yml"),
    ("torch", "torch and torch_npu match",
     "rebuild the image (playbooks/build.yml) with torch and torch_npu of one release "
     "(seed: 2.6.0 / 2.6.0 on Python 3.11)"),
    ("triton", "triton importable",
     "install triton-ascend (the wheel of the image's CANN version) and rebuild (playbooks/build.yml)"),
    ("fix_outofresources", "inductor OutOfResources import fixed",
     "rebuild (playbooks/build.yml) with triton_fixes_outofresources on (the stack profile's "
     "fix_triton_outofresources): from triton.runtime.errors import OutOfResources"),
    ("fix_cmakedir", "vllm-ascend pybind11 --cmakedir fixed",
     "rebuild (playbooks/build.yml) with triton_fixes_pybind11_cmakedir on (the stack profile's "
     "fix_pybind11_cmakedir): python -m pybind11 --cmakedir"),
]
CHECK_IDS = [c[0] for c in CHECKS]
TITLES = dict((c[0], c[1]) for c in CHECKS)
FIXES = dict((c[0], c[2]) for c in CHECKS)

DEFAULT_LIMITS = {
    "min_mem_fraction": 0.8,
    "min_shm_bytes": 16 * 1024 ** 3,
    "min_hccl_connect_timeout": 600,
}
# HCCL's own default when HCCL_CONNECT_TIMEOUT is unset (seconds).
HCCL_DEFAULT_CONNECT_TIMEOUT = 120

# Environment variables the checks read; nothing else of the server's environment is reported.
ENV_KEYS = ("USE_VLLM_CUSTOM_ALLREDUCE", "ASCEND_P2P_ENABLE", "SGLANG_TORCH_PROFILER_DIR",
            "ASCEND_TOOLKIT_HOME", "HCCL_CONNECT_TIMEOUT", "ASCEND_RT_VISIBLE_DEVICES")
# launch_server's options the checks read, with the aliases SGLang accepts.
LAUNCH_OPTIONS = {
    "--tp-size": "tp", "--tp": "tp", "--tensor-parallel-size": "tp",
    "--device": "device",
    "--attention-backend": "attention_backend",
    "--mem-fraction-static": "mem_fraction",
    "--nnodes": "nnodes",
    "--node-rank": "node_rank",
    "--port": "port",
    "--host": "host",
    "--dist-init-addr": "dist_init_addr", "--nccl-init-addr": "dist_init_addr",
}
LAUNCH_FLAGS = {
    "--disable-overlap-schedule": "overlap_disabled",
    "--disable-custom-all-reduce": "custom_allreduce_disabled",
    "--enable-p2p-check": "p2p_check",
}
# The keys of /server_info the doctor keeps (never api_key).
SERVER_INFO_KEYS = ("tp_size", "dp_size", "nnodes", "node_rank", "device", "attention_backend",
                    "disable_overlap_schedule", "disable_custom_all_reduce", "mem_fraction_static",
                    "enable_p2p_check", "page_size", "max_total_tokens", "max_total_num_tokens",
                    "dist_init_addr", "port", "version")
ENV_WRAPPER = "npu-sglang-env"


# --------------------------------------------------------------------------- small helpers

def env_list_to_dict(items):
    """docker inspect's Config.Env (["K=V", ...]) as a dict."""
    env = {}
    for item in items or []:
        key, sep, value = str(item).partition("=")
        if sep:
            env[key] = value
    return env


def pick_env(env):
    """The environment variables the checks use; secret-looking ones never leave."""
    out = {}
    for key in ENV_KEYS:
        if key in (env or {}):
            out[key] = REDACTED if is_secret_name(key) else str(env[key])
    return out


def safe_server_info(info):
    """The keys of /server_info the checks read; the rest (the API key among it) is dropped."""
    if not isinstance(info, dict):
        return None
    return dict((k, info[k]) for k in SERVER_INFO_KEYS if k in info)


def _number(text, kind):
    try:
        return kind(text)
    except (TypeError, ValueError):
        return None


def parse_launch(argv):
    """The launch_server options the checks need, from a command line (the launcher's or the
    container's whole command). Unknown options are ignored; the last occurrence wins, as with
    argparse."""
    found = {}
    args = [str(a) for a in argv or []]
    i = 0
    while i < len(args):
        arg = args[i]
        name, eq, inline = arg.partition("=")
        if name in LAUNCH_OPTIONS:
            value = inline if eq else (args[i + 1] if i + 1 < len(args) else None)
            found[LAUNCH_OPTIONS[name]] = value
            i += 1 if eq else 2
            continue
        if arg in LAUNCH_FLAGS:
            found[LAUNCH_FLAGS[arg]] = True
        i += 1
    out = {
        "tp": _number(found.get("tp"), int),
        "device": found.get("device"),
        "attention_backend": found.get("attention_backend"),
        "mem_fraction": _number(found.get("mem_fraction"), float),
        "nnodes": _number(found.get("nnodes"), int),
        "node_rank": _number(found.get("node_rank"), int),
        "port": _number(found.get("port"), int),
        "host": found.get("host"),
        "dist_init_addr": found.get("dist_init_addr"),
        "overlap_disabled": bool(found.get("overlap_disabled")),
        "custom_allreduce_disabled": bool(found.get("custom_allreduce_disabled")),
        "p2p_check": bool(found.get("p2p_check")),
    }
    return out


def uses_env_wrapper(command):
    """True when a command (list of words, or a script's text) goes through npu-sglang-env or
    sources a CANN set_env.sh. Comment lines of a script do not count."""
    if isinstance(command, list):
        words = " ".join(str(w) for w in command).split()
    else:
        lines = [line for line in str(command or "").splitlines() if not line.lstrip().startswith("#")]
        words = " ".join(lines).split()
    for word in words:
        word = word.strip("'\"")
        if word.rsplit("/", 1)[-1] == ENV_WRAPPER or "set_env.sh" in word:
            return True
    return False


def format_bytes(size):
    if size is None:
        return "unknown"
    for unit, factor in (("TiB", 1024 ** 4), ("GiB", 1024 ** 3), ("MiB", 1024 ** 2), ("KiB", 1024)):
        if size >= factor:
            value = size / float(factor)
            return ("%d %s" % (value, unit)) if value == int(value) else ("%.1f %s" % (value, unit))
    return "%d B" % size


def parse_proc_net_listeners(text):
    """[(port, inode)] of the LISTEN sockets in the text of /proc/net/tcp or /proc/net/tcp6."""
    out = []
    for line in (text or "").splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10 or fields[3] != "0A":
            continue
        try:
            port = int(fields[1].rsplit(":", 1)[1], 16)
            inode = int(fields[9])
        except (IndexError, ValueError):
            continue
        out.append((port, inode))
    return out


def dist_port(addr):
    """The port of a --dist-init-addr (host:port or [v6]:port)."""
    if not addr:
        return None
    match = re.match(r"^(\[[^\]]+\]|[^:]+):(\d+)$", str(addr).strip())
    return int(match.group(2)) if match else None


# --------------------------------------------------------------------------- the probe

# Runs inside the container (or the image) with its python3. Standard library only; it reads
# package metadata and source files and never imports torch or torch_npu (they need the NPU).
# triton is imported, in a child process, because "importable" is what the server needs and a
# module directory alone does not prove it (triton-ascend imports without an NPU). argv[1] is a
# JSON object: {"vllm_ascend_src": [dirs]}. Prints one JSON object.
PROBE_SCRIPT = r'''
import json, os, re, sys
args = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
out = {"python": "%d.%d.%d" % tuple(sys.version_info[:3]), "errors": []}
try:
    from importlib import metadata as md
except ImportError:
    md = None
    out["errors"].append("importlib.metadata is missing (Python < 3.8)")
from importlib.util import find_spec

def version(names):
    if md is None:
        return None
    for name in names:
        try:
            return md.version(name)
        except Exception:
            pass
    return None

DISTS = [("torch", ["torch"]), ("torch_npu", ["torch_npu", "torch-npu"]),
         ("torchvision", ["torchvision"]), ("triton", ["triton"]),
         ("triton_ascend", ["triton-ascend", "triton_ascend"]), ("sglang", ["sglang"]),
         ("vllm", ["vllm"]), ("vllm_ascend", ["vllm-ascend", "vllm_ascend"]),
         ("pybind11", ["pybind11"])]
out["dists"] = dict((key, version(names)) for key, names in DISTS)

def package_dir(name):
    try:
        spec = find_spec(name)
    except Exception as exc:
        out["errors"].append("find_spec(%r): %s: %s" % (name, type(exc).__name__, exc))
        return None
    if spec is None:
        return None
    locations = list(spec.submodule_search_locations or [])
    if locations:
        return locations[0]
    if spec.origin and os.path.isfile(spec.origin):
        return os.path.dirname(spec.origin)
    return None

out["modules"] = dict((name, package_dir(name)) for name in ["torch", "torch_npu", "triton", "vllm_ascend", "sglang"])

def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except (OSError, IOError):
        return None

def line_of(text, pos):
    return text.count("\n", 0, pos) + 1

heur = {"path": None, "old_import_line": None, "autotuner_provides": None}
if out["modules"]["torch"]:
    path = os.path.join(out["modules"]["torch"], "_inductor", "runtime", "triton_heuristics.py")
    text = read(path)
    if text is not None:
        heur["path"] = path
        for m in re.finditer(r"^[ \t]*from[ \t]+triton\.runtime\.autotuner[ \t]+import[ \t]+(\([^)]*\)|[^\n]*)", text, re.M):
            if re.search(r"\bOutOfResources\b", m.group(1)):
                heur["old_import_line"] = line_of(text, m.start())
                break
def try_import(name):
    import subprocess
    code = "import %s as m; print(getattr(m, '__version__', ''))" % name
    try:
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                universal_newlines=True)
        stdout, stderr = proc.communicate(timeout=180)
    except Exception as exc:
        try:
            proc.kill()
        except Exception:
            pass
        return {"ok": False, "error": "%s: %s" % (type(exc).__name__, exc)}
    if proc.returncode == 0:
        return {"ok": True, "version": stdout.strip()}
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return {"ok": False, "error": lines[-1][:300] if lines else "exit code %d" % proc.returncode}

out["imports"] = {"triton": try_import("triton")} if out["modules"]["triton"] else {}
if out["modules"]["triton"]:
    text = read(os.path.join(out["modules"]["triton"], "runtime", "autotuner.py"))
    if text is not None:
        heur["autotuner_provides"] = bool(re.search(r"\bOutOfResources\b", text))
out["heuristics"] = heur

dirs = list(args.get("vllm_ascend_src") or [])
if out["modules"]["vllm_ascend"]:
    dirs.append(os.path.dirname(out["modules"]["vllm_ascend"].rstrip("/")))
setup = {"path": None, "cmake_line": None}
for d in dirs:
    text = read(os.path.join(d, "setup.py"))
    if text is None:
        continue
    setup["path"] = os.path.join(d, "setup.py")
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("#"):
            continue
        if re.search(r"--cmake(?![A-Za-z0-9_-])", line):
            setup["cmake_line"] = number
            break
    break
out["vllm_ascend_setup"] = setup

try:
    st = os.statvfs("/dev/shm")
    out["shm_bytes"] = st.f_blocks * st.f_frsize
except OSError as exc:
    out["shm_bytes"] = None
    out["errors"].append("/dev/shm: %s" % exc)

pdir = os.environ.get("SGLANG_TORCH_PROFILER_DIR")
prof = {"path": pdir, "exists": False, "is_dir": False, "writable": False}
if pdir:
    prof["exists"] = os.path.exists(pdir)
    prof["is_dir"] = os.path.isdir(pdir)
    prof["writable"] = prof["is_dir"] and os.access(pdir, os.W_OK | os.X_OK)
out["profiler_dir"] = prof
print(json.dumps(out))
'''


# --------------------------------------------------------------------------- evaluation

def finding(check, status, evidence, fix=None):
    return {"check": check, "title": TITLES[check], "status": status, "evidence": evidence,
            "fix": (fix or FIXES[check]) if status in (PROBLEM, WARNING) else ""}


def effective(ev):
    """The settings the server runs with: /server_info first (what the server resolved), then
    the running container's command line, then the recorded launcher argv."""
    launch = dict(ev.get("launch") or {})
    record = ev.get("record") or {}
    info = ev.get("server_info") or {}
    eff = {}

    def choose(key, info_key, record_key=None):
        if info_key in info and info[info_key] is not None:
            return info[info_key], "server_info"
        if launch.get(key) is not None:
            return launch[key], ev.get("source", "container")
        if record_key and record.get(record_key) is not None:
            return record[record_key], "record"
        return None, None

    eff["tp"], eff["tp_from"] = choose("tp", "tp_size", "tp")
    eff["device"] = choose("device", "device")[0]
    eff["attention_backend"], eff["attention_from"] = choose("attention_backend", "attention_backend")
    eff["mem_fraction"], eff["mem_from"] = choose("mem_fraction", "mem_fraction_static")
    eff["nnodes"] = choose("nnodes", "nnodes", "nnodes")[0]
    eff["node_rank"] = choose("node_rank", "node_rank", "node_rank")[0]
    if "disable_overlap_schedule" in info:
        eff["overlap_disabled"], eff["overlap_from"] = bool(info["disable_overlap_schedule"]), "server_info"
    else:
        eff["overlap_disabled"], eff["overlap_from"] = bool(launch.get("overlap_disabled")), ev.get("source", "container")
    eff["custom_allreduce_disabled"] = bool(info.get("disable_custom_all_reduce") or launch.get("custom_allreduce_disabled"))
    eff["tp"] = _number(eff["tp"], int) or 1
    eff["nnodes"] = _number(eff["nnodes"], int) or 1
    eff["node_rank"] = _number(eff["node_rank"], int) or 0
    eff["mem_fraction"] = _number(eff["mem_fraction"], float)
    eff["dist_init_addr"] = info.get("dist_init_addr") or launch.get("dist_init_addr")
    return eff


def _check_unit(ev):
    unit = ev.get("unit_state")
    name = ev.get("unit") or "?"
    if not ev.get("record"):
        return finding("unit", PROBLEM, "%s is configured in the inventory but not deployed on this host "
                       "(no %s.json)" % (name, ev.get("name")),
                       "run playbooks/serve.yml")
    if unit is None:
        return finding("unit", SKIPPED, "systemctl could not be asked: %s" % ev.get("unit_error", "?"))
    load, active, sub = unit.get("LoadState"), unit.get("ActiveState"), unit.get("SubState")
    restarts = _number(unit.get("NRestarts"), int) or 0
    state = "%s: %s (%s), %d restarts, result %s" % (name, active, sub, restarts, unit.get("Result", "?"))
    fix = FIXES["unit"].replace("UNIT", name)
    if load and load != "loaded":
        return finding("unit", PROBLEM, "%s is %s" % (name, load), "run playbooks/serve.yml")
    if active == "active" and sub == "running":
        if restarts:
            return finding("unit", WARNING, state + ": it crashed and was restarted by systemd", fix)
        if not ev.get("expected", True):
            return finding("unit", WARNING, state + "; not in sglang_service_instances of the inventory",
                           "run playbooks/serve.yml, which removes servers no longer configured")
        return finding("unit", OK, state)
    if sub == "auto-restart" or (active in ("activating", "deactivating") and restarts):
        return finding("unit", PROBLEM, state + ": restarting (it keeps failing)", fix)
    return finding("unit", PROBLEM, state + ": not active", fix)


def _check_health(ev, eff):
    status = ev.get("health")
    if eff["node_rank"] > 0 and status is None:
        return finding("health", SKIPPED, "worker rank %d of a multi-node server" % eff["node_rank"])
    if status == 200:
        return finding("health", OK, "GET /health: 200 on port %s" % ev.get("port"))
    if status is None:
        return finding("health", PROBLEM, "GET /health on port %s: %s" % (ev.get("port"), ev.get("health_error") or "no answer"),
                       FIXES["health"].replace("UNIT", ev.get("unit") or "?"))
    return finding("health", PROBLEM, "GET /health on port %s: HTTP %s" % (ev.get("port"), status),
                   FIXES["health"].replace("UNIT", ev.get("unit") or "?"))


def _check_port(ev):
    listeners = ev.get("listeners")
    if listeners is None:
        return finding("port", SKIPPED, ev.get("listeners_error") or "the listeners could not be read")
    foreign, ours, free = [], [], []
    for port in sorted(listeners, key=int):
        owners = listeners[port]
        others = [o for o in owners if not o.get("ours")]
        if others:
            foreign.append("%s held by %s" % (port, ", ".join(
                "%s (pid %s)" % (o.get("comm") or "?", o.get("pid")) for o in others)))
        elif owners:
            ours.append(str(port))
        else:
            free.append(str(port))
    parts = []
    if ours:
        parts.append("port %s: this server's" % ", ".join(ours))
    if free:
        parts.append("port %s: nobody listens" % ", ".join(free))
    if foreign:
        return finding("port", PROBLEM, "; ".join(foreign + parts) + " (SGLang fails with EJ0003 / address already in use)")
    return finding("port", OK, "; ".join(parts) or "no port to check")


def _check_cann(ev):
    env = ev.get("env") or {}
    where = "the container's command" if ev.get("source") == "container" else "the unit's command"
    if ev.get("command_env_wrapper"):
        return finding("cann_env", OK, "%s runs through %s" % (where, ENV_WRAPPER))
    if env.get("ASCEND_TOOLKIT_HOME"):
        return finding("cann_env", OK, "ASCEND_TOOLKIT_HOME=%s in the environment" % env["ASCEND_TOOLKIT_HOME"])
    if ev.get("command_env_wrapper") is None:
        return finding("cann_env", SKIPPED, "neither the container nor the unit's command could be read")
    return finding("cann_env", PROBLEM, "%s does not go through %s and ASCEND_TOOLKIT_HOME is not set "
                   "(RuntimeError: Failed to infer device type / ImportError: libatb.so)" % (where, ENV_WRAPPER))


def _check_device(eff):
    if eff["device"] is None:
        return finding("device", SKIPPED, "--device not given and /server_info not readable")
    if eff["device"] != "npu":
        return finding("device", PROBLEM, "device %s: the server does not run on the NPUs" % eff["device"])
    return finding("device", OK, "device npu")


def _check_attention(eff):
    backend = eff["attention_backend"]
    if backend is None:
        return finding("attention_backend", PROBLEM, "--attention-backend not given and /server_info not readable: "
                       "older SGLang releases then fall back to a non-Ascend backend")
    if backend != "ascend":
        return finding("attention_backend", PROBLEM, "attention backend %s (from %s)" % (backend, eff["attention_from"]))
    return finding("attention_backend", OK, "attention backend ascend (from %s)" % eff["attention_from"])


def _check_custom_allreduce(ev, eff):
    env = ev.get("env") or {}
    value = env.get("USE_VLLM_CUSTOM_ALLREDUCE")
    shown = "USE_VLLM_CUSTOM_ALLREDUCE=%s" % value if value is not None else "USE_VLLM_CUSTOM_ALLREDUCE unset"
    off = value != "1" or eff["custom_allreduce_disabled"]
    if eff["custom_allreduce_disabled"]:
        shown += ", --disable-custom-all-reduce"
    if not off:
        return finding("custom_allreduce", OK, shown)
    if eff["tp"] > 1:
        return finding("custom_allreduce", PROBLEM, "%s with tp %d: slow or hanging all-reduce" % (shown, eff["tp"]))
    return finding("custom_allreduce", WARNING, "%s (tp 1 has no all-reduce yet; a larger tp will be slow)" % shown)


def _check_overlap(eff):
    state = "off" if eff["overlap_disabled"] else "on"
    evidence = "overlap schedule %s (from %s), tp %d" % (state, eff["overlap_from"], eff["tp"])
    if not eff["overlap_disabled"] and eff["tp"] > 1:
        return finding("overlap_schedule", PROBLEM, evidence + ": multi-card slowness or hang")
    return finding("overlap_schedule", OK, evidence)


def _check_mem(eff, limits):
    value = eff["mem_fraction"]
    if value is None:
        return finding("mem_fraction", SKIPPED, "--mem-fraction-static not given and /server_info not readable")
    evidence = "mem-fraction-static %s (from %s), minimum %s" % (value, eff["mem_from"], limits["min_mem_fraction"])
    if value < limits["min_mem_fraction"]:
        return finding("mem_fraction", PROBLEM, evidence + ": small KV cache, low throughput")
    return finding("mem_fraction", OK, evidence)


def _check_p2p(ev, eff):
    value = (ev.get("env") or {}).get("ASCEND_P2P_ENABLE")
    shown = "ASCEND_P2P_ENABLE=%s" % value if value is not None else "ASCEND_P2P_ENABLE unset"
    if eff["tp"] <= 1:
        return finding("p2p", OK, "%s, tp 1 (no peer traffic)" % shown)
    if value != "1":
        return finding("p2p", PROBLEM, "%s with tp %d ('P2P check failed', slow all-reduce)" % (shown, eff["tp"]))
    return finding("p2p", OK, "%s, tp %d" % (shown, eff["tp"]))


def _check_hccl(ev, eff, limits):
    raw = (ev.get("env") or {}).get("HCCL_CONNECT_TIMEOUT")
    value = _number(raw, int) if raw is not None else HCCL_DEFAULT_CONNECT_TIMEOUT
    shown = ("HCCL_CONNECT_TIMEOUT=%s" % raw) if raw is not None else \
        "HCCL_CONNECT_TIMEOUT unset (HCCL default %ds)" % HCCL_DEFAULT_CONNECT_TIMEOUT
    if eff["nnodes"] <= 1:
        return finding("hccl_timeout", OK, "%s, single node" % shown)
    evidence = "%s, %d nodes, minimum %ds" % (shown, eff["nnodes"], limits["min_hccl_connect_timeout"])
    if value is None or value < limits["min_hccl_connect_timeout"]:
        return finding("hccl_timeout", PROBLEM, evidence + " (EI0006 Getting socket times out while ranks start)")
    return finding("hccl_timeout", OK, evidence)


def _check_shm(ev, limits):
    size = ev.get("shm_bytes")
    if size is None:
        return finding("shm", SKIPPED, ev.get("shm_error") or "the container is not running")
    evidence = "/dev/shm %s (%s), minimum %s" % (format_bytes(size), ev.get("shm_source", "?"),
                                                 format_bytes(limits["min_shm_bytes"]))
    if size < limits["min_shm_bytes"]:
        return finding("shm", PROBLEM, evidence + ": the server dies on its IPC queues")
    return finding("shm", OK, evidence)


def _check_profiler(ev):
    if ev.get("source") != "container" or not ev.get("probe"):
        return finding("profiler_dir", SKIPPED, "the container is not running (checked inside it)")
    prof = ev["probe"].get("profiler_dir") or {}
    path = prof.get("path")
    if not path:
        return finding("profiler_dir", PROBLEM, "SGLANG_TORCH_PROFILER_DIR is not set: no profile output")
    if not prof.get("exists"):
        return finding("profiler_dir", PROBLEM, "%s does not exist inside the container: no profile output" % path)
    if not prof.get("is_dir"):
        return finding("profiler_dir", PROBLEM, "%s is not a directory inside the container" % path)
    if not prof.get("writable"):
        return finding("profiler_dir", PROBLEM, "%s is not writable inside the container: no profile output" % path)
    return finding("profiler_dir", OK, "%s exists and is writable inside the container" % path)


def _probe_findings(ev):
    """torch, triton and the two fixes, from the probe of the image's Python packages."""
    probe = ev.get("probe")
    where = "container" if ev.get("probe_source") == "container" else "image %s" % ev.get("image")
    checks = ("torch", "triton", "fix_outofresources", "fix_cmakedir")
    if not probe:
        reason = "the %s could not be probed: %s" % (where, ev.get("probe_error") or "?")
        return [finding(c, SKIPPED, reason) for c in checks]
    dists = probe.get("dists") or {}
    modules = probe.get("modules") or {}
    expected = ev.get("expected_versions") or {}
    out = []
    py = probe.get("python")

    torch, torch_npu = dists.get("torch"), dists.get("torch_npu")
    if not torch and not modules.get("torch"):
        out.append(finding("torch", NOT_INSTALLED, "torch is not installed in the %s (Python %s): the torch, "
                           "triton and inductor checks do not apply; a real SGLang server on Ascend needs "
                           "torch and torch_npu (playbooks/build.yml)" % (where, py)))
    elif not torch_npu:
        out.append(finding("torch", PROBLEM, "torch %s without torch_npu in the %s (Python %s): torch_npu import "
                           "error / no NPU device" % (torch, where, py)))
    elif release(torch) != release(torch_npu):
        out.append(finding("torch", PROBLEM, "torch %s with torch_npu %s in the %s (Python %s): torch_npu is built "
                           "against one torch release" % (torch, torch_npu, where, py)))
    else:
        evidence = "torch %s, torch_npu %s, Python %s" % (torch, torch_npu, py)
        drift = []
        for key, have in (("torch", torch), ("torch_npu", torch_npu)):
            want = expected.get(key)
            if want and release(want) != release(have):
                drift.append("%s %s (stack profile: %s)" % (key, have, want))
        if expected.get("python") and py and not py.startswith(str(expected["python"]) + "."):
            drift.append("Python %s (stack profile: %s)" % (py, expected["python"]))
        if drift:
            out.append(finding("torch", WARNING, evidence + "; differs from the stack profile: " + ", ".join(drift),
                               "rebuild the image (playbooks/build.yml) or set the stack profile to what it runs"))
        else:
            out.append(finding("torch", OK, evidence))

    torch_missing = out[0]["status"] == NOT_INSTALLED
    triton_dists = ", ".join("%s %s" % (k.replace("_", "-"), dists[k]) for k in ("triton", "triton_ascend") if dists.get(k))
    imported = (probe.get("imports") or {}).get("triton")
    if modules.get("triton") and imported is not None and not imported.get("ok"):
        out.append(finding("triton", PROBLEM, "module triton at %s (%s), but `import triton` fails: %s"
                           % (modules["triton"], triton_dists or "no distribution metadata", imported.get("error"))))
    elif modules.get("triton"):
        how = ("imports, version %s" % imported.get("version")) if imported else "not imported"
        out.append(finding("triton", OK, "module triton at %s (%s), %s"
                           % (modules["triton"], triton_dists or "no distribution metadata", how)))
    elif torch_missing:
        out.append(finding("triton", NOT_INSTALLED, "triton is not installed either (no torch in the %s)" % where))
    else:
        out.append(finding("triton", PROBLEM, "no module triton in the %s (%s): ModuleNotFoundError: No module named "
                           "'triton'" % (where, triton_dists or "no triton or triton-ascend distribution")))

    heur = probe.get("heuristics") or {}
    if torch_missing:
        out.append(finding("fix_outofresources", NOT_INSTALLED, "no torch in the %s" % where))
    elif not heur.get("path"):
        out.append(finding("fix_outofresources", OK, "this torch has no _inductor/runtime/triton_heuristics.py"))
    elif heur.get("old_import_line") is None:
        out.append(finding("fix_outofresources", OK, "%s does not import OutOfResources from triton.runtime.autotuner" % heur["path"]))
    elif heur.get("autotuner_provides"):
        out.append(finding("fix_outofresources", OK, "%s:%s imports OutOfResources from triton.runtime.autotuner, "
                           "which this triton still provides" % (heur["path"], heur["old_import_line"])))
    else:
        out.append(finding("fix_outofresources", PROBLEM, "%s:%s still imports OutOfResources from "
                           "triton.runtime.autotuner, which %s does not provide (ImportError: OutOfResources)"
                           % (heur["path"], heur["old_import_line"], "this triton" if modules.get("triton") else "a missing triton")))

    setup = probe.get("vllm_ascend_setup") or {}
    if not setup.get("path"):
        what = "vllm-ascend %s installed, but its source" % dists["vllm_ascend"] if dists.get("vllm_ascend") else "vllm-ascend"
        out.append(finding("fix_cmakedir", NOT_INSTALLED, "%s is not in the %s (looked in %s)"
                           % (what, where, ", ".join(ev.get("vllm_ascend_src") or []) or "the installed package")))
    elif setup.get("cmake_line"):
        out.append(finding("fix_cmakedir", PROBLEM, "%s:%s still calls pybind11 with --cmake (newer pybind11 needs "
                           "--cmakedir: 'CMake configuration failed')" % (setup["path"], setup["cmake_line"])))
    else:
        out.append(finding("fix_cmakedir", OK, "%s asks pybind11 for --cmakedir" % setup["path"]))
    return out


def evaluate(ev, limits=None):
    """Findings of one server, in the order of CHECKS."""
    lim = dict(DEFAULT_LIMITS)
    lim.update(dict((k, v) for k, v in (limits or {}).items() if v is not None))
    unit = _check_unit(ev)
    if not ev.get("record"):
        return [unit]
    eff = effective(ev)
    out = [unit, _check_health(ev, eff), _check_port(ev), _check_cann(ev), _check_device(eff),
           _check_attention(eff), _check_custom_allreduce(ev, eff), _check_overlap(eff),
           _check_mem(eff, lim), _check_p2p(ev, eff), _check_hccl(ev, eff, lim), _check_shm(ev, lim),
           _check_profiler(ev)]
    out += _probe_findings(ev)
    return out


def summarize(findings):
    counts = dict((s, 0) for s in STATUSES)
    for item in findings:
        counts[item["status"]] = counts.get(item["status"], 0) + 1
    return counts


# --------------------------------------------------------------------------- the table

def _wrap(text, width):
    words, lines, line = str(text).split(), [], ""
    for word in words:
        while len(word) > width:
            if line:
                lines.append(line)
                line = ""
            lines.append(word[:width])
            word = word[width:]
        if not line:
            line = word
        elif len(line) + 1 + len(word) <= width:
            line += " " + word
        else:
            lines.append(line)
            line = word
    if line or not lines:
        lines.append(line)
    return lines


def render_table(rows, widths=None):
    """Text table of findings rows ({instance, check, status, evidence, fix}), each cell wrapped
    to its column's width (default: the instance and check columns fit their longest value)."""
    headers = ("instance", "check", "status", "evidence", "fix")
    keys = ("instance", "check", "status", "evidence", "fix")
    if widths is None:
        fit = [min(16, max([len(h)] + [len(str(r.get(k, ""))) for r in rows])) for h, k in zip(headers[:3], keys[:3])]
        widths = tuple(fit) + (52, 52)
    sep = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    lines = [sep, "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths)) + " |", sep.replace("-", "=")]
    for row in rows:
        cells = [_wrap(row.get(k, ""), w) for k, w in zip(keys, widths)]
        height = max(len(c) for c in cells)
        for i in range(height):
            lines.append("| " + " | ".join((c[i] if i < len(c) else "").ljust(w) for c, w in zip(cells, widths)) + " |")
        lines.append(sep)
    return lines
