#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: npu.sglang maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: git_refs
short_description: Check that git refs exist in their repositories, without cloning
version_added: "0.1.0"
description:
  - For each source, asks its repository (a URL or a local path, as the build will fetch it) whether
    the ref exists, with C(git ls-remote). A branch, a tag or an advertised commit (or a prefix of
    one) is found there.
  - A full commit id that no ref points at is fetched alone (C(git fetch --depth 1 --filter=blob:none))
    into a temporary repository that is removed afterwards; servers such as GitHub serve any commit
    of the repository this way, a plain mirror only the commits its refs point at.
  - Read-only; the temporary repository is the only thing written.
options:
  sources:
    description: The sources to check.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The source's name in the stack profile (for the message).
        type: str
        required: true
      repo:
        description: Repository URL or path.
        type: str
        required: true
      ref:
        description: Branch, tag or commit id.
        type: str
        required: true
attributes:
  check_mode:
    description: Asks the repositories the same way in check mode; it never changes anything.
    support: full
  diff_mode:
    description: Returns no diff; the module changes nothing.
    support: none
author:
  - npu.sglang maintainers (@npu-sglang)
"""

EXAMPLES = r"""
- name: Check the profile's git refs
  npu.sglang.git_refs:
    sources:
      - {name: sglang, repo: "https://github.com/sgl-project/sglang.git", ref: v0.4.9}
"""

RETURN = r"""
sources:
  description: One entry per source, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The source's name.
      type: str
    repo:
      description: The repository asked.
      type: str
    ref:
      description: The ref asked for.
      type: str
    found:
      description: Whether the repository has the ref.
      type: bool
    commit:
      description: The commit the ref names, when found.
      type: str
    how:
      description: How it was found (C(branch), C(tag), C(commit)), or why not.
      type: str
    message:
      description: When not found, one sentence naming the ref, the repository, why, and the fix.
      type: str
missing:
  description: The entries of O(sources) whose ref was not found.
  returned: always
  type: list
  elements: dict
"""

import os
import re
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule

FULL_SHA = re.compile(r"^[0-9a-f]{40}$")
SHORT_SHA = re.compile(r"^[0-9a-f]{7,40}$")


def parse_ls_remote(text):
    """{ref name: commit} of `git ls-remote` output (peeled tags give the tag's commit)."""
    refs = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) != 2:
            continue
        sha, name = parts[0].strip(), parts[1].strip()
        if name.endswith("^{}"):
            refs[name[:-3]] = sha
        else:
            refs.setdefault(name, sha)
    return refs


def match_ref(refs, ref):
    """(commit, how) when the advertised refs name ref, else (None, None)."""
    for prefix, how in (("refs/heads/", "branch"), ("refs/tags/", "tag")):
        if prefix + ref in refs:
            return refs[prefix + ref], how
    if ref == "HEAD" and "HEAD" in refs:
        return refs["HEAD"], "branch"
    if SHORT_SHA.match(ref.lower()):
        for sha in refs.values():
            if sha.startswith(ref.lower()):
                return sha, "commit"
    return None, None


def check_source(module, source):
    repo, ref = source["repo"], source["ref"]
    result = dict(name=source["name"], repo=repo, ref=ref, found=False, commit=None, how=None)
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0")
    rc, out, err = module.run_command(["git", "ls-remote", repo], environ_update=env, check_rc=False)
    if rc != 0:
        result["how"] = "the repository did not answer: %s" % (err.strip().splitlines() or ["git exit %d" % rc])[-1]
        return result
    commit, how = match_ref(parse_ls_remote(out), ref)
    if commit:
        result.update(found=True, commit=commit, how=how)
        return result
    if not FULL_SHA.match(ref.lower()):
        result["how"] = "no branch, tag or advertised commit of that name"
        return result
    work = tempfile.mkdtemp(prefix="npu-sglang-git-refs-")
    try:
        module.run_command(["git", "init", "-q", work], check_rc=False)
        rc, out, err = module.run_command(
            ["git", "-C", work, "fetch", "-q", "--depth", "1", "--filter=blob:none", repo, ref],
            environ_update=env, check_rc=False)
        if rc == 0:
            result.update(found=True, commit=ref.lower(), how="commit")
        else:
            result["how"] = "no such commit (git fetch: %s)" % (err.strip().splitlines() or ["exit %d" % rc])[-1]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            sources=dict(type="list", elements="dict", required=True, options=dict(
                name=dict(type="str", required=True),
                repo=dict(type="str", required=True),
                ref=dict(type="str", required=True))),
        ),
        supports_check_mode=True,
    )
    if not module.get_bin_path("git"):
        module.fail_json(msg="git is not installed on this host, and the build needs it to fetch the sources: "
                             "install git (apt-get install git, or dnf install git)")
    results = [check_source(module, source) for source in module.params["sources"]]
    for result in results:
        if not result["found"]:
            result["message"] = (
                "git ref %s_ref = %s is not in %s (%s). Fix: name a branch, tag or commit that repository has "
                "(npu_stack_overrides %s_ref), or point %s_repo at a mirror that has it."
                % (result["name"], result["ref"], result["repo"], result["how"], result["name"], result["name"]))
    module.exit_json(changed=False, sources=results, missing=[r for r in results if not r["found"]])


if __name__ == "__main__":
    main()
