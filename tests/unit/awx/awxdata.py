"""Shared helpers of the AWX tests: the awx/ data, the roles' argument specs, what a playbook runs,
and AWX's own rule for which files of a project it offers as playbooks."""
import codecs
import os
import re
import subprocess

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
AWX_DIR = os.path.join(ROOT, "awx")
ROLES_DIR = os.path.join(ROOT, "roles")


class Unsafe(str):
    """A string tagged !unsafe: Ansible never templates it (AWX templates it when the job runs)."""


class _Loader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
    pass


_Loader.add_constructor("!unsafe", lambda loader, node: Unsafe(loader.construct_scalar(node)))


def load_yaml(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_Loader)  # nosec B506 - a SafeLoader with one extra tag


def awx_data():
    """Every variable of awx/*.yml, merged as include_vars (dir) merges them."""
    data = {}
    for name in sorted(os.listdir(AWX_DIR)):
        if name.endswith(".yml"):
            content = load_yaml(os.path.join(AWX_DIR, name)) or {}
            duplicated = set(content) & set(data)
            assert not duplicated, "%s defines %s again" % (name, ", ".join(sorted(duplicated)))
            data.update(content)
    return data


def role_specs():
    """{role: {variable: option}} over every entry point of roles/*/meta/argument_specs.yml."""
    specs = {}
    for role in sorted(os.listdir(ROLES_DIR)):
        path = os.path.join(ROLES_DIR, role, "meta", "argument_specs.yml")
        if not os.path.isfile(path):
            continue
        options = {}
        for entry in (load_yaml(path) or {}).get("argument_specs", {}).values():
            for name, option in (entry.get("options") or {}).items():
                options.setdefault(name, option)
        specs[role] = options
    return specs


_ROLE_REF = re.compile(r"\bnpu\.sglang\.(\w+)")
_IMPORT = re.compile(r"^\s*-?\s*(?:ansible\.builtin\.)?import_playbook:\s*(\S+)\s*$", re.M)


def _read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _role_files(role):
    base = os.path.join(ROLES_DIR, role)
    for sub in ("tasks", "handlers", "templates", "vars", "meta"):
        for directory, _dirs, files in os.walk(os.path.join(base, sub)):
            for name in sorted(files):
                if name != "argument_specs.yml":
                    yield os.path.join(directory, name)


def playbook_closure(playbook):
    """(roles, files): the roles of this collection a playbook runs, following import_playbook,
    role references in tasks and role dependencies, and every file that was read for that."""
    roles, files, pending = set(), [], [os.path.join(ROOT, playbook)]
    seen = set()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        files.append(path)
        text = _read(path)
        if os.path.commonpath([path, ROLES_DIR]) != ROLES_DIR:
            for target in _IMPORT.findall(text):
                pending.append(os.path.normpath(os.path.join(os.path.dirname(path), target.strip("'\""))))
        for role in _ROLE_REF.findall(text):
            if os.path.isdir(os.path.join(ROLES_DIR, role)) and role not in roles:
                roles.add(role)
                pending.extend(_role_files(role))
    return roles, files


def playbook_defaults(files, variable):
    """The literal defaults a playbook gives a variable (`VAR | default(X)`), parsed as YAML."""
    pattern = re.compile(r"\b%s\s*\|\s*default\(([^()]*)\)" % re.escape(variable))
    found = set()
    for path in files:
        for raw in pattern.findall(_read(path)):
            found.add(yaml.safe_load(raw.strip()))
    return found


def uses(files, variable):
    """Lines of these files that use the variable (comments left out)."""
    pattern = re.compile(r"\b%s\b" % re.escape(variable))
    lines = []
    for path in files:
        for number, line in enumerate(_read(path).splitlines(), 1):
            code = line.split(" #", 1)[0]
            if not code.lstrip().startswith("#") and pattern.search(code):
                lines.append((os.path.relpath(path, ROOT), number, code))
    return lines


_JINJA_SPAN = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
_CONDITION_KEY = re.compile(r"^(\s*)(?:-\s+)?(?:when|that|failed_when|changed_when|until):(.*)$")
_KEY_LINE = re.compile(r"^(\s*)(?:-\s+)?[\w.]+:")


def _condition_lines(text):
    """Numbers (1-based) of the lines that are conditions: a when/that/... key with its value, and
    the list items below such a key."""
    lines, numbers, context = text.splitlines(), set(), None
    for number, line in enumerate(lines, 1):
        indent = len(line) - len(line.lstrip())
        key = _CONDITION_KEY.match(line)
        if key:
            context = len(key.group(1))
            if key.group(2).strip():
                numbers.add(number)
            continue
        if context is not None and line.strip():
            if indent > context and line.lstrip().startswith("- ") and not _KEY_LINE.match(line):
                numbers.add(number)
            elif indent <= context:
                context = None
    return numbers


def expression_uses(files, variable):
    """Where these files read the variable in an expression: inside {{ }} or {% %}, or in a
    condition (when, that, failed_when, changed_when, until). Returns (path, line, text after it)."""
    pattern = re.compile(r"\b%s\b" % re.escape(variable))
    found = []
    for path in files:
        text = _read(path)
        spans = [m.span() for m in _JINJA_SPAN.finditer(text)]
        conditions = _condition_lines(text)
        for match in pattern.finditer(text):
            start = match.start()
            number = text.count("\n", 0, start) + 1
            line_end = text.find("\n", start)
            rest = text[match.end():] if line_end < 0 else text[match.end():line_end]
            if any(a <= start < b for a, b in spans) or number in conditions:
                found.append((os.path.relpath(path, ROOT), number, rest))
    return found


# --- AWX's project scan -----------------------------------------------------------------------
# ansible/awx, awx/main/models/projects.py (Project.playbooks) walks the project checkout and keeps
# every file that awx/main/utils/ansible.py accepts: skip_directory() drops any path below a
# directory named roles, tasks, group_vars or host_vars or starting with a dot; could_be_playbook()
# keeps *.yml and *.yaml files with a line that starts (after blanks and an optional "- ") with
# hosts:, include:, import_playbook: or their ansible.builtin. forms, or a first line that starts
# with $ANSIBLE_VAULT;. Symlinked directories are not followed (AWX_SHOW_PLAYBOOK_LINKS is off).
AWX_PLAYBOOK_LINE = re.compile(r"^\s*-?\s*(?:hosts|(?:ansible\.builtin\.)?include|(?:ansible\.builtin\.)?import_playbook):")
AWX_SKIPPED_DIRS = ("roles", "tasks", "group_vars", "host_vars")


def awx_skips_directory(rel_dir):
    parts = [] if rel_dir in ("", ".") else rel_dir.split("/")
    return any(part in AWX_SKIPPED_DIRS or part.startswith(".") for part in parts)


def awx_could_be_playbook(path):
    if os.path.splitext(path)[1] not in (".yml", ".yaml"):
        return False
    with codecs.open(path, "r", encoding="utf-8", errors="ignore") as handle:
        for number, line in enumerate(handle):
            if AWX_PLAYBOOK_LINE.match(line) or (number == 0 and line.startswith("$ANSIBLE_VAULT;")):
                return True
    return False


def project_files(root=ROOT):
    """What a clone of the repository holds: tracked files plus new ones git does not ignore."""
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=root, check=True,
                         text=True, stdout=subprocess.PIPE).stdout
    return sorted(set(out.splitlines()))


def awx_offered_playbooks(root=ROOT, files=None):
    offered = []
    for rel in files if files is not None else project_files(root):
        path = os.path.join(root, rel)
        if not os.path.isfile(path):
            continue
        # A file under a symlinked directory is not reached by AWX's walk.
        parents = rel.split("/")[:-1]
        if any(os.path.islink(os.path.join(root, *parents[:i + 1])) for i in range(len(parents))):
            continue
        if not awx_skips_directory(os.path.dirname(rel)) and awx_could_be_playbook(path):
            offered.append(rel)
    return sorted(offered)
