# Run inside the serving image by role sglang_bench (python3 -c "$(cat this)" < plan.json): every
# load point of one sweep in one container. The client module is imported once here, so its
# heavy imports (transformers, numpy, aiohttp; torch where the client pulls it in) and the
# tokenizer are loaded once; each run is a forked child that executes the module as
# `python -m <module> <args>` would, with the per-run timeout enforced here. Each run leaves
# beside its JSONL a .log (stdout, then stderr) and a .meta.json (the plan's fields plus status,
# rc, error, start, end); at the end the sweep's files are packed into one tar for one fetch.
#
# The plan (JSON on stdin): {"module", "timeout", "kill_after", "archive", "runs": [{"name",
# "args", "output_file", "log_file", "meta_file", "tokenizer", "meta"}]}.
import atexit
import datetime
import importlib
import io
import json
import os
import runpy
import signal
import sys
import tarfile
import time
import traceback

POLL_S = 0.05


def say(text):
    sys.stdout.write("bench-driver: %s\n" % text)
    sys.stdout.flush()


def stamp():
    # The format of Ansible's command module (start/end of a run as meta.json had them).
    return datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")


def memoize_tokenizers():
    """Make AutoTokenizer.from_pretrained return the object an earlier call with the same
    arguments loaded: a tokenizer loaded here before the forks is then reused by every run."""
    transformers = sys.modules.get("transformers")
    auto = getattr(transformers, "AutoTokenizer", None) if transformers else None
    if auto is None:
        return False
    load = auto.from_pretrained
    cache = {}

    def from_pretrained(*args, **kwargs):
        try:
            key = json.dumps([args, kwargs], sort_keys=True)
        except (TypeError, ValueError):
            return load(*args, **kwargs)
        if key not in cache:
            cache[key] = load(*args, **kwargs)
        return cache[key]

    auto.from_pretrained = from_pretrained
    return True


def preload(module_name, tokenizers):
    """Import the client once (its dependencies stay in sys.modules for the children) and load
    each tokenizer through the client's own get_tokenizer, when it has one."""
    started = time.monotonic()
    try:
        client = importlib.import_module(module_name)
    except BaseException as exc:  # pylint: disable=broad-except
        # Each run fails on its own with the client's message, as a separate process would.
        say("cannot import %s (%s); each run tries on its own" % (module_name, exc))
        return
    # The children execute the module afresh as __main__; left in sys.modules, runpy would warn
    # that it was imported before its execution.
    sys.modules.pop(module_name, None)
    say("imported %s in %.1f s" % (module_name, time.monotonic() - started))
    get_tokenizer = getattr(client, "get_tokenizer", None)
    if not memoize_tokenizers() or not callable(get_tokenizer):
        return
    for path in tokenizers:
        started = time.monotonic()
        try:
            get_tokenizer(path)
        except BaseException as exc:  # pylint: disable=broad-except
            say("cannot preload the tokenizer %s (%s); each run loads it" % (path, exc))
            continue
        say("loaded the tokenizer %s in %.1f s" % (path, time.monotonic() - started))


def exit_code(exc):
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    sys.stderr.write("%s\n" % (code,))
    return 1


def child(module_name, args, out_path, err_path):
    """The forked run: the client as `python -m module args` with its output in two files."""
    os.setpgid(0, 0)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    for path, fd in ((out_path, 1), (err_path, 2)):
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(handle, fd)
        os.close(handle)
    code = 0
    try:
        sys.argv = [module_name] + list(args)
        runpy.run_module(module_name, run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = exit_code(exc)
    except BaseException:  # pylint: disable=broad-except
        traceback.print_exc()
        code = 1
    try:
        atexit._run_exitfuncs()  # pylint: disable=protected-access
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # pylint: disable=broad-except
                pass
        os._exit(code)


def kill(pid, sig):
    try:
        os.killpg(pid, sig)
    except OSError:
        pass


def wait(pid, timeout, kill_after):
    """The child's exit code (128 + signal when killed) and whether the timeout ended it."""
    deadline = time.monotonic() + timeout
    timed_out = False
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        now = time.monotonic()
        if now >= deadline:
            if not timed_out:
                timed_out = True
                kill(pid, signal.SIGTERM)
                deadline = now + kill_after
            else:
                kill(pid, signal.SIGKILL)
                deadline = now + 3600
        time.sleep(POLL_S)
    kill(pid, signal.SIGKILL)  # whatever the client left running in its group
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status), timed_out
    return os.WEXITSTATUS(status), timed_out


def read_text(path):
    try:
        with io.open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except (IOError, OSError):
        return ""


def remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def run_one(plan, run):
    for path in (run["output_file"], run["log_file"], run["meta_file"]):
        remove(path)
    err_path = run["log_file"] + ".stderr"
    start, started = stamp(), time.monotonic()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        child(plan["module"], run["args"], run["log_file"], err_path)
    rc, timed_out = wait(pid, float(plan["timeout"]), float(plan.get("kill_after", 30)))
    end, took = stamp(), time.monotonic() - started
    stdout, stderr = read_text(run["log_file"]).rstrip("\r\n"), read_text(err_path).rstrip("\r\n")
    remove(err_path)
    with io.open(run["log_file"], "w", encoding="utf-8") as handle:
        handle.write("%s\n%s\n" % (stdout, stderr))
    has_result = os.path.isfile(run["output_file"]) and os.path.getsize(run["output_file"]) > 0
    ok = rc == 0 and has_result and not timed_out
    error = None
    if not ok:
        error = "timed out after %s s" % plan["timeout"] if timed_out else "exit code %d" % rc
        error += "" if has_result else ", no result line"
        error += ": " + " | ".join(stderr.splitlines()[-3:])
    meta = dict(run.get("meta") or {})
    meta.update({"status": "ok" if ok else "failed", "rc": rc, "error": error, "start": start, "end": end})
    with io.open(run["meta_file"], "w", encoding="utf-8") as handle:
        handle.write(json.dumps(meta, indent=4, sort_keys=True) + "\n")
    say("%s: %s, %.1f s" % (run["name"], "done" if ok else "FAILED (%s)" % error.split(":")[0], took))
    return [path for path in (run["output_file"], run["log_file"], run["meta_file"]) if os.path.isfile(path)]


def pack(archive, paths):
    """One uncompressed tar of the sweep's files, by base name, readable by anyone on extraction."""
    partial = archive + ".part"
    with tarfile.open(partial, "w") as tar:
        for path in paths:
            info = tar.gettarinfo(path, arcname=os.path.basename(path))
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mode = 0o644
            with open(path, "rb") as handle:
                tar.addfile(info, handle)
    os.rename(partial, archive)


def main():
    plan = json.load(sys.stdin)
    runs = plan["runs"]
    tokenizers = []
    for run in runs:
        if run.get("tokenizer") and run["tokenizer"] not in tokenizers:
            tokenizers.append(run["tokenizer"])
    preload(plan["module"], tokenizers)
    remove(plan["archive"])
    files = []
    for run in runs:
        files += run_one(plan, run)
    pack(plan["archive"], files)
    say("%d run(s), %d file(s) in %s" % (len(runs), len(files), plan["archive"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
