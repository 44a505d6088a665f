"""The report's Markdown and HTML come from the templates of the role bench_report (Jinja2; the
HTML autoescaped), found by default in the collection and elsewhere through templates_dir."""
import os
import shutil

import pytest

from ansible_collections.npu.sglang.plugins.module_utils.bench_analysis import build_summary
from ansible_collections.npu.sglang.plugins.module_utils.bench_report_render import (
    HTML_FILE, MARKDOWN_FILE, TEMPLATES_DIR, ReportTemplateError, render_files,
)
from ansible_collections.npu.sglang.plugins.module_utils.bench_results import collect_inputs

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
CLUSTER = os.path.join(ROOT, "tests", "unit", "fixtures", "bench", "cluster")
TITLE = "<script>alert('x')</script> & \"co\""


@pytest.fixture(scope="module")
def summary():
    return build_summary(collect_inputs(CLUSTER), TITLE, 2000.0, 100.0, "p99")


def test_the_templates_are_the_roles():
    assert os.path.realpath(TEMPLATES_DIR) == os.path.join(ROOT, "roles", "bench_report", "templates")
    assert sorted(os.listdir(TEMPLATES_DIR)) == ["report.html.j2", "report.md.j2"]


def test_html_is_autoescaped_and_markdown_is_not(summary):
    files = render_files(summary, with_plots=False)
    html = files[HTML_FILE].decode("utf-8")
    markdown = files[MARKDOWN_FILE].decode("utf-8")
    assert "<script>" not in html
    assert "<title>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &#34;co&#34;</title>" in html
    assert markdown.startswith("# %s\n\n" % TITLE)
    # The page's own markup is not escaped: the tables and their classes are there.
    assert '<td class="num">' in html and "<thead><tr><th>Host</th>" in html
    assert html.endswith("</body>\n</html>\n") and markdown.endswith("\n") and not markdown.endswith("\n\n")


def test_templates_dir_is_read(summary, tmp_path):
    """The folder given is the one used: an edited template shows in the output."""
    folder = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, str(folder))
    with open(str(folder / "report.md.j2"), "a", encoding="utf-8") as handle:
        handle.write("Edited footer\n")
    markdown = render_files(summary, with_plots=False, templates_dir=str(folder))[MARKDOWN_FILE].decode("utf-8")
    assert markdown.endswith("Edited footer\n")
    assert "Edited footer" not in render_files(summary, with_plots=False)[MARKDOWN_FILE].decode("utf-8")


def test_a_missing_template_is_named(summary, tmp_path):
    with pytest.raises(ReportTemplateError) as error:
        render_files(summary, with_plots=False, templates_dir=str(tmp_path))
    assert "report.md.j2" in str(error.value) and str(tmp_path) in str(error.value)
