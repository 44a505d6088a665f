"""The one instance resolver (module_utils/instances.py): what the units, the health gate, the smoke
tests and the doctor's record read. It was checked equal to the Jinja template it replaced
(roles/sglang_service/templates/instances.j2) on these cases before that was removed."""
from ansible_collections.npu.sglang.plugins.module_utils.instances import resolve, variable_names

SPEC = {"privileged": False, "env": {"TASK_QUEUE_ENABLE": "2", "A": "spec"},
        "devices": ["/dev/davinci0:/dev/davinci0:rwm", "/dev/davinci1:/dev/davinci1:rwm",
                    "/dev/davinci_manager:/dev/davinci_manager:rwm", "/dev/hisi_hdc:/dev/hisi_hdc:rwm"]}
VALUES = {
    "sglang_service_model_path": "/data/models/m", "sglang_service_served_model_name": "m",
    "sglang_service_devices": [0, 1, 2, 3, 4, 5, 6, 7], "sglang_service_tp": 8, "sglang_service_device": "npu",
    "sglang_service_attention_backend": "ascend", "sglang_service_grammar_backend": "outlines",
    "sglang_service_disable_overlap_schedule": True, "sglang_service_max_total_tokens": None,
    "sglang_service_mem_fraction_static": 0.9, "sglang_service_quantization": "",
    "sglang_service_chunked_prefill_size": None, "sglang_service_enable_metrics": False,
    "sglang_service_host": "0.0.0.0", "sglang_service_port": 30000, "sglang_service_auth": False,
    "sglang_service_api_key": "", "sglang_service_extra_args": [], "sglang_service_env": {},
    "sglang_service_launcher": ["python3", "-m", "sglang.launch_server"], "sglang_service_image": "npu-sglang:abc",
    "sglang_service_profiler_dir": "/var/lib/npu-sglang/profile", "sglang_service_node_group": "",
    "sglang_service_dist_port": 5000, "sglang_service_socket_ifname": "",
}
GROUPS = {"npu_nodes": ["h1", "h2"], "pair": ["h1", "h2"]}
ENV_DEFAULTS = {"USE_VLLM_CUSTOM_ALLREDUCE": "0"}
ADDRESSES = {"h1": "10.0.0.1", "h2": "10.0.0.2"}


def run(entries, host="h1", spec=None, **changes):
    values = dict(VALUES, **changes)
    return resolve(entries, values, host, GROUPS, spec or SPEC, ENV_DEFAULTS, ADDRESSES.get)


def test_every_instance_variable_is_read():
    assert sorted(variable_names()) == sorted(list(VALUES))


def test_one_server_on_all_chips_with_logical_device_ids():
    (inst,), keys = run([{"name": "main"}])
    assert keys == {"main": ""}
    assert inst == {
        "name": "main", "unit": "npu-sglang@main.service", "container": "npu-sglang-main", "image": "npu-sglang:abc",
        "port": 30000, "host": "0.0.0.0", "devices": list(range(8)), "tp": 8,
        "argv": ["python3", "-m", "sglang.launch_server", "--model-path", "/data/models/m", "--served-model-name", "m",
                 "--tp-size", "8", "--device", "npu", "--attention-backend", "ascend", "--grammar-backend", "outlines",
                 "--disable-overlap-schedule", "--mem-fraction-static", "0.9", "--host", "0.0.0.0", "--port", "30000"],
        "env": {"TASK_QUEUE_ENABLE": "2", "A": "spec", "USE_VLLM_CUSTOM_ALLREDUCE": "0",
                "ASCEND_RT_VISIBLE_DEVICES": "0,1,2,3,4,5,6,7", "SGLANG_TORCH_PROFILER_DIR": "/var/lib/npu-sglang/profile"},
        "auth": False, "profiler_dir": "/var/lib/npu-sglang/profile", "node_rank": 0, "nnodes": 1,
        "docker_devices": ["/dev/davinci_manager:/dev/davinci_manager:rwm", "/dev/hisi_hdc:/dev/hisi_hdc:rwm"]
        + ["/dev/davinci%d:/dev/davinci%d:rwm" % (i, i) for i in range(8)],
    }


def test_two_servers_on_their_own_chips_with_their_own_keys_and_env():
    insts, keys = run([{"name": "a", "devices": [4, 5], "port": 30001, "api_key": "k1", "env": {"A": "inst"}},
                       {"name": "b", "devices": ["6", "7"], "port": 30002, "extra_args": ["--x", "1"]}])
    assert keys == {"a": "k1", "b": ""}
    a, b = insts
    assert (a["tp"], a["auth"], a["devices"], a["env"]["ASCEND_RT_VISIBLE_DEVICES"], a["env"]["A"]) == (2, True, [4, 5], "0,1", "inst")
    assert "k1" not in repr(a)
    assert (b["tp"], b["auth"], b["devices"], b["argv"][-2:]) == (2, False, [6, 7], ["--x", "1"])
    assert b["docker_devices"][-2:] == ["/dev/davinci6:/dev/davinci6:rwm", "/dev/davinci7:/dev/davinci7:rwm"]


def test_privileged_containers_see_the_hosts_chip_numbers():
    (inst,), _keys = run([{"name": "a", "devices": [4, 5]}], spec=dict(SPEC, privileged=True))
    assert inst["env"]["ASCEND_RT_VISIBLE_DEVICES"] == "4,5"


def test_a_multi_node_server_reaches_its_head_by_address():
    (inst,), _keys = run([{"name": "g"}], host="h2", sglang_service_node_group="pair", sglang_service_tp=16,
                         sglang_service_socket_ifname="eth0", sglang_service_dist_port=5001)
    assert inst["argv"][-6:] == ["--nnodes", "2", "--node-rank", "1", "--dist-init-addr", "10.0.0.1:5001"]
    assert (inst["nnodes"], inst["node_rank"], inst["tp"]) == (2, 1, 16)
    assert inst["env"]["HCCL_SOCKET_IFNAME"] == inst["env"]["GLOO_SOCKET_IFNAME"] == "eth0"
    # A server on its own chips over the group: tp counts them on every node.
    (own,), _keys = run([{"name": "g", "node_group": "pair", "devices": [0, 1, 2, 3]}])
    assert (own["tp"], own["node_rank"]) == (8, 0)
