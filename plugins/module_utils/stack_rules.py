# -*- coding: utf-8 -*-
# Copyright: npu.sglang maintainers
# Apache-2.0 (see the collection's LICENSE)
"""The stack matrix: which CANN, Python, torch, torch_npu and triton-ascend go together.

One place for these rules. The validation play checks a profile (plus overrides) with them before
any host is contacted (config_rules.rule_stack_versions), and the build checks what a container
really has with them, before the install and again after the last build step
(filter npu.sglang.stack_problems).
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# triton-ascend release -> the CANN release (major.minor) it is built against. Sources: the
# triton-ascend release notes and SGLang's NPU install guide (3.2.0rc2 with CANN 8.2, 3.2.0rc4
# with CANN 8.3, 3.2.0 with CANN 8.5); docs/real-hardware.md lists where each was verified.
TRITON_ASCEND_CANN = {
    "3.2.0rc2": "8.2",
    "3.2.0rc4": "8.3",
    "3.2.0": "8.5",
}

# Distributions the profile pins, by profile key: what the build installs at these versions and
# what must still be at them when the build ends.
PINNED_DISTRIBUTIONS = {
    "torch": "torch",
    "torchvision": "torchvision",
    "torch_npu": "torch-npu",
    "triton_ascend": "triton-ascend",
    "pybind11": "pybind11",
}


def release(version):
    """(major, minor, micro) of a version: 2.6.0.post3 -> (2, 6, 0); 2.6.0+cpu -> (2, 6, 0);
    8.2.RC1 -> (8, 2, 0); None when it is empty or not a version."""
    if not version:
        return None
    match = re.match(r"^\s*v?(\d+)(?:\.(\d+))?(?:\.(\d+))?", str(version))
    if not match:
        return None
    return tuple(int(p or 0) for p in match.groups())


def cann_minor(text):
    """'8.2' of a CANN version such as 8.2.RC1 or 8.2.0; '' when it is not one."""
    parts = release(text)
    return "%d.%d" % parts[:2] if parts else ""


def _canonical(version):
    return re.sub(r"[-_.]?(rc|post|dev)[-_.]?", r"\1", str(version or "").strip().lower())


def profile_problems(stack):
    """Problems of a profile's own pins (no host needed): [(keys, reason, fix)]."""
    problems = []
    torch, torch_npu = stack.get("torch"), stack.get("torch_npu")
    if torch and torch_npu and release(torch) != release(torch_npu):
        problems.append((
            {"torch": torch, "torch_npu": torch_npu},
            "torch and torch_npu must be the same release (torch_npu is built against one torch)",
            "set both to one release, e.g. torch 2.6.0 with torch_npu 2.6.0 (or a published 2.6.0.postN)"))
    triton, cann = stack.get("triton_ascend"), stack.get("cann")
    wants = TRITON_ASCEND_CANN.get(_canonical(triton))
    if triton and cann and wants and wants != cann_minor(cann):
        problems.append((
            {"triton_ascend": triton, "cann": cann},
            "triton-ascend %s is built for CANN %s, not CANN %s" % (triton, wants, cann),
            "use the triton-ascend of CANN %s (%s)" % (
                cann_minor(cann), ", ".join(sorted(k for k, v in TRITON_ASCEND_CANN.items() if v == cann_minor(cann)))
                or "none known: see docs/real-hardware.md")))
    return problems


def container_problems(stack, found, what, container):
    """Problems of what a container has against the profile.

    found: {python, cann, torch, torch_npu, triton_ascend, ...} as read in the container (None or
    '' for what is not installed yet). what: 'The base image' or 'The built image'.
    """
    problems = []
    name = stack.get("name", "?")
    if found.get("python") and str(found["python"]) != str(stack.get("python")):
        problems.append(
            "%s %s has Python %s, but the stack %s needs Python %s: torch_npu wheels are built per Python "
            "version; use a base image with Python %s (docker_npu_image) or a stack profile for this Python."
            % (what, container, found["python"], name, stack.get("python"), stack.get("python")))
    if found.get("cann") and stack.get("cann") and cann_minor(found["cann"]) != cann_minor(stack["cann"]):
        problems.append(
            "%s %s has CANN %s, but the stack %s is pinned for CANN %s (torch_npu and triton-ascend are "
            "built per CANN release): use the profile's base image (%s) or a profile for CANN %s."
            % (what, container, found["cann"], name, stack["cann"], stack.get("base_image"), found["cann"]))
    if found.get("torch") and found.get("torch_npu") and release(found["torch"]) != release(found["torch_npu"]):
        problems.append(
            "%s %s has torch %s and torch_npu %s, different releases: torch_npu only works with the torch "
            "release it was built for; set npu_stack_overrides torch and torch_npu to matching versions."
            % (what, container, found["torch"], found["torch_npu"]))
    return problems


def same_version(have, want):
    """have is want: equal public versions (a +local label on have counts only if want has one)."""
    if not have or not want:
        return False
    have, want = _canonical(have), _canonical(want)
    if "+" not in want:
        have = have.split("+", 1)[0]
    return have == want


def moved_packages(stack, installed):
    """[(key, distribution, pinned, installed)] of every pinned distribution not at its pin."""
    moved = []
    for key, dist in sorted(PINNED_DISTRIBUTIONS.items()):
        pinned = stack.get(key)
        if pinned and not same_version(installed.get(key), pinned):
            moved.append((key, dist, pinned, installed.get(key)))
    return moved


def pins(stack, skip=()):
    """[{key, name, version}] of the profile's pinned distributions (on the package index)."""
    return [dict(key=key, name=dist, version=str(stack[key]))
            for key, dist in sorted(PINNED_DISTRIBUTIONS.items()) if stack.get(key) and key not in skip]


def sources(stack):
    """[{name, repo, ref}] of the profile's git sources (<name>_repo, <name>_ref)."""
    return [dict(name=name, repo=str(stack.get(name + "_repo", "")), ref=str(stack.get(name + "_ref", "")))
            for name in stack.get("sources", [])]
