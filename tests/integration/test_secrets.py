"""A planted API key stays secret: sourced from Ansible Vault, enforced by the servers, and found
nowhere but in the root-only key file each server reads.

On the shared cluster after the e2e and runner tests: serve.yml with the key from a vault file
(auth required) and router.yml (the router on the first node takes the same key), then
benchmark.yml (the real client, which needs the key) with its report: the per-node sweep and,
through the router, the fleet sweep and the routing-policy comparison on a shared-prefix workload,
which must show cache_aware keeping more prefix-cache hits than round_robin. Then
every playbook output (at -v), every file of the report, and every node's files outside the
Docker image store (unit files, the server files, logs, the journal, the benchmark's run
directory, the containers' logs) are searched for the key, and so is every process's command line on
every node (the server reads the key file in-process: SGLang gets the flag in its sys.argv, never on
a command line). The cluster goes back to serving without a key at the end.
"""
import json
import re
import uuid

import pytest

from simtest import run, site_playbook, tool

pytestmark = [pytest.mark.sim, pytest.mark.slow]

SECRET = "npu-key-" + uuid.uuid4().hex
RUN_ID = "secret-4242"
BENCH = {"sglang_bench_concurrency": [1, 2], "sglang_bench_input_len": 32, "sglang_bench_output_len": 8,
         "sglang_bench_num_prompts": 4, "sglang_bench_run_id": RUN_ID,
         # Through the router: one fleet point, and both policies on 4 groups of 4 prompts sharing
         # a 512-token system prompt.
         "sglang_bench_fleet_concurrency": [3], "sglang_bench_gsp_num_groups": 4, "sglang_bench_gsp_prompts_per_group": 4,
         "sglang_bench_gsp_system_prompt_len": 512, "sglang_bench_gsp_question_len": 16, "sglang_bench_gsp_output_len": 4,
         "sglang_bench_gsp_concurrency": 4}
# The file that holds the key by design, root-only, mounted into the server's container. (The
# benchmark client's env file of the server exists only while the benchmark runs.)
ALLOWED = [r"^/etc/npu-sglang/main\.key$", r"^/etc/npu-sglang-router/api_key$"]


def on(node, *cmd, check=True):
    return run(["docker", "exec", node] + list(cmd), check=check)


@pytest.fixture(scope="module")
def keyed(shared_cluster, shared_deploy, tmp_path_factory):
    assert shared_deploy["first_rc"] == 0, "the shared cluster's deploy failed (see test_sim_e2e.py)"
    work = tmp_path_factory.mktemp("secrets")
    password = work / "vault-pass"
    password.write_text(uuid.uuid4().hex + "\n")
    vault = work / "secrets.yml"
    vault.write_text("---\nsglang_service_api_key: %s\n" % SECRET)
    run([tool("ansible-vault"), "encrypt", "--vault-password-file", str(password), str(vault)])
    assert SECRET not in vault.read_text()
    reports = work / "reports"
    common = ["-v", "-e", "@" + str(vault), "--vault-password-file", str(password), "-e", "sglang_service_auth=true"]
    outputs = {}
    try:
        outputs["serve"] = site_playbook(*(common + ["playbooks/serve.yml"]), timeout=1200).stdout
        outputs["router"] = site_playbook(*(common + ["playbooks/router.yml"]), timeout=900).stdout
        bench = json.dumps(dict(BENCH, sglang_bench_report_dir=str(reports)))
        outputs["benchmark"] = site_playbook(*(common + ["-e", bench, "playbooks/benchmark.yml"]), timeout=1800).stdout
        yield {"nodes": shared_cluster["nodes"], "outputs": outputs, "reports": reports}
    finally:
        site_playbook("playbooks/serve.yml", timeout=1200, check=False)
        site_playbook("playbooks/router.yml", timeout=900, check=False)


def _status(node, key=None):
    cmd = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "30", "http://127.0.0.1:30000/generate",
           "-H", "Content-Type: application/json", "-d", '{"text": "Hi", "sampling_params": {"max_new_tokens": 2}}']
    if key:
        cmd += ["-H", "Authorization: Bearer " + key]
    return on(node, *cmd, check=False).stdout.strip()


def test_the_servers_require_the_vaulted_key(keyed):
    for node in keyed["nodes"]:
        assert _status(node) == "401", node
        assert _status(node, "wrong-" + SECRET) == "401", node
        assert _status(node, SECRET) == "200", node


def test_the_fleet_goes_through_the_router_and_cache_aware_keeps_more_prefix_hits(keyed):
    summary = json.loads((keyed["reports"] / RUN_ID / "report" / "summary.json").read_text(encoding="utf-8"))
    fleet = summary["fleet"]
    assert fleet["workers"] == len(keyed["nodes"]) and fleet["policy"] == "cache_aware", fleet
    assert [(row["max_concurrency"], row["state"]) for row in fleet["sweep"]] == [(3, "ok")], fleet["sweep"]
    assert fleet["sweep"][0]["output_throughput"] > 0, fleet["sweep"]
    policies = dict((row["policy"], row) for row in fleet["policies"])
    assert sorted(policies) == ["cache_aware", "round_robin"] and all(row["state"] == "ok" for row in policies.values())
    assert policies["cache_aware"]["cached_tokens"] > policies["round_robin"]["cached_tokens"], policies
    assert "## Fleet through the router" in (keyed["reports"] / RUN_ID / "report" / "report.md").read_text(encoding="utf-8")
    assert "npu.sglang: fleet through the router:" in keyed["outputs"]["benchmark"]
    # The temporary router of the comparison is gone; the production one serves on.
    router = keyed["nodes"][0]
    assert on(router, "systemctl", "is-active", "npu-sglang-bench-router.service", check=False).stdout.strip() != "active"
    assert on(router, "systemctl", "is-active", "npu-sglang-router.service").stdout.strip() == "active"


def test_files_that_hold_the_key_are_root_only(keyed):
    router = keyed["nodes"][0]
    mode, owner = on(router, "stat", "-c", "%a %U", "/etc/npu-sglang-router/api_key").stdout.split()
    assert (mode, owner) == ("600", "root"), (router, mode, owner)
    for node in keyed["nodes"]:
        for path in ["/etc/npu-sglang/main.key", "/etc/npu-sglang/main.env"]:
            mode, owner = on(node, "stat", "-c", "%a %U", path).stdout.split()
            assert (mode, owner) == ("600", "root"), (node, path, mode, owner)
        # The benchmark's key files are removed with its run (finish.yml).
        keys = on(node, "sh", "-c", "find / -xdev -path '*/%s/.keys*' 2>/dev/null; true" % RUN_ID).stdout.split()
        assert not keys, (node, keys)


def test_the_key_is_in_no_output(keyed):
    for name, text in keyed["outputs"].items():
        assert SECRET not in text, "the key is in the output of %s" % name


def test_the_key_is_in_no_report_file(keyed):
    report = keyed["reports"] / RUN_ID
    files = [p for p in report.rglob("*") if p.is_file()]
    assert any(p.name == "report.html" for p in files) and any(p.suffix == ".jsonl" for p in files), files
    leaks = [str(p) for p in files if SECRET.encode() in p.read_bytes()]
    assert not leaks, leaks


def test_the_key_is_in_no_node_file_log_or_journal(keyed):
    for node in keyed["nodes"]:
        # Files outside the image store and the kernel's trees, the containers' logs included.
        found = on(node, "sh", "-c", "grep -rlaF --exclude-dir=overlay2 --exclude-dir=image -e %s / "
                   "--exclude-dir=proc --exclude-dir=sys --exclude-dir=dev 2>/dev/null; true" % SECRET).stdout.split()
        leaks = [p for p in found if not any(re.match(a, p) for a in ALLOWED)]
        assert not leaks, (node, leaks)
        assert "/etc/npu-sglang/main.key" in found, "the search did not see the key file on %s" % node
        journal = on(node, "journalctl", "--no-pager", "-o", "cat").stdout
        assert SECRET not in journal, node
        # The server did log its flags, with the key blanked.
        assert "api_key='<redacted>'" in journal, node
        logs = on(node, "sh", "-c", "docker logs npu-sglang-main 2>&1").stdout
        assert SECRET not in logs and "<redacted>" in logs, node
        unit = on(node, "systemctl", "cat", "npu-sglang@main.service").stdout
        assert SECRET not in unit and SECRET not in on(node, "cat", "/etc/npu-sglang/main.run").stdout


def test_the_key_is_on_no_command_line(keyed):
    """Any user of a node reads every process's command line (ps); the key is on none of them,
    the server's included, while the server holds it (the requests above needed it)."""
    for node in keyed["nodes"]:
        assert _status(node, SECRET) == "200", node
        lines = on(node, "ps", "-eo", "pid,args", "--no-headers").stdout.splitlines()
        server = [line for line in lines if "sglang-sim" in line or "sglang.launch_server" in line]
        assert server, (node, lines)
        leaks = [line for line in lines if SECRET in line]
        assert not leaks, (node, leaks)
        # /proc/<pid>/cmdline itself, which ps reads, for every process the node can see.
        cmdlines = on(node, "sh", "-c", "cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '; true").stdout
        assert "sglang" in cmdlines and SECRET not in cmdlines, node
