"""Privilege escalation in the playbooks and roles (README, "Non-root SSH").

Every play that works on the nodes asks for become (no sudo is called when the SSH user is root,
tests/integration/test_check_become.py runs both users); every task that runs on the controller
through delegate_to: localhost turns it off, or a non-root controller would be asked for sudo.
The fetch of the image archive runs without become: with it, fetch reads the file through slurp.
"""
import glob
import os

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _load(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or []


def _tasks(items):
    """Every task of a task list, blocks opened, with the become its block gives it."""
    for task in items or []:
        if not isinstance(task, dict):
            continue
        yield task
        for part in ("block", "rescue", "always"):
            for inner in _tasks(task.get(part)):
                yield dict(inner, become=inner.get("become", task.get("become")),
                           delegate_to=inner.get("delegate_to", task.get("delegate_to")))


def _node_plays():
    for path in sorted(glob.glob(os.path.join(ROOT, "playbooks", "*.yml"))):
        for play in _load(path):
            if "hosts" in play and play.get("connection") != "local" and play["hosts"] != "localhost":
                yield os.path.basename(path), play


def test_every_play_on_the_nodes_becomes_root():
    plays = list(_node_plays())
    assert len(plays) >= 10, plays
    missing = ["%s: %s" % (name, play["name"]) for name, play in plays if play.get("become") is not True]
    assert not missing, missing


def test_every_task_on_the_controller_turns_become_off():
    files = glob.glob(os.path.join(ROOT, "roles", "*", "tasks", "*.yml")) + glob.glob(os.path.join(ROOT, "playbooks", "*.yml"))
    found, wrong = 0, []
    for path in sorted(files):
        data = _load(path)
        items = [t for play in data if "hosts" in play for t in play.get("tasks", [])] if path.startswith(
            os.path.join(ROOT, "playbooks")) else data
        for task in _tasks(items):
            if task.get("delegate_to") == "localhost":
                found += 1
                if task.get("become") is not False:
                    wrong.append("%s: %s" % (os.path.relpath(path, ROOT), task.get("name")))
    assert found >= 10 and not wrong, (found, wrong)


def test_the_image_archive_is_fetched_as_the_ssh_user():
    tasks = list(_tasks(_load(os.path.join(ROOT, "roles", "sglang_build", "tasks", "distribute.yml"))))
    fetch = [t for t in tasks if "ansible.builtin.fetch" in t]
    assert len(fetch) == 1 and fetch[0]["become"] is False, fetch
