"""Deploy and re-run timings of the collection on the simulated cluster (`make perf`).

Brings up a private simulated cluster (its own node names, network and inventory, so the demo
cluster is never touched), deploys on fresh nodes from the same cached state through each image
distribution path (the controller's archive, the sim's registry) and counts the bytes each one
moves, fits deploy time over the node count, re-runs, runs the benchmark playbook and, with
--tuning, tries the Ansible tuning options against the configured baseline.
Every figure is printed as min / median over the repeats with the load average seen during the
runs; the machine is shared, so a single run proves little. See tests/perf/README.md.

  python tests/perf/perf.py [--repeats N] [--paths archive,registry] [--nodes 1,2,3]
                            [--mode auto|site|standin] [--tuning] [--no-bench]
"""
import argparse
import configparser
import datetime
import glob
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import sysconfig
import time

import yaml

# The playbook-output readers the integration tests use.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from simtest import image_tag, included_for, recap, tool_env  # noqa: E402 pylint: disable=wrong-import-position
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import perfmodel  # noqa: E402 pylint: disable=wrong-import-position

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
BIN = os.path.dirname(sys.executable)
SIMCTL = os.path.join(ROOT, "tests", "sim", "simctl")
STATE = os.environ.get("NPU_SIM_STATE", os.path.join(ROOT, ".sim"))
WORK = os.environ.get("NPU_PERF_DIR", os.path.join(STATE, "perf"))
PREFIX = os.environ.get("NPU_PERF_PREFIX", "perf-node")
NETWORK = os.environ.get("NPU_PERF_NETWORK", "perf-net")
INVENTORY_DIR = os.path.join(WORK, "inventory")
IMAGE_CACHE = os.path.join(WORK, "image-cache")
LOG_DIR = os.path.join(WORK, "logs")
# Controller image caches of other runs on this machine that may already hold the image
# (linked or copied, never moved): the one `make demo` fills (sglang_build_cache_dir's
# default), the sim e2e test's and a developer's.
SEED_CACHES = [os.path.expanduser("~/.cache/npu-sglang/images"), os.path.join(STATE, "e2e-image-cache"),
               os.path.join(STATE, "dev-image-cache")]
MITOGEN_VERSION = "0.3.54"
TARGETS = {"t3_t1": 1.3, "rerun_ratio": 0.15, "bench_overhead": 0.10, "controller_bytes_per_node": 1e6}
# The registry path's repository on the sim's registry (sglang_build_distribute_registry).
REGISTRY_REPO = "npu-sglang-perf"
# Where the sim's registry keeps its blobs (tests/sim/image/registry/config.yml).
REGISTRY_STORAGE = "/var/lib/docker-registry"
PATHS = ("archive", "registry")
# Disk a sim node needs while it loads the image (all nodes share this machine's disk): the
# archive copied to it, `docker load`'s unpacked copy of the archive and the image itself, the
# image being about 2.5 times its zstd archive. Plus a margin for everyone else on the machine.
IMAGE_PER_ARCHIVE = 2.5
ASSUMED_ARCHIVE_GB = 3.0
MARGIN_GB = 5.0
DISTRIBUTE_TASKS = ("sglang_build : Copy the archive to the node", "sglang_build : Load the image",
                    "sglang_build : Log in to the distribution registry", "sglang_build : Tag the image for the registry",
                    "sglang_build : Push the image to the registry", "sglang_build : Pull the image on the nodes that lack it",
                    "sglang_build : Name the pulled image as the servers know it")


def log(msg):
    print("perf: " + msg, file=sys.stderr, flush=True)


def sim_env():
    env = dict(os.environ)
    env.update({"NPU_SIM_PREFIX": PREFIX, "NPU_SIM_NETWORK": NETWORK,
                "NPU_SIM_INVENTORY": os.path.join(INVENTORY_DIR, "hosts.yml"), "NPU_SIM_STATE": STATE})
    return env


def simctl(*args):
    proc = subprocess.run([sys.executable, SIMCTL] + list(args), env=sim_env(), cwd=ROOT, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        raise SystemExit("perf: simctl %s failed:\n%s" % (" ".join(args), proc.stdout[-4000:]))
    return proc.stdout


def cann_tag():
    """The CANN stand-in image's tag (what simctl loads into every node)."""
    return [line for line in simctl("cann").splitlines() if not line.startswith("simctl:")][0].strip()


def docker_root():
    """Where Docker keeps its data ("/" when Docker does not say)."""
    return subprocess.run(["docker", "info", "-f", "{{.DockerRootDir}}"], text=True, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, check=False).stdout.strip() or "/"


def docker_free_gb():
    return shutil.disk_usage(docker_root()).free / 1e9


def docker_disk():
    """The block device (major, minor) that holds Docker's data, as /proc/diskstats names it."""
    root = docker_root()
    dev = os.stat(root if os.path.exists(root) else "/").st_dev
    return os.major(dev), os.minor(dev)


def counters(disk):
    """Bytes written to `disk` so far and the CPU jiffies (busy, I/O wait, total) of the machine."""
    written = None
    with open("/proc/diskstats", encoding="utf-8") as handle:
        for line in handle:
            fields = line.split()
            if len(fields) > 9 and (int(fields[0]), int(fields[1])) == disk:
                written = int(fields[9]) * 512
    with open("/proc/stat", encoding="utf-8") as handle:
        cpu = [int(x) for x in handle.readline().split()[1:9]]
    idle, iowait, total = cpu[3], cpu[4], sum(cpu)
    return {"written": written, "busy": total - idle - iowait, "iowait": iowait, "total": total}


def usage(before, after):
    """What the machine did between two counters(): GB written to Docker's disk, CPU busy and I/O wait shares."""
    total = max(after["total"] - before["total"], 1)
    written = None
    if before["written"] is not None and after["written"] is not None:
        written = (after["written"] - before["written"]) / 1e9
    return {"written_gb": written, "cpu_busy": (after["busy"] - before["busy"]) / total,
            "iowait": (after["iowait"] - before["iowait"]) / total}


def cached_archives():
    return sorted(glob.glob(os.path.join(IMAGE_CACHE, "*.tar.zst")), key=os.path.getmtime, reverse=True)


def disk_need_gb(nodes):
    archives = cached_archives()
    archive = os.path.getsize(archives[0]) / 1e9 if archives else ASSUMED_ARCHIVE_GB
    return nodes * archive * (1 + 2 * IMAGE_PER_ARCHIVE) + MARGIN_GB


def registry_container():
    """The sim registry's container on the private network (simctl names it <network>-registry)."""
    return NETWORK + "-registry"


def builder_metadata_dir(builder):
    """Where the builder's engine keeps, per layer, the digests it pushed and to which repository
    (<root>/image/<storage driver>/distribution): what makes a second push of an image send nothing."""
    out = subprocess.run(["docker", "exec", builder, "docker", "info", "-f", "{{.DockerRootDir}} {{.Driver}}"],
                         text=True, stdout=subprocess.PIPE, check=True).stdout.split()
    return "%s/image/%s" % (out[0], out[1])


def save_registry_storage(store):
    """Keep the registry's storage (tar of REGISTRY_STORAGE) for the next clusters of this run."""
    os.makedirs(os.path.dirname(store), exist_ok=True)
    for old in glob.glob(os.path.join(os.path.dirname(store), "*.tar*")):
        os.unlink(old)
    with open(store + ".part", "wb") as handle:
        subprocess.run(["docker", "cp", "%s:%s" % (registry_container(), REGISTRY_STORAGE), "-"], stdout=handle,
                       check=True)
    os.rename(store + ".part", store)


def node_names(nodes):
    return ["%s%d" % (PREFIX, i) for i in range(1, nodes + 1)]


def bridge_device():
    """The host side of the private network's bridge. Its tx counter counts only the frames this
    machine sends to the containers on the network, not the frames between two containers (the
    bridge forwards those without passing them up to the host): checked on this kernel, see
    tests/perf/README.md."""
    proc = subprocess.run(["docker", "network", "inspect", "-f",
                           '{{.Id}} {{index .Options "com.docker.network.bridge.name"}}', NETWORK],
                          text=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=False)
    # Without the option Go's template prints "<no value>": Docker then names it br-<id[:12]>.
    fields = [f for f in proc.stdout.replace("<no value>", "").split() if f]
    if proc.returncode != 0 or not fields:
        return None
    return fields[1] if len(fields) > 1 else "br-" + fields[0][:12]


def read_counter(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return None


def net_sample(bridge, nodes):
    """The byte counters perfmodel.net_delta reads: the bridge's host side and each node's eth0."""
    sample = {"controller": {}, "nodes": {}}
    if bridge:
        stats = "/sys/class/net/%s/statistics/" % bridge
        sample["controller"] = {"tx": read_counter(stats + "tx_bytes"), "rx": read_counter(stats + "rx_bytes")}
    for node in nodes:
        proc = subprocess.run(["docker", "exec", node, "cat", "/sys/class/net/eth0/statistics/rx_bytes",
                               "/sys/class/net/eth0/statistics/tx_bytes"], text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, check=False)
        values = proc.stdout.split()
        if proc.returncode == 0 and len(values) == 2:
            sample["nodes"][node] = {"rx": int(values[0]), "tx": int(values[1])}
    return sample


def fresh_cluster(nodes, chips):
    """A new private cluster of `nodes` nodes; the previous one is removed first."""
    os.makedirs(INVENTORY_DIR, exist_ok=True)
    link, group_vars = os.path.join(INVENTORY_DIR, "group_vars"), os.path.join(ROOT, "inventories", "sim", "group_vars")
    if os.path.islink(link) and os.readlink(link) != group_vars:
        os.unlink(link)
    if not os.path.islink(link):
        os.symlink(group_vars, link)
    simctl("down")
    # Facts of the previous nodes of the same names must not leak into the new ones.
    shutil.rmtree(os.path.join(WORK, "facts"), ignore_errors=True)
    started = time.monotonic()
    simctl("up", "--nodes", str(nodes), "--chips", str(chips))
    log("fresh cluster of %d node(s) up in %.0fs" % (nodes, time.monotonic() - started))
    return node_names(nodes)


def task_times(output):
    """[(task, seconds)] from the TASKS RECAP of ansible.posix.profile_tasks, slowest first."""
    tasks = []
    if "TASKS RECAP" not in output:
        return tasks
    for line in output.split("TASKS RECAP")[-1].splitlines():
        match = re.match(r"^(.*?)\s-+\s+([\d.]+)s$", line.strip())
        if match:
            tasks.append((match.group(1).strip(), float(match.group(2))))
    return tasks


def failure(output):
    """The first failed task and its message (msg, stderr), for a one-line reason."""
    lines = output.splitlines()
    for i, line in enumerate(lines):
        match = re.match(r"^(?:fatal|failed): \[(\S+)\]", line)
        if not match:
            continue
        task = next((l for l in reversed(lines[:i]) if l.startswith("TASK [")), "").strip("* ")
        block = []
        for follow in lines[i + 1:]:
            if follow and not follow.startswith(" "):
                break
            block.append(follow)
        try:
            result = yaml.safe_load("\n".join(block)) or {}
        except yaml.YAMLError:
            result = {}
        parts = [str(result.get(k)) for k in ("msg", "stderr") if isinstance(result, dict) and result.get(k)]
        detail = "; ".join(parts) or " ".join(l.strip() for l in block[:6])
        return re.sub(r"\s+", " ", "%s on %s: %s" % (task, match.group(1), detail)).strip()[:700]
    return "no task failed; see the log"


class Runner:
    """Runs playbooks with the project's configuration and keeps every log."""

    def __init__(self, timeout):
        self.count = 0
        self.loads = []
        self.timeout = timeout
        self.disk = docker_disk()
        # The nodes and bridge of the cluster up now, whose byte counters each playbook samples.
        self.nodes = []
        self.bridge = None

    @staticmethod
    def env(overrides=None):
        # A fact cache of its own: the demo cluster's cache is never read or written.
        env = tool_env({"ANSIBLE_NOCOLOR": "1", "ANSIBLE_CACHE_PLUGIN_CONNECTION": os.path.join(WORK, "facts")})
        env.update(overrides or {})
        return env

    def playbook(self, name, playbook, args=(), overrides=None, python=None):
        """Run one playbook on the private cluster; return its wall time, recap and output."""
        self.count += 1
        os.makedirs(LOG_DIR, exist_ok=True)
        path = os.path.join(LOG_DIR, "%03d-%s.log" % (self.count, name))
        cmd = [os.path.join(BIN, "ansible-playbook"), "-i", INVENTORY_DIR,
               "-e", "sglang_build_cache_dir=" + IMAGE_CACHE, playbook] + list(args)
        if python:
            cmd.insert(0, python)
        load = os.getloadavg()[0]
        # The output goes straight to the log, which can be followed while the playbook runs.
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("$ %s\n# env overrides: %s\n" % (" ".join(cmd), json.dumps(overrides or {})))
            handle.flush()
            before = counters(self.disk)
            net_before = net_sample(self.bridge, self.nodes)
            started = time.monotonic()
            proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env(overrides), text=True, stdout=handle,
                                    stderr=subprocess.STDOUT, start_new_session=True)
            try:
                proc.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                # The playbook and its workers; what it started on the nodes goes with the cluster.
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait()
                handle.write("\nfatal: [controller]: FAILED! =>\n    msg: perf.py stopped the playbook after %ds\n"
                             % self.timeout)
            wall = time.monotonic() - started
            used = usage(before, counters(self.disk))
            moved = perfmodel.net_delta(net_before, net_sample(self.bridge, self.nodes))
        load = max(load, os.getloadavg()[0])
        self.loads.append(load)
        with open(path, encoding="utf-8") as handle:
            output = handle.read()
        stats = recap(output)
        ok = proc.returncode == 0 and bool(stats) and all(
            s.get("failed", 0) == 0 and s.get("unreachable", 0) == 0 for s in stats.values())
        log("%-40s %6.1fs rc=%d load=%.1f  changed=%d  (%s)" % (
            name, wall, proc.returncode, load, sum(s.get("changed", 0) for s in stats.values()),
            os.path.relpath(path, ROOT)))
        return {"name": name, "wall": wall, "ok": ok, "rc": proc.returncode, "stats": stats,
                "load": load, "log": os.path.relpath(path, ROOT), "output": output, "usage": used, "net": moved,
                "builds": included_for(output, "sglang_build/tasks/build.yml")}


def summary(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"min": min(values), "median": statistics.median(values), "runs": values}


def fmt(stat, unit="s"):
    if not stat:
        return "not measured"
    runs = ", ".join("%.1f" % v for v in stat["runs"])
    return "min %.1f%s  median %.1f%s  (runs: %s)" % (stat["min"], unit, stat["median"], unit, runs)


def verdict(good):
    return "MET" if good else "MISSED"


def seed_image_cache():
    """Link (or copy) the newest image archive of another controller cache on this machine into ours."""
    os.makedirs(IMAGE_CACHE, exist_ok=True)
    if cached_archives():
        return None
    found = sorted((p for d in SEED_CACHES for p in glob.glob(os.path.join(d, "*.tar.zst"))),
                   key=os.path.getmtime, reverse=True)
    if not found:
        return None
    target = os.path.join(IMAGE_CACHE, os.path.basename(found[0]))
    try:
        # A second name for the same file: no disk used, and the other cache may drop its own.
        os.link(found[0], target)
    except OSError:
        shutil.copy2(found[0], target + ".part")
        os.rename(target + ".part", target)
    return found[0]


def cache_from_builder(output, builder):
    """After a first deploy that built on a 1-node cluster (which leaves the controller cache
    alone: no node lacked the image), put the builder's image into the cache the way the role
    does, so that the next deploys start from the cached state."""
    tag = image_tag(output)
    if not tag:
        return "no image tag in the output"
    target = os.path.join(IMAGE_CACHE, tag.replace(":", "_") + ".tar.zst")
    if os.path.exists(target):
        return None
    if not shutil.which("zstd"):
        return "zstd is not installed on this machine"
    with open(target + ".part", "wb") as handle:
        save = subprocess.Popen(["docker", "exec", builder, "docker", "save", tag], stdout=subprocess.PIPE)
        comp = subprocess.run(["zstd", "-q", "-T0", "-3"], stdin=save.stdout, stdout=handle, check=False)
        save.stdout.close()
        if save.wait() != 0 or comp.returncode != 0:
            os.unlink(target + ".part")
            return "docker save | zstd failed"
    os.rename(target + ".part", target)
    return None


def pull_concurrency():
    """sglang_build_pull_concurrency as the sim inventory's deploys get it: its group_vars, else the role's default."""
    value = None
    for path in [os.path.join(ROOT, "roles", "sglang_build", "defaults", "main.yml")] + sorted(
            glob.glob(os.path.join(ROOT, "inventories", "sim", "group_vars", "all", "*.yml"))):
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
        value = data.get("sglang_build_pull_concurrency", value)
    return value


def machine():
    mem = 0
    with open("/proc/meminfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) / 1024.0 / 1024.0
    cpu = ""
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next((l.split(":", 1)[1].strip() for l in handle if l.startswith("model name")), "")
    ansible = subprocess.run([os.path.join(BIN, "ansible"), "--version"], text=True, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, check=False).stdout.splitlines()
    docker = subprocess.run(["docker", "version", "-f", "{{.Server.Version}}"], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=False).stdout.strip()
    return {"cores": os.cpu_count(), "cpu": cpu, "memory_gib": round(mem, 1),
            "load_at_start": [round(x, 2) for x in os.getloadavg()],
            "disk_free_gb": round(docker_free_gb(), 1),
            "ansible": ansible[0] if ansible else "?", "python": platform.python_version(),
            "docker": docker, "kernel": platform.release()}


def configured():
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(os.path.join(ROOT, "ansible.cfg"))
    keys = [("defaults", "forks"), ("defaults", "strategy"), ("defaults", "gathering"),
            ("defaults", "gather_subset"), ("defaults", "fact_caching"), ("ssh_connection", "pipelining"),
            ("ssh_connection", "usetty"), ("ssh_connection", "ssh_args")]
    return dict((k, cfg.get(s, k, fallback="(ansible default)")) for s, k in keys)


def mitogen_python():
    """A throwaway venv that sees this venv's packages plus mitogen: ((python, strategy dir), None) or (None, reason)."""
    venv = os.path.join(WORK, "mitogen-venv")
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        proc = subprocess.run([sys.executable, "-m", "venv", venv], text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, check=False)
        if proc.returncode != 0:
            return None, "python -m venv failed: " + proc.stdout[-300:]
        site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              text=True, stdout=subprocess.PIPE, check=True).stdout.strip()
        with open(os.path.join(site, "zz-project-venv.pth"), "w", encoding="utf-8") as handle:
            handle.write(sysconfig.get_paths()["purelib"] + "\n")
    proc = subprocess.run([python, "-m", "pip", "install", "-q", "mitogen==" + MITOGEN_VERSION], text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        return None, "pip install mitogen==%s failed: %s" % (MITOGEN_VERSION, proc.stdout.strip()[-300:])
    probe = subprocess.run([python, "-c", "import ansible_mitogen, os; print(os.path.dirname(ansible_mitogen.__file__))"],
                           text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    if probe.returncode != 0:
        return None, "ansible_mitogen does not import: " + probe.stdout.strip()[-300:]
    return (python, os.path.join(probe.stdout.strip(), "plugins", "strategy")), None


class Perf:
    def __init__(self, args):
        self.args = args
        self.run = Runner(args.timeout)
        self.res = {"machine": machine(), "configured": configured(), "started": datetime.datetime.now(
            datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"), "repeats": args.repeats,
            "sizes": {}, "skipped": {}, "paths": list(args.paths), "node_counts": sorted(args.nodes),
            "assumed": {"registry_gbps": args.registry_gbps, "pull_concurrency": pull_concurrency()}}
        self.standin_args = None
        self.registry_vars = os.path.join(WORK, "registry-vars.json")

    def save(self):
        """results.json as far as the run got: --report-only prints it, also after an interrupted run."""
        self.res["load_during"] = summary(self.run.loads)
        self.res["finished"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        with open(os.path.join(WORK, "results.json"), "w", encoding="utf-8") as handle:
            json.dump(self.res, handle, indent=2, sort_keys=True, default=str)

    # ------------------------------------------------------------------ the deploys under test
    def deploy(self, kind, name, overrides=None, python=None, path="archive"):
        if kind == "site":
            # The registry's password stays out of the command line and so out of the logs.
            extra = ["-e", "@" + self.registry_vars] if path == "registry" else []
            return self.run.playbook(name, "site.yml", extra, overrides, python)
        if self.standin_args is None:
            self.standin_args = ["-e", "sglang_service_image=" + cann_tag(),
                                 "-e", '{"sglang_service_entrypoint": []}']
        return self.run.playbook(name, os.path.join(HERE, "standin-deploy.yml"), self.standin_args,
                                 overrides, python)

    def cluster(self, nodes, path="archive"):
        """Fresh nodes in the starting state of `path` (see registry_state); their counters sampled from now on."""
        self.run.nodes, self.run.bridge = [], None
        names = fresh_cluster(nodes, self.args.chips)
        self.run.nodes, self.run.bridge = names, bridge_device()
        if path == "registry":
            return self.registry_state(names)
        return None

    def registry_state(self, names):
        """The registry path's starting state, made before the timed deploy: the sim's registry up
        on the private network and holding every layer of the image, the builder (the first node)
        having the image under both its names, as after a previous deploy through the registry;
        the other nodes fresh (the CANN stand-in base image only)."""
        started = time.monotonic()
        out = simctl("registry", "up")
        info = json.loads([line for line in out.splitlines() if line.startswith("{")][-1])
        with open(info["password_file"], encoding="utf-8") as handle:
            password = handle.read().strip()
        archives = cached_archives()
        if not archives:
            raise SystemExit("perf: the registry path starts from the image on the builder, loaded from the "
                             "controller's image cache %s, which is empty: run make demo first" % IMAGE_CACHE)
        builder = names[0]
        with open(archives[0], "rb") as handle:
            unpack = subprocess.Popen(["zstd", "-q", "-dc"], stdin=handle, stdout=subprocess.PIPE)
            load = subprocess.run(["docker", "exec", "-i", builder, "docker", "load", "-q"], stdin=unpack.stdout,
                                  text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
            unpack.stdout.close()
            unpacked = unpack.wait()
        loaded = re.search(r"Loaded image: (\S+)", load.stdout)
        if unpacked != 0 or load.returncode != 0 or not loaded:
            raise SystemExit("perf: loading %s on %s failed: %s" % (archives[0], builder, load.stdout[-2000:]))
        image = loaded.group(1)
        registry = "%s/%s" % (info["name"], REGISTRY_REPO)
        ref = "%s/%s" % (registry, image)
        subprocess.run(["docker", "exec", builder, "docker", "tag", image, ref], check=True, stdout=subprocess.DEVNULL)
        store = os.path.join(WORK, "registry-store", image.replace(":", "_") + ".tar")
        metadata = builder_metadata_dir(builder)
        if os.path.exists(store) and os.path.exists(store + ".metadata"):
            # The registry's storage and the builder engine's record of what it pushed there, as
            # the first push of this run left them: the same state in a minute instead of the
            # minutes of a push. Without the record the builder's engine would gzip every layer
            # again to learn its digest before finding it in the registry.
            with open(store, "rb") as handle:
                subprocess.run(["docker", "cp", "-", "%s:%s" % (registry_container(), os.path.dirname(REGISTRY_STORAGE))],
                               stdin=handle, check=True, stdout=subprocess.DEVNULL)
            with open(store + ".metadata", "rb") as handle:
                subprocess.run(["docker", "exec", "-i", builder, "tar", "-C", metadata, "-xf", "-"], stdin=handle,
                               check=True, stdout=subprocess.DEVNULL)
        else:
            # A throw-away client configuration: the role's own login is what the deploy uses.
            script = ('set -e; d=$(mktemp -d); trap \'rm -rf "$d"\' EXIT; '
                      'docker --config "$d" login -u "$1" --password-stdin "$2" >/dev/null; '
                      'docker --config "$d" push -q "$3" >/dev/null')
            push = subprocess.run(["docker", "exec", "-i", builder, "sh", "-c", script, "sh", info["username"],
                                   info["name"], ref], input=password + "\n", text=True, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, check=False)
            if push.returncode != 0:
                raise SystemExit("perf: pushing %s from %s failed: %s" % (ref, builder, push.stdout[-2000:]))
            save_registry_storage(store)
            with open(store + ".metadata.part", "wb") as handle:
                subprocess.run(["docker", "exec", builder, "tar", "-C", metadata, "-cf", "-", "distribution"],
                               stdout=handle, check=True)
            os.rename(store + ".metadata.part", store + ".metadata")
        with open(os.open(self.registry_vars, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w",
                  encoding="utf-8") as handle:
            json.dump({"sglang_build_distribute_registry": registry,
                       "sglang_build_distribute_registry_username": info["username"],
                       "sglang_build_distribute_registry_password": password}, handle)
        seconds = time.monotonic() - started
        log("registry state: %s on %s and in the registry as %s, made in %.0fs" % (image, builder, ref, seconds))
        return {"image": image, "ref": ref, "builder": builder, "setup_seconds": seconds}

    def disk_ok(self, nodes):
        simctl("down")
        need, free = disk_need_gb(nodes), docker_free_gb()
        if free >= need:
            return None
        return ("not enough disk for %d sim nodes to load the image: about %.0f GB needed at the peak "
                "(all nodes share this machine's disk), %.0f GB free" % (nodes, need, free))

    def first_deploy(self):
        """The deploy as a user runs it, on fresh nodes, through the first path measured; tells
        whether site.yml converges here and builds the image once when the cache lacks it."""
        seeded = seed_image_cache()
        self.res["cache_seeded_from"] = os.path.relpath(seeded, ROOT) if seeded else None
        self.res["cache_before"] = [os.path.basename(p) for p in cached_archives()]
        if self.args.mode == "standin":
            return None, "--mode standin was given"
        path = self.args.paths[0]
        nodes = next((n for n in sorted(self.args.nodes, reverse=True) if not self.disk_ok(n)), None)
        if nodes is None:
            return None, self.disk_ok(min(self.args.nodes))
        state = self.cluster(nodes, path)
        first = self.deploy("site", "first-deploy-%s-%d" % (path, nodes), self.profiled(), path=path)
        self.res["first_deploy"] = {"nodes": nodes, "path": path, "wall": first["wall"], "ok": first["ok"],
                                    "builds": first["builds"], "image": image_tag(first["output"]), "log": first["log"]}
        if not first["ok"]:
            reason = "site.yml failed: " + failure(first["output"])
            self.res["first_deploy"]["failure"] = reason
            if self.args.mode == "site":
                raise SystemExit("perf: " + reason)
            log("site.yml does not converge; measuring the stand-in deploy instead: " + reason)
            return None, reason
        if first["builds"]:
            if path == "registry":
                raise SystemExit("perf: the image loaded from the cache (%s) is not the one site.yml computes (%s): "
                                 "run with --paths archive,registry to build it once and cache it"
                                 % (state["image"], image_tag(first["output"])))
            problem = cache_from_builder(first["output"], first["builds"][0])
            if problem:
                log("the image could not be put into the cache (%s): later deploys will build" % problem)
        first["state"] = state
        return first, None

    @staticmethod
    def profiled():
        return {"ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks",
                "ANSIBLE_PROFILE_TASKS_TASK_OUTPUT_LIMIT": "all"}

    def size_runs(self, kind, nodes, path="archive", reuse=None):
        """Repeats of: fresh cluster in the path's starting state, deploy, idempotent re-run."""
        deploys, reruns, states = [], [], []
        for i in range(self.args.repeats):
            if reuse is not None and i == 0:
                dep, state = reuse, reuse.get("state")
            else:
                state = self.cluster(nodes, path if kind == "site" else "archive")
                dep = self.deploy(kind, "%s-%s-deploy-%d-r%d" % (kind, path, nodes, i + 1), self.profiled(), path=path)
            if not dep["ok"]:
                raise SystemExit("perf: the %s deploy (%s) failed on %d node(s): %s" % (kind, path, nodes, failure(dep["output"])))
            if kind == "site" and dep["builds"]:
                raise SystemExit("perf: the %s deploy (%s) on %d node(s) built the image: it did not start from the "
                                 "cached state (%s)" % (kind, path, nodes, dep["log"]))
            rer = self.deploy(kind, "%s-%s-rerun-%d-r%d" % (kind, path, nodes, i + 1), path=path)
            if not rer["ok"]:
                raise SystemExit("perf: the %s re-run (%s) failed on %d node(s): %s" % (kind, path, nodes, failure(rer["output"])))
            deploys.append(dep)
            reruns.append(rer)
            states.append(state)
        hosts = sorted(reruns[-1]["stats"])
        # The nodes the image went to: every node on the archive path (fresh nodes lack it), all
        # but the builder on the registry path (the builder starts with it).
        lacking = node_names(nodes)[1:] if path == "registry" else node_names(nodes)
        distribute = [sum(t for name, t in task_times(d["output"]) if name.endswith(DISTRIBUTE_TASKS)) for d in deploys]

        def received(dep, names):
            values = [dep["net"]["nodes"].get(n, {}).get("received") for n in names]
            return None if not names or None in values else statistics.mean(values)
        self.res["sizes"]["%s-%s-%d" % (kind, path, nodes)] = {
            "kind": kind, "path": path, "nodes": nodes,
            "deploy": summary([d["wall"] for d in deploys]),
            "deploy_distribute": summary(distribute) if kind == "site" else None,
            "deploy_without_distribute": summary([d["wall"] - t for d, t in zip(deploys, distribute)]),
            "deploy_written_gb": summary([d["usage"]["written_gb"] for d in deploys]),
            "deploy_cpu_busy": summary([d["usage"]["cpu_busy"] for d in deploys]),
            "deploy_iowait": summary([d["usage"]["iowait"] for d in deploys]),
            "controller_sent": summary([d["net"]["controller_sent"] for d in deploys]),
            "controller_received": summary([d["net"]["controller_received"] for d in deploys]),
            "received_per_lacking_node": summary([received(d, lacking) for d in deploys]),
            "received_builder": summary([received(d, node_names(nodes)[:1]) for d in deploys]),
            "lacking": lacking,
            "net_per_deploy": [d["net"] for d in deploys],
            "setup_seconds": summary([s["setup_seconds"] for s in states if s]),
            "rerun": summary([r["wall"] for r in reruns]),
            "builds_per_deploy": [len(d["builds"]) for d in deploys],
            "rerun_changed": [sum(s.get("changed", 0) for s in r["stats"].values()) for r in reruns],
            # ok counts every task that ran without failing, changed ones included.
            "rerun_tasks_per_node": dict((h, {"ok": reruns[-1]["stats"][h].get("ok", 0),
                                              "changed": reruns[-1]["stats"][h].get("changed", 0),
                                              "skipped": reruns[-1]["stats"][h].get("skipped", 0)}) for h in hosts),
            "load": summary([r["load"] for r in deploys + reruns]),
            "logs": [d["log"] for d in deploys] + [r["log"] for r in reruns],
        }
        self.save()

    def bench_overhead(self, kind, nodes):
        """Wall time of playbooks/benchmark.yml minus the client's own durations (per node)."""
        playbook = os.path.join(ROOT, "playbooks", "benchmark.yml")
        if not os.path.exists(playbook):
            return {"not_measured": "playbooks/benchmark.yml does not exist"}
        results = []
        for i in range(self.args.repeats):
            run_id = "perf-bench-r%d" % (i + 1)
            report_dir = os.path.join(WORK, "reports")
            shutil.rmtree(os.path.join(report_dir, run_id), ignore_errors=True)
            out = self.run.playbook("benchmark-%d-r%d" % (nodes, i + 1), playbook,
                                    ["-e", "sglang_bench_run_id=" + run_id, "-e", "sglang_bench_report_dir=" + report_dir,
                                     # The per-node sweep only: the runs through the router are a second
                                     # benchmark, not orchestration overhead of this one.
                                     "-e", json.dumps({"sglang_bench_fleet_concurrency": [], "sglang_bench_router_policies": []})]
                                    + (["-e", json.dumps(self.args.bench_vars)] if self.args.bench_vars else []),
                                    self.profiled())
            if not out["ok"]:
                return {"not_measured": "benchmark.yml failed: " + failure(out["output"]), "log": out["log"]}
            per_host, lines = {}, 0
            for path in glob.glob(os.path.join(report_dir, run_id, "raw", "*", "*.jsonl")):
                host = os.path.basename(os.path.dirname(path))
                with open(path, encoding="utf-8") as handle:
                    for line in handle:
                        if line.strip():
                            lines += 1
                            per_host[host] = per_host.get(host, 0.0) + float(json.loads(line).get("duration", 0))
            if not per_host:
                return {"not_measured": "benchmark.yml fetched no JSONL with duration values", "log": out["log"]}
            client = max(per_host.values())
            results.append({"wall": out["wall"], "client_per_host": per_host, "client_critical": client,
                            "client_runs": lines, "overhead": out["wall"] - client,
                            "overhead_ratio": (out["wall"] - client) / out["wall"], "log": out["log"],
                            "usage": out["usage"], "client_tasks": sum(
                                t for name, t in task_times(out["output"]) if name.startswith("npu.sglang.sglang_bench : Run ")),
                            "top": task_times(out["output"])[:8]})
        return {"kind": kind, "nodes": nodes, "runs": results, "wall": summary([r["wall"] for r in results]),
                "overhead": summary([r["overhead"] for r in results]),
                "overhead_ratio": summary([r["overhead_ratio"] for r in results])}

    def tuning(self, kind, path):
        """Each option against the configured baseline, interleaved, on the 3-node re-run."""
        variants = [
            ("pipelining", "pipelining=False", {"ANSIBLE_PIPELINING": "False"}, None, None),
            ("ControlPersist", "no ControlMaster/ControlPersist (a new SSH connection per task)",
             {"ANSIBLE_SSH_ARGS": "-o ServerAliveInterval=30"}, None, None),
            ("usetty", "usetty=True (a pty per command outside a module)", {"ANSIBLE_SSH_USETTY": "True"}, None, None),
            ("forks", "forks=1 (hosts one after the other)", {"ANSIBLE_FORKS": "1"}, None, None),
            ("fact caching", "fact_caching=memory", {"ANSIBLE_CACHE_PLUGIN": "memory"}, None, None),
            ("gather_subset", "gather_subset=all", {"ANSIBLE_GATHER_SUBSET": "all"}, None, None),
            # Ordering matters in the deploy (run_once facts read the other hosts' results, heads
            # start before workers), so free is tried where it does not: the preflight checks.
            ("free strategy", "strategy=free", {"ANSIBLE_STRATEGY": "free"}, "playbooks/preflight.yml", None),
        ]
        rows = []
        if not self.args.no_mitogen:
            found, reason = mitogen_python()
            if found:
                python, strategy_dir = found
                # Mitogen checks host keys itself and does not read the sim inventory's ssh options
                # (the sim nodes get new host keys at every `simctl up`).
                variants.append(("Mitogen", "strategy=mitogen_linear (mitogen %s)" % MITOGEN_VERSION,
                                 {"ANSIBLE_STRATEGY_PLUGINS": strategy_dir, "ANSIBLE_STRATEGY": "mitogen_linear",
                                  "ANSIBLE_HOST_KEY_CHECKING": "False"}, None, python))
            else:
                rows.append({"option": "Mitogen", "not_measured": reason})
        for option, label, overrides, playbook, python in variants:
            base, alt, changed = [], [], []
            failed = None
            for i in range(self.args.repeats):
                for which in ("base", "alt"):
                    tag = "tune-%s-%s-r%d" % (re.sub(r"\W+", "_", option.lower()), which, i + 1)
                    over = overrides if which == "alt" else None
                    if playbook:
                        out = self.run.playbook(tag, os.path.join(ROOT, playbook), [], over)
                    else:
                        out = self.deploy(kind, tag, over, python if which == "alt" else None, path=path)
                    if not out["ok"]:
                        failed = "%s run failed: %s (%s)" % (which, failure(out["output"]), out["log"])
                        break
                    (alt if which == "alt" else base).append(out["wall"])
                    if which == "alt":
                        changed.append(sum(s.get("changed", 0) for s in out["stats"].values()))
                if failed:
                    break
            row = {"option": option, "alternative": label,
                   "playbook": playbook or "%s re-run" % ("site.yml" if kind == "site" else "stand-in deploy"),
                   "configured": summary(base), "alt": summary(alt), "alt_changed": changed}
            if failed:
                row["not_measured"] = failed
            rows.append(row)
        return {"kind": kind, "rows": rows}

    def profile(self, kind, path):
        """Where the re-run's time goes: the slowest tasks (profile_tasks), one extra run."""
        nodes = len(self.run.nodes)
        out = self.deploy(kind, "%s-%s-profile-rerun-%d" % (kind, path, nodes), self.profiled(), path=path)
        return {"kind": kind, "path": path, "nodes": nodes, "wall": out["wall"], "top": task_times(out["output"])[:12]}

    def on_largest(self, kind, path):
        """What runs on the largest deployed cluster: the re-run profile and, with --tuning, the tuning."""
        if self.args.tuning:
            self.res["tuning"] = self.tuning(kind, path)
        self.res["profile"] = self.profile(kind, path)

    # ------------------------------------------------------------------ all of it
    def main(self):
        largest = max(self.args.nodes)
        try:
            first, reason = self.first_deploy()
            if first:
                # A first deploy that built nothing is already a deploy from the cached state.
                reuse = first if not first["builds"] else None
                first_at = (self.res["first_deploy"]["path"], self.res["first_deploy"]["nodes"])
                for path in self.args.paths:
                    for nodes in sorted(self.args.nodes, reverse=True):
                        reusing = reuse is not None and (path, nodes) == first_at
                        short = None if reusing else self.disk_ok(nodes)
                        if short:
                            self.res["skipped"]["site-%s-%d" % (path, nodes)] = short
                            continue
                        self.size_runs("site", nodes, path, reuse if reusing else None)
                        if nodes == largest and "profile" not in self.res:
                            self.on_largest("site", path)
                        if not self.args.no_bench and "bench" not in self.res:
                            self.res["bench"] = self.bench_overhead("site", nodes)
            else:
                self.res["standin_reason"] = reason
                if not self.args.no_bench:
                    self.res["bench"] = {"not_measured": "the stand-in cluster serves the CANN stand-in image, "
                                                         "which has no SGLang benchmark client (%s)" % reason}
            if not any(size["kind"] == "site" for size in self.res["sizes"].values()):
                # Scaling and the tuning on what does run here.
                self.res.setdefault("standin_reason", "no site.yml size ran: %s" % self.res["skipped"])
                for nodes in sorted(self.args.nodes, reverse=True):
                    self.size_runs("standin", nodes, "standin")
                    if nodes == largest:
                        self.on_largest("standin", "standin")
        finally:
            shutil.rmtree(os.path.join(WORK, "registry-store"), ignore_errors=True)
            if not self.args.keep:
                simctl("down")
        self.save()
        text = report(self.res)
        with open(os.path.join(WORK, "report.txt"), "w", encoding="utf-8") as handle:
            handle.write(text)
        print(text)


def machine_use(size):
    """Disk writes and CPU shares of the machine during a size's deploys (medians)."""
    written, busy, iowait = size["deploy_written_gb"], size["deploy_cpu_busy"], size["deploy_iowait"]
    return "%.1f GB written to Docker's disk (%.0f MB/s over the deploy), CPU busy %.0f%%, I/O wait %.0f%% (medians)" % (
        written["median"], 1000 * written["median"] / size["deploy"]["median"], 100 * busy["median"], 100 * iowait["median"])


STARTS_FROM = {
    "archive": "fresh nodes (only the CANN stand-in base image, as simctl up leaves them); the image archive %(archive)s "
               "in the controller's cache; no node has the image. site.yml finds the archive (no build), copies it "
               "from the controller to every node and loads it there.",
    "registry": "fresh nodes (only the CANN stand-in base image); then, untimed (%(setup)s): the sim's registry up on the "
                "private network holding every layer of the image, and the builder (node 1) holding the image, as "
                "after an earlier deploy through the registry. site.yml finds the image on the builder (no build), "
                "pushes it (every layer is already there), and nodes 2..N pull the layers they lack "
                "(sglang_build_pull_concurrency=%(concurrency)s at a time).",
    "standin": "fresh nodes; tests/perf/standin-deploy.yml serves the CANN stand-in image (no build, no distribution).",
}


def size_order(item):
    size = item[1]
    return (size["kind"] != "site", size.get("path", "archive"), size["nodes"])


def size_name(size):
    return "%s/%s" % (size["kind"], size.get("path", "archive")) if size["kind"] == "site" else "stand-in"


def path_sizes(res, path):
    return sorted((size for size in res["sizes"].values() if size.get("path", "archive") == path
                   and (size["kind"] == "site") == (path != "standin")), key=lambda size: size["nodes"])


def med(stat):
    return stat["median"] if stat else None


def path_model(res, path):
    """The fitted model of one path: deploy time and controller bytes over N, their slopes."""
    sizes = path_sizes(res, path)
    fit = perfmodel.fit_line([(s["nodes"], med(s["deploy"])) for s in sizes])
    sent = [(s["nodes"], med(s.get("controller_sent"))) for s in sizes if med(s.get("controller_sent")) is not None]
    pulled = [med(s.get("received_per_lacking_node")) for s in sizes if med(s.get("received_per_lacking_node")) is not None]
    alone = next((med(s["deploy_distribute"]) for s in sizes if s.get("deploy_distribute") and len(s.get("lacking", [])) == 1),
                 None)
    return {"sizes": sizes, "fit": fit, "sent_per_node": perfmodel.per_added_node(sent),
            "pulled_per_node": statistics.median(pulled) if pulled else None, "distribute_one_node": alone}


def deploy_section(res):
    """Section 1 of the report: per path, where each deploy starts, its time and bytes per N, the
    fitted line with its residuals and the targets."""
    out = []
    paths = [p for p in PATHS + ("standin",) if path_sizes(res, p)]
    if not paths:
        return ["not measured: %s" % (res.get("skipped") or "no deploy ran")]
    for path in paths:
        sizes = path_sizes(res, path)
        model = path_model(res, path)
        setups = [s["setup_seconds"]["median"] for s in sizes if s.get("setup_seconds")]
        out.append("%s path, starts from: %s" % (path, STARTS_FROM[path] % {
            "archive": ", ".join(res.get("cache_before") or []) or "(none)",
            "setup": ("median %s per cluster" % ", ".join("%.0fs" % v for v in setups)) if setups else "not measured",
            "concurrency": res.get("assumed", {}).get("pull_concurrency")}))
        for size in sizes:
            out.append("  N=%d: deploy %s" % (size["nodes"], fmt(size["deploy"])))
            if size.get("deploy_distribute"):
                out.append("       of which distribute tasks: %s" % fmt(size["deploy_distribute"]))
            if size.get("controller_sent"):
                out.append("       controller sent %s, received %s; each node the image went to (%s) received %s, "
                           "the builder %s (medians)" % (
                               perfmodel.human_bytes(med(size["controller_sent"])),
                               perfmodel.human_bytes(med(size.get("controller_received"))),
                               ", ".join(size.get("lacking") or []) or "none",
                               perfmodel.human_bytes(med(size.get("received_per_lacking_node"))),
                               perfmodel.human_bytes(med(size.get("received_builder")))))
            if size.get("deploy_written_gb") and size["deploy_written_gb"]["median"] is not None:
                out.append("       this machine during it: %s" % machine_use(size))
        fit = model["fit"]
        if fit:
            out.append("  fit over the medians: T(N) = %.1fs + %.1fs x N; residuals %s; T(64) = %.0fs (%.1f min) by "
                       "this line" % (fit["a"], fit["b"], ", ".join("N=%d %+.1fs" % (row[0], row[3]) for row in fit["residuals"]),
                                      perfmodel.predict(fit, 64), perfmodel.predict(fit, 64) / 60))
            out.append("  per-node deploy cost (the slope): %.1fs per added node" % fit["b"])
        else:
            out.append("  no fit: fewer than two node counts ran")
        by_n = dict((s["nodes"], med(s["deploy"])) for s in sizes)
        if 1 in by_n and 3 in by_n:
            out.append("  " + perfmodel.target_line("T3/T1", by_n[3] / by_n[1], TARGETS["t3_t1"], lambda v: "%.2f" % v))
        else:
            out.append("  T3/T1: not measured (N=1 and N=3 both needed; ran N=%s)" % sorted(by_n))
        if path != "standin":
            limit = TARGETS["controller_bytes_per_node"]
            line = perfmodel.target_line("controller bytes per added node (slope of bytes sent over N)",
                                         model["sent_per_node"], limit, perfmodel.human_bytes, below=True)
            if path == "archive":
                line = line.split("; target")[0] + " (no target on this path; the registry path's target is < %s)" % (
                    perfmodel.human_bytes(limit))
            out.append("  " + line)
            out.append("  bytes pulled per node the image went to: %s (median over N; node eth0 received, which "
                       "includes the controller's SSH traffic to it)" % perfmodel.human_bytes(model["pulled_per_node"]))
        out.append("")
    out.extend(scale_section(res))
    return out


def scale_section(res):
    """The extrapolation to 64 nodes and what it assumes, per path."""
    out = ["Extrapolation to 64 nodes"]
    assumed = res.get("assumed", {})
    gbps = assumed.get("registry_gbps") or 10.0
    bandwidth = gbps * 1e9 / 8
    concurrency = int(assumed.get("pull_concurrency") or 8)
    out.append("  assumptions: (1) the simulated nodes share this machine's one disk and %s cores, so the slope b above is "
               "an upper bound of what a node adds on a cluster where each node has its own disk and cores; (2) the "
               "fixed part a (validate, preflight, serve, the health gate) does not grow with N while N <= forks (64 in "
               "ansible.cfg); (3) the registry, and on the archive path the controller, serve at %.0f Gbit/s (assumed, "
               "--registry-gbps; not measured here: the sim's registry shares this machine's disk); (4) at most %d "
               "nodes pull at once (sglang_build_pull_concurrency, the role's default unless the inventory says "
               "otherwise); (5) bytes per node as measured here." % (res.get("machine", {}).get("cores", "?"), gbps,
                                                                     concurrency))
    for path in PATHS:
        model = path_model(res, path)
        fit = model["fit"]
        if not fit:
            continue
        line = "  %s: by the fitted line T(64) = %.0fs" % (path, perfmodel.predict(fit, 64))
        per_node = model["pulled_per_node"] if path == "registry" else model["sent_per_node"]
        floor = perfmodel.pull_bound(per_node, 63 if path == "registry" else 64, bandwidth)
        if floor is not None:
            source = "the registry" if path == "registry" else "the controller"
            line += ("; bandwidth floor: %s serves %s to each of %d nodes in at least %.0fs" % (
                source, perfmodel.human_bytes(per_node), 63 if path == "registry" else 64, floor))
        alone = model["distribute_one_node"]
        if path == "registry" and alone is not None and per_node is not None:
            rounds = perfmodel.waves(63, concurrency)
            wave = max(alone, perfmodel.pull_bound(per_node, concurrency, bandwidth))
            fixed = fit["a"] + fit["b"]  # T(1): the builder already has the image
            line += ("; with per-node disks: T(1) %.0fs + %d rounds of %d pulls x max(one pull alone here %.0fs, "
                     "%d x bytes / bandwidth %.0fs) = %.0fs" % (
                         fixed, rounds, concurrency, alone, concurrency,
                         perfmodel.pull_bound(per_node, concurrency, bandwidth), fixed + rounds * wave))
        out.append(line)
    return out


def report(res):
    out = []
    add = out.append
    mach = res["machine"]
    sizes = res["sizes"]
    add("npu.sglang performance (make perf), %s .. %s" % (res["started"], res["finished"]))
    add("machine: %d cores (%s), %.1f GiB memory, %.0f GB free on the Docker disk at the start, kernel %s, "
        "Docker %s; %s, Python %s" % (mach["cores"], mach["cpu"] or "?", mach["memory_gib"], mach["disk_free_gb"],
                                      mach["kernel"], mach["docker"], mach["ansible"], mach["python"]))
    load = res["load_during"]
    add("load average (1 min): %s at the start; during the runs min %.1f, median %.1f, max %.1f" % (
        " ".join("%.2f" % x for x in mach["load_at_start"]), load["min"], load["median"], max(load["runs"])))
    add("configured (ansible.cfg): " + ", ".join("%s=%s" % kv for kv in sorted(res["configured"].items())))
    add("every figure: min and median of %d runs; 'site' = site.yml (validate, preflight, container spec, "
        "build, distribute, serve)" % res["repeats"])
    if any(v["kind"] == "standin" for v in sizes.values()):
        add("'stand-in' = tests/perf/standin-deploy.yml: preflight.yml + serve.yml of the CANN stand-in image with "
            "the API simulator, no build or distribute stage. Measured because: %s" % res.get("standin_reason"))
    for key, why in sorted(res["skipped"].items()):
        add("%s not measured: %s" % (key, why))
    first = res.get("first_deploy")

    add("")
    add("1. Deploy from the same starting state, per image distribution path (fresh nodes every time)")
    for line in deploy_section(res):
        add("   " + line if line else "")
    add("")
    add("2. Source builds per deploy (hosts sglang_build/tasks/build.yml was included for)")
    if first and first.get("ok"):
        add("   first deploy on %d fresh node(s), image %s, cache %s: %d build(s) %s, %.1fs" % (
            first["nodes"], first.get("image"), "had it" if not first["builds"] else "did not have it",
            len(first["builds"]), first["builds"], first["wall"]))
    cached = [b for key, size in sorted(sizes.items()) if size["kind"] == "site" for b in size["builds_per_deploy"]]
    if first and first.get("ok"):
        add("   (the first deploy went through the %s path)" % first.get("path", "archive"))
    if cached:
        add("   site.yml deploys from the cached state: %s build(s) each" % cached)
        good = all(b == 0 for b in cached) and (not first or len(first["builds"]) <= 1)
        add("   target one build per stack fingerprint (0 when the image is cached): %s" % verdict(good))
    else:
        add("   not measured: site.yml did not run to the end here (%s)" % res.get("standin_reason"))

    add("")
    add("3. Idempotent re-run (the same cluster right after the deploy)")
    for key, size in sorted(sizes.items(), key=size_order):
        name = size_name(size)
        rr = size["rerun"]["median"] / size["deploy"]["median"]
        changed = size["rerun_changed"]
        add("   %-8s %d node(s): %s; changed per run %s; re-run/deploy = %.0f%% (medians); target changed=0 "
            "and <= %.0f%%: %s" % (name, size["nodes"], fmt(size["rerun"]), changed, 100 * rr, 100 * TARGETS["rerun_ratio"],
                                   verdict(all(c == 0 for c in changed) and rr <= TARGETS["rerun_ratio"])))

    add("")
    add("4. Tasks executed per node in the re-run (recap ok, which includes changed; skipped apart)")
    for key, size in sorted(sizes.items(), key=size_order):
        name = size_name(size)
        add("   %-8s %d node(s): " % (name, size["nodes"]) + ", ".join("%s ok=%d changed=%d skipped=%d" % (
            h, v["ok"], v["changed"], v["skipped"]) for h, v in sorted(size["rerun_tasks_per_node"].items())))

    add("")
    add("5. Benchmark-playbook overhead (wall time of playbooks/benchmark.yml minus the client's own durations)")
    bench = res.get("bench")
    if not bench:
        add("   not measured: --no-bench")
    elif "not_measured" in bench:
        add("   not measured: " + bench["not_measured"])
    else:
        for i, run in enumerate(bench["runs"]):
            add("   run %d on %d node(s): wall %.1fs, %d client runs, client durations per node %s, overhead %.1fs = %.1f%%" % (
                i + 1, bench["nodes"], run["wall"], run["client_runs"],
                dict((h, round(v, 1)) for h, v in sorted(run["client_per_host"].items())),
                run["overhead"], 100 * run["overhead_ratio"]))
        ratio = bench["overhead_ratio"]["median"]
        add("   overhead: %s; ratio median %.1f%%; target <= %.0f%%: %s" % (
            fmt(bench["overhead"]), 100 * ratio, 100 * TARGETS["bench_overhead"], verdict(ratio <= TARGETS["bench_overhead"])))
        add("   (the nodes run in parallel: the client time subtracted is the largest per-node sum)")
        last = bench["runs"][-1]
        if last.get("client_tasks"):
            inside = last["client_tasks"] - last["client_critical"]
            add("   where run %d's overhead went: %.1fs inside the client-run tasks beyond the client's durations "
                "(container start, imports, tokenizer, prompt generation, warm-up, the slowest node's wait), "
                "%.1fs in the playbook's other tasks" % (len(bench["runs"]), inside, last["overhead"] - inside))
        if last.get("usage"):
            add("   this machine during run %d: CPU busy %.0f%%, I/O wait %.0f%% (the clients and the simulated "
                "servers share its %d cores)" % (len(bench["runs"]), 100 * last["usage"]["cpu_busy"],
                                                 100 * last["usage"]["iowait"], mach["cores"]))
        if bench["runs"][-1].get("top"):
            add("   slowest tasks of run %d (profile_tasks; a client run's task includes its container start):" % len(bench["runs"]))
            for name, secs in bench["runs"][-1]["top"]:
                add("   %6.2fs  %s" % (secs, name))

    add("")
    tuning = res.get("tuning")
    if not tuning:
        add("6. Ansible tuning: not measured (it runs with --tuning)")
    else:
        add("6. Ansible tuning on the largest cluster (%s): each option against the configured ansible.cfg, runs interleaved" % (
            "site.yml, %s path" % tuning.get("path", "archive") if tuning["kind"] == "site" else "stand-in"))
        for row in tuning["rows"]:
            if not row.get("configured"):
                add("   %-15s not measured: %s" % (row["option"], row.get("not_measured")))
                continue
            base, alt = row["configured"], row["alt"]
            add("   %-15s on the %s" % (row["option"], row["playbook"]))
            add("   %-15s   configured: %s" % ("", fmt(base)))
            add("   %-15s   %s: %s" % ("", row["alternative"], fmt(alt)))
            if base and alt:
                add("   %-15s   alternative/configured = %.2f (medians); changed in the alternative's runs %s" % (
                    "", alt["median"] / base["median"], row["alt_changed"]))
            if row.get("not_measured"):
                add("   %-15s   %s" % ("", row["not_measured"]))

    add("")
    prof = res.get("profile")
    if prof:
        add("7. Where a %d-node re-run (%s) spends its time (profile_tasks: wall time of each task; one extra run of %.1fs)" % (
            prof.get("nodes", 3), "site.yml, %s path" % prof.get("path", "archive") if prof["kind"] == "site" else "stand-in",
            prof["wall"]))
        for name, secs in prof["top"]:
            add("   %6.2fs  %s" % (secs, name))
    add("")
    add("logs: %s; figures as JSON: %s" % (os.path.relpath(LOG_DIR, ROOT), os.path.relpath(os.path.join(WORK, "results.json"), ROOT)))
    return "\n".join(out) + "\n"


def csv_of(kind):
    """An argparse type: a comma-separated list of `kind`, in the order given, without repeats."""
    def parse(text):
        values = []
        for item in text.split(","):
            value = kind(item.strip())
            if value not in values:
                values.append(value)
        return values
    return parse


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=2, help="runs of every figure (at least 2)")
    parser.add_argument("--chips", type=int, default=8)
    parser.add_argument("--mode", choices=["auto", "site", "standin"], default="auto",
                        help="site: site.yml must converge; standin: measure preflight + serve of the CANN "
                             "stand-in; auto: site.yml, else the stand-in")
    parser.add_argument("--paths", type=csv_of(str), default=list(PATHS),
                        help="image distribution paths to deploy through, in this order (default archive,registry)")
    parser.add_argument("--nodes", type=csv_of(int), default=[1, 2, 3],
                        help="node counts of the deploys of each path (default 1,2,3; a fit needs two)")
    parser.add_argument("--tuning", action="store_true",
                        help="also try the Ansible tuning options on the largest cluster (about 25 more minutes)")
    parser.add_argument("--no-tuning", dest="tuning", action="store_false", help="the default")
    parser.add_argument("--registry-gbps", type=float, default=10.0,
                        help="the registry's (and the controller's) bandwidth assumed for the 64-node extrapolation")
    parser.add_argument("--no-bench", action="store_true")
    parser.add_argument("--no-mitogen", action="store_true")
    parser.add_argument("--keep", action="store_true", help="leave the last private cluster up")
    parser.add_argument("--timeout", type=int, default=5400,
                        help="seconds a single playbook may take (a cold deploy builds the image)")
    parser.add_argument("--bench-vars", type=json.loads, default={},
                        help="extra vars of the benchmark playbook as JSON (default: none, the role's own sweep)")
    parser.add_argument("--report-only", action="store_true", help="print the report of the last results.json")
    args = parser.parse_args(argv)
    if args.report_only:
        with open(os.path.join(WORK, "results.json"), encoding="utf-8") as handle:
            print(report(json.load(handle)))
        return 0
    unknown = [p for p in args.paths if p not in PATHS]
    if unknown or not args.paths:
        parser.error("--paths %s: each must be one of %s" % (",".join(args.paths), ",".join(PATHS)))
    if not args.nodes or min(args.nodes) < 1:
        parser.error("--nodes %s: node counts of at least 1" % ",".join(str(n) for n in args.nodes))
    if args.repeats < 2:
        parser.error("--repeats must be at least 2: the machine is shared, one run proves little")
    os.makedirs(WORK, exist_ok=True)
    shutil.rmtree(LOG_DIR, ignore_errors=True)
    Perf(args).main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
