"""The validation action on one host's variables: argument specs on what the host sets, role
defaults templated with the host's variables, then the cross-field rules.

Runs the action's own code (validate_host) with a real Templar, as the action does; the
ansible-playbook runs are in tests/integration/test_bad_input.py.
"""
import os

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from ansible_collections.npu.sglang.plugins.action.validate_inventory import (
    EXTRA_VARIABLES,
    is_template,
    load_role_defaults,
    load_role_specs,
    load_stacks,
    validate_host,
)
from ansible_collections.npu.sglang.plugins.module_utils.launch import LAUNCH_FLAGS

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
MODEL = {"sglang_service_model_path": "/data/models/Qwen3-8B"}
GROUPS = {"all": ["h1", "h2"], "npu_nodes": ["h1", "h2"], "pair": ["h1", "h2"]}


def host_vars(**variables):
    """task_vars as the inventory gives them: strings trusted as templates, magic variables set."""
    out = {"inventory_hostname": "h1", "groups": GROUPS, "group_names": ["npu_nodes", "pair"],
           "ansible_play_hosts_all": ["h1", "h2"]}
    for name, value in variables.items():
        out[name] = trust_as_template(value) if isinstance(value, str) else value
    return out


def validate(**variables):
    problems, values = validate_host("h1", host_vars(**variables), Templar(loader=DataLoader(), variables={}))
    return [p.render("h1") for p in problems], values


def problem_lines(**variables):
    return validate(**variables)[0]


def host_values(**variables):
    return validate(**variables)[1]


def test_role_defaults_with_a_model_path_are_valid():
    lines, values = validate(**MODEL)
    assert lines == []
    assert values.set_names == ["sglang_service_model_path"]


def test_role_defaults_alone_lack_only_the_model():
    lines = problem_lines()
    assert len(lines) == 1 and lines[0].startswith("host h1: sglang_service_model_path = '': "), lines


def test_templated_defaults_follow_the_host_variables():
    # docker_npu_devices and sglang_service_devices/tp are templates over docker_npu_board_chips.
    lines, values = validate(docker_npu_board_chips=16, **MODEL)
    assert lines == []
    assert values["docker_npu_devices"] == list(range(16))
    assert values["sglang_service_tp"] == 16
    assert "sglang_service_tp" in values.derived and "sglang_service_tp" not in values.set_names
    lines = problem_lines(docker_npu_board_chips=16, sglang_service_tp=32, **MODEL)
    assert lines == ["host h1: sglang_service_tp = 32: server main: tp 32 is larger than the 16 chips in use. "
                     "Fix: set sglang_service_tp to at most 16, or give the server more chips (sglang_service_devices)"]


def test_host_values_may_use_role_defaults_and_are_checked_templated():
    lines, values = validate(sglang_service_tp="{{ docker_npu_board_chips // 2 }}", **MODEL)
    assert lines == [] and values["sglang_service_tp"] == 4
    lines = problem_lines(sglang_service_tp="{{ docker_npu_board_chips - 5 }}", **MODEL)
    assert lines and lines[0].startswith("host h1: sglang_service_tp = 3: server main: tp 3 does not divide"), lines


def test_spec_errors_name_variable_value_and_fix():
    lines = problem_lines(docker_npu_privileged="maybe", npu_preflight_min_free_gb="plenty", **MODEL)
    assert any(line.startswith("host h1: docker_npu_privileged = 'maybe': ") and "Fix: set docker_npu_privileged to a bool"
               in line for line in lines), lines
    assert any(line.startswith("host h1: npu_preflight_min_free_gb = 'plenty': ") and "a float" in line
               for line in lines), lines


def test_a_spec_error_is_not_repeated_by_a_rule():
    lines = problem_lines(sglang_service_quantization="fp8", **MODEL)
    assert len(lines) == 1 and "must be one of" in lines[0] and "Fix: set sglang_service_quantization to one of ''" in lines[0]


def test_instance_entries_are_checked_against_the_spec():
    lines = problem_lines(sglang_service_instances=[{"name": "a", "prot": 1}], **MODEL)
    assert any("sglang_service_instances" in line and "prot" in line and "Fix:" in line for line in lines), lines
    lines = problem_lines(sglang_service_instances=[{"port": 1}], **MODEL)
    assert any("required" in line and "name" in line for line in lines), lines


def test_a_value_that_cannot_be_templated_is_a_problem():
    lines = problem_lines(sglang_service_port="{{ no_such_variable }}", **MODEL)
    assert len(lines) == 1, lines
    assert lines[0].startswith("host h1: sglang_service_port = '{{ no_such_variable }}': cannot be templated")
    assert "no_such_variable" in lines[0] and "Fix:" in lines[0]


def test_a_value_equal_to_the_default_is_not_counted_as_set():
    # Imported roles (npu_stack in the validation play) expose their defaults as play variables.
    values = host_values(npu_stack_profile="seed", npu_stack_overrides={}, **MODEL)
    assert values.set_names == ["sglang_service_model_path"]


def test_variables_of_roles_without_specs_are_validated_when_set():
    assert EXTRA_VARIABLES.match("sglang_build_sglang_ref") and EXTRA_VARIABLES.match("sglang_bench_sla")
    lines, values = validate(sglang_build_sglang_ref="a b", **MODEL)
    assert "sglang_build_sglang_ref" in values.set_names
    assert lines == ["host h1: sglang_build_sglang_ref = 'a b': a git ref cannot contain white space. "
                     "Fix: give a branch, tag or commit id without spaces"]


def test_multi_node_uses_the_inventory_groups():
    lines = problem_lines(sglang_service_node_group="pair", sglang_service_tp=16, sglang_service_socket_ifname="eth0",
                          **MODEL)
    assert lines == []
    lines = problem_lines(sglang_service_node_group="pair", sglang_service_tp=16, sglang_service_socket_ifname="eth0",
                          sglang_service_extra_args=["--nnodes", "4"], **MODEL)
    assert len(lines) == 1 and "--nnodes 4 does not match the 2 node(s) of group pair" in lines[0], lines


def test_secrets_stay_out_of_the_result():
    secret = "sk-planted-0123456789"
    variables = host_vars(sglang_service_instances=[{"name": "a", "api_key": secret, "port": "http"}], **MODEL)
    problems = validate_host("h1", variables, Templar(loader=DataLoader(), variables={}))[0]
    assert [p.variable for p in problems] == ["sglang_service_instances", "sglang_service_instances[0].port"], \
        [p.render("h1") for p in problems]
    assert secret not in repr([p.as_dict() for p in problems]) + "".join(p.render("h1") for p in problems)


def test_every_role_default_passes_its_own_argument_spec():
    """The specs describe the defaults: templated with a model path, every default fits its spec."""
    specs = load_role_specs()
    values = host_values(**MODEL)
    for role, options in specs.items():
        provided = dict((k, values[k]) for k in options if k in values and values[k] is not None)
        result = ArgumentSpecValidator(options).validate(provided)
        assert result.error_messages == [], (role, result.error_messages)


def test_the_service_spec_documents_every_default():
    """Every variable of defaults/main.yml is an option; the launch table's settings keep their
    default in the spec alone (the resolver applies it), but for one Ansible must compute (tp)."""
    defaults = yaml.safe_load(open(os.path.join(ROOT, "roles", "sglang_service", "defaults", "main.yml"),
                                   encoding="utf-8"))
    options = load_role_specs()["sglang_service"]
    launch = set("sglang_service_" + row[0] for row in LAUNCH_FLAGS)
    assert set(options) == set(defaults) | launch
    assert launch & set(defaults) == {"sglang_service_tp"}
    assert is_template(defaults["sglang_service_tp"]) and "default" not in options["sglang_service_tp"]
    for name, spec in options.items():
        assert spec.get("description"), name


def test_a_spec_default_is_the_role_default():
    """ansible-core shows an argument spec's default but never applies it: where a role's
    defaults/main.yml sets the variable too, the two must be equal."""
    defaults = load_role_defaults()
    checked = 0
    for role, options in load_role_specs().items():
        for name, spec in options.items():
            if "default" in spec and name in defaults:
                checked += 1
                assert spec["default"] == defaults[name], (role, name, spec["default"], defaults[name])
    assert checked > 100


@pytest.mark.parametrize("loader", [load_role_specs, load_role_defaults, load_stacks])
def test_the_collection_data_loads(loader):
    assert loader()


def test_the_stack_profiles_are_the_stack_files():
    """The files under vars/stacks/ are the profiles, each named as its file; no other list of them
    (npu_stack's spec has no choices) has to follow a new file."""
    assert "choices" not in load_role_specs()["npu_stack"]["npu_stack_profile"]
    assert sorted(load_stacks()) == sorted(name[:-4] for name in os.listdir(os.path.join(ROOT, "roles", "npu_stack", "vars", "stacks")))
    assert all(stack["name"] == name for name, stack in load_stacks().items())
    assert problem_lines(npu_stack_profile="upstream", **MODEL) == []
    lines = problem_lines(npu_stack_profile="nightly", **MODEL)
    assert len(lines) == 1 and lines[0].startswith("host h1: npu_stack_profile = 'nightly': no such stack profile"), lines
    assert "seed, upstream" in lines[0]


def test_a_server_over_a_node_group_defaults_to_the_chips_of_every_node():
    """tp = chips per node x nodes: the default used to be one node's chips, half a 2-node model."""
    values = host_values(sglang_service_node_group="pair", sglang_service_socket_ifname="eth0", **MODEL)
    assert int(values["sglang_service_tp"]) == 16
    assert int(host_values(**MODEL)["sglang_service_tp"]) == 8
    assert problem_lines(sglang_service_node_group="pair", sglang_service_socket_ifname="eth0", **MODEL) == []
