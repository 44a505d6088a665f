# -*- coding: utf-8 -*-
# Copyright: npu.sglang maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Read serving-benchmark results of any shape and normalise them to one record schema.

Inputs understood:

* sglang ``bench_serving --output-file`` JSONL, one run per line, of every version seen so far
  (2024 lines with 18 keys, 2025/2026 lines with ``tag``, ``server_info``, p90/p95 keys and
  ``total_throughput``). ``Infinity`` and ``NaN`` (not strict JSON) are accepted.
* ``vllm bench serve --save-result`` JSON, one object per run (``failed``, ``*_e2el_ms``,
  ``total_token_throughput``), also when several are appended one per line.
* accuracy ``result.jsonl`` lines of sglang's ``benchmark/mmlu`` and ``benchmark/gsm8k``.
* saved console output of either client: every "Serving Benchmark Result" block of a file
  becomes a run, whatever the version's lines and padding. A console file is read only when no
  JSON result of the same run (same directory and file stem) exists.
* ``<run>.meta.json`` beside a result: the command, the server flags and what the run asked for.
  A meta file whose ``status`` is ``failed`` and whose result is absent or unreadable becomes a
  failed run (its ``error`` says why), so a run that crashed shows as failed, never as zero.

Every run becomes a plain dict with the keys of ``RECORD_FIELDS``. A value the input does not
carry is ``None``, never ``0``. A run that completed no request has ``status`` ``failed`` and no
throughput or latency figures. A file that cannot be read raises ``BenchParseError`` naming the
file and the line; ``collect_inputs`` turns those into a list of skipped inputs.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import math
import os
import re

from ansible_collections.npu.sglang.plugins.module_utils import bench_metrics

ENGINES = ("sglang", "vllm")
# The figures of a run come from the metric registry (module_utils/bench_metrics.py).
METRICS = tuple(metric.key for metric in bench_metrics.LATENCIES)
STATS = bench_metrics.LATENCY_STATS
METRIC_TITLES = bench_metrics.latency_titles()
THROUGHPUT_FIELDS = bench_metrics.rate_fields()
LATENCY_FIELDS = bench_metrics.latency_fields()
_IDENTITY_FIELDS = ("host", "run", "engine", "backend", "status", "simulated", "model", "dataset",
                    "max_concurrency", "request_rate", "num_prompts", "completed", "failed", "duration")
_DETAIL_FIELDS = ("random_input_len", "random_output_len", "total_input_tokens", "total_output_tokens",
                  "achieved_concurrency", "accept_length", "peak_output_throughput", "peak_concurrent_requests",
                  "source_file", "source_line", "source_format", "derived", "command", "server_flags",
                  "hbm_used_mb", "run_id", "error")
RECORD_FIELDS = _IDENTITY_FIELDS + THROUGHPUT_FIELDS + LATENCY_FIELDS + _DETAIL_FIELDS
ACCURACY_FIELDS = ("host", "task", "accuracy", "latency", "num_requests", "backend", "simulated", "source_file", "source_line")

STATUS_OK = "ok"
STATUS_PARTIAL = "partial"
STATUS_FAILED = "failed"

RESULT_EXTENSIONS = (".jsonl", ".json", ".txt", ".log")
META_SUFFIX = ".meta.json"

_NONE_WORDS = ("", "none", "null", "nan", "n/a", "na", "-", "not set", "unset")
_INF_WORDS = ("inf", "+inf", "infinity", "+infinity")


class BenchParseError(Exception):
    """A result file that cannot be read. Carries the file and, when known, the line."""

    def __init__(self, path, line, message):
        self.path = path
        self.line = line
        self.message = message
        where = path if line is None else "%s:%d" % (path, line)
        super(BenchParseError, self).__init__("%s: %s" % (where, message))


def new_record():
    """An empty run record: every field present, every value unknown."""
    record = dict((name, None) for name in RECORD_FIELDS)
    record["simulated"] = False
    record["derived"] = []
    return record


# --------------------------------------------------------------------------- value helpers

def _number(value, path, line, key):
    """A float (or int) from a JSON or console value; None for missing/NaN; raise for garbage."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise BenchParseError(path, line, "%s: expected a number, got %r" % (key, value))
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _NONE_WORDS:
            return None
        if text in _INF_WORDS:
            return float("inf")
        try:
            parsed = float(text)
        except ValueError:
            raise BenchParseError(path, line, "%s: expected a number, got %r" % (key, value))
        if math.isnan(parsed):
            return None
        if parsed.is_integer() and re.match(r"^[+-]?\d+$", text):
            return int(parsed)
        return parsed
    raise BenchParseError(path, line, "%s: expected a number, got %r" % (key, value))


def _integer(value, path, line, key):
    """An int from a value that must be a whole number (or missing)."""
    number = _number(value, path, line, key)
    if number is None:
        return None
    if isinstance(number, float):
        if math.isinf(number) or not number.is_integer():
            raise BenchParseError(path, line, "%s: expected a whole number, got %r" % (key, value))
        number = int(number)
    return number


def _text(value):
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def engine_of_backend(backend, default):
    """The serving engine a client backend name points at (sglang-oai -> sglang, vllm-chat -> vllm)."""
    name = (backend or "").strip().lower()
    for engine in ENGINES:
        if name.startswith(engine):
            return engine
    return default


# --------------------------------------------------------------------------- JSON objects

_JSON_LATENCY_NAMES = bench_metrics.json_latency_names()
_JSON_LATENCY_KEY = re.compile(r"^(?P<stat>mean|median|std|p\d+(?:\.\d+)?)_(?P<metric>%s)_ms$"
                               % "|".join(re.escape(name) for name in sorted(_JSON_LATENCY_NAMES, key=len, reverse=True)))
_VLLM_ONLY_KEYS = ("failed", "total_token_throughput", "endpoint_type", "burstiness", "model_id", "request_goodput", "max_output_tokens_per_s")
_RUN_KEYS = ("completed", "output_throughput", "request_throughput", "duration")


def _metric_name(raw):
    return _JSON_LATENCY_NAMES.get(raw) or _CONSOLE_LATENCY_NAMES.get(raw, raw)


def _stat_name(raw):
    if raw == "p50":
        return "median"
    return raw


def classify_object(obj):
    """What one JSON object is: ``accuracy``, ``vllm``, ``sglang`` or None (unknown)."""
    if not isinstance(obj, dict):
        return None
    has_run_keys = any(key in obj for key in _RUN_KEYS)
    if "accuracy" in obj and not has_run_keys:
        return "accuracy"
    if not has_run_keys:
        return None
    if any(key in obj for key in _VLLM_ONLY_KEYS) or any(key.endswith("_e2el_ms") for key in obj):
        return "vllm"
    return "sglang"


def record_from_object(obj, kind, path, line):
    """Map one sglang or vLLM result object to a raw record (not yet normalised)."""
    record = new_record()
    record["source_format"] = "sglang-jsonl" if kind == "sglang" else "vllm-json"
    record["source_line"] = line
    record["backend"] = _text(obj.get("backend")) or _text(obj.get("endpoint_type"))
    record["engine"] = engine_of_backend(record["backend"], kind)
    record["run"] = _text(obj.get("tag")) or _text(obj.get("label"))
    record["dataset"] = _text(obj.get("dataset_name"))
    model = obj.get("model_id") or obj.get("model")
    server_info = obj.get("server_info")
    if not model and isinstance(server_info, dict):
        model = server_info.get("served_model_name") or server_info.get("model_path")
        if not model:
            for part in ("prefill", "decode"):
                nodes = server_info.get(part)
                if isinstance(nodes, list) and nodes and isinstance(nodes[0], dict):
                    model = nodes[0].get("served_model_name") or nodes[0].get("model_path")
                    if model:
                        break
    record["model"] = _text(model)
    record["request_rate"] = _number(obj.get("request_rate"), path, line, "request_rate")
    for key in ("max_concurrency", "num_prompts", "completed", "failed", "total_input_tokens",
                "total_output_tokens", "random_input_len", "random_output_len"):
        record[key] = _integer(obj.get(key), path, line, key)
    record["duration"] = _number(obj.get("duration"), path, line, "duration")
    for metric in bench_metrics.RATES:
        name, value = bench_metrics.json_rate(obj, metric)
        record[metric.key] = _number(value, path, line, name)
    record["achieved_concurrency"] = _number(obj.get("concurrency"), path, line, "concurrency")
    accept = obj.get("accept_length")
    if accept is None:
        accept = obj.get("spec_decode_acceptance_length")
    record["accept_length"] = _number(accept, path, line, "accept_length")
    record["peak_output_throughput"] = _number(obj.get("max_output_tokens_per_s"), path, line, "max_output_tokens_per_s")
    record["peak_concurrent_requests"] = _number(obj.get("max_concurrent_requests"), path, line, "max_concurrent_requests")
    for key, value in obj.items():
        match = _JSON_LATENCY_KEY.match(key)
        if not match:
            continue
        stat = _stat_name(match.group("stat"))
        field = "%s_%s_ms" % (_metric_name(match.group("metric")), stat)
        if field not in record:
            continue
        if stat == "median" and match.group("stat") == "p50" and obj.get(key.replace("p50_", "median_")) is not None:
            continue
        record[field] = _number(value, path, line, key)
    if obj.get("simulated") is True:
        record["simulated"] = True
    return record


def accuracy_from_object(obj, path, line):
    """Map one accuracy line (``{"task": "mmlu", "accuracy": ..., "latency": ...}``)."""
    entry = dict((name, None) for name in ACCURACY_FIELDS)
    entry["task"] = _text(obj.get("task"))
    entry["accuracy"] = _number(obj.get("accuracy"), path, line, "accuracy")
    entry["latency"] = _number(obj.get("latency"), path, line, "latency")
    entry["num_requests"] = _integer(obj.get("num_requests"), path, line, "num_requests")
    entry["backend"] = _text(obj.get("backend"))
    entry["simulated"] = obj.get("simulated") is True
    entry["source_line"] = line
    return entry


def _loads(text):
    # Python's json accepts Infinity, -Infinity and NaN by default; say so explicitly.
    return json.loads(text, parse_constant=lambda name: float(name.replace("Infinity", "inf")))


def parse_json_text(text, path):
    """Runs and accuracy entries of a JSON or JSONL text. Returns (runs, accuracy)."""
    objects = []
    stripped = text.strip()
    if not stripped:
        raise BenchParseError(path, None, "empty file")
    whole = None
    try:
        whole = _loads(stripped)
    except ValueError:
        whole = None
    if isinstance(whole, dict):
        objects.append((1, whole))
    elif isinstance(whole, list):
        for index, item in enumerate(whole, 1):
            objects.append((index, item))
    else:
        for number, raw_line in enumerate(text.splitlines(), 1):
            if not raw_line.strip():
                continue
            try:
                objects.append((number, _loads(raw_line)))
            except ValueError as exc:
                raise BenchParseError(path, number, "not valid JSON (%s)" % exc)
    runs = []
    accuracy = []
    for number, obj in objects:
        kind = classify_object(obj)
        if kind is None:
            raise BenchParseError(path, number, "not a benchmark result: no completed/output_throughput/accuracy key")
        if kind == "accuracy":
            accuracy.append(accuracy_from_object(obj, path, number))
        else:
            runs.append(record_from_object(obj, kind, path, number))
    return runs, accuracy


# --------------------------------------------------------------------------- console output

_BANNER = re.compile(r"^(?P<prefix>.*?)=+\s*Serving Benchmark Result\s*=+\s*$")
_END_RULE = re.compile(r"^\s*={10,}\s*$")
_SECTION_RULE = re.compile(r"^\s*-{3,}.*-{3,}\s*$")
_KEY_VALUE = re.compile(r"^\s*(?P<label>[A-Za-z#][^:]*?)\s*:\s*(?P<value>.*?)\s*$")
_CONSOLE_LATENCY_NAMES = bench_metrics.console_latency_names()
_CONSOLE_LATENCY = re.compile(r"^(?P<stat>mean|median|std|max|p\d+(?:\.\d+)?)\s+(?P<metric>%s)\s*\(ms\)$"
                              % "|".join(re.escape(name) for name in sorted(_CONSOLE_LATENCY_NAMES, key=len, reverse=True)))
_NAMESPACE = re.compile(r"Namespace\((?P<args>.*)\)")
_NAMESPACE_ARG = re.compile(r"(\w+)=('[^']*'|\"[^\"]*\"|[^,()]+)")

# label (lower case, single spaces) -> (record field, kind)
_CONSOLE_LABELS = {
    "backend": ("backend", "text"),
    "traffic request rate": ("request_rate", "number"),
    "request rate configured (rps)": ("request_rate", "number"),
    "max request concurrency": ("max_concurrency", "integer"),
    "maximum request concurrency": ("max_concurrency", "integer"),
    "successful requests": ("completed", "integer"),
    "failed requests": ("failed", "integer"),
    "benchmark duration (s)": ("duration", "number"),
    "total input tokens": ("total_input_tokens", "integer"),
    "total generated tokens": ("total_output_tokens", "integer"),
    "concurrency": ("achieved_concurrency", "number"),
    "accept length": ("accept_length", "number"),
    "peak output token throughput (tok/s)": ("peak_output_throughput", "number"),
    "peak concurrent requests": ("peak_concurrent_requests", "number"),
}
_CONSOLE_LABELS.update((label, (key, "number")) for label, key in bench_metrics.console_rate_labels().items())
# Lines printed before the block that still describe the run (vLLM prints these there).
_PREAMBLE_LABELS = ("backend", "traffic request rate", "max request concurrency", "maximum request concurrency")
_NAMESPACE_FIELDS = {
    "backend": ("backend", "text"),
    "num_prompts": ("num_prompts", "integer"),
    "max_concurrency": ("max_concurrency", "integer"),
    "request_rate": ("request_rate", "number"),
    "random_input_len": ("random_input_len", "integer"),
    "random_output_len": ("random_output_len", "integer"),
    "dataset_name": ("dataset", "text"),
    "model": ("model", "text"),
}


def _norm_label(label):
    return " ".join(label.lower().split())


def _set_console_value(record, field, kind, value, path, line, label):
    if kind == "text":
        record[field] = _text(value)
    elif kind == "integer":
        record[field] = _integer(value, path, line, label)
    else:
        record[field] = _number(value, path, line, label)


def _read_preamble(lines, start, stop, path):
    """Values printed before a result block: Namespace(...) arguments and vLLM's header lines."""
    found = {}
    for index in range(start, stop):
        text = lines[index]
        number = index + 1
        namespace = _NAMESPACE.search(text)
        if namespace:
            for name, raw in _NAMESPACE_ARG.findall(namespace.group("args")):
                if name in _NAMESPACE_FIELDS:
                    raw = raw.strip().strip("'\"")
                    field, kind = _NAMESPACE_FIELDS[name]
                    try:
                        holder = {}
                        _set_console_value(holder, field, kind, raw, path, number, name)
                        found[field] = holder[field]
                    except BenchParseError:
                        continue
            continue
        match = _KEY_VALUE.match(text)
        if match and _norm_label(match.group("label")) in _PREAMBLE_LABELS:
            field, kind = _CONSOLE_LABELS[_norm_label(match.group("label"))]
            holder = {}
            try:
                _set_console_value(holder, field, kind, match.group("value"), path, number, match.group("label"))
            except BenchParseError:
                continue
            found[field] = holder[field]
    return found


def parse_console_text(text, path):
    """One raw record per "Serving Benchmark Result" block of a saved console output."""
    lines = text.splitlines()
    records = []
    index = 0
    preamble_start = 0
    while index < len(lines):
        banner = _BANNER.match(lines[index])
        if not banner:
            index += 1
            continue
        prefix = banner.group("prefix")
        banner_line = index + 1
        record = new_record()
        record["source_line"] = banner_line
        preamble = _read_preamble(lines, preamble_start, index, path)
        seen = set()
        index += 1
        closed = False
        while index < len(lines):
            raw = lines[index]
            if prefix and raw.startswith(prefix):
                raw = raw[len(prefix):]
            number = index + 1
            index += 1
            if _BANNER.match(raw):
                raise BenchParseError(path, number, "a new result block starts before the block of line %d ends" % banner_line)
            if _END_RULE.match(raw):
                closed = True
                break
            if _SECTION_RULE.match(raw):
                continue
            match = _KEY_VALUE.match(raw)
            if not match:
                continue
            label = _norm_label(match.group("label"))
            value = match.group("value")
            if label in _CONSOLE_LABELS:
                field, kind = _CONSOLE_LABELS[label]
                _set_console_value(record, field, kind, value, path, number, match.group("label"))
                seen.add(label)
                continue
            latency = _CONSOLE_LATENCY.match(label)
            if latency:
                stat = _stat_name(latency.group("stat"))
                field = "%s_%s_ms" % (_metric_name(latency.group("metric").replace(" ", "_")), stat)
                number_value = _number(value, path, number, match.group("label"))
                if field in record:
                    record[field] = number_value
        if not closed:
            raise BenchParseError(path, banner_line, "result block is not closed by a '=====' line (truncated output?)")
        if "successful requests" not in seen:
            raise BenchParseError(path, banner_line, "result block has no 'Successful requests' line")
        for field, value in preamble.items():
            if record.get(field) is None:
                record[field] = value
        client = "sglang" if "backend" in seen else "vllm"
        if "failed requests" in seen:
            client = "vllm"
        record["source_format"] = "%s-console" % client
        record["engine"] = engine_of_backend(record["backend"], client)
        records.append(record)
        preamble_start = index
    if not records:
        raise BenchParseError(path, None, "no 'Serving Benchmark Result' block found")
    return records


# --------------------------------------------------------------------------- normalisation

def apply_meta(record, meta):
    """Fill a record from the run's ``<run>.meta.json`` (the command that made it)."""
    if not meta:
        return record
    engine = _text(meta.get("engine"))
    if engine:
        record["engine"] = engine.lower()
    if record.get("backend") is None and _text(meta.get("backend")):
        record["backend"] = _text(meta.get("backend"))
    for source, field in (("num_prompts", "num_prompts"), ("max_concurrency", "max_concurrency"),
                          ("input_len", "random_input_len"), ("output_len", "random_output_len"),
                          ("random_input_len", "random_input_len"), ("random_output_len", "random_output_len")):
        if record.get(field) is None and meta.get(source) is not None:
            try:
                record[field] = _integer(meta.get(source), "meta", None, source)
            except BenchParseError:
                pass
    if record.get("request_rate") is None and meta.get("request_rate") is not None:
        try:
            record["request_rate"] = _number(meta.get("request_rate"), "meta", None, "request_rate")
        except BenchParseError:
            pass
    for field in ("dataset", "model"):
        if record.get(field) is None and _text(meta.get(field)):
            record[field] = _text(meta.get(field))
    if meta.get("simulated") is True:
        record["simulated"] = True
    command = meta.get("command")
    if isinstance(command, list):
        command = " ".join(str(part) for part in command)
    record["command"] = _text(command)
    flags = meta.get("server_flags")
    if isinstance(flags, list):
        flags = " ".join(str(part) for part in flags)
    elif isinstance(flags, dict):
        # A /server_info dump lists every setting; unset and off ones say nothing.
        flags = " ".join("%s=%s" % (key, json.dumps(flags[key]) if isinstance(flags[key], (dict, list)) else flags[key])
                         for key in sorted(flags) if flags[key] not in (None, False, "", [], {}))
    record["server_flags"] = _text(flags)
    if meta.get("hbm_used_mb") is not None:
        try:
            record["hbm_used_mb"] = _number(meta.get("hbm_used_mb"), "meta", None, "hbm_used_mb")
        except BenchParseError:
            pass
    record["run_id"] = _text(meta.get("run_id")) or record.get("run_id")
    if _text(meta.get("error")) and record.get("error") is None:
        record["error"] = _text(meta.get("error"))
    if _text(meta.get("host")):
        record["host"] = _text(meta.get("host"))
    if _text(meta.get("run")):
        record["run"] = _text(meta.get("run"))
    return record


def normalise(record):
    """Derive what the input left out, settle ``failed`` and ``status``."""
    derived = list(record.get("derived") or [])
    duration = record.get("duration")
    completed = record.get("completed")
    has_time = duration is not None and not math.isinf(duration) and duration > 0
    if has_time and completed:
        for field, amount in (("request_throughput", completed),
                              ("input_throughput", record.get("total_input_tokens")),
                              ("output_throughput", record.get("total_output_tokens"))):
            if record.get(field) is None and amount is not None:
                record[field] = amount / duration
                derived.append(field)
    if record.get("total_throughput") is None and completed:
        if record.get("input_throughput") is not None and record.get("output_throughput") is not None:
            record["total_throughput"] = record["input_throughput"] + record["output_throughput"]
            derived.append("total_throughput")
    requested = record.get("num_prompts")
    if requested is not None and completed is not None:
        record["failed"] = max(0, requested - completed)
    if completed == 0:
        record["status"] = STATUS_FAILED
        for field in THROUGHPUT_FIELDS + LATENCY_FIELDS + ("achieved_concurrency", "accept_length", "peak_output_throughput"):
            record[field] = None
        derived = []
    elif record.get("failed"):
        record["status"] = STATUS_PARTIAL
    else:
        record["status"] = STATUS_OK
    record["derived"] = derived
    if record.get("engine"):
        record["engine"] = record["engine"].lower()
    return record


# --------------------------------------------------------------------------- files and trees

def _stem(path):
    name = os.path.basename(path)
    for suffix in (META_SUFFIX,) + RESULT_EXTENSIONS:
        if name.lower().endswith(suffix):
            return name[:-len(suffix)]
    return os.path.splitext(name)[0]


def meta_path_for(path):
    return os.path.join(os.path.dirname(path), _stem(path) + META_SUFFIX)


def load_meta(path):
    """The dict of a ``.meta.json`` file; raise BenchParseError when it is not one."""
    try:
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8", "replace")
        meta = _loads(text)
    except ValueError as exc:
        raise BenchParseError(path, None, "not valid JSON (%s)" % exc)
    except (IOError, OSError) as exc:
        raise BenchParseError(path, None, "cannot be read (%s)" % exc)
    if not isinstance(meta, dict):
        raise BenchParseError(path, None, "run metadata must be a JSON object")
    return meta


def host_for(relpath, fallback):
    """``raw/<host>/...`` or ``accuracy/<host>/...`` gives the host; else the parent dir name."""
    parts = [part for part in relpath.replace("\\", "/").split("/") if part]
    for index, part in enumerate(parts[:-1]):
        if part in ("raw", "accuracy") and index + 1 < len(parts) - 1:
            return parts[index + 1]
    if len(parts) >= 2:
        return parts[-2]
    return fallback


def parse_file(path, display=None, host=None, meta=None):
    """Runs and accuracy entries of one result file, normalised. Returns (runs, accuracy).

    ``display`` is the name used in records and errors (a path relative to the input dir).
    """
    shown = display or path
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except (IOError, OSError) as exc:
        raise BenchParseError(shown, None, "cannot be read (%s)" % exc)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BenchParseError(shown, None, "not UTF-8 text")
    lower = path.lower()
    if lower.endswith(".json") or lower.endswith(".jsonl"):
        runs, accuracy = parse_json_text(text, shown)
    elif _BANNER.search(text) is None and text.lstrip().startswith("{"):
        runs, accuracy = parse_json_text(text, shown)
    else:
        runs, accuracy = parse_console_text(text, shown), []
    stem = _stem(path)
    if len(runs) > 1:
        for record in runs:
            if not record["run"]:
                record["run"] = "%s#%d" % (stem, record["source_line"])
    for record in runs:
        record["run"] = record["run"] or stem
        record["host"] = host
        record["source_file"] = shown
        apply_meta(record, meta)
        normalise(record)
    for entry in accuracy:
        entry["host"] = host
        entry["source_file"] = shown
        if not entry["task"]:
            entry["task"] = stem
        if meta and meta.get("simulated") is True:
            entry["simulated"] = True
        if meta and _text(meta.get("host")):
            entry["host"] = _text(meta.get("host"))
    return runs, accuracy


class InputSet(object):
    """What ``collect_inputs`` found: runs, accuracy entries and skipped files."""

    def __init__(self):
        self.runs = []
        self.accuracy = []
        self.skipped = []

    def skip(self, error):
        self.skipped.append({"file": error.path, "line": error.line, "error": error.message})


def _inside(path, directory):
    path = os.path.realpath(path)
    directory = os.path.realpath(directory)
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def record_from_meta(meta, host, display):
    """The failed run a ``.meta.json`` describes when its result is absent or unreadable."""
    record = new_record()
    record["run"] = _stem(display)
    record["host"] = host
    record["source_file"] = display
    record["source_format"] = "meta"
    record["engine"] = _text(meta.get("engine"))
    record["completed"] = 0
    apply_meta(record, meta)
    if record.get("error") is None:
        record["error"] = "the run left no result"
    return normalise(record)


def _is_json_result(name):
    lower = name.lower()
    return (lower.endswith(".json") or lower.endswith(".jsonl")) and not lower.endswith(META_SUFFIX)


def _meta_failed(meta):
    return isinstance(meta, dict) and str(meta.get("status") or "").lower() == STATUS_FAILED


def collect_inputs(input_dir, exclude=None):
    """Parse every result file under ``input_dir`` (recursively); bad files are skipped, not fatal.

    Per directory and run (file stem): the JSON result wins over saved console output of the same
    run; a meta file that says the run failed stands for the run when no result can be read.
    """
    found = InputSet()
    root = os.path.abspath(input_dir)
    fallback_host = os.path.basename(root.rstrip(os.sep)) or "localhost"
    excluded = [os.path.abspath(item) for item in (exclude or []) if item]
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(name for name in subdirs
                            if not name.startswith(".") and not any(_inside(os.path.join(directory, name), item) for item in excluded))
        visible = sorted(name for name in files if not name.startswith("."))
        json_stems = set(_stem(name) for name in visible if _is_json_result(name))
        result_stems = set()
        metas = {}

        def meta_for(path):
            meta_file = meta_path_for(path)
            if meta_file in metas:
                return metas[meta_file]
            meta = None
            if os.path.isfile(meta_file):
                try:
                    meta = load_meta(meta_file)
                except BenchParseError as exc:
                    exc.path = os.path.relpath(meta_file, root).replace(os.sep, "/")
                    found.skip(exc)
            metas[meta_file] = meta
            return meta

        for name in visible:
            lower = name.lower()
            if lower.endswith(META_SUFFIX) or not lower.endswith(RESULT_EXTENSIONS):
                continue
            stem = _stem(name)
            if not _is_json_result(name) and stem in json_stems:
                continue  # saved console output of a run whose JSON result is here
            path = os.path.join(directory, name)
            relpath = os.path.relpath(path, root).replace(os.sep, "/")
            host = host_for(relpath, fallback_host)
            meta = meta_for(path)
            result_stems.add(stem)
            try:
                runs, accuracy = parse_file(path, display=relpath, host=host, meta=meta)
            except BenchParseError as exc:
                if _meta_failed(meta):
                    record = record_from_meta(meta, host, relpath)
                    record["error"] = "%s (%s)" % (record["error"], exc)
                    found.runs.append(record)
                else:
                    found.skip(exc)
                continue
            found.runs.extend(runs)
            found.accuracy.extend(accuracy)
        for name in visible:
            if not name.lower().endswith(META_SUFFIX) or _stem(name) in result_stems:
                continue
            path = os.path.join(directory, name)
            meta = meta_for(path)
            if _meta_failed(meta):
                relpath = os.path.relpath(path, root).replace(os.sep, "/")
                found.runs.append(record_from_meta(meta, host_for(relpath, fallback_host), relpath))
    return found
