"""Every survey question of awx/ (job templates and workflows) against the roles' argument specs.

A question must name a variable of a role the template's playbook runs (or one of ALLOWED, the
playbook-level variables no role spec describes), and its AWX type, choices and default must
agree with the spec. What AWX sends is modelled on its own rules (awx/main/models/mixins.py):
text and password answers are strings, integer answers ints, float answers numbers, a
multiplechoice answer one of the choices (a string), a multiselect answer a list of choices; a
default is sent only when it passes the question's own validation.
"""
import math
import re

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from awxdata import awx_data, expression_uses, playbook_closure, playbook_defaults, role_specs, uses

# Survey variables that are no role's option: the playbooks read them directly. Each needs a
# reason, the AWX type it is asked with, and the playbooks must read it with the same default.
ALLOWED = {
    "npu_sglang_target": {
        "reason": "the inventory group every playbook's plays target (hosts:), not a role option",
        "type": "str"},
    "npu_sglang_max_fail_percentage": {
        "reason": "max_fail_percentage of the deploy plays (site, preflight, build, serve)",
        "type": "int"},
    "npu_sglang_rolling_serial": {
        "reason": "serial of playbooks/rolling_restart.yml: nodes restarted at a time",
        "type": "int"},
    "npu_sglang_upgrade_serial": {
        "reason": "serial of playbooks/upgrade.yml: nodes upgraded at a time",
        "type": "int"},
    "npu_sglang_teardown_images": {
        "reason": "playbooks/teardown.yml removes the built images only when it is true",
        "type": "bool"},
}
# Job template extra_vars that are no role's option, with the reason each exists.
ALLOWED_EXTRA_VARS = {
    "report_input_dir": "playbooks/report.yml maps it onto bench_report_input_dir (the run of the workflow's benchmark)",
    "report_output_dir": "playbooks/report.yml maps it onto bench_report_output_dir",
}

QUESTION_TYPES = {"text": "str", "textarea": "str", "password": "str", "integer": "int", "float": "float",
                  "multiplechoice": "choice", "multiselect": "list"}
STRING_SPEC_TYPES = ("str", "path", "raw")
BOOL_CHOICES = ["true", "false"]
# AWX's accepted Python types of a survey default (awx/main/constants.py, SURVEY_TYPE_MAPPING).
AWX_DEFAULT_TYPES = {"text": str, "textarea": str, "password": str, "multiplechoice": str, "multiselect": str,
                     "integer": int, "float": (float, int)}

DATA = awx_data()
SPECS = role_specs()


def _surveys():
    """(owner, playbooks, question) for every question of every survey."""
    nodes = {t["name"]: t["playbook"] for t in DATA["controller_templates"]}
    items = []
    for template in DATA["controller_templates"]:
        for question in (template.get("survey_spec") or {}).get("spec", []):
            items.append((template["name"], [template["playbook"]], question))
    for workflow in DATA["controller_workflows"]:
        playbooks = [nodes[n["unified_job_template"]["name"]] for n in workflow["workflow_nodes"]]
        for question in (workflow.get("survey_spec") or {}).get("spec", []):
            items.append((workflow["name"], playbooks, question))
    return items


SURVEYS = _surveys()
IDS = ["%s: %s" % (owner, q["variable"]) for owner, _p, q in SURVEYS]


def _spec_of(variable):
    for role, options in SPECS.items():
        if variable in options:
            return role, options[variable]
    return None, None


def _choices(question):
    choices = question.get("choices") or []
    if isinstance(choices, str):
        choices = [c for c in choices.splitlines() if c.strip()]
    return list(choices)


def _closure(playbooks):
    roles, files = set(), []
    for playbook in playbooks:
        more_roles, more_files = playbook_closure(playbook)
        roles |= more_roles
        files += more_files
    return roles, files


def _awx_value_errors(question, value):
    """AWX's validation of one answer (mixins.py, _survey_element_validation), as error strings."""
    qtype, low, high = question["type"], question.get("min"), question.get("max")
    if qtype in ("text", "textarea", "password"):
        if not isinstance(value, str):
            return ["not a string"]
        if low not in ("", None) and len(value) < int(low):
            return ["shorter than min"]
        if high not in ("", None) and len(value) > int(high):
            return ["longer than max"]
    elif qtype in ("integer", "float"):
        if qtype == "integer" and type(value) is not int:  # pylint: disable=unidiomatic-typecheck
            return ["not an integer"]
        if qtype == "float" and type(value) not in (float, int):  # pylint: disable=unidiomatic-typecheck
            return ["not a number"]
        if low not in ("", None) and value < low:
            return ["below min"]
        if high not in ("", None) and value > high:
            return ["above max"]
    elif qtype == "multiplechoice":
        if value not in _choices(question):
            return ["not a choice"]
    elif qtype == "multiselect":
        if not isinstance(value, list) or any(v not in _choices(question) for v in value):
            return ["not a list of choices"]
    return []


def _default_answer(question):
    """(sent, value): what launching with the question's default sends. The UI preselects the
    lines of a multiselect default and sends them as a list."""
    default = question.get("default")
    if default is None:
        return False, None
    if question["type"] == "multiselect" and isinstance(default, str):
        default = [line for line in default.splitlines() if line.strip()]
    if _awx_value_errors(question, default):
        return False, None
    return True, default


def _same(answer, expected, spec_type, elements=None):
    """An AWX answer equals a spec default, with the answer's AWX typing."""
    if spec_type == "bool":
        return answer == str(bool(expected)).lower()
    if spec_type == "list":
        return isinstance(expected, list) and [str(a) for a in answer] == [str(e) for e in expected] \
            and (elements != "int" or all(str(int(a)) == a for a in answer))
    if spec_type == "float":
        return isinstance(expected, (int, float)) and math.isclose(float(answer), float(expected))
    return answer == expected


def _validate_against_spec(variable, option, value):
    """Errors of the role's own argument validation for this value (what validate_argument_spec does)."""
    result = ArgumentSpecValidator({variable: dict(option)}).validate({variable: value})
    return [str(e) for e in result.errors]


def _spec_option(option):
    """The part of an argument_specs option ArgumentSpecValidator reads."""
    keep = ("type", "elements", "choices", "default", "no_log", "options", "required")
    return dict((k, v) for k, v in option.items() if k in keep)


def test_every_survey_has_questions():
    assert SURVEYS, "no survey in awx/"
    names = {t["name"] for t in DATA["controller_templates"] if t.get("survey_spec")}
    assert len(names) >= 10, names


@pytest.mark.parametrize("owner, playbooks, question", SURVEYS, ids=IDS)
def test_question_is_valid_for_awx(owner, playbooks, question):
    """The checks AWX's API makes when the survey is saved (api/views: _validate_spec_data)."""
    del owner, playbooks
    for key, kind in (("question_name", str), ("variable", str), ("type", str), ("required", bool)):
        assert isinstance(question.get(key), kind), "%s missing or not %s" % (key, kind.__name__)
    assert question["type"] in QUESTION_TYPES
    if "default" in question and question["default"] != "":
        assert isinstance(question["default"], AWX_DEFAULT_TYPES[question["type"]]), question["default"]
    for key in ("min", "max"):
        assert question.get(key) is None or isinstance(question[key], int), "%s must be an integer" % key
    if question["type"] in ("multiplechoice", "multiselect"):
        choices = _choices(question)
        assert choices and all(isinstance(c, str) for c in choices), "choices must be strings"
        defaults = [d for d in str(question.get("default") or "").splitlines() if d.strip()]
        assert all(d in choices for d in defaults), "default not among the choices"
        if question["type"] == "multiplechoice":
            assert len(defaults) <= 1


@pytest.mark.parametrize("owner, playbooks, question", SURVEYS, ids=IDS)
def test_question_matches_the_argument_spec(owner, playbooks, question):
    variable = question["variable"]
    roles, files = _closure(playbooks)
    role, option = _spec_of(variable)
    qtype = QUESTION_TYPES[question["type"]]
    sent, answer = _default_answer(question)

    if option is None:
        assert variable in ALLOWED, (
            "%s asks for %s, which no role's argument_specs.yml has and which is not in ALLOWED" % (owner, variable))
        allowed = ALLOWED[variable]
        assert uses(files, variable), "%s asks for %s but %s never reads it" % (owner, variable, playbooks)
        spec_type = allowed["type"]
        if spec_type == "bool":
            assert question["type"] == "multiplechoice" and _choices(question) == BOOL_CHOICES
        else:
            assert qtype == spec_type, "%s is %s, asked as %s" % (variable, spec_type, question["type"])
        defaults = playbook_defaults(files, variable)
        assert len(defaults) == 1, "%s: the playbooks give %s the defaults %s" % (owner, variable, defaults)
        playbook_default = next(iter(defaults))
        if sent:
            assert _same(answer, playbook_default, spec_type), (
                "%s: survey default %r, playbook default %r" % (variable, question.get("default"), playbook_default))
        return

    assert role in roles, "%s asks for %s of role %s, which %s does not run (it runs %s)" % (
        owner, variable, role, playbooks, sorted(roles))
    spec_type, choices = option.get("type", "str"), option.get("choices")

    # Type.
    if spec_type == "bool":
        assert question["type"] == "multiplechoice" and _choices(question) == BOOL_CHOICES, (
            "%s is a bool: ask it as multiplechoice true/false" % variable)
    elif choices and spec_type != "list":
        assert question["type"] == "multiplechoice", "%s has choices %s: ask it as multiplechoice" % (variable, choices)
    elif qtype == "str":
        assert spec_type in STRING_SPEC_TYPES, "%s is %s, asked as %s" % (variable, spec_type, question["type"])
    elif qtype == "choice":
        assert spec_type in STRING_SPEC_TYPES, "%s is %s, asked as multiplechoice" % (variable, spec_type)
    else:
        assert qtype == spec_type, "%s is %s, asked as %s" % (variable, spec_type, question["type"])
    assert bool(option.get("no_log")) == (question["type"] == "password"), (
        "%s: a no_log option must be asked as password, and only such an option" % variable)

    # Choices: every one the role accepts.
    if question["type"] in ("multiplechoice", "multiselect") and spec_type != "bool":
        for choice in _choices(question):
            value = [choice] if question["type"] == "multiselect" else choice
            if choices:
                assert choice in choices, "%s: choice %r is not among the spec's %s" % (variable, choice, choices)
            errors = _validate_against_spec(variable, _spec_option(option), value)
            assert not errors, "%s: the role refuses the choice %r: %s" % (variable, choice, errors)

    # Default: what AWX sends equals the role's default, and the role accepts it.
    if sent:
        assert "default" in option and option["default"] is not None, (
            "%s: the survey sends %r but the role has no default (the survey must not set one)" % (variable, answer))
        assert _same(answer, option["default"], spec_type, option.get("elements")), (
            "%s: the survey's default %r differs from the spec's %r" % (variable, question.get("default"), option["default"]))
        errors = _validate_against_spec(variable, _spec_option(option), answer)
        assert not errors, "%s: the role refuses the survey's default %r: %s" % (variable, answer, errors)


_BOOL_USE = r"\s*(?:\|\s*default\([^()]*\)\s*)?\|\s*bool\b"


@pytest.mark.parametrize("owner, playbooks, question", [s for s in SURVEYS if _choices(s[2]) == BOOL_CHOICES],
                         ids=[i for i, s in zip(IDS, SURVEYS) if _choices(s[2]) == BOOL_CHOICES])
def test_true_false_answers_are_read_as_bool(owner, playbooks, question):
    """A true/false question sends the string "true" or "false"; ansible-core 2.19 refuses a string
    as a condition and Jinja takes "false" as true, so every use must go through `| bool`."""
    variable = question["variable"]
    _roles, files = _closure(playbooks)
    found = expression_uses(files, variable)
    assert found, "%s: %s is never read in an expression" % (owner, variable)
    for path, number, rest in found:
        assert re.match(_BOOL_USE, rest), "%s:%d reads %s without | bool: ...%s%s" % (
            path, number, variable, variable, rest)


def test_template_extra_vars_are_known():
    for template in DATA["controller_templates"]:
        _roles, files = playbook_closure(template["playbook"])
        roles = _closure([template["playbook"]])[0]
        for variable in template.get("extra_vars") or {}:
            role, _option = _spec_of(variable)
            if role is None:
                assert variable in ALLOWED_EXTRA_VARS, "%s sets %s, which is no role option" % (template["name"], variable)
                assert uses(files, variable), "%s sets %s, which %s never reads" % (
                    template["name"], variable, template["playbook"])
            else:
                assert role in roles, "%s sets %s of role %s, which its playbook does not run" % (
                    template["name"], variable, role)


def test_allow_list_has_reasons_and_is_used():
    asked = {q["variable"] for _o, _p, q in SURVEYS}
    for variable, entry in ALLOWED.items():
        assert entry["reason"] and entry["type"] in ("str", "int", "float", "bool", "list")
        assert variable in asked, "ALLOWED lists %s, which no survey asks for: remove it" % variable
        assert _spec_of(variable)[0] is None, "%s is a role option now: remove it from ALLOWED" % variable
