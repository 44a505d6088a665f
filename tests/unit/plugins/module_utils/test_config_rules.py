"""Cross-field rules of the validation play, one table row per rule and per kind of mistake.

The rules run here on plain dicts of effective values (what the action plugin hands them);
test_validate_inventory.py runs them through the action's templating of role defaults.
"""
import copy
import os

import pytest
import yaml

from ansible_collections.npu.sglang.plugins.action.validate_inventory import load_contracts, load_role_specs
from ansible_collections.npu.sglang.plugins.module_utils import config_rules as cr
from ansible_collections.npu.sglang.plugins.module_utils.launch import LAUNCH_FLAGS
from ansible_collections.npu.sglang.plugins.module_utils.redaction import REDACTED

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
STACKS = dict((name[:-4], yaml.safe_load(open(os.path.join(ROOT, "roles", "npu_stack", "vars", "stacks", name),
                                              encoding="utf-8"))["npu_stack_profile_data"])
              for name in os.listdir(os.path.join(ROOT, "roles", "npu_stack", "vars", "stacks")))

# What the action plugin resolves for a host that sets only a model path (role defaults templated).
BASE = {
    "npu_stack_profile": "seed",
    "npu_stack_overrides": {},
    "docker_npu_board_chips": 8,
    "docker_npu_image": "mindie:2.1.RC1.B060-800I-A2",
    "docker_npu_container_name": "sglang-build",
    "docker_npu_devices": list(range(8)),
    "docker_npu_env": {},
    "docker_npu_shm_size": "1000g",
    "docker_npu_model_dir": "/data/models",
    "docker_npu_cache_dir": "/data/sglang-cache",
    "docker_npu_mounts": ["/data:/data"],
    "npu_preflight_devices": list(range(8)),
    "npu_preflight_shm_size": "1000g",
    "sglang_build_image_name": "npu-sglang",
    "sglang_service_instances": [{"name": "main"}],
    "sglang_service_model_path": "/data/models/Qwen3-8B",
    "sglang_service_devices": list(range(8)),
    "sglang_service_tp": 8,
    "sglang_service_device": "npu",
    "sglang_service_attention_backend": "ascend",
    "sglang_service_max_total_tokens": None,
    "sglang_service_quantization": "",
    "sglang_service_port": 30000,
    "sglang_service_auth": False,
    "sglang_service_api_key": "",
    "sglang_service_extra_args": [],
    "sglang_service_env": {},
    "sglang_service_node_group": "",
    "sglang_service_dist_port": 5000,
    "sglang_service_socket_ifname": "",
}
GROUPS = {"all": ["h1", "h2", "h3"], "npu_nodes": ["h1", "h2", "h3"], "pair": ["h1", "h2"], "other": ["h3"], "sglang_router": ["h1"]}
CONTRACTS = load_contracts()


def run(changes, host="h1", rules=None):
    values = copy.deepcopy(BASE)
    values.update(changes)
    ctx = {"host": host, "groups": GROUPS, "stacks": STACKS, "contracts": CONTRACTS}
    return cr.check_rules(values, ctx, rules)


def rendered(problems):
    return "\n".join(p.render("h1") for p in problems)


def two(a, b, **common):
    return [dict(common, name="a", **a), dict(common, name="b", **b)]


def test_the_base_configuration_is_valid():
    assert run({}) == []


# (case id, changed variables, variable named, value shown (repr), words of the reason)
BAD = [
    # vLLM of the comparison on a port a server keeps; credentials without their pair.
    ("vllm on a server's port", {"sglang_bench_vllm_port": 30000}, "sglang_bench_vllm_port", "30000",
     "server main uses port 30000"),
    # The policy comparison's temporary router on a router host, apart from the router and the servers.
    ("temporary router on the router's port", {"sglang_router_port": 30080, "sglang_bench_router_port": 30080},
     "sglang_bench_router_port", "30080", "the router's sglang_router_port uses port 30080"),
    ("temporary router on a server's port", {"sglang_bench_router_prometheus_port": 30000},
     "sglang_bench_router_prometheus_port", "30000", "server main uses port 30000"),
    ("registry user without password", {"sglang_build_registry_username": "bot"}, "sglang_build_registry_username",
     "'bot'", "sglang_build_registry_password is empty"),
    ("distribute credentials without registry", {"sglang_build_distribute_registry_username": "bot",
                                                 "sglang_build_distribute_registry_password": "pw"},
     "sglang_build_distribute_registry", "''", "no registry is given"),
    # An instance entry's own keys follow the role variables' rows; dist_port apart from port.
    ("instance mem fraction", {"sglang_service_instances": [{"name": "main", "mem_fraction_static": 1.5}]},
     "sglang_service_instances[0].mem_fraction_static", "1.5", "must be at most 1"),
    ("dist port is the port", {"sglang_service_node_group": "pair", "sglang_service_tp": 16,
                               "sglang_service_socket_ifname": "eth0", "sglang_service_dist_port": 30000},
     "sglang_service_dist_port", "30000", "the same port as the server's HTTP port"),
    # The launch line against the parser of the stack's release (seed: SGLang 0.4.9).
    ("flag the release lacks", {"sglang_service_extra_args": ["--enable-npu-foo"]}, "sglang_service_extra_args",
     "['--enable-npu-foo']", "unrecognized arguments: --enable-npu-foo"),
    # VARIABLE_CHECKS rows
    ("image empty", {"docker_npu_image": " "}, "docker_npu_image", "' '", "empty"),
    ("router group empty", {"npu_sglang_router_group": ""}, "npu_sglang_router_group", "''", "empty"),
    ("router version with a space", {"sglang_router_version": "0.3 .2"}, "sglang_router_version", "'0.3 .2'",
     "not a release version"),
    ("router metrics port zero", {"sglang_router_prometheus_port": 0}, "sglang_router_prometheus_port", "0",
     "at least 1"),
    ("router cache threshold negative", {"sglang_router_cache_threshold": -0.1}, "sglang_router_cache_threshold",
     "-0.1", "at least 0"),
    ("router failure threshold zero", {"sglang_router_health_failure_threshold": 0},
     "sglang_router_health_failure_threshold", "0", "at least 1"),
    ("image with space", {"docker_npu_image": "my image:1"}, "docker_npu_image", "'my image:1'", "white space"),
    ("build image empty", {"sglang_build_image_name": ""}, "sglang_build_image_name", "''", "empty"),
    ("container name empty", {"docker_npu_container_name": ""}, "docker_npu_container_name", "''", "empty"),
    ("build ref with space", {"sglang_build_sglang_ref": "my branch"}, "sglang_build_sglang_ref", "'my branch'",
     "white space"),
    ("shm malformed", {"docker_npu_shm_size": "lots"}, "docker_npu_shm_size", "'lots'", "not a size"),
    ("shm fraction", {"docker_npu_shm_size": "1.5g"}, "docker_npu_shm_size", "'1.5g'", "not a size"),
    ("shm zero", {"docker_npu_shm_size": "0"}, "docker_npu_shm_size", "'0'", "0 bytes"),
    ("shm tiny", {"docker_npu_shm_size": "64m"}, "docker_npu_shm_size", "'64m'", "IPC"),
    ("shm absurd", {"docker_npu_shm_size": "65t"}, "docker_npu_shm_size", "'65t'", "64 TiB"),
    ("preflight shm", {"npu_preflight_shm_size": "big"}, "npu_preflight_shm_size", "'big'", "not a size"),
    ("sweep empty", {"sglang_bench_concurrency": []}, "sglang_bench_concurrency", "[]", "empty"),
    ("sweep not a list", {"sglang_bench_concurrency": "8,16"}, "sglang_bench_concurrency", "'8,16'", "not a list"),
    ("sweep non-integer", {"sglang_bench_concurrency": [8, "many", 2.5]}, "sglang_bench_concurrency",
     "[8, 'many', 2.5]", "'many', 2.5 are not positive"),
    ("sweep zero", {"sglang_bench_concurrency": [0, 8]}, "sglang_bench_concurrency", "[0, 8]", "0 is not positive"),
    ("prompts negative", {"sglang_bench_num_prompts": -5}, "sglang_bench_num_prompts", "-5", "at least 1"),
    ("prompts zero", {"sglang_bench_num_prompts": 0}, "sglang_bench_num_prompts", "0", "at least 1"),
    ("profile prompts", {"sglang_bench_profile_num_prompts": "x"}, "sglang_bench_profile_num_prompts", "'x'",
     "whole number"),
    ("sla negative", {"sglang_bench_sla": {"ttft_p99_ms": -1}}, "sglang_bench_sla", "{'ttft_p99_ms': -1}",
     "ttft_p99_ms is negative"),
    ("sla ratio", {"sglang_bench_sla": {"min_completed_ratio": 1.5}}, "sglang_bench_sla",
     "{'min_completed_ratio': 1.5}", "above 1"),
    ("sla unknown key", {"sglang_bench_sla": {"ttft_ms": 5}}, "sglang_bench_sla", "{'ttft_ms': 5}", "unknown limits"),
    ("sla not a dict", {"sglang_bench_sla": [1]}, "sglang_bench_sla", "[1]", "not a dict"),
    # the stack
    ("stack unknown", {"npu_stack_profile": "nightly"}, "npu_stack_profile", "'nightly'", "no such stack profile"),
    ("torch mismatch", {"npu_stack_overrides": {"torch_npu": "2.5.1"}}, "npu_stack_overrides",
     "{'torch': '2.6.0', 'torch_npu': '2.5.1'}", "same release"),
    ("seed python", {"npu_stack_overrides": {"python": "3.10"}}, "npu_stack_overrides", "{'python': '3.10'}",
     "Python 3.11"),
    ("stack ref space", {"npu_stack_overrides": {"vllm_ref": "v0.8.5 rc1"}}, "npu_stack_overrides",
     "{'vllm_ref': 'v0.8.5 rc1'}", "white space"),
    ("stack repo empty", {"npu_stack_overrides": {"sglang_repo": ""}}, "npu_stack_overrides", "{'sglang_repo': ''}",
     "git URL is empty"),
    ("stack base image", {"npu_stack_overrides": {"base_image": ""}}, "npu_stack_overrides", "{'base_image': ''}",
     "empty"),
    # chip lists (ASCEND_RT_VISIBLE_DEVICES in every source)
    ("devices duplicate", {"docker_npu_devices": [0, 1, 1]}, "docker_npu_devices", "[0, 1, 1]", "more than once"),
    ("devices beyond", {"docker_npu_devices": [0, 8]}, "docker_npu_devices", "[0, 8]", "8-chip board"),
    ("devices negative", {"npu_preflight_devices": [-1, 0]}, "npu_preflight_devices", "[-1, 0]", "not on a"),
    ("devices empty", {"docker_npu_devices": []}, "docker_npu_devices", "[]", "no chip"),
    ("devices string", {"sglang_service_devices": "0,1"}, "sglang_service_devices", "'0,1'", "a string"),
    ("devices words", {"docker_npu_devices": [0, "one"]}, "docker_npu_devices", "[0, 'one']", "not chip ids"),
    ("board 16", {"docker_npu_board_chips": 16, "docker_npu_devices": [15, 16]}, "docker_npu_devices", "[15, 16]",
     "16-chip board"),
    ("env dupes", {"sglang_service_env": {"ASCEND_RT_VISIBLE_DEVICES": "0,0,1"}},
     "sglang_service_env.ASCEND_RT_VISIBLE_DEVICES", "'0,0,1'", "more than once"),
    ("docker env beyond", {"docker_npu_env": {"ASCEND_RT_VISIBLE_DEVICES": "0,1,9"}},
     "docker_npu_env.ASCEND_RT_VISIBLE_DEVICES", "'0,1,9'", "not on a 8-chip board"),
    ("instance env", {"sglang_service_instances": [{"name": "a", "env": {"ASCEND_RT_VISIBLE_DEVICES": "x"}}]},
     "sglang_service_instances[0].env.ASCEND_RT_VISIBLE_DEVICES", "'x'", "not chip ids"),
    ("instance devices beyond", {"sglang_service_instances": [{"name": "a", "devices": [6, 7, 8, 9], "tp": 4}]},
     "sglang_service_instances[0].devices", "[6, 7, 8, 9]", "not on a 8-chip board"),
    # per-server checks
    ("tp larger", {"sglang_service_tp": 16}, "sglang_service_tp", "16", "larger than the 8 chips"),
    ("tp not dividing", {"sglang_service_tp": 3}, "sglang_service_tp", "3", "does not divide the 8 chips"),
    ("tp zero", {"sglang_service_tp": 0}, "sglang_service_tp", "0", "not a positive whole number"),
    ("instance tp own", {"sglang_service_instances": [{"name": "a", "devices": [0, 1, 2, 3], "tp": 8}]},
     "sglang_service_instances[0].tp", "8", "larger than the 4 chips"),
    ("page size", {"sglang_service_max_total_tokens": 64}, "sglang_service_max_total_tokens", "64", "page size 128"),
    ("tokens not a number", {"sglang_service_max_total_tokens": "lots"}, "sglang_service_max_total_tokens",
     "'lots'", "positive whole number"),
    ("ascend on cpu", {"sglang_service_device": "cpu"}, "sglang_service_device", "'cpu'", "only on device npu"),
    ("quantization", {"sglang_service_quantization": "fp8"}, "sglang_service_quantization", "'fp8'",
     "not a quantization SGLang loads on Ascend"),
    ("instance quantization", {"sglang_service_instances": [{"name": "a", "quantization": "bnb"}]},
     "sglang_service_instances[0].quantization", "'bnb'", "server a"),
    ("port high", {"sglang_service_port": 70000}, "sglang_service_port", "70000", "1-65535"),
    ("port zero", {"sglang_service_port": 0}, "sglang_service_port", "0", "1-65535"),
    ("dist port", {"sglang_service_node_group": "pair", "sglang_service_tp": 16, "sglang_service_dist_port": -1},
     "sglang_service_dist_port", "-1", "1-65535"),
    ("model path empty", {"sglang_service_model_path": ""}, "sglang_service_model_path", "''", "no model"),
    ("model path null", {"sglang_service_model_path": None}, "sglang_service_model_path", "None", "no model"),
    ("model path relative", {"sglang_service_model_path": "./qwen3"}, "sglang_service_model_path",
     "'./qwen3'", "not an absolute path"),
    ("model path org/name", {"sglang_service_model_path": "models/qwen3"}, "sglang_service_model_path",
     "'models/qwen3'", "not an absolute path; read as a hub id"),
    ("model hub id", {"sglang_service_model_path": "Qwen/Qwen3-8B"}, "sglang_service_model_path", "'Qwen/Qwen3-8B'",
     "hub id"),
    ("hub id other format", {"sglang_service_model_path": "Qwen/Qwen3-8B",
                             "sglang_service_extra_args": ["--load-format", "safetensors"]},
     "sglang_service_model_path", "'Qwen/Qwen3-8B'", "hub id"),
    ("max fail over 100", {"npu_sglang_max_fail_percentage": 150}, "npu_sglang_max_fail_percentage", "150",
     "0 to 100"),
    ("rolling serial zero", {"npu_sglang_rolling_serial": 0}, "npu_sglang_rolling_serial", "0", "at least 1"),
    ("upgrade serial over 100%", {"npu_sglang_upgrade_serial": "150%"}, "npu_sglang_upgrade_serial", "'150%'",
     "1% to 100%"),
    ("hardware checks as a word", {"npu_sglang_hardware_checks": "maybe"}, "npu_sglang_hardware_checks", "'maybe'",
     "true/false"),
    ("upgrade image with a space", {"npu_sglang_upgrade_image": "npu sglang:1"}, "npu_sglang_upgrade_image",
     "'npu sglang:1'", "white space"),
    ("no load in the hardware check", {"npu_sglang_hardware_check_load_seconds": "0"},
     "npu_sglang_hardware_check_load_seconds", "'0'", "at least 1"),
    ("empty target", {"npu_sglang_target": ""}, "npu_sglang_target", "''", "cannot be empty"),
    ("registry with a scheme", {"sglang_build_distribute_registry": "https://harbor.example.org"},
     "sglang_build_distribute_registry", "'https://harbor.example.org'", "without a scheme"),
    ("registry ending in a slash", {"sglang_build_distribute_registry": "harbor.example.org/npu/"},
     "sglang_build_distribute_registry", "'harbor.example.org/npu/'", "not a registry reference"),
    ("no node may pull", {"sglang_build_pull_concurrency": 0}, "sglang_build_pull_concurrency", "0", "at least 1"),
    ("model outside the mounts", {"sglang_service_model_path": "/opt/models/qwen3"}, "sglang_service_model_path",
     "'/opt/models/qwen3'", "outside every directory the serving container mounts (docker_npu_model_dir /data/models, "
     "docker_npu_cache_dir /data/sglang-cache, docker_npu_mounts /data)"),
    ("model beside the model dir", {"sglang_service_model_path": "/srv/models-old/q", "docker_npu_mounts": [],
                                    "docker_npu_model_dir": "/srv/models"}, "sglang_service_model_path",
     "'/srv/models-old/q'", "outside every directory"),
    ("auth without key", {"sglang_service_auth": True}, "sglang_service_api_key", "''", "API key is empty"),
    ("auth as text", {"sglang_service_auth": "yes", "sglang_service_api_key": None}, "sglang_service_api_key", "''",
     "API key is empty"),
    ("instance auth", {"sglang_service_instances": [{"name": "a", "auth": True, "api_key": " "}],
                       "sglang_service_api_key": "k"},
     "sglang_service_instances[0].api_key", "' '", "API key is empty"),
    ("auth not a bool", {"sglang_service_auth": "maybe"}, "sglang_service_auth", "'maybe'", "not a boolean"),
    ("multi-node without interface", {"sglang_service_node_group": "pair", "sglang_service_tp": 16},
     "sglang_service_socket_ifname", "''", "needs the network interface HCCL and Gloo use between them"),
    ("group missing", {"sglang_service_node_group": "nosuch"}, "sglang_service_node_group", "'nosuch'",
     "no inventory group"),
    ("host not in group", {"sglang_service_node_group": "other"}, "sglang_service_node_group", "'other'",
     "not in group other"),
    ("nnodes mismatch", {"sglang_service_node_group": "pair", "sglang_service_tp": 16,
                         "sglang_service_extra_args": ["--nnodes", "3"]},
     "sglang_service_extra_args", "['--nnodes', '3']", "--nnodes 3 does not match the 2 node(s) of group pair"),
    ("nnodes without group", {"sglang_service_extra_args": ["--nnodes=2"]}, "sglang_service_extra_args",
     "['--nnodes=2']", "a server without node_group"),
    ("multinode tp", {"sglang_service_node_group": "pair", "sglang_service_tp": 32}, "sglang_service_tp", "32",
     "16 chips in use (8 per node x 2 nodes)"),
    # servers of one host apart
    ("one port twice", {"sglang_service_instances": two({"devices": [0, 1, 2, 3]}, {"devices": [4, 5, 6, 7]}, tp=4)},
     "sglang_service_port", "30000", "servers a and b both listen on port 30000"),
    ("chip shared", {"sglang_service_instances": two({"devices": [0, 1, 2, 3], "port": 1}, {"devices": [3, 4, 5, 6],
                                                                                            "port": 2}, tp=4)},
     "sglang_service_instances[1].devices", "[3, 4, 5, 6]", "servers a and b share chips [3]"),
    ("name twice", {"sglang_service_instances": [{"name": "a", "devices": [0], "tp": 1, "port": 1},
                                                 {"name": "a", "devices": [1], "tp": 1, "port": 2}]},
     "sglang_service_instances[1].name", "'a'", "same name"),
]


@pytest.mark.parametrize("changes, variable, value, words", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_each_mistake_is_named_with_value_and_fix(changes, variable, value, words):
    problems = run(changes)
    text = rendered(problems)
    wanted = "host h1: %s = %s: " % (variable, value)
    line = next((line for line in text.splitlines() if line.startswith(wanted)), None)
    assert line is not None, "no problem %r in:\n%s" % (wanted, text)
    assert words in line, line
    reason, fix = line[len(wanted):].split(". Fix: ", 1)
    assert reason and len(fix) > 10, line


GOOD = [
    # A server on its own chips defaults to tp = its chip count, not the host's sglang_service_tp.
    ("instance tp from its chips", {"sglang_service_instances": [{"name": "a", "devices": [0, 1, 2, 3]}]}),
    ("hub id with dummy weights", {"sglang_service_model_path": "Qwen/Qwen3-8B",
                                   "sglang_service_extra_args": ["--load-format", "dummy"]}),
    ("hub id with dummy weights (=)", {"sglang_service_model_path": "Qwen/Qwen3-8B",
                                       "sglang_service_extra_args": ["--load-format=dummy"]}),
    ("smoke serial as a percentage", {"npu_sglang_smoke_serial": "25%", "npu_sglang_rolling_serial": 2}),
    ("hardware checks off", {"npu_sglang_hardware_checks": False, "npu_sglang_upgrade_image": ""}),
    ("registry with port and namespace", {"sglang_build_distribute_registry": "harbor.example.org:5000/npu"}),
    ("no registry", {"sglang_build_distribute_registry": ""}),
    ("model in the model dir only", {"sglang_service_model_path": "/srv/models/q", "docker_npu_mounts": [],
                                     "docker_npu_model_dir": "/srv/models"}),
    ("model in another mount", {"sglang_service_model_path": "/mnt/w/q", "docker_npu_mounts": ["/nfs/w:/mnt/w:ro"]}),
    ("auth with key", {"sglang_service_auth": True, "sglang_service_api_key": "k"}),
    ("key without auth", {"sglang_service_api_key": "k"}),
    ("tokens at the page size", {"sglang_service_max_total_tokens": 128}),
    ("few tokens, other backend", {"sglang_service_max_total_tokens": 64, "sglang_service_attention_backend": "torch_native"}),
    ("known quantization", {"sglang_service_quantization": "w8a8_int8"}),
    ("tp divides", {"sglang_service_tp": 4}),
    ("tp as text", {"sglang_service_tp": "8"}),
    ("two servers apart", {"sglang_service_instances": two({"devices": [0, 1, 2, 3], "port": 30000},
                                                           {"devices": [4, 5, 6, 7], "port": 30001}, tp=4)}),
    ("multi-node", {"sglang_service_node_group": "pair", "sglang_service_tp": 16, "sglang_service_socket_ifname": "eth0"}),
    ("multi-node explicit nnodes", {"sglang_service_node_group": "pair", "sglang_service_tp": 16,
                                    "sglang_service_socket_ifname": "eth0",
                                    "sglang_service_extra_args": ["--nnodes", "2"]}),
    ("sixteen chips", {"docker_npu_board_chips": 16, "docker_npu_devices": list(range(16)),
                       "sglang_service_devices": list(range(16)), "sglang_service_tp": 16}),
    ("env devices", {"sglang_service_env": {"ASCEND_RT_VISIBLE_DEVICES": "4,5,6,7"}}),
    ("bench settings", {"sglang_bench_concurrency": [1, "8", 64], "sglang_bench_num_prompts": None,
                        "sglang_bench_sla": {"ttft_p99_ms": 0, "min_completed_ratio": 1, "e2e_p99_ms": None}}),
    ("temporary router apart", {"sglang_router_port": 30080, "sglang_router_prometheus_port": 29000,
                                "sglang_bench_router_port": 30081, "sglang_bench_router_prometheus_port": 29001}),
    ("upstream stack", {"npu_stack_profile": "upstream"}),
    ("post release of torch_npu", {"npu_stack_overrides": {"torch_npu": "2.6.0.post1"}}),
    ("commit ref", {"npu_stack_overrides": {"sglang_ref": "3f2c1d0e9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e"}}),
    ("shm in bytes", {"docker_npu_shm_size": 17179869184}),
    ("shm in terabytes", {"docker_npu_shm_size": "2T"}),
]


@pytest.mark.parametrize("changes", [c[1] for c in GOOD], ids=[c[0] for c in GOOD])
def test_valid_settings_raise_nothing(changes):
    assert rendered(run(changes)) == ""


def test_every_rule_and_every_row_is_exercised():
    """A rule or table row no case above triggers is untested."""
    hit_rules, hit_checks = set(), set()
    for changes in [case[1] for case in BAD]:
        for rule in cr.RULES:
            if run(changes, rules=[rule]):
                hit_rules.add(rule.__name__)
        for check in cr.INSTANCE_CHECKS:
            values = dict(copy.deepcopy(BASE), **changes)
            ctx = {"host": "h1", "groups": GROUPS, "stacks": STACKS, "contracts": CONTRACTS}
            if any(list(check(inst)) for inst in cr.instances(values, ctx)):
                hit_checks.add(check.__name__)
    assert hit_rules == set(r.__name__ for r in cr.RULES)
    assert hit_checks == set(c.__name__ for c in cr.INSTANCE_CHECKS)
    # Every VARIABLE_CHECKS row's own wrong value: tests/unit/test_every_option_validated.py.


@pytest.mark.parametrize("value, expected", [
    ("1000g", 1000 * 1024 ** 3), ("16G", 16 * 1024 ** 3), ("512m", 512 * 1024 ** 2), ("1024", 1024),
    (1073741824, 1073741824), ("64k", 65536), ("10b", 10), ("2t", 2 * 1024 ** 4), ("1P", 1024 ** 5),
    (" 16g ", 16 * 1024 ** 3), ("0", 0), (0, 0),
])
def test_size_bytes_reads_docker_sizes(value, expected):
    assert cr.size_bytes(value) == expected


@pytest.mark.parametrize("value", ["1.5g", "-1g", "16gb", "16 g", "g", "", "  ", "lots", "1e9", None, True, 1.5, -1,
                                   [1], {"g": 1}])
def test_size_bytes_refuses_anything_else(value):
    with pytest.raises(ValueError) as err:
        cr.size_bytes(value)
    assert "a size is" in str(err.value) and "1000g" in str(err.value)


def test_instance_settings_prefer_the_instance_key_even_when_empty():
    values = {"sglang_service_port": 30000, "sglang_service_api_key": "k", "sglang_service_env": {"A": "1"}}
    got = cr.instance_settings({"name": "a", "port": 31000, "api_key": "", "env": {"B": "2"}}, values)
    assert got["name"] == "a" and got["port"] == 31000
    assert got["api_key"] == ""                       # the instance's empty key wins
    assert got["env"] == {"B": "2"}                   # no deep merge
    assert got["tp"] is None                          # unset everywhere
    assert set(got) == set(cr.INSTANCE_KEYS) | {"name"}
    assert cr.instance_settings({"name": "b"}, values)["port"] == 30000


def test_secrets_never_reach_a_message():
    secret = "sk-planted-0123456789"
    problems = run({"sglang_service_instances": [{"name": "a", "api_key": secret, "port": 99999}],
                    "sglang_service_api_key": secret})
    assert [(p.variable, p.reason) for p in problems] == [("sglang_service_instances[0].port",
                                                          "server a: not a TCP port (1-65535)")]
    text = rendered(problems) + repr([p.as_dict() for p in problems])
    assert secret not in text
    hidden = cr.Problem("sglang_service_instances", [{"name": "a", "api_key": secret}], "r", "f")
    assert secret not in hidden.render("h") and REDACTED in hidden.render("h")
    assert cr.Problem("sglang_service_api_key", "", "r", "f").value == ""


def test_instance_keys_match_the_role_spec():
    """One list of per-server keys: the spec's suboptions and the merge here (which the role's
    resolver, module_utils/instances.py, calls)."""
    spec = yaml.safe_load(open(os.path.join(ROOT, "roles", "sglang_service", "meta", "argument_specs.yml"),
                               encoding="utf-8"))["argument_specs"]["main"]["options"]
    sub = spec["sglang_service_instances"]["options"]
    assert set(sub) == set(cr.INSTANCE_KEYS) | {"name"}
    for key in cr.INSTANCE_KEYS:
        role_var = spec[cr.INSTANCE_PREFIX + key]
        for field in ("type", "elements", "choices"):
            assert sub[key].get(field) == role_var.get(field), (key, field)
    assert cr.QUANTIZATIONS == tuple(c for c in spec["sglang_service_quantization"]["choices"] if c)


def test_the_launch_line_is_held_to_the_parser_of_the_profiles_release():
    """The seed builds SGLang 0.4.9, whose parser has no modelslim quantization and no flag
    --enable-npu-foo; the upstream profile's 0.5.12.post1 knows modelslim."""
    problems = run({"sglang_service_quantization": "modelslim", "sglang_service_extra_args": ["--enable-npu-foo"]},
                   rules=[cr.rule_instances])
    text = rendered(problems)
    assert ("host h1: sglang_service_quantization = 'modelslim': server main: SGLang 0.4.9 (the release of stack seed) "
            "refuses it: argument --quantization: invalid choice: 'modelslim'") in text
    assert ("host h1: sglang_service_extra_args = ['--enable-npu-foo']: server main: SGLang 0.4.9 (the release of "
            "stack seed) refuses it: unrecognized arguments: --enable-npu-foo") in text
    assert run({"npu_stack_profile": "upstream", "sglang_service_quantization": "modelslim"},
               rules=[cr.rule_instances]) == []
    assert run({}, rules=[cr.rule_instances]) == []
    # Every shipped profile names a release whose contract is checked in.
    assert sorted(str(s["sglang_release"]) for s in STACKS.values()) == sorted(CONTRACTS)


def test_every_launch_flag_names_a_rule_validation_applies():
    """A launch table row's rule is its spec's bool type or choices, its hand-written row, or a kind
    of value that gives it a generated row (and then no hand-written row shadows it)."""
    options = load_role_specs()["sglang_service"]
    generated = 0
    for setting, _flag, kind, rule in LAUNCH_FLAGS:
        name = cr.INSTANCE_PREFIX + setting
        rows = [row for row in cr.VARIABLE_CHECKS if row.pattern.match(name)]
        assert rule in cr.LAUNCH_RULES or rule in cr.LAUNCH_RULES_ELSEWHERE, (setting, rule)
        if rule == "bool":
            assert kind == "switch" and options[name]["type"] == "bool" and rows == [], setting
        elif rule == "choices":
            assert options[name].get("choices") and rows == [], setting
        elif rule == "own":
            assert len(rows) == 1, setting
        else:
            generated += 1
            assert len(rows) == 1 and rows[0].kind is cr.LAUNCH_RULES[rule], setting
    assert generated >= 1
