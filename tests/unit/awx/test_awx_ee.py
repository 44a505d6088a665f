"""The execution environment: `ansible-builder create` and the build context it writes. The image
build itself needs the base image from a registry, which the test machines cannot reach; the
galaxy stage's install is run here on the generated context instead (this collection only: its
dependencies come from Galaxy)."""
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

try:  # bindep comes with ansible-builder
    from bindep.depends import Depends
except ImportError:  # pragma: no cover - reported by the tests below
    Depends = None

from awxdata import ROOT, load_yaml

BIN = os.path.dirname(sys.executable)
EE_FILE = os.path.join(ROOT, "execution-environment.yml")
# ansible-builder evaluates bindep.txt for the base image's platform (CentOS Stream: rpm).
RPM_PROFILES = ["default", "platform:rpm", "platform:redhat", "platform:centos"]


def _pins(path):
    pins = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.split("#", 1)[0].strip()
            match = re.match(r"^([A-Za-z0-9_.\-\[\]]+?)(\[[^\]]*\])?==(\S+)$", line)
            if match:
                pins[match.group(1).lower()] = match.group(3)
    return pins


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    builder = os.path.join(BIN, "ansible-builder")
    if not os.path.exists(builder):
        pytest.fail("ansible-builder is not in the venv: it belongs in requirements-dev.txt (ansible-builder 3.x)")
    path = tmp_path_factory.mktemp("ee") / "context"
    proc = subprocess.run([builder, "create", "-f", EE_FILE, "-c", str(path), "--output-filename", "Containerfile",
                           "-v", "3"], cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout
    # ansible-builder only warns when a file to copy is missing; here that is an error.
    assert "No matches for" not in proc.stdout and "does not exist" not in proc.stdout, proc.stdout
    return path


def test_builder_version():
    out = subprocess.run([os.path.join(BIN, "ansible-builder"), "--version"], text=True, stdout=subprocess.PIPE,
                         check=False).stdout.strip() if os.path.exists(os.path.join(BIN, "ansible-builder")) else ""
    assert out.startswith("3."), "ansible-builder 3.x needed (execution-environment.yml is schema version 3), got %r" % out
    assert load_yaml(EE_FILE)["version"] == 3


def test_containerfile(context):
    containerfile = (context / "Containerfile").read_text()
    definition = load_yaml(EE_FILE)
    dev = _pins(os.path.join(ROOT, "requirements-dev.txt"))
    assert 'ARG EE_BASE_IMAGE="%s"' % definition["images"]["base_image"]["name"] in containerfile
    # ansible-core and ansible-runner at the versions the project is tested with.
    refs = re.search(r'^ARG ANSIBLE_INSTALL_REFS="([^"]*)"$', containerfile, re.M).group(1).split()
    assert refs == ["ansible-core==%s" % dev["ansible-core"], "ansible-runner==%s" % dev["ansible-runner"]]
    assert 'ARG PYCMD="/usr/bin/python3.11"' in containerfile
    # The stages: collections from _build/requirements.yml, Python and system packages introspected.
    for step in ("FROM $EE_BASE_IMAGE AS base", "FROM base AS galaxy", "COPY _build /build",
                 'ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml '
                 '--collections-path "/usr/share/ansible/collections"',
                 "--user-pip=requirements.txt --user-bindep=bindep.txt", "RUN /output/scripts/install-from-bindep",
                 "COPY --from=galaxy /usr/share/ansible /usr/share/ansible", "RUN /output/scripts/check_ansible $PYCMD"):
        assert step in containerfile, step


def test_python_requirements(context):
    """The controller side's packages, pinned as the test venv pins them."""
    built = (context / "_build" / "requirements.txt").read_text()
    with open(os.path.join(ROOT, "requirements-ee.txt"), encoding="utf-8") as handle:
        assert built == handle.read()
    ee, dev = _pins(str(context / "_build" / "requirements.txt")), _pins(os.path.join(ROOT, "requirements-dev.txt"))
    assert {"matplotlib", "docker"} <= set(ee)
    assert all(dev.get(name) == version for name, version in ee.items()), (ee, dev)


def test_system_requirements(context):
    assert Depends is not None, "bindep (installed with ansible-builder) is not in the venv"
    rules = Depends((context / "_build" / "bindep.txt").read_text())
    assert "openssh-clients" in [rule[0] for rule in rules.active_rules(RPM_PROFILES)]


def test_galaxy_requirements(context):
    collections = yaml.safe_load((context / "_build" / "requirements.yml").read_text())["collections"]
    by_name = {c["name"]: c for c in collections}
    assert by_name["./npu_sglang"]["type"] == "dir"
    galaxy = load_yaml(os.path.join(ROOT, "galaxy.yml"))
    for name, version in galaxy["dependencies"].items():
        assert by_name[name]["version"] == version, name
    assert "awx.awx" in by_name, "playbooks/awx_configure.yml needs awx.awx"


def test_collection_source_in_the_context(context):
    source = context / "_build" / "npu_sglang"
    galaxy = load_yaml(os.path.join(ROOT, "galaxy.yml"))
    assert load_yaml(str(source / "galaxy.yml"))["version"] == galaxy["version"]
    for role in os.listdir(os.path.join(ROOT, "roles")):
        assert (source / "roles" / role / "meta" / "argument_specs.yml").is_file(), role
    for rel in ("playbooks/site.yml", "playbooks/awx_configure.yml", "awx/templates.yml", "meta/runtime.yml"):
        assert (source / rel).is_file(), rel
    plugins = sorted(p for p in os.listdir(os.path.join(ROOT, "plugins")) if not p.startswith("__"))
    assert sorted(p for p in os.listdir(source / "plugins") if not p.startswith("__")) == plugins


def test_galaxy_stage_installs_the_collection(context, tmp_path):
    """The galaxy stage's install of this collection, run in the generated _build/ as the image
    build runs it in /build; then the roles are read from the installed copy."""
    build = tmp_path / "build"
    shutil.copytree(context / "_build", build)
    requirements = yaml.safe_load((build / "requirements.yml").read_text())
    ours = [c for c in requirements["collections"] if c.get("type") == "dir"]
    (build / "ours.yml").write_text(yaml.safe_dump({"collections": ours}))
    env = dict(os.environ, ANSIBLE_GALAXY_DISABLE_GPG_VERIFY="1")
    env.pop("ANSIBLE_CONFIG", None)
    proc = subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "-r", "ours.yml",
                           "--no-deps", "--collections-path", str(tmp_path / "collections")], cwd=build, env=env,
                          text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout
    installed = tmp_path / "collections" / "ansible_collections" / "npu" / "sglang"
    assert (installed / "MANIFEST.json").is_file() and (installed / "playbooks" / "site.yml").is_file()
    env.update(ANSIBLE_COLLECTIONS_PATH=str(tmp_path / "collections"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([os.path.join(BIN, "ansible-doc"), "-t", "role", "npu.sglang.sglang_service"], cwd=tmp_path,
                          env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300, check=False)
    assert proc.returncode == 0 and "sglang_service_model_path" in proc.stdout, proc.stdout[-3000:]
    assert re.search(r"ROLE: \W*npu\.sglang\.sglang_service\W* \(%s\)" % re.escape(str(installed)), proc.stdout), proc.stdout[:500]
    assert not list(installed.rglob("*.pyc")), "compiled files of the checkout went into the collection"
