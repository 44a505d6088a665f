# -*- coding: utf-8 -*-
# Copyright: npu.sglang maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Plan and command lines of the benchmark runs (role sglang_bench), as pure functions.

* ``bench_targets``: the servers of a node to benchmark, read from the instance resolver's
  output (module_utils/instances.py): the settings the units run with;
* ``bench_runs``: one run per target and load point, with the client's arguments;
* ``client_args``: the arguments of ``sglang.bench_serving`` / ``sglang.benchmark.serving``;
* ``docker_run``: the ``docker run`` argv of the client container (or of a server container
  built from the docker_npu spec);
* ``vllm_server_args``: vLLM's OpenAI server arguments matching an SGLang instance;
* ``redact``: a copy of a server's ``/server_info`` without secrets (SGLang echoes its API key).

The filter plugin ``npu.sglang.sglang_bench`` exposes these to the role; the unit tests and the
fidelity test call them directly.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.npu.sglang.plugins.module_utils.container import npu_options
from ansible_collections.npu.sglang.plugins.module_utils.config_rules import option_value
from ansible_collections.npu.sglang.plugins.module_utils.launch import LAUNCH_FLAGS
from ansible_collections.npu.sglang.plugins.module_utils.redaction import drop as redact

# Client modules, newest name first (sglang.bench_serving became a shim of the second).
CLIENT_MODULES = ("sglang.benchmark.serving", "sglang.bench_serving")

# Launch settings a target carries besides the resolver's own keys, read from the server's launch
# line: those of the launch table (module_utils/launch.py), then flags only extra_args can give.
TARGET_SETTINGS = ("model_path", "served_model_name", "mem_fraction_static")
TARGET_FLAGS = (("max_running_requests", "--max-running-requests"), ("context_length", "--context-length"))
# Values under these keys are counters and timings of the moment, not flags.
STATE_KEYS = ("internal_states", "decode", "prefill")
RUN_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


class BenchPlanError(ValueError):
    """A setting that makes the plan impossible; the message names it and the fix."""


def _set(value):
    """Whether a setting is given (None and "" are not)."""
    return value is not None and value != ""


def _int(value, name, minimum=None):
    if isinstance(value, bool):
        raise BenchPlanError("%s must be an integer, got %r" % (name, value))
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise BenchPlanError("%s must be an integer, got %r" % (name, value))
    if isinstance(value, float) and not value.is_integer():
        raise BenchPlanError("%s must be an integer, got %r" % (name, value))
    if minimum is not None and number < minimum:
        raise BenchPlanError("%s must be >= %d, got %r" % (name, minimum, value))
    return number


def _first_set(*values):
    return next((value for value in values if _set(value)), None)


def bench_targets(resolved, select=None, image=None, profiler_dir=None, deployed=None):
    """The servers to benchmark on one node: the instance resolver's output, without secrets.

    ``resolved``: the list npu.sglang.resolve_instances returns (fact sglang_service_resolved,
    module_utils/instances.py), the very settings the units run with. ``select``: names to keep
    (empty: all). ``image`` / ``profiler_dir``: the benchmark's own overrides (sglang_bench_image,
    sglang_bench_profiler_dir), used when set. ``deployed``: {name: the server as the resolver
    recorded it at deploy time (<config dir>/<name>.json)}, whose image serves when neither the
    override nor this run's resolution names one. Each target keeps the resolver's name, port, image,
    devices, tp, profiler_dir and auth, and adds model_path, served_model_name,
    mem_fraction_static, max_running_requests and context_length as its launch line gives them.
    """
    if not isinstance(resolved, list) or not resolved:
        raise BenchPlanError("no server resolved on this host: sglang_service_instances is empty, "
                             "or npu.sglang.resolve_instances has not run")
    targets = []
    for index, instance in enumerate(resolved):
        if not isinstance(instance, dict) or not _set(instance.get("name")) or not isinstance(instance.get("argv"), list):
            raise BenchPlanError("server %d is not an output of npu.sglang.resolve_instances: %r" % (index, instance))
        name = str(instance["name"])
        argv = instance["argv"]
        target = {"name": name,
                  "port": _int(instance.get("port"), "port of instance %s" % name, 1),
                  "image": _first_set(image, instance.get("image"), (deployed or {}).get(name, {}).get("image")),
                  "devices": [_int(chip, "devices of instance %s" % name) for chip in instance.get("devices") or []],
                  "tp": _int(instance.get("tp"), "tp of instance %s" % name, 1),
                  "profiler_dir": profiler_dir if _set(profiler_dir) else instance.get("profiler_dir"),
                  "auth": bool(instance.get("auth"))}
        for key, flag, _kind, _rule in LAUNCH_FLAGS:
            if key in TARGET_SETTINGS:
                target[key] = option_value(argv, flag) or ""
        for key, flag in TARGET_FLAGS:
            target[key] = option_value(argv, flag)
        targets.append(target)
    names = [target["name"] for target in targets]
    wanted = [str(item) for item in (select or [])]
    unknown = [item for item in wanted if item not in names]
    if unknown:
        raise BenchPlanError("sglang_bench_instances names %s, but this host serves only %s"
                             % (", ".join(unknown), ", ".join(names)))
    if wanted:
        targets = [target for target in targets if target["name"] in wanted]
    return targets


def num_prompts_for(concurrency, num_prompts=None, per_concurrency=4, minimum=32):
    """Prompts of one run: ``num_prompts`` when set, else max(minimum, per_concurrency x c).

    Several rounds of the concurrency make the steady state dominate the ramp-up and drain; the
    minimum keeps low concurrencies from measuring a handful of requests.
    """
    if _set(num_prompts):
        return _int(num_prompts, "sglang_bench_num_prompts", 1)
    concurrency = _int(concurrency, "concurrency", 1)
    return max(_int(minimum, "sglang_bench_min_prompts", 1), _int(per_concurrency, "sglang_bench_prompts_per_concurrency", 1) * concurrency)


def _rate_text(rate):
    if rate is None or rate == "":
        return "inf"
    text = str(rate).strip().lower()
    if text in ("inf", "infinity", "+inf"):
        return "inf"
    try:
        value = float(text)
    except ValueError:
        raise BenchPlanError("sglang_bench_request_rate must be a positive number or inf, got %r" % (rate,))
    if value <= 0:
        raise BenchPlanError("sglang_bench_request_rate must be a positive number or inf, got %r" % (rate,))
    return "%g" % value


def _flag_supported(flag, supported):
    return not supported or flag in supported


def client_args(options, supported=None):
    """Arguments of the benchmark client (what follows ``python3 -m <module>``).

    ``options`` keys: backend, host, port, dataset_name, dataset_path, tokenizer, model,
    num_prompts, input_len, output_len, range_ratio, request_rate, max_concurrency,
    warmup_requests, seed, output_file, profile, disable_tqdm, extra_args.
    ``supported``: the flags the client's ``--help`` lists; optional flags it lacks (older
    clients have no ``--warmup-requests``) are left out. Returns (args, dropped flags).
    """
    supported = set(supported or [])
    dropped = []
    args = ["--backend", str(options.get("backend") or "sglang"),
            "--host", str(options.get("host") or "127.0.0.1"),
            "--port", str(_int(options.get("port"), "port", 1))]
    dataset = str(options.get("dataset_name") or "random-ids")
    args += ["--dataset-name", dataset]
    if _set(options.get("dataset_path")):
        args += ["--dataset-path", str(options["dataset_path"])]
    elif dataset in ("random", "sharegpt"):
        raise BenchPlanError("dataset %s downloads ShareGPT unless sglang_bench_dataset_path names a local copy; "
                             "set it, or use random-ids (needs only the tokenizer)" % dataset)
    if _set(options.get("model")):
        args += ["--model", str(options["model"])]
    if not _set(options.get("tokenizer")):
        raise BenchPlanError("no tokenizer: set sglang_bench_tokenizer or the instance's model path "
                             "(a path that does not exist is taken for a hub id and downloaded)")
    args += ["--tokenizer", str(options["tokenizer"])]
    args += ["--num-prompts", str(_int(options.get("num_prompts"), "num_prompts", 1))]
    args += ["--random-input-len", str(_int(options.get("input_len"), "sglang_bench_input_len", 1)),
             "--random-output-len", str(_int(options.get("output_len"), "sglang_bench_output_len", 1))]
    ratio = options.get("range_ratio")
    ratio = 1.0 if ratio is None or ratio == "" else float(ratio)
    if not 0.0 <= ratio <= 1.0:
        raise BenchPlanError("sglang_bench_range_ratio must be within 0..1 (1.0 = fixed lengths), got %r" % ratio)
    args += ["--random-range-ratio", "%g" % ratio]
    args += ["--request-rate", _rate_text(options.get("request_rate"))]
    if _set(options.get("max_concurrency")):
        args += ["--max-concurrency", str(_int(options["max_concurrency"], "max_concurrency", 1))]
    if _set(options.get("seed")):
        args += ["--seed", str(_int(options["seed"], "sglang_bench_seed"))]
    if _set(options.get("warmup_requests")):
        if _flag_supported("--warmup-requests", supported):
            args += ["--warmup-requests", str(_int(options["warmup_requests"], "sglang_bench_warmup_requests", 0))]
        else:
            dropped.append("--warmup-requests")
    if not _set(options.get("output_file")):
        raise BenchPlanError("every run needs its own --output-file")
    args += ["--output-file", str(options["output_file"])]
    if options.get("disable_tqdm", True):
        if _flag_supported("--disable-tqdm", supported):
            args.append("--disable-tqdm")
        else:
            dropped.append("--disable-tqdm")
    if options.get("profile"):
        args.append("--profile")
    extra = options.get("extra_args") or []
    if not isinstance(extra, list):
        raise BenchPlanError("sglang_bench_extra_args must be a list of arguments, got %r" % (extra,))
    args += [str(item) for item in extra]
    return args, dropped


def run_name(instance, engine, input_len, output_len, concurrency, label=None):
    """File-safe name of one run: <instance>_<engine>[_<label>]_in<in>_out<out>_c<c>."""
    parts = [instance, engine] + ([label] if label else []) + ["in%s" % input_len, "out%s" % output_len, "c%s" % concurrency]
    return RUN_NAME.sub("-", "_".join(str(part) for part in parts))


def bench_runs(targets, settings, supported=None):
    """One run per target and load point: its name, parameters and client arguments.

    ``settings`` keys: engine (sglang or vllm), backend, host, concurrency (list), num_prompts,
    prompts_per_concurrency, min_prompts, input_len, output_len, range_ratio, request_rate,
    warmup_requests, seed, dataset_name, dataset_path, tokenizer, model, node_dir, extra_args,
    profile, label, port (overrides the target's, for a vLLM server on its own port).
    """
    engine = settings.get("engine") or "sglang"
    concurrencies = settings.get("concurrency")
    if not isinstance(concurrencies, list) or not concurrencies:
        raise BenchPlanError("sglang_bench_concurrency must be a non-empty list of positive integers, got %r" % (concurrencies,))
    concurrencies = [_int(item, "sglang_bench_concurrency", 1) for item in concurrencies]
    if len(set(concurrencies)) != len(concurrencies):
        raise BenchPlanError("sglang_bench_concurrency lists a value twice: %r" % (concurrencies,))
    node_dir = str(settings.get("node_dir") or "").rstrip("/")
    if not node_dir:
        raise BenchPlanError("no node directory for the results (sglang_bench_node_dir)")
    input_len = _int(settings.get("input_len"), "sglang_bench_input_len", 1)
    output_len = _int(settings.get("output_len"), "sglang_bench_output_len", 1)
    runs = []
    for target in targets:
        port = settings.get("port") if _set(settings.get("port")) else target["port"]
        tokenizer = settings.get("tokenizer") if _set(settings.get("tokenizer")) else target.get("model_path")
        model = settings.get("model") if _set(settings.get("model")) else None
        for concurrency in concurrencies:
            name = run_name(target["name"], engine, input_len, output_len, concurrency, settings.get("label"))
            num_prompts = num_prompts_for(concurrency, settings.get("num_prompts"),
                                          settings.get("prompts_per_concurrency", 4), settings.get("min_prompts", 32))
            output_file = "%s/%s.jsonl" % (node_dir, name)
            args, dropped = client_args({
                "backend": settings.get("backend") or engine,
                "host": settings.get("host"),
                "port": port,
                "dataset_name": settings.get("dataset_name"),
                "dataset_path": settings.get("dataset_path"),
                "tokenizer": tokenizer,
                "model": model,
                "num_prompts": num_prompts,
                "input_len": input_len,
                "output_len": output_len,
                "range_ratio": settings.get("range_ratio"),
                "request_rate": settings.get("request_rate"),
                "max_concurrency": concurrency,
                "warmup_requests": settings.get("warmup_requests"),
                "seed": settings.get("seed"),
                "output_file": output_file,
                "profile": settings.get("profile", False),
                "extra_args": settings.get("extra_args"),
            }, supported)
            runs.append({
                "name": name,
                "instance": target["name"],
                "engine": engine,
                "backend": settings.get("backend") or engine,
                "port": _int(port, "port", 1),
                "max_concurrency": concurrency,
                "num_prompts": num_prompts,
                "input_len": input_len,
                "output_len": output_len,
                "dataset": settings.get("dataset_name") or "random-ids",
                "request_rate": _rate_text(settings.get("request_rate")),
                "tokenizer": tokenizer,
                "output_file": output_file,
                "client_args": args,
                "dropped_flags": dropped,
                "auth": target.get("auth", False),
                "image": target.get("image"),
                "model_path": target.get("model_path"),
                "profile": bool(settings.get("profile", False)),
            })
    return runs


def _volume_target(volume):
    parts = str(volume).split(":")
    return parts[1] if len(parts) > 1 else parts[0]


# Where a container finds its secrets file, and the loader that exports its KEY=value lines
# inside the container: passed with --env-file instead, the values would be stored in the
# container's configuration (docker inspect, containerd's metadata) and outlive the container.
SECRET_ENV_PATH = "/run/secrets/npu-sglang.env"
SECRET_ENV_LOADER = ('while IFS= read -r line || [ -n "$line" ]; do case "$line" in *=*) '
                     'export "${line%%%%=*}=${line#*=}";; esac; done < %s; exec "$@"' % SECRET_ENV_PATH)


def docker_run(spec, image, command, name=None, env=None, env_file=None, volumes=None, workdir=None,
               detach=False, npu=False, remove=True, docker="docker", interactive=False):
    """The ``docker run`` argv of a container from the docker_npu spec.

    Always the host network (the client reaches the server on the node's loopback) and the
    spec's volumes and environment; ``npu`` adds the spec's devices, privileges and shm (for a
    server). ``volumes`` are added unless the spec already mounts something at their target.
    ``env`` is merged over the spec's; secrets belong in ``env_file``, never in ``env``: that
    file is mounted read-only and exported by the container's shell before ``command`` runs.
    ``interactive`` keeps the container's stdin open (-i), for a command that reads its input there.
    """
    spec = dict(spec or {})
    if not _set(image):
        raise BenchPlanError("no image to run: set sglang_service_image (or deploy with sglang_build first)")
    if not isinstance(command, list) or not command:
        raise BenchPlanError("the container command must be a non-empty list")
    argv = [docker, "run"]
    if detach:
        argv.append("-d")
    if interactive:
        argv.append("-i")
    if remove:
        argv.append("--rm")
    if name:
        argv += ["--name", str(name)]
    argv += ["--network", "host"]
    if npu:
        argv += npu_options(spec)
    mounted = []
    for volume in list(spec.get("volumes") or []) + list(volumes or []):
        target = _volume_target(volume)
        if target in mounted:
            continue
        mounted.append(target)
        argv += ["-v", str(volume)]
    merged = dict(spec.get("env") or {})
    merged.update(env or {})
    for key in sorted(merged):
        if merged[key] is None:
            continue
        argv += ["-e", "%s=%s" % (key, merged[key])]
    if env_file:
        argv += ["-v", "%s:%s:ro" % (env_file, SECRET_ENV_PATH)]
    if workdir:
        argv += ["-w", str(workdir)]
    argv.append(str(image))
    if env_file:
        argv += ["sh", "-c", SECRET_ENV_LOADER, "npu-sglang-secrets"]
    argv += [str(item) for item in command]
    return argv


def vllm_server_args(target, settings):
    """vLLM OpenAI server arguments matching an SGLang instance (same model, chips, memory share).

    ``settings``: port, host, served_model_name, max_model_len, max_num_seqs, extra_args,
    gpu_memory_utilization (default: the instance's mem_fraction_static).
    """
    if not _set(target.get("model_path")):
        raise BenchPlanError("instance %s has no model path to serve with vLLM" % target.get("name"))
    args = ["--model", str(target["model_path"]),
            "--host", str(settings.get("host") or "127.0.0.1"),
            "--port", str(_int(settings.get("port"), "sglang_bench_vllm_port", 1))]
    served = settings.get("served_model_name") if _set(settings.get("served_model_name")) else target.get("served_model_name")
    if _set(served):
        args += ["--served-model-name", str(served)]
    tp = target.get("tp") or (len(target["devices"]) if target.get("devices") else None)
    if tp:
        args += ["--tensor-parallel-size", str(_int(tp, "tp", 1))]
    memory = settings.get("gpu_memory_utilization")
    if not _set(memory):
        memory = target.get("mem_fraction_static")
    if _set(memory):
        memory = float(memory)
        if not 0.0 < memory <= 1.0:
            raise BenchPlanError("the vLLM memory share must be within (0, 1], got %r" % memory)
        args += ["--gpu-memory-utilization", "%g" % memory]
    max_len = settings.get("max_model_len") if _set(settings.get("max_model_len")) else target.get("context_length")
    if _set(max_len):
        args += ["--max-model-len", str(_int(max_len, "max_model_len", 1))]
    seqs = settings.get("max_num_seqs") if _set(settings.get("max_num_seqs")) else target.get("max_running_requests")
    if _set(seqs):
        args += ["--max-num-seqs", str(_int(seqs, "max_num_seqs", 1))]
    extra = settings.get("extra_args") or []
    if not isinstance(extra, list):
        raise BenchPlanError("sglang_bench_vllm_extra_args must be a list, got %r" % (extra,))
    return args + [str(item) for item in extra]


def server_flags(info):
    """The launch settings of a ``/server_info`` answer: redacted, without the state of the moment."""
    if not isinstance(info, dict):
        return {}
    return dict((key, value) for key, value in redact(info).items() if key not in STATE_KEYS)
