"""One version source: galaxy.yml. Other files read it from there; none writes it again."""
import os
import re
import subprocess

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# Where the version's digits may stand for something else: a plugin's version_added (the release
# it first appeared in, which stays when the collection's version moves on) and the changelog's
# release history.
OTHER_MEANINGS = (re.compile(r"^\s*version_added: \"?[0-9.]+\"?\s*$"),)
HISTORY = ("changelogs/",)


def galaxy_version():
    with open(os.path.join(ROOT, "galaxy.yml"), encoding="utf-8") as handle:
        return str(yaml.safe_load(handle)["version"])


def test_the_version_is_semver():
    assert re.fullmatch(r"\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?", galaxy_version())


def test_no_file_but_galaxy_yml_writes_the_version():
    version = galaxy_version()
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, check=True, text=True,
                           stdout=subprocess.PIPE).stdout.splitlines()
    pattern = re.compile(r"(?<![\w.])%s(?![\w])" % re.escape(version))
    found = []
    for rel in files:
        path = os.path.join(ROOT, rel)
        if rel == "galaxy.yml" or rel.startswith(HISTORY) or not os.path.isfile(path) or os.path.islink(path):
            continue
        with open(path, encoding="utf-8", errors="ignore") as handle:
            for number, line in enumerate(handle, 1):
                if pattern.search(line) and not any(p.match(line) for p in OTHER_MEANINGS):
                    found.append("%s:%d: %s" % (rel, number, line.strip()))
    assert not found, "the version %s is written outside galaxy.yml (read it from there):\n%s" % (version, "\n".join(found))
