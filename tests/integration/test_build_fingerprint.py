"""The build fingerprint (roles/sglang_build/tasks/inputs.yml) on localhost.

A setting that changes what goes into the image must give a new tag (else a changed inventory
keeps serving the old image); a setting of where or how the build runs must not (else it
rebuilds for nothing). The fingerprint task runs for real with the facts fingerprint.yml would
have found on a builder.
"""
import json
import os
import sys

import pytest
import yaml

from simtest import ROOT, run, tool

PLAY = """
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    npu_stack_resolved: {name: seed, torch: "2.6.0"}
    docker_npu_spec: {env: {}}
    _sglang_build_sources:
      results:
        - {item: sglang, after: 1111111111111111111111111111111111111111}
        - {item: vllm, after: 2222222222222222222222222222222222222222}
    _sglang_build_base: {images: [{Id: "sha256:base"}]}
  tasks:
    - name: Compute the fingerprint
      ansible.builtin.include_role:
        name: npu.sglang.sglang_build
        tasks_from: inputs
    - name: Keep the tag
      ansible.builtin.copy:
        content: "{{ sglang_build_tag }}"
        dest: "{{ result }}"
        mode: "0644"
"""

# Every default of the roles that run in the build container is in the fingerprint's list
# (roles/sglang_build/vars/main.yml) or here, with the reason it leaves the image alone.
NOT_IN_IMAGE = {
    "ascend_stack_container": "the build container's name",
    "ascend_stack_proxy_env": "proxies of the download steps only",
    "ascend_stack_download_dir": "a download cache on the builder",
    "ascend_stack_hardware_checks": "a check, writes nothing",
    "triton_fixes_container": "the build container's name",
    "sglang_build_builder": "which node builds",
    "sglang_build_image_name": "the repository name, part of the tag itself",
    "sglang_build_src_dir": "checkouts on the builder; their commits are fingerprinted",
    "sglang_build_log_dir": "logs on the builder",
    "sglang_build_step_timeout": "a time limit",
    "sglang_build_expected_minutes": "the estimate a first build says",
    "sglang_build_distribute_registry": "distribution",
    "sglang_build_distribute_registry_username": "distribution",
    "sglang_build_distribute_registry_password": "distribution",
    "sglang_build_pull_concurrency": "distribution",
    "sglang_build_soc_version": "fingerprinted on its own (soc_version)",
    "sglang_build_compile_custom_kernels": "fingerprinted on its own (compile_custom_kernels)",
    "sglang_build_proxy_env": "proxies of the download steps only",
    "sglang_build_cache_dir": "the controller's archive cache",
    "sglang_build_cache_keep": "the controller's archive cache",
    "sglang_build_zstd_package": "distribution",
    "sglang_build_zstd_level": "distribution",
    "sglang_build_remove_container": "what happens after the commit",
    "sglang_build_base_image_archive": "how the base image arrives; its Id is fingerprinted",
    "sglang_build_base_image_archive_on_builder": "how the base image arrives; its Id is fingerprinted",
    "sglang_build_registry_username": "how the base image arrives; its Id is fingerprinted",
    "sglang_build_registry_password": "how the base image arrives; its Id is fingerprinted",
}


def _defaults(role):
    with open(os.path.join(ROOT, "roles", role, "defaults", "main.yml"), encoding="utf-8") as handle:
        return set(yaml.safe_load(handle))


def _listed():
    with open(os.path.join(ROOT, "roles", "sglang_build", "vars", "main.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)["sglang_build_image_settings"]


def test_every_build_setting_is_sorted():
    listed = _listed()
    assert len(listed) == len(set(listed))
    assert not set(listed) & set(NOT_IN_IMAGE)
    defaults = dict((role, _defaults(role)) for role in ("ascend_stack", "triton_fixes", "sglang_build"))
    for role, names in defaults.items():
        unsorted = names - set(listed) - set(NOT_IN_IMAGE)
        assert not unsorted, "%s: say whether these change the image: %s" % (role, sorted(unsorted))
    stale = (set(listed) | set(NOT_IN_IMAGE)) - set().union(*defaults.values())
    assert not stale, "no role has these defaults any more: %s" % sorted(stale)


@pytest.fixture(scope="module")
def tag_with(tmp_path_factory):
    work = tmp_path_factory.mktemp("fingerprint")
    book = work / "play.yml"
    book.write_text(PLAY)
    seen = {}

    def tag(extra=None):
        key = json.dumps(extra or {}, sort_keys=True)
        if key not in seen:
            result = work / ("tag-%d" % len(seen))
            cmd = [tool("ansible-playbook"), "-i", "localhost,", "-e", "ansible_python_interpreter=" + sys.executable,
                   "-e", "result=" + str(result), str(book)]
            if extra:
                cmd += ["-e", json.dumps(extra)]
            run(cmd, timeout=300)
            seen[key] = result.read_text()
        return seen[key]
    return tag


def test_the_tag_is_stable(tag_with):
    first = tag_with()
    assert first.startswith("npu-sglang:seed-") and len(first.split("-")[-1]) == 12
    assert tag_with({"unrelated": 1}) == first


@pytest.mark.parametrize("extra", [
    {"ascend_stack_pip_exclude": ["triton"]},
    {"ascend_stack_pip_index_url": "https://mirror.example.org/simple"},
    {"triton_fixes_outofresources": False},
    {"sglang_build_env": {"TORCH_DEVICE_BACKEND_AUTOLOAD": "0", "MAX_JOBS": "4"}},
    {"docker_npu_spec": {"env": {"ASCEND_GLOBAL_LOG_LEVEL": "3"}}},
    {"sglang_build_soc_version": "Ascend910B1"},
    {"_sglang_build_base": {"images": [{"Id": "sha256:other"}]}},
], ids=lambda extra: next(iter(extra)))
def test_what_goes_into_the_image_changes_the_tag(tag_with, extra):
    assert tag_with(extra) != tag_with()


@pytest.mark.parametrize("extra", [
    {"sglang_build_proxy_env": {"https_proxy": "http://proxy.example.org:3128"}},
    {"ascend_stack_proxy_env": {"https_proxy": "http://proxy.example.org:3128"}},
    {"sglang_build_step_timeout": 60},
    {"ascend_stack_hardware_checks": False},
    {"sglang_build_cache_keep": 1},
], ids=lambda extra: next(iter(extra)))
def test_how_the_build_runs_keeps_the_tag(tag_with, extra):
    assert tag_with(extra) == tag_with()
