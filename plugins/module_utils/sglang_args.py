# -*- coding: utf-8 -*-
# Copyright: npu.sglang maintainers
# Apache-2.0 (see the collection's LICENSE)
"""SGLang's command-line contract, read from the source of a release (no import, no torch).

read_options(source) walks SGLang's server_args.py (or bench_serving.py) with `ast` and returns
every option its argparse parser defines: the option strings, whether it takes a value, and its
choices when the source gives them as literals. check_argv(options, argv) then says what in a
command line that release would refuse, in argparse's own words. The launch-contract test reads
the server's argv against the release a profile builds; the API simulator refuses what the
release in its image refuses. Standard library only, so the simulator can carry this file.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ast
import io
import tarfile
import zipfile

SERVER_ARGS = "sglang/srt/server_args.py"

# argparse actions that take no value.
_FLAG_ACTIONS = ("store_true", "store_false", "store_const", "count", "help", "version")


def _literal(node, names):
    """The value of a literal (or of a module-level name bound to one), else None."""
    if isinstance(node, ast.Name) and node.id in names:
        return names[node.id]
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _module_literals(tree):
    names = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = _literal(node.value, names)
            if value is not None:
                names[node.targets[0].id] = value
    return names


def read_options(source):
    """{option string: {'takes_value': bool, 'choices': list or None, 'dest': str}} of every
    add_argument call in source whose first arguments are '--' option strings."""
    tree = ast.parse(source)
    names = _module_literals(tree)
    options = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "add_argument"):
            continue
        flags = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        if not flags or not all(f.startswith("-") for f in flags):
            continue
        keywords = dict((k.arg, k.value) for k in node.keywords if k.arg)
        action = _literal(keywords["action"], names) if "action" in keywords else "store"
        nargs = _literal(keywords["nargs"], names) if "nargs" in keywords else None
        choices = _literal(keywords["choices"], names) if "choices" in keywords else None
        if choices is not None:
            # A set literal has no order of its own: sorted, so that the contract is stable.
            choices = sorted(choices, key=str) if isinstance(choices, (set, frozenset)) else choices
            choices = [str(c) for c in choices] if isinstance(choices, (list, tuple)) else None
        takes_value = action not in _FLAG_ACTIONS and nargs != 0
        if not isinstance(action, str):  # a custom Action class: it takes a value unless nargs=0
            takes_value = nargs != 0
        long_flags = [f for f in flags if f.startswith("--")] or flags
        dest = (_literal(keywords["dest"], names) if "dest" in keywords else None) \
            or long_flags[0].lstrip("-").replace("-", "_")
        for flag in flags:
            options[flag] = {"takes_value": bool(takes_value), "choices": choices, "dest": dest,
                             "nargs": nargs}
    return options


def check_argv(options, argv):
    """What the release refuses in argv (the arguments after the program): [(flag, message)], each
    message in argparse's own words; unknown flags come last, together, as argparse says them."""
    problems = []
    unknown = []
    index = 0
    while index < len(argv):
        arg = argv[index]
        index += 1
        if not arg.startswith("--"):
            continue
        flag, has_inline, inline = arg.partition("=")
        spec = options.get(flag)
        if spec is None:
            unknown.append(arg)
            continue
        if not spec["takes_value"]:
            continue
        values = []
        if has_inline:
            values = [inline]
        elif spec["nargs"] in ("+", "*") or isinstance(spec["nargs"], int):
            while index < len(argv) and not argv[index].startswith("--"):
                values.append(argv[index])
                index += 1
        elif index < len(argv):
            values = [argv[index]]
            index += 1
        else:
            problems.append((flag, "argument %s: expected one argument" % flag))
            continue
        for value in values:
            if spec["choices"] is not None and value not in spec["choices"]:
                problems.append((flag, "argument %s: invalid choice: %r (choose from %s)"
                                 % (flag, value, ", ".join(repr(c) for c in spec["choices"]))))
    if unknown:
        problems.append((unknown[0].partition("=")[0], "unrecognized arguments: %s" % " ".join(unknown)))
    return problems


def server_args_source(path):
    """The text of sglang/srt/server_args.py inside a wheel, an sdist or a source tree at path."""
    if path.endswith(".whl"):
        with zipfile.ZipFile(path) as archive:
            return archive.read(SERVER_ARGS).decode("utf-8")
    if path.endswith((".tar.gz", ".tgz")):
        with tarfile.open(path) as archive:
            for member in archive.getmembers():
                if member.name.endswith("/" + SERVER_ARGS) and member.name.count("/") <= 5:
                    return io.TextIOWrapper(archive.extractfile(member), encoding="utf-8").read()
        raise ValueError("%s has no %s" % (path, SERVER_ARGS))
    for candidate in (SERVER_ARGS, "python/" + SERVER_ARGS):
        full = "%s/%s" % (path.rstrip("/"), candidate)
        try:
            with open(full, encoding="utf-8") as handle:
                return handle.read()
        except OSError:
            continue
    raise ValueError("%s has no %s" % (path, SERVER_ARGS))


def contract(release, source_name, options):
    """The checked-in contract of a release: what validation reads instead of the source."""
    return {"release": release, "source": source_name,
            "options": dict((flag, dict(spec)) for flag, spec in sorted(options.items()))}
