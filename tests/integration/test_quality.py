"""Lint, syntax and sanity gates, as tests so that `make test` reports one summary."""
import glob
import os
import shutil
import subprocess

from simtest import ROOT, run, tool


def test_yamllint():
    run([tool("yamllint"), "-s", "."])


def test_ansible_lint_production_profile():
    proc = run([tool("ansible-lint"), "--profile", "production", "--nocolor"], check=False)
    errors = [line for line in proc.stdout.splitlines() if line.startswith("ERROR")]
    assert proc.returncode == 0, "\n".join(errors[:200]) or proc.stdout[-20000:]


def test_every_playbook_passes_syntax_check():
    playbooks = ["site.yml"] + sorted(glob.glob(os.path.join(ROOT, "playbooks", "*.yml")))
    assert len(playbooks) > 1
    for playbook in playbooks:
        run([tool("ansible-playbook"), "--syntax-check", "-i", "inventories/prod", playbook])


def _collection_copy(tmp_root):
    """The checkout's files placed as ansible_collections/npu/sglang, as ansible-test wants."""
    dest = os.path.join(tmp_root, "ansible_collections", "npu", "sglang")
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, check=True,
                           text=True, stdout=subprocess.PIPE).stdout.splitlines()
    for rel in files:
        src = os.path.join(ROOT, rel)
        if rel.startswith(".collections/") or os.path.islink(src) or not os.path.isfile(src):
            continue
        os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
        shutil.copy2(src, os.path.join(dest, rel))
    return dest


def test_ansible_test_sanity(tmp_path):
    # ansible-test bootstraps pip in its venvs with a script it would download from a host this
    # network cannot reach; it uses a cached copy first, and ensurepip does the same job.
    cache = os.path.expanduser("~/.ansible/test/cache")
    os.makedirs(cache, exist_ok=True)
    for name in ("get_pip_24_2.py",):
        with open(os.path.join(cache, name), "w", encoding="utf-8") as handle:
            handle.write("import ensurepip\nensurepip.bootstrap()\n")
    dest = _collection_copy(str(tmp_path))
    # ansible-test lists the files through git; its own venvs under tests/output must not count.
    with open(os.path.join(dest, ".gitignore"), "a", encoding="utf-8") as handle:
        handle.write("\n/tests/output/\n")
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    subprocess.run(["git", "add", "-A"], cwd=dest, check=True)
    env = dict(os.environ, PATH=os.path.dirname(tool("python")) + os.pathsep + os.environ["PATH"])
    proc = subprocess.run([tool("ansible-test"), "sanity", "--venv", "--requirements",
                           "--python", "3.11", "--color", "no"], cwd=dest, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=1800, check=False)
    errors = [line for line in proc.stdout.splitlines() if line.startswith("ERROR")]
    assert proc.returncode == 0, "\n".join(errors[:200]) or proc.stdout[-20000:]
