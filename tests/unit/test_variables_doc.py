"""docs/variables.md is what tests/unit/variables_doc.py writes from the specs and the rule table."""
import os

from variables_doc import PAGE, render


def test_the_variables_page_is_current():
    with open(PAGE, encoding="utf-8") as handle:
        page = handle.read()
    assert page == render(), "docs/variables.md is stale: run .venv/bin/python tests/unit/variables_doc.py"


def test_the_page_lists_every_option_with_a_rule():
    text = render()
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert len(rows) > 200
    assert all(not line.rstrip().endswith("|  |") for line in rows), [r for r in rows if r.rstrip().endswith("|  |")]
    assert os.path.basename(PAGE) == "variables.md"
