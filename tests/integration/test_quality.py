"""Lint, syntax and sanity gates, as tests so that `make test` reports one summary."""
import glob
import os
import re
import subprocess

from simtest import ROOT, run, tool, tool_env


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


STAGES = {"preflight", "build", "distribute", "serve", "smoke", "bench", "report", "doctor", "hardware", "teardown", "awx", "router"}


def test_every_task_carries_its_stage_tag():
    """`--tags serve` (and the others) run one stage: every task of every playbook has a stage tag
    (validation is tagged always)."""
    untagged = []
    for playbook in ["site.yml"] + sorted(glob.glob(os.path.join(ROOT, "playbooks", "*.yml"))):
        if playbook.endswith("validate.yml"):
            continue
        out = run([tool("ansible-playbook"), "--list-tasks", "-i", "inventories/prod", playbook]).stdout
        for line in out.splitlines():
            match = re.match(r"^      (.*)\tTAGS: \[(.*)\]$", line)
            if match and not ({t.strip() for t in match.group(2).split(",")} & (STAGES | {"always"})):
                untagged.append("%s: %s" % (os.path.basename(playbook), match.group(1)))
    assert untagged == []
    serve = run([tool("ansible-playbook"), "--list-tasks", "--tags", "serve", "-i", "inventories/prod", "site.yml"]).stdout
    assert "sglang_service : Wait until every server is healthy and generates" in serve
    # Of preflight, only the argument checks Ansible tags always are listed.
    assert [line for line in serve.splitlines() if "npu_preflight :" in line and "Validating arguments" not in line] == []


def _installed_collection(tmp_root):
    """The collection as a user gets it: `ansible-galaxy collection build` (galaxy.yml's
    build_ignore), then installed into a fresh path. Returns (installed dir, tarball, env)."""
    env = dict((k, v) for k, v in os.environ.items() if k != "ANSIBLE_CONFIG")
    env["PATH"] = os.path.dirname(tool("python")) + os.pathsep + env["PATH"]
    out = os.path.join(tmp_root, "artifact")
    subprocess.run([tool("ansible-galaxy"), "collection", "build", "--output-path", out], cwd=ROOT, env=env,
                   check=True, stdout=subprocess.DEVNULL)
    tarball = glob.glob(os.path.join(out, "npu-sglang-*.tar.gz"))[0]
    inst = os.path.join(tmp_root, "installed")
    subprocess.run([tool("ansible-galaxy"), "collection", "install", "--offline", "--no-deps", "--force", "-p", inst,
                    tarball], cwd=tmp_root, env=env, check=True, stdout=subprocess.DEVNULL)
    return os.path.join(inst, "ansible_collections", "npu", "sglang"), tarball, env


def test_the_galaxy_artifact_is_clean_and_works_installed(tmp_path):
    import tarfile
    dest, tarball, env = _installed_collection(str(tmp_path))
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
    junk = [n for n in names if re.search(r"(^|/)(\.ansible|\.pytest_cache|__pycache__|\.sim|\.cache|\.venv|\.collections"
                                          r"|output|molecule)(/|$)|\.pyc$|^inventories/sim/hosts\.yml$|^tests/sim/", n)]
    assert junk == []
    for needed in ("LICENSE", "MANIFEST.json", "FILES.json", "meta/runtime.yml", "plugins/callback/summary.py",
                   "roles/sglang_service/tasks/main.yml", "playbooks/validate.yml", "roles/bench_report/templates/report.html.j2",
                   "roles/bench_report/templates/report.md.j2"):
        assert needed in names, needed
    # A playbook of the installed copy, by its collection name, from a directory without our ansible.cfg.
    proc = subprocess.run([tool("ansible-playbook"), "npu.sglang.validate", "-i", os.path.join(dest, "inventories", "prod")],
                          cwd=str(tmp_path), env=dict(env, ANSIBLE_COLLECTIONS_PATH=os.path.dirname(os.path.dirname(dest))),
                          text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert re.search(r"^atlas-01 +: ok=\d+ +changed=0 +unreachable=0 +failed=0", proc.stdout, re.M), proc.stdout[-2000:]
    # The report's templates are files of the role, which the module's zip does not carry: the
    # installed copy's action plugin finds them (a few seconds: one small report).
    out = os.path.join(str(tmp_path), "report")
    proc = subprocess.run([tool("ansible"), "localhost", "-m", "npu.sglang.bench_report", "-a",
                           "input_dir=%s output_dir=%s" % (os.path.join(dest, "tests", "unit", "fixtures", "bench", "cluster"), out)],
                          cwd=str(tmp_path), env=dict(env, ANSIBLE_COLLECTIONS_PATH=os.path.dirname(os.path.dirname(dest))),
                          text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:]
    with open(os.path.join(out, "report.html"), encoding="utf-8") as handle:
        assert "<h2>Runs per host</h2>" in handle.read()


def test_ansible_test_sanity(tmp_path):
    # ansible-test bootstraps pip in its venvs with a script it would download from a host this
    # network cannot reach; it uses a cached copy first, and ensurepip does the same job.
    cache = os.path.expanduser("~/.ansible/test/cache")
    os.makedirs(cache, exist_ok=True)
    for name in ("get_pip_24_2.py",):
        with open(os.path.join(cache, name), "w", encoding="utf-8") as handle:
            handle.write("import ensurepip\nensurepip.bootstrap()\n")
    dest, _tarball, _env = _installed_collection(str(tmp_path))
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


def test_changelog_fragments_lint():
    """antsibull-changelog's own checks of changelogs/ (config, changelog.yaml, every fragment)."""
    proc = run([tool("antsibull-changelog"), "lint"], check=False)
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout
    run([tool("antsibull-changelog"), "lint-changelog-yaml", "changelogs/changelog.yaml"])


def test_changelog_releases_at_galaxy_version(tmp_path):
    """What `antsibull-changelog release` does at release time, on a copy of the tree: a
    CHANGELOG.rst for galaxy.yml's version (the one version source) holding every fragment."""
    import yaml
    copy = tmp_path / "tree"
    copy.mkdir()
    archive = subprocess.run(["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=ROOT, check=True,
                             stdout=subprocess.PIPE).stdout.decode().split("\0")
    for rel in filter(None, archive):
        src = os.path.join(ROOT, rel)
        if os.path.isfile(src) and not os.path.islink(src):
            os.makedirs(os.path.dirname(os.path.join(copy, rel)), exist_ok=True)
            with open(src, "rb") as read, open(os.path.join(copy, rel), "wb") as write:
                write.write(read.read())
    proc = subprocess.run([tool("antsibull-changelog"), "release", "--date", "2000-01-01"], cwd=copy, env=tool_env(), text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:]
    with open(os.path.join(ROOT, "galaxy.yml"), encoding="utf-8") as handle:
        version = str(yaml.safe_load(handle)["version"])
    text = (copy / "CHANGELOG.rst").read_text(encoding="utf-8")
    assert re.search(r"^v%s\n=+$" % re.escape(version), text, re.M), text[:2000]
    flat = " ".join(text.split())
    for fragment in glob.glob(os.path.join(ROOT, "changelogs", "fragments", "*.yml")):
        with open(fragment, encoding="utf-8") as handle:
            for section in yaml.safe_load(handle).values():
                for entry in section if isinstance(section, list) else [section]:
                    assert " ".join(entry.split())[:60] in flat, (os.path.basename(fragment), entry[:80])
