"""Check mode and a non-root SSH user, on one private simulated node.

The node gets a user `deploy` (the cluster's SSH key, passwordless sudo, not in the docker group),
added with `docker exec`, so the shared sim images stay as they are. site.yml deploys as that
user, become making it root through sudo, with an API key and a token in the servers'
environment from an Ansible Vault file. Then:
- `site.yml --check --diff` as `deploy` reports changed=0 failed=0, prints neither secret and
  leaves the node as it was;
- `playbooks/serve.yml --check --diff` with a new key and token predicts the change, prints
  neither new secret, and changes nothing;
- as root, become needs no sudo at all (Ansible skips it when the SSH user is the become user),
  while `deploy` without sudo fails: so the same plays serve root-SSH hosts without sudo.

The image comes from the controller's cache (the e2e's, which runs before this file in the suite,
or the user's), loaded onto the node as in any deploy: no build.
"""
import glob
import os
import re
import uuid

import pytest

from simtest import IMAGE_CACHE, private_cluster, recap, run, tool

pytestmark = [pytest.mark.sim, pytest.mark.slow]

PREFIX = "chkb-it-node"
NETWORK = "chkb-it-net"
NODE = PREFIX + "1"
USER = "deploy"
SECRETS = {"key": "npu-key-" + uuid.uuid4().hex, "token": "hf-token-" + uuid.uuid4().hex}
NEW_SECRETS = {"key": "npu-key-" + uuid.uuid4().hex, "token": "hf-token-" + uuid.uuid4().hex}
# What the check runs must leave exactly as the deploy wrote it.
WATCHED = "/etc/npu-sglang/main.env /etc/npu-sglang/main.key /etc/npu-sglang/main.run /etc/systemd/system/npu-sglang@.service"


def on(*cmd, check=True):
    return run(["docker", "exec", NODE] + list(cmd), check=check)


def _image_cache():
    """The e2e's controller cache when it holds an image archive, else the role's default."""
    if glob.glob(os.path.join(IMAGE_CACHE, "*.tar.zst")):
        return ["-e", "sglang_build_cache_dir=" + IMAGE_CACHE]
    return []


def _vault(work, name, secrets, password):
    path = work / name
    path.write_text("---\nsglang_service_auth: true\nsglang_service_api_key: %s\n"
                    "sglang_service_env:\n  HF_TOKEN: %s\n" % (secrets["key"], secrets["token"]))
    run([tool("ansible-vault"), "encrypt", "--vault-password-file", str(password), str(path)])
    assert secrets["key"] not in path.read_text()
    return str(path)


@pytest.fixture(scope="module")
def cluster(sim_image, tmp_path_factory):
    del sim_image
    work = tmp_path_factory.mktemp("check_become")
    password = work / "vault-pass"
    password.write_text(uuid.uuid4().hex + "\n")
    vaults = {"deployed": _vault(work, "deployed.yml", SECRETS, password),
              "new": _vault(work, "new.yml", NEW_SECRETS, password)}
    with private_cluster(work, PREFIX, NETWORK, nodes=1, chips=8) as made:
        on("sh", "-ec", "useradd -m -s /bin/bash {u}; install -d -o {u} -g {u} -m 0700 /home/{u}/.ssh;"
           " install -o {u} -g {u} -m 0600 /root/.ssh/authorized_keys /home/{u}/.ssh/authorized_keys;"
           " echo '{u} ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/{u}; chmod 0440 /etc/sudoers.d/{u};"
           " visudo -c -q".format(u=USER))
        yield dict(made, vaults=vaults, password=str(password))


def playbook(cluster, book, vault, *extra, user=USER):
    # No router here (a group with no host): check mode before the router's first install is not
    # covered yet; test_router_fleet.py deploys it.
    cmd = [tool("ansible-playbook"), book, "-i", cluster["inventory"], "-e", "ansible_user=" + user,
           "-e", "npu_sglang_router_group=no_router_here",
           "-e", "@" + cluster["vaults"][vault], "--vault-password-file", cluster["password"]]
    return run(cmd + _image_cache() + list(extra), check=False, timeout=1800)


def _state():
    """Checksums of the deployed files and the serving container's id."""
    sums = on("sh", "-c", "sha256sum " + WATCHED).stdout
    return sums, on("docker", "inspect", "-f", "{{.Id}}", "npu-sglang-main").stdout.strip()


def _status(key):
    return on("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "30", "http://127.0.0.1:30000/generate",
              "-H", "Content-Type: application/json", "-H", "Authorization: Bearer " + key,
              "-d", '{"text": "Hi", "sampling_params": {"max_new_tokens": 2}}', check=False).stdout.strip()


def _leaks(text, secrets):
    return [name for name, value in secrets.items() if value in text]


@pytest.fixture(scope="module")
def deployed(cluster):
    # Every stage that changes the nodes (README: a stage's tag runs what it needs); the preflight,
    # which changes nothing, runs as the non-root user in the check run below.
    out = playbook(cluster, "site.yml", "deployed", "--tags", "serve")
    assert out.returncode == 0, out.stdout[-6000:]
    return {"out": out.stdout, "state": _state()}


def test_deploy_as_a_non_root_user_through_sudo(deployed):
    # Docker and the files under /etc are root's: the user reaches them only through become.
    assert "docker" not in on("id", "-nG", USER).stdout.split()
    # The modules ran as root through sudo, started by the SSH user.
    sudo = on("journalctl", "--no-pager", "-o", "cat", "_COMM=sudo").stdout
    assert "%s : " % USER in sudo and "USER=root" in sudo, sudo[-2000:]
    for path in ("/etc/npu-sglang/main.env", "/etc/npu-sglang/main.key"):
        assert on("stat", "-c", "%a %U", path).stdout.split() == ["600", "root"], path
    assert _status(SECRETS["key"]) == "200"
    assert not _leaks(deployed["out"], SECRETS)
    # The token is in the root-only environment file, not in the world-readable record.
    assert SECRETS["token"] in on("cat", "/etc/npu-sglang/main.env").stdout
    assert not _leaks(on("cat", "/etc/npu-sglang/main.json").stdout, SECRETS)


def test_check_diff_of_site_changes_nothing_and_prints_no_secret(cluster, deployed):
    out = playbook(cluster, "site.yml", "deployed", "--check", "--diff")
    assert out.returncode == 0, out.stdout[-6000:]
    stats = recap(out.stdout)
    assert list(stats) == [NODE], stats
    assert all(h["changed"] == 0 and h["failed"] == 0 and h["unreachable"] == 0 for h in stats.values()), \
        out.stdout[-6000:]
    # The stages ran (preflight included), they did not skip their way to changed=0.
    for task in ("Gather the NPU facts", "Look for the image on the node", "Write each server's environment"):
        assert task in out.stdout, task
    assert not _leaks(out.stdout, SECRETS)
    assert _state() == deployed["state"]


def test_check_diff_of_serve_with_new_secrets_predicts_the_change_and_prints_neither(cluster, deployed):
    out = playbook(cluster, "playbooks/serve.yml", "new", "--check", "--diff")
    assert out.returncode == 0, out.stdout[-6000:]
    stats = recap(out.stdout)
    assert stats[NODE]["failed"] == 0 and stats[NODE]["changed"] > 0, stats
    assert not _leaks(out.stdout, NEW_SECRETS) and not _leaks(out.stdout, SECRETS)
    assert "item=main (restart)" in out.stdout, out.stdout[-6000:]
    # Nothing was written or restarted: the server still takes the deployed key only.
    assert _state() == deployed["state"]
    assert _status(SECRETS["key"]) == "200" and _status(NEW_SECRETS["key"]) == "401"


def test_become_needs_no_sudo_when_the_ssh_user_is_root(cluster, deployed):
    del deployed
    adhoc = [tool("ansible"), NODE, "-i", cluster["inventory"], "--become", "-m", "ansible.builtin.command",
             "-a", "id -u"]
    on("mv", "/usr/bin/sudo", "/usr/bin/sudo.off")
    try:
        as_root = run(adhoc, check=False, timeout=120)
        as_user = run(adhoc + ["-e", "ansible_user=" + USER], check=False, timeout=120)
    finally:
        on("mv", "/usr/bin/sudo.off", "/usr/bin/sudo")
    assert as_root.returncode == 0 and re.search(r"rc=0 >>\s*0\s*$", as_root.stdout), as_root.stdout
    assert as_user.returncode != 0, as_user.stdout
