"""The simulated cluster end to end: bring it up, run site.yml twice, look inside, tear down."""
import json
import os
import re
import time

import pytest
import yaml

from simtest import PROXY_PROBE, ROOT, image_tag, included_for, recap, run, site_playbook, tool

from ansible_collections.npu.sglang.plugins.module_utils.sglang_args import check_argv  # after simtest's path

CHIPS = int(os.environ.get("NPU_SIM_CHIPS", "8"))
NODES = int(os.environ.get("NPU_SIM_NODES", "3"))


@pytest.fixture(scope="module")
def cluster(shared_cluster):
    return shared_cluster


def test_cluster_came_up(cluster):
    assert len(cluster["nodes"]) == NODES
    print("sim cluster of %d nodes up in %.1fs" % (NODES, cluster["up_seconds"]))


def test_nodes_look_like_atlas_hosts(cluster):
    for node in cluster["nodes"]:
        table = run(["docker", "exec", node, "npu-smi", "info"]).stdout
        assert len(re.findall(r"^\|\s*\d+\s+910B3\s+\|\s*OK", table, re.M)) == CHIPS, table
        devices = run(["docker", "exec", node, "sh", "-c", "ls /dev/davinci*"]).stdout.split()
        assert sorted(devices) == sorted(["/dev/davinci%d" % i for i in range(CHIPS)] + ["/dev/davinci_manager"])
        assert run(["docker", "exec", node, "docker", "info", "-f", "{{.ServerVersion}}"]).stdout.strip()


def test_ansible_reaches_every_node_over_ssh(cluster):
    out = run([tool("ansible"), "npu_nodes", "-i", "inventories/sim", "-m", "ansible.builtin.command",
               "-a", "hostname"]).stdout
    for node in cluster["nodes"]:
        assert re.search(r"^%s \| CHANGED" % re.escape(node), out, re.M), out


def unit_started_at(node, unit="npu-sglang@main.service"):
    return run(["docker", "exec", node, "systemctl", "show", "-p", "ActiveEnterTimestampMonotonic",
                "--value", unit]).stdout.strip()


def generate(node, port=30000):
    out = run(["docker", "exec", node, "curl", "-sf", "-m", "60", "http://127.0.0.1:%d/generate" % port,
               "-H", "Content-Type: application/json",
               "-d", '{"text": "The capital of France is", "sampling_params": {"max_new_tokens": 8}}'],
              check=False)
    return out.returncode, out.stdout


@pytest.fixture(scope="module")
def deployed(shared_deploy):
    return shared_deploy


def test_build_killed_half_way_fails_with_the_step_and_its_log(deployed):
    killed = deployed["killed"]
    assert killed["kill"] is not None and killed["kill"].returncode == 0, \
        "the build step never started or the kill failed:\n%s" % killed["out"][-5000:]
    assert killed["rc"] != 0, killed["out"][-5000:]
    stats = recap(killed["out"])
    assert stats[deployed["builder"]]["failed"] > 0, stats
    assert re.search(r"Installing the stack in \S+ failed; the end of its log", killed["out"]), killed["out"][-5000:]
    # The other nodes stop too, naming the builder.
    assert re.search(r"the image build on %s failed" % re.escape(deployed["builder"]), killed["out"]), \
        killed["out"][-5000:]
    print("killed build: failed after %.0fs, the re-run built in %.0fs"
          % (killed["seconds"], deployed["first_seconds"]))


def test_site_deploys_with_exactly_one_build(cluster, deployed):
    assert deployed["first_rc"] == 0, deployed["first"][-8000:]
    stats = recap(deployed["first"])
    assert set(cluster["nodes"]) <= set(stats), deployed["first"][-5000:]
    assert all(s["failed"] == 0 and s["unreachable"] == 0 for s in stats.values()), stats
    builders = included_for(deployed["first"], "sglang_build/tasks/build.yml")
    assert builders == [cluster["nodes"][0]], "builds: %s\n%s" % (builders, deployed["first"][-5000:])
    for node in cluster["nodes"]:
        code, body = generate(node)
        assert code == 0 and '"text"' in body, (node, code, body)
        assert run(["docker", "exec", node, "systemctl", "is-enabled", "npu-sglang@main"]).stdout.strip() == "enabled"


def test_second_run_changes_builds_and_transfers_nothing(cluster, deployed):
    assert deployed["second_rc"] == 0, deployed["second"][-8000:]
    stats = recap(deployed["second"])
    changed = dict((h, s["changed"]) for h, s in stats.items() if s["changed"])
    assert not changed, "second run changed something: %s\n%s" % (changed, deployed["second"][-8000:])
    assert not included_for(deployed["second"], "sglang_build/tasks/build.yml")
    assert re.search(r": found on %s, build skipped'?$" % re.escape(cluster["nodes"][0]), deployed["second"], re.M), \
        deployed["second"][-3000:]
    # The run's answer comes last: the image found, the servers through the gate, the router in
    # front of them (the sim inventory's group sglang_router).
    assert deployed["second"].rstrip().splitlines()[-4].startswith("npu.sglang: image npu-sglang:seed-")
    assert deployed["second"].rstrip().splitlines()[-4].endswith(" found, no build")
    assert deployed["second"].rstrip().splitlines()[-3] == "npu.sglang: 3 servers passed the health gate on 3 nodes"
    assert re.match(r"^npu\.sglang: router: http://\S+:30080 \(3 workers\)$",
                    deployed["second"].rstrip().splitlines()[-2]), deployed["second"][-3000:]
    # Distribution: no save, copy or load ran on any host (a skipped task still prints its header).
    for task in ("Save and compress the image on the builder", "Copy the archive to the node", "Load the image"):
        ran = task_hosts(deployed["second"], task)
        assert not ran, "%s ran on %s" % (task, ran)


def test_the_image_keeps_no_build_proxy(cluster, deployed):
    """The build's proxies reach its steps only: docker commit would keep the build container's
    environment in the image, and every server would inherit it."""
    tag = image_tag(deployed["second"])
    assert tag and tag.startswith("npu-sglang:"), deployed["second"][-3000:]
    for node in cluster["nodes"]:
        env = run(["docker", "exec", node, "docker", "image", "inspect", "-f", "{{json .Config.Env}}", tag]).stdout
        assert PROXY_PROBE not in env, (node, env)


def task_hosts(output, task):
    """Hosts a task ran on (ok, changed or failed; skipped ones apart), from the default callback's output."""
    hosts = []
    for section in re.split(r"^TASK \[[^\]]*: %s\] \**$" % re.escape(task), output, flags=re.M)[1:]:
        body = re.split(r"^(?:TASK|PLAY|RUNNING HANDLER) \[", section, maxsplit=1, flags=re.M)[0]
        hosts += re.findall(r"^(?:ok|changed|fatal|failed): \[([^\]]+)\]", body, re.M)
    return hosts


def test_killed_server_comes_back_without_ansible(cluster, deployed):
    node = cluster["nodes"][-1]
    before = unit_started_at(node)
    run(["docker", "exec", node, "systemctl", "kill", "-s", "KILL", "npu-sglang@main"])
    deadline = time.time() + 120
    code = None
    while time.time() < deadline:
        time.sleep(3)
        if unit_started_at(node) != before:
            code, _body = generate(node)
            if code == 0:
                break
    assert code == 0, "npu-sglang@main on %s did not come back healthy within 120 s" % node
    print("killed server on %s healthy again after %.0fs" % (node, 120 - (deadline - time.time())))


def test_changed_flag_restarts_exactly_that_unit(cluster, deployed, tmp_path):
    target = cluster["nodes"][1]
    extra = tmp_path / "hosts.yml"
    extra.write_text("all:\n  children:\n    npu_nodes:\n      hosts:\n        %s:\n"
                     "          sglang_service_mem_fraction_static: 0.85\n" % target)
    before = dict((n, unit_started_at(n)) for n in cluster["nodes"])
    out = site_playbook("-i", str(extra), "playbooks/serve.yml").stdout
    after = dict((n, unit_started_at(n)) for n in cluster["nodes"])
    restarted = sorted(n for n in cluster["nodes"] if before[n] != after[n])
    assert restarted == [target], (restarted, out[-5000:])
    stats = recap(out)
    assert [h for h, s in stats.items() if s["changed"]] == [target], stats
    assert "--mem-fraction-static 0.85" in run(["docker", "exec", target, "cat", "/etc/npu-sglang/main.run"]).stdout
    # And back: only that unit again.
    site_playbook("playbooks/serve.yml")


def test_the_image_carries_the_profiles_stack_and_release(cluster, deployed):
    """After the build, the image holds exactly the profile's pins (the build re-checks them too)
    and the SGLang release the profile names, from the commit the sim's mirror tag names."""
    stack = yaml.safe_load(open(os.path.join(ROOT, "roles", "npu_stack", "vars", "stacks", "seed.yml"),
                                encoding="utf-8"))["npu_stack_profile_data"]
    tag = image_tag(deployed["second"])
    node = cluster["nodes"][-1]
    probe = ("import importlib.metadata as m, json; print(json.dumps(dict((d, m.version(d)) for d in "
             "['torch', 'torchvision', 'torch_npu', 'triton-ascend', 'pybind11', 'sglang'])))")
    out = run(["docker", "exec", node, "docker", "run", "--rm", "--entrypoint", "python3", tag, "-c", probe]).stdout
    installed = json.loads(out.strip().splitlines()[-1])
    assert installed == {"torch": stack["torch"], "torchvision": stack["torchvision"], "torch_npu": stack["torch_npu"],
                         "triton-ascend": stack["triton_ascend"], "pybind11": stack["pybind11"],
                         "sglang": stack["sglang_release"]}, installed
    record = json.loads(run(["docker", "exec", node, "docker", "run", "--rm", "--entrypoint", "cat", tag,
                             "/etc/npu-sglang/build.json"]).stdout)
    mirror_tag = run(["git", "-C", os.path.join(ROOT, ".sim", "mirrors", "sglang.git"), "rev-parse",
                      "v0.4.9^{commit}"]).stdout.strip()
    assert record["inputs"]["commits"]["sglang"] == mirror_tag
    # SOC_VERSION of the kernel build from the builder's npu-smi chip name (910B3).
    assert record["inputs"]["soc_version"] == "Ascend910B3"
    assert record["installed"]["torch_npu"] == stack["torch_npu"] and record["installed"]["cann"] == stack["cann"]


def test_every_server_runs_a_line_its_release_accepts(cluster, deployed):
    """The unit's exact argv against the parser of the SGLang in the image (0.4.9 for the seed), and
    the server reports that release: the simulator answers as the release beside it."""
    with open(os.path.join(ROOT, "roles", "npu_stack", "files", "sglang_cli", "0.4.9.json"), encoding="utf-8") as handle:
        options = json.load(handle)["options"]
    for node in cluster["nodes"]:
        inst = json.loads(run(["docker", "exec", node, "cat", "/etc/npu-sglang/main.json"]).stdout)
        argv = inst["argv"]
        start = argv.index("--model-path")
        assert check_argv(options, argv[start:]) == [], argv
        assert "--attention-backend" in argv and argv[argv.index("--attention-backend") + 1] == "ascend"
        version = run(["docker", "exec", node, "curl", "-sf", "-m", "10", "http://127.0.0.1:30000/get_server_info"])
        assert json.loads(version.stdout)["version"] == "0.4.9", version.stdout[:500]


def test_preflight_refuses_pins_that_do_not_exist_upstream(cluster, deployed):
    """The recipe's deleted fork branch and the never-published torch_npu 2.6.0.post1: refused by
    preflight.yml within a minute, each named with where it looked and the fix, before any build."""
    overrides = {"sglang_repo": "/srv/npu-sim/git/sglang.git", "vllm_repo": "/srv/npu-sim/git/vllm.git",
                 "vllm_ascend_repo": "/srv/npu-sim/git/vllm-ascend.git",
                 "sglang_ref": "ascend_attention_backend", "torch_npu": "2.6.0.post1"}

    def build_containers():
        return run(["docker", "exec", cluster["nodes"][0], "docker", "ps", "-aq", "--no-trunc", "--filter",
                    "label=npu.sglang.role=build"]).stdout.split()

    before = build_containers()
    began = time.time()
    out = site_playbook("playbooks/preflight.yml", "-e", json.dumps({"npu_stack_overrides": overrides}), check=False)
    seconds = time.time() - began
    assert out.returncode != 0, out.stdout[-3000:]
    assert seconds < 60, seconds
    text = " ".join(out.stdout.split())
    assert ("git ref sglang_ref = ascend_attention_backend is not in /srv/npu-sim/git/sglang.git (no branch, tag or "
            "advertised commit of that name). Fix:") in text, out.stdout[-3000:]
    assert re.search(r"package torch_npu = 2\.6\.0\.post1 \(torch-npu\) is not published for Python 3\.11 on x86_64 "
                     r"in the configured package index; it has .*?2\.6\.0\.post3", text), out.stdout[-3000:]
    assert "stack profile seed (checked from %s)" % cluster["nodes"][0] in text
    # Every node stopped there: no build task ran and no build container was made.
    for task in ("Check out the sources on the builder", "Start a fresh build container", "Build the image"):
        assert not task_hosts(out.stdout, task), task
    assert build_containers() == before
    print("preflight refused the bad pins in %.1fs" % seconds)
    # A profile whose wheels are for another machine: every node is refused, naming its architecture.
    arm = site_playbook("playbooks/preflight.yml", "-e", json.dumps({"npu_stack_overrides": dict(
        overrides, sglang_ref="v0.4.9", torch_npu="2.6.0", architectures=["aarch64"])}), check=False)
    assert arm.returncode != 0
    arm_text = " ".join(arm.stdout.split())
    for node in cluster["nodes"]:
        assert ("host %s: machine architecture x86_64, but the stack profile seed pins wheels for aarch64 only: "
                "use a profile for x86_64" % node) in arm_text, arm.stdout[-3000:]


def test_serve_alone_puts_the_image_on_a_node_that_lacks_it(cluster, deployed):
    """serve.yml (as smoke.yml and hardware_check.yml, through sglang_build's ensure) works on a
    node without the image: it loads it there, builds nothing, and the node serves again."""
    tag = image_tag(deployed["second"])
    node = cluster["nodes"][-1]
    run(["docker", "exec", node, "systemctl", "stop", "npu-sglang@main"])
    run(["docker", "exec", node, "docker", "rmi", "-f", tag])
    out = site_playbook("playbooks/serve.yml").stdout
    assert task_hosts(out, "Load the image") == [node], out[-5000:]
    assert not included_for(out, "sglang_build/tasks/build.yml")
    code, body = generate(node)
    assert code == 0 and '"text"' in body, (node, code, body)
