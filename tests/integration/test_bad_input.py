"""Bad input never reaches a host: the bad-input matrix, run through `ansible-playbook site.yml`.

Every case is one host of a throwaway inventory (the sim inventory's group_vars, hosts on
TEST-NET-1 192.0.2.0/24 where nothing answers) with the bad value in its host_vars. One run of
site.yml checks all of them at once; each case is then asserted on its own host's result: the
run failed in the "Validate the inventory" play, the host's message names the host, the
variable, the value and the fix, no host was unreachable (none was contacted) and no task of a
later play ran. A few cases come in through `-e` instead (one run each, in parallel). Valid
hosts in the same run, and every example inventory of the repo, must pass (no false alarms).
"""
import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from simtest import ROOT, tool, tool_env

VALIDATE_PLAY = "Validate the inventory"
VALIDATE_TASK = "Validate the host's variables"
SERVER_A = {"name": "a", "devices": [0, 1, 2, 3], "tp": 4}
SERVER_B = {"name": "b", "devices": [4, 5, 6, 7], "tp": 4}


class Case:
    def __init__(self, name, host_vars, variable, value, words="", groups=()):
        self.name = name
        self.host = "bad-" + name
        self.host_vars = host_vars
        self.variable = variable
        self.value = value          # as the message prints it (Python repr)
        # Words of the reason; a tuple lists alternatives (a role's argument spec may catch a
        # mistake before the cross-field rule does, with its own words).
        self.words = words if isinstance(words, tuple) else (words,)
        self.groups = groups

    def expected(self, host):
        return "host %s: %s = %s: " % (host, self.variable, self.value)


MATRIX = [
    # tp vs the chips in use
    Case("tp-larger", {"sglang_service_tp": 16}, "sglang_service_tp", "16", "larger than the 8 chips in use"),
    Case("tp-not-dividing", {"sglang_service_tp": 3}, "sglang_service_tp", "3", "does not divide the 8 chips"),
    Case("tp-instance", {"sglang_service_instances": [dict(SERVER_A, tp=8)]}, "sglang_service_instances[0].tp", "8",
         "larger than the 4 chips"),
    # ASCEND_RT_VISIBLE_DEVICES: duplicates, ids beyond the board, in every place it comes from
    Case("devices-duplicate", {"docker_npu_devices": [0, 1, 1, 2]}, "docker_npu_devices", "[0, 1, 1, 2]",
         "more than once"),
    Case("devices-beyond-board", {"docker_npu_devices": [0, 8]}, "docker_npu_devices", "[0, 8]",
         "not on a 8-chip board"),
    Case("env-devices-duplicate", {"sglang_service_env": {"ASCEND_RT_VISIBLE_DEVICES": "0,0,1"}},
         "sglang_service_env.ASCEND_RT_VISIBLE_DEVICES", "'0,0,1'", "more than once"),
    Case("docker-env-devices-beyond", {"docker_npu_env": {"ASCEND_RT_VISIBLE_DEVICES": "0,1,9"}},
         "docker_npu_env.ASCEND_RT_VISIBLE_DEVICES", "'0,1,9'", "not on a 8-chip board"),
    Case("instance-devices-beyond", {"sglang_service_instances": [dict(SERVER_A, devices=[6, 7, 8, 9])]},
         "sglang_service_instances[0].devices", "[6, 7, 8, 9]", "not on a 8-chip board"),
    # the ascend attention backend
    Case("max-total-tokens-below-page", {"sglang_service_max_total_tokens": 64}, "sglang_service_max_total_tokens",
         "64", "page size 128"),
    Case("ascend-on-cpu", {"sglang_service_device": "cpu"}, "sglang_service_device", "'cpu'", "only on device npu"),
    # quantization
    Case("quantization-unknown", {"sglang_service_quantization": "fp8"}, "sglang_service_quantization", "'fp8'",
         "must be one of"),
    Case("instance-quantization-unknown", {"sglang_service_instances": [{"name": "main", "quantization": "bnb"}]},
         "sglang_service_instances[0].quantization", "'bnb'", "not a quantization SGLang loads on Ascend"),
    # the stack
    Case("stack-profile-unknown", {"npu_stack_profile": "nightly"}, "npu_stack_profile", "'nightly'",
         "no such stack profile"),
    Case("torch-mismatch", {"npu_stack_overrides": {"torch_npu": "2.5.1"}}, "npu_stack_overrides",
         "{'torch': '2.6.0', 'torch_npu': '2.5.1'}", "same release"),
    Case("seed-python", {"npu_stack_overrides": {"python": "3.10"}}, "npu_stack_overrides", "{'python': '3.10'}",
         "Python 3.11"),
    # shm
    Case("shm-malformed", {"docker_npu_shm_size": "lots"}, "docker_npu_shm_size", "'lots'", "not a size"),
    Case("shm-oversized", {"docker_npu_shm_size": "100t"}, "docker_npu_shm_size", "'100t'", "64 TiB"),
    Case("shm-zero", {"docker_npu_shm_size": "0"}, "docker_npu_shm_size", "'0'", "0 bytes"),
    # the router (roles/sglang_router)
    Case("router-policy-unknown", {"sglang_router_policy": "least_load"}, "sglang_router_policy", "'least_load'",
         "must be one of"),
    Case("router-port-out-of-range", {"sglang_router_port": 70000}, "sglang_router_port", "70000", "must be at most 65535"),
    Case("router-cache-threshold", {"sglang_router_cache_threshold": 1.5}, "sglang_router_cache_threshold", "1.5",
         "must be at most 1"),
    Case("router-health-interval-zero", {"sglang_router_health_check_interval_secs": 0},
         "sglang_router_health_check_interval_secs", "0", "at least 1"),
    # ports and servers of one host
    Case("port-out-of-range", {"sglang_service_port": 70000}, "sglang_service_port", "70000", "1-65535"),
    Case("two-servers-one-port", {"sglang_service_instances": [SERVER_A, SERVER_B]}, "sglang_service_port",
         "30000", "servers a and b both listen on port 30000"),
    Case("two-servers-one-chip", {"sglang_service_instances": [dict(SERVER_A, port=30000),
                                                               dict(SERVER_B, devices=[3, 4, 5, 6], port=30001)]},
         "sglang_service_instances[1].devices", "[3, 4, 5, 6]", "share chips [3]"),
    # multi-node
    Case("nnodes-not-group-size", {"sglang_service_node_group": "duo", "sglang_service_tp": 16,
                                   "sglang_service_extra_args": ["--nnodes", "3"]},
         "sglang_service_extra_args", "['--nnodes', '3']", "does not match the 2 node(s) of group duo",
         groups=("duo",)),
    Case("node-group-missing", {"sglang_service_node_group": "trio"}, "sglang_service_node_group", "'trio'",
         "no inventory group"),
    Case("host-not-in-node-group", {"sglang_service_node_group": "duo", "sglang_service_tp": 16},
         "sglang_service_node_group", "'duo'", "not in group duo"),
    # the benchmark
    Case("concurrency-empty", {"sglang_bench_concurrency": []}, "sglang_bench_concurrency", "[]", "empty"),
    Case("concurrency-non-integer", {"sglang_bench_concurrency": [8, "lots", 2.5]}, "sglang_bench_concurrency",
         "[8, 'lots', 2.5]", ("not positive whole numbers", "unable to convert to int")),
    Case("prompts-negative", {"sglang_bench_num_prompts": -10}, "sglang_bench_num_prompts", "-10", "at least 1"),
    Case("prompts-zero", {"sglang_bench_num_prompts": 0}, "sglang_bench_num_prompts", "0", "at least 1"),
    Case("sla-negative", {"sglang_bench_sla": {"ttft_p99_ms": -1, "tpot_mean_ms": 50}}, "sglang_bench_sla",
         "{'ttft_p99_ms': -1, 'tpot_mean_ms': 50}", "ttft_p99_ms is negative"),
    # names, refs, paths, secrets
    Case("image-empty", {"docker_npu_image": ""}, "docker_npu_image", "''", "cannot be empty"),
    Case("build-image-name-empty", {"sglang_build_image_name": " "}, "sglang_build_image_name", "' '",
         "cannot be empty"),
    Case("git-ref-with-spaces", {"npu_stack_overrides": {"sglang_ref": "ascend attention"}}, "npu_stack_overrides",
         "{'sglang_ref': 'ascend attention'}", "white space"),
    Case("build-ref-with-spaces", {"sglang_build_vllm_ref": "v0.8.5 rc1"}, "sglang_build_vllm_ref", "'v0.8.5 rc1'",
         "white space"),
    Case("model-path-missing", {"sglang_service_model_path": ""}, "sglang_service_model_path", "''", "no model"),
    Case("model-path-relative", {"sglang_service_model_path": "./models/qwen"}, "sglang_service_model_path",
         "'./models/qwen'", "not an absolute path"),
    Case("rolling-serial-zero", {"npu_sglang_rolling_serial": 0}, "npu_sglang_rolling_serial", "0", "at least 1"),
    Case("max-fail-percentage-over-100", {"npu_sglang_max_fail_percentage": 150}, "npu_sglang_max_fail_percentage",
         "150", "0 to 100"),
    Case("registry-with-a-scheme", {"sglang_build_distribute_registry": "https://harbor.example.org"},
         "sglang_build_distribute_registry", "'https://harbor.example.org'", "without a scheme"),
    Case("model-outside-the-mounts", {"sglang_service_model_path": "/opt/models/qwen"}, "sglang_service_model_path",
         "'/opt/models/qwen'", "outside every directory the serving container mounts"),
    Case("model-hub-id-real-weights", {"sglang_service_model_path": "Qwen/Qwen3-8B"}, "sglang_service_model_path",
         "'Qwen/Qwen3-8B'", "hub id"),
    Case("api-key-empty-with-auth", {"sglang_service_auth": True, "sglang_service_api_key": ""},
         "sglang_service_api_key", "''", "API key is empty"),
    # types and templates
    Case("devices-as-string", {"sglang_service_devices": "0,1,2,3"}, "sglang_service_devices", "'0,1,2,3'",
         "a string, not a list"),
    Case("not-a-bool", {"docker_npu_privileged": "maybe"}, "docker_npu_privileged", "'maybe'", "bool"),
    Case("undefined-in-template", {"sglang_service_port": "{{ sglang_port_typo }}"}, "sglang_service_port",
         "'{{ sglang_port_typo }}'", "cannot be templated"),
]


def option_cases():
    """One case per constrained option (issue 14): the wrong value of its rule from the walk of
    tests/unit/test_every_option_validated.py (every spec option and playbook setting)."""
    for path in (os.path.join(ROOT, "tests", "unit"), os.path.join(ROOT, ".collections")):
        if path not in sys.path:
            sys.path.insert(0, path)
    import test_every_option_validated as walk  # pylint: disable=import-outside-toplevel
    from ansible_collections.npu.sglang.plugins.module_utils.config_rules import (  # pylint: disable=import-outside-toplevel
        redact,
    )
    cases = []
    for name in walk.OPTIONS:
        bad, companions = walk.wrong_value(name)
        if bad is None:
            continue
        groups = ("pair",) if (companions or {}).get("sglang_service_node_group") == "pair" else ()
        cases.append(Case("opt-" + name.replace("_", "-"), dict(companions, **{name: bad}), name, repr(redact(name, bad)),
                          groups=groups))
    return cases


OPTION_CASES = option_cases()

# Valid hosts in the same run: each must pass (no false alarm next to the bad ones).
GOOD = {
    "good-defaults": ({}, ()),
    "good-multinode": ({"sglang_service_node_group": "duo", "sglang_service_tp": 16,
                        "sglang_service_socket_ifname": "eth0"}, ("duo",)),
    "good-two-servers": ({"sglang_service_instances": [dict(SERVER_A, port=30000), dict(SERVER_B, port=30001)]}, ()),
    "good-hub-id-dummy": ({"sglang_service_model_path": "Qwen/Qwen3-8B",
                           "sglang_service_extra_args": ["--load-format", "dummy"]}, ()),
    "good-auth": ({"sglang_service_auth": True, "sglang_service_api_key": "sk-planted-secret-4711"}, ()),
    "good-bench": ({"sglang_bench_concurrency": [1, 8, 64], "sglang_bench_num_prompts": 200,
                    "sglang_bench_sla": {"ttft_p99_ms": 2000, "min_completed_ratio": 0.99}}, ()),
}
SECRET = "sk-planted-secret-4711"

# Cases given with -e (extra vars apply to every host: one run each, one host).
EXTRA = [
    Case("e-stack-profile", ["-e", "npu_stack_profile=nightly"], "npu_stack_profile", "'nightly'", "no such stack profile"),
    Case("e-shm-fraction", ["-e", "docker_npu_shm_size=1.5g"], "docker_npu_shm_size", "'1.5g'", "not a size"),
    Case("e-concurrency-empty", ["-e", json.dumps({"sglang_bench_concurrency": []})], "sglang_bench_concurrency",
         "[]", "empty"),
    Case("e-sla-negative", ["-e", json.dumps({"sglang_bench_sla": {"min_completed_ratio": -0.5}})],
         "sglang_bench_sla", "{'min_completed_ratio': -0.5}", "min_completed_ratio is negative"),
    Case("e-tp-not-dividing", ["-e", json.dumps({"sglang_service_tp": 6})], "sglang_service_tp", "6",
         "does not divide the 8 chips"),
]


def write_inventory(base, hosts, group_vars_from, host_vars=None, groups=None, top_vars=None):
    """An inventory directory: hosts.yml on TEST-NET-1, group_vars copied, host_vars files."""
    os.makedirs(base)
    shutil.copytree(os.path.join(group_vars_from, "group_vars"), os.path.join(base, "group_vars"))
    addresses = dict((h, "192.0.2.%d" % (i + 1)) for i, h in enumerate(hosts))
    children = {"npu_nodes": {"hosts": dict((h, {"ansible_host": addresses[h]}) for h in hosts)}}
    for group, members in (groups or {}).items():
        children[group] = {"hosts": dict((h, {}) for h in members)}
    inventory = {"all": {"children": children}}
    if top_vars:
        inventory["all"]["vars"] = top_vars
    with open(os.path.join(base, "hosts.yml"), "w", encoding="utf-8") as handle:
        yaml.safe_dump(inventory, handle)
    os.makedirs(os.path.join(base, "host_vars"), exist_ok=True)
    for host, variables in (host_vars or {}).items():
        with open(os.path.join(base, "host_vars", host + ".yml"), "w", encoding="utf-8") as handle:
            yaml.safe_dump(variables, handle, sort_keys=False)
    return os.path.join(base, "hosts.yml")


def start(args):
    env = tool_env({"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json", "ANSIBLE_NOCOLOR": "1"})
    return subprocess.Popen([tool("ansible-playbook")] + args, cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


class Run:
    """One finished ansible-playbook run, read from the JSON callback."""

    def __init__(self, proc):
        out, err = proc.communicate(timeout=600)
        self.rc = proc.returncode
        self.text = out + err
        start_at = out.find("{")
        assert start_at >= 0, "no JSON result (rc %s):\n%s" % (self.rc, self.text[-5000:])
        self.data = json.loads(out[start_at:])
        self.plays = [p["play"]["name"] for p in self.data["plays"]]

    def result(self, host, task=VALIDATE_TASK):
        for play in self.data["plays"]:
            for entry in play["tasks"]:
                if entry["task"]["name"] == task and host in entry["hosts"]:
                    return entry["hosts"][host]
        raise AssertionError("no result of %r for %s:\n%s" % (task, host, self.text[-5000:]))

    def later_tasks(self):
        """Tasks of any play but the validation play, and validation tasks after the check."""
        names = []
        for play in self.data["plays"]:
            for entry in play["tasks"]:
                if play["play"]["name"] != VALIDATE_PLAY or entry["task"]["name"] not in (
                        "Check the Ansible version", VALIDATE_TASK):
                    names.append((play["play"]["name"], entry["task"]["name"]))
        return names


def assert_refused(run, case, host):
    assert run.rc != 0, run.text[-3000:]
    assert run.plays == [VALIDATE_PLAY], run.plays
    assert run.later_tasks() == [], run.later_tasks()
    assert all(s["unreachable"] == 0 for s in run.data["stats"].values()), run.data["stats"]
    assert "UNREACHABLE" not in run.text
    result = run.result(host)
    assert result.get("failed"), result
    lines = [line.strip()[2:] for line in result["msg"].splitlines() if line.strip().startswith("- host ")]
    wanted = case.expected(host)
    line = next((line for line in lines if line.startswith(wanted)), None)
    assert line is not None, "expected a line starting %r, got:\n%s" % (wanted, result["msg"])
    reason, fix = (line[len(wanted):].split(". Fix: ", 1) + [""])[:2]
    assert any(word in reason for word in case.words), line
    assert fix.strip(), line
    assert run.data["stats"][host]["failures"] == 1, run.data["stats"][host]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Start every ansible-playbook run at once; they take a few seconds each."""
    tmp = tmp_path_factory.mktemp("bad-input")
    sim = os.path.join(ROOT, "inventories", "sim")
    hosts = [c.host for c in MATRIX + OPTION_CASES] + sorted(GOOD)
    host_vars = dict((c.host, c.host_vars) for c in MATRIX + OPTION_CASES)
    host_vars.update((h, good[0]) for h, good in GOOD.items())
    groups = {}
    for host, member_of in [(c.host, c.groups) for c in MATRIX + OPTION_CASES] + [(h, good[1]) for h, good in GOOD.items()]:
        for group in member_of:
            groups.setdefault(group, []).append(host)
    procs = {"matrix": start(["site.yml", "-i", write_inventory(str(tmp / "matrix"), hosts, sim, host_vars, groups)])}
    for case in EXTRA:
        inventory = write_inventory(str(tmp / case.name), [case.host], sim)
        procs[case.name] = start(["site.yml", "-i", inventory] + case.host_vars)
    for name, args in valid_inventories(tmp):
        procs["valid-" + name] = start(["playbooks/validate.yml"] + args)
    return dict((name, Run(proc)) for name, proc in procs.items())


def valid_inventories(tmp):
    """(name, ansible-playbook args) of every example inventory in inventories/: its tracked hosts
    file, or a stand-in like the one `simctl up` writes when the hosts file is generated."""
    tracked = subprocess.run(["git", "ls-files", "inventories"], cwd=ROOT, text=True, stdout=subprocess.PIPE,
                             check=True).stdout.split()
    out = []
    for name in sorted(os.listdir(os.path.join(ROOT, "inventories"))):
        base = os.path.join(ROOT, "inventories", name)
        if not os.path.isdir(base):
            continue
        if "inventories/%s/hosts.yml" % name in tracked:
            out.append((name, ["-i", base]))
        else:
            fake = write_inventory(str(tmp / ("valid-" + name)), ["%s-node%d" % (name, i) for i in (1, 2, 3)], base,
                                   top_vars={"docker_npu_image": "npu-sim-cann:0123456789ab"})
            out.append((name, ["-i", fake]))
    return out


def test_the_matrix_is_large_enough():
    assert len(MATRIX) + len(EXTRA) >= 30
    assert len(set(c.host for c in MATRIX + EXTRA)) == len(MATRIX + EXTRA)


@pytest.mark.parametrize("case", MATRIX, ids=[c.name for c in MATRIX])
def test_bad_host_vars_fail_in_validation(runs, case):
    assert_refused(runs["matrix"], case, case.host)


@pytest.mark.parametrize("case", OPTION_CASES, ids=[c.name for c in OPTION_CASES])
def test_every_constrained_option_fails_in_validation(runs, case):
    assert_refused(runs["matrix"], case, case.host)


def test_every_constrained_option_has_a_case():
    assert len(OPTION_CASES) > 200
    assert len(set(c.host for c in MATRIX + OPTION_CASES)) == len(MATRIX + OPTION_CASES)


@pytest.mark.parametrize("case", EXTRA, ids=[c.name for c in EXTRA])
def test_bad_extra_vars_fail_in_validation(runs, case):
    assert_refused(runs[case.name], case, case.host)


@pytest.mark.parametrize("host", sorted(GOOD))
def test_valid_hosts_next_to_bad_ones_pass(runs, host):
    result = runs["matrix"].result(host)
    assert not result.get("failed"), result.get("msg")
    assert "all valid" in result["msg"], result


def test_no_secret_in_the_output(runs):
    assert SECRET not in runs["matrix"].text


@pytest.mark.parametrize("name", [n for n in sorted(os.listdir(os.path.join(ROOT, "inventories")))
                                  if os.path.isdir(os.path.join(ROOT, "inventories", n))])
def test_every_example_inventory_validates(runs, name):
    run = runs["valid-" + name]
    failed = dict((h, s) for h, s in run.data["stats"].items() if s["failures"] or s["unreachable"])
    messages = [r.get("msg") for p in run.data["plays"] for t in p["tasks"] for r in t["hosts"].values()
                if r.get("failed")]
    assert run.rc == 0 and not failed, "\n".join(str(m) for m in messages) or run.text[-3000:]
    assert run.data["stats"], "no host validated"
