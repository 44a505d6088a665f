"""Every survey question of awx/ agrees with the rule table (config_rules.VARIABLE_CHECKS): a
number's min and max stay inside the rule's bounds, every offered choice and the default pass the
rule, so AWX never offers an answer the validation play would refuse."""
import pytest

from awxdata import awx_data

from ansible_collections.npu.sglang.plugins.module_utils import config_rules as cr


def _questions():
    data = awx_data()
    found = []
    for owner in data["controller_templates"] + data["controller_workflows"]:
        for question in (owner.get("survey_spec") or {}).get("spec", []):
            found.append((owner["name"], question))
    return found


QUESTIONS = _questions()
RULED = [(o, q) for o, q in QUESTIONS if cr.row_for(q["variable"]) is not None]


def test_some_questions_have_rules():
    assert len(RULED) >= 10


@pytest.mark.parametrize("owner, question", RULED, ids=["%s: %s" % (o, q["variable"]) for o, q in RULED])
def test_question_stays_inside_the_rule(owner, question):
    row = cr.row_for(question["variable"])
    kind = row.kind
    if question["type"] in ("integer", "float"):
        if kind.low is not None:
            assert question.get("min") is not None and question["min"] >= int(kind.low), (
                "%s: %s min %r, the rule is %s" % (owner, question["variable"], question.get("min"), kind.text))
        if kind.high is not None:
            assert question.get("max") is not None and question["max"] <= kind.high, (
                "%s: %s max %r, the rule is %s" % (owner, question["variable"], question.get("max"), kind.text))
    choices = question.get("choices") or []
    if isinstance(choices, str):
        choices = [c for c in choices.splitlines() if c.strip()]
    if question["type"] == "multiplechoice" and not kind.context:
        for choice in choices:
            assert row.check(choice) is None, "%s: %s offers %r, the rule is %s" % (
                owner, question["variable"], choice, kind.text)
    default = question.get("default")
    if default not in (None, "") and question["type"] not in ("multiselect", "password") and not kind.context:
        assert row.check(default) is None, "%s: %s default %r, the rule is %s" % (
            owner, question["variable"], default, kind.text)
