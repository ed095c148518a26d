"""What students read: a test result as text (public tests) and as Markdown (Gradescope), and the
top-level summary. Markdown is rendered with a CommonMark renderer, as Gradescope renders it."""
import json
import re

import pytest
from markdown_it import MarkdownIt

from autograder.engine.results import TestResult, escape, fenced, results_document, summary_text

HOSTILE_PRINT = ("step 1\n```\n# Full marks!\n<script>alert(1)</script>\n"
                 "[click](http://evil.example) ![x](http://evil.example/x.png)\n| a | b |\n````\nend")
HOSTILE_MESSAGE = "boom ``` <img src=x onerror=alert(1)> [link](http://evil.example) # heading\n\n* item"


def render(markdown: str) -> str:
    return MarkdownIt("commonmark").enable("table").render(markdown)


def failing_case(**fields):
    values = dict(name="q_sample: linear, T=10", max_score=0.25, score=0.0, visibility="visible", kind="values",
                  message="x_t: 300 of 300 elements (100%) differ by more than atol 2e-06 + rtol 1e-05 * |expected|.",
                  rows=(("x_t: shape", "(4, 3, 5, 5)", "(4, 3, 5, 5)"), ("x_t: dtype", "float32", "float32"),
                        ("x_t: largest error, at index (1, 0, 2, 0)", "0.206081", "-0.27375")),
                  mistakes=("x_0 and the noise are weighted by alphas_cumprod, forgetting the square roots.",),
                  printed=HOSTILE_PRINT, extra_data={"function": "q_sample"})
    values.update(fields)
    return TestResult(**values)


def test_a_failing_case_renders_as_a_table_a_mistake_and_a_fenced_log():
    html = render(failing_case().markdown())
    assert "<table>" in html and html.count("<tr>") == 4          # the header and three rows
    assert "<td>0.206081</td><td>-0.27375</td>" in html.replace("\n", "")
    assert "forgetting the square roots" in html
    blocks = re.findall(r"<pre><code[^>]*>(.*?)</code></pre>", html, re.S)
    assert len(blocks) == 1, "what the code printed is one code block, whole"
    assert "# Full marks!" in blocks[0] and "&lt;script&gt;" in blocks[0] and "end" in blocks[0]


def test_nothing_a_student_controls_adds_structure():
    html = render(failing_case(message=HOSTILE_MESSAGE, mistakes=()).markdown())
    for forbidden in ("<script", "<img", "<a ", "<h1", "<h2", "<li>", "onerror=alert(1)>"):
        assert forbidden not in html, forbidden
    assert "onerror" in html and "evil.example" in html           # shown, as text


def test_fences_are_longer_than_anything_inside():
    text = "a ``` b ```````` c"
    assert fenced(text).startswith("`````````text\n") and fenced(text).endswith("\n`````````")
    assert escape("# a | b [c](d)\n<e>") == r"\# a \| b \[c\]\(d\) \<e\>"


def test_text_and_markdown_say_the_same_thing():
    result = failing_case(printed="hello")
    text = result.text()
    assert text.startswith("Failed (values): x_t: 300 of 300 elements")
    assert "This is what a known mistake gives: x_0 and the noise" in text
    assert text.endswith("--- the end of what your code printed ---\nhello")
    assert "hello" in render(result.markdown())


@pytest.mark.parametrize("visibility", ["after_due_date", "hidden"])
def test_hidden_cases_keep_their_secrets_in_the_summary(visibility):
    tests = [failing_case(), failing_case(name="q_sample: hidden", visibility=visibility, score=0.0)]
    text = summary_text("HW4: Part 2", tests)
    assert "0 / 0.25 points on the 1 visible cases" in text and "1 hidden cases grade 0.25 more points" in text
    document = results_document("HW4: Part 2", tests, 1.0, ["Graded files found: diffusion/ddpm.py."], {})
    html = render(document["output"])
    assert "<table>" in html and "q_sample" in html
    table = html.split("<table>")[1].split("</table>")[0]
    assert "| 1/1 |" not in table and "<td>0/1</td>" in table, "the table counts the visible case only"
    json.dumps(document)
    assert document["output_format"] == document["tests"][0]["output_format"] == "md"
