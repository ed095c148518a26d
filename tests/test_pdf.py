"""The handout's make_pdf: an executed notebook becomes a PDF with every figure; a notebook that did
not run cleanly from top to bottom is refused; the collect scripts warn about a missing or stale PDF.

The slow tests (marked `notebook`) execute each solution notebook once per session in smoke mode,
in a copy of the handout with the solution's package, and run `bash make_pdf.sh` there as a student
would. make_pdf drives Chromium through playwright; students use playwright's own download, these
tests point the same code at the system's Chromium through HW4_CHROMIUM (`make venv` installs
Debian's, with poppler-utils for pdftoppm). The PDFs are read back with pypdf. Two tests call
make_pdf's printing in this process on small pages: one kept busy by a script, one given too little
time. The refusals and the collect warnings use notebooks edited by hand and need no browser.
"""
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from conftest import PARTS, REPO, by_notebook, notebook_group
from notebooks import NOTEBOOKS
from test_handout import NOTEBOOK, collect, handout_copy, with_outputs

pypdf = pytest.importorskip("pypdf")

RERUN = ("run Kernel > Restart & Run All (on Colab: Runtime > Restart session and run all), "
         "wait for the last cell, save the notebook, then run make_pdf again.")
MAKE_PDF_S = 300            # one make_pdf run, Chromium's start included (measured: 4-8 s)
NOTEBOOK_RUN_S = 300        # a smoke run of a notebook, kernel start included (measured: 7-34 s)


def load_make_pdf():
    spec = importlib.util.spec_from_file_location("hw4_make_pdf", REPO / "handout" / "common" / "make_pdf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def find_chromium():
    """The browser for make_pdf: HW4_CHROMIUM, the system's Chromium or Chrome, else playwright's own."""
    named = os.environ.get("HW4_CHROMIUM")
    if named:
        return named
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    try:
        from playwright.sync_api import sync_playwright
        with sync_playwright() as playwright:
            own = playwright.chromium.executable_path
    except Exception:
        return None
    return "" if Path(own).is_file() else None     # "": make_pdf uses playwright's own


def make_pdf(folder, *args, chromium=None):
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    env.pop("HW4_CHROMIUM", None)
    if chromium:
        env["HW4_CHROMIUM"] = chromium
    return subprocess.run(["bash", str(folder / "make_pdf.sh"), *map(str, args)], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=MAKE_PDF_S)


def lines(text):
    return text.strip().splitlines()


def image_outputs(notebook):
    """PNG and JPEG outputs of a notebook file, counted here independently of make_pdf."""
    cells = json.loads(Path(notebook).read_text())["cells"]
    return sum(key in ("image/png", "image/jpeg") for cell in cells if cell["cell_type"] == "code"
               for output in cell.get("outputs", []) for key in output.get("data", {}))


def headings(notebook):
    """The markdown headings of a notebook, as text."""
    cells = json.loads(Path(notebook).read_text())["cells"]
    return [re.sub(r"^#+\s*", "", line).strip() for cell in cells if cell["cell_type"] == "markdown"
            for line in "".join(cell["source"]).splitlines() if line.startswith("#")]


def pdf_text(path):
    """Every page's text, whitespace collapsed (Chromium breaks long headings over lines) and
    ligatures spelled out (headings print "Diffusion" with the one glyph "\ufb00")."""
    return [" ".join(unicodedata.normalize("NFKC", page.extract_text()).split())
            for page in pypdf.PdfReader(str(path)).pages]


def text_pdf(path, pages):
    """A small PDF, one page per string: stands in for a student's theory answers."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    with plt.rc_context({"pdf.fonttype": 42}), PdfPages(path) as pdf:   # TrueType: its text can be read back
        for text in pages:
            figure = plt.figure(figsize=(8.5, 11))
            figure.text(0.1, 0.9, text)
            pdf.savefig(figure)
            plt.close(figure)
    return path


# ---------------------------------------------------------------- the executed solution notebooks


@pytest.fixture(scope="session")
def chromium():
    found = find_chromium()
    if found is None:
        pytest.skip("no Chromium for make_pdf: `make venv` installs Debian's as root; else install chromium, "
                    "or run `python -m playwright install chromium`")
    return found


@pytest.fixture(scope="session")
def converted(executed_notebook, chromium):
    """converted(part) -> (handout folder, make_pdf's result): each part's executed notebook (shared with
    test_notebooks.py) converted once."""
    done = {}

    def get(part):
        if part not in done:
            folder = executed_notebook(part).folder
            done[part] = folder, make_pdf(folder, chromium=chromium)
        return done[part]
    return get


def pdf_of(part):
    return NOTEBOOK[part].replace(".ipynb", ".pdf")


@pytest.mark.notebook
@pytest.mark.timeout(NOTEBOOK_RUN_S + MAKE_PDF_S)
@pytest.mark.parametrize("part", by_notebook(PARTS))
def test_pdf_holds_every_figure_and_heading(part, converted):
    folder, done = converted(part)
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr, done.stderr
    notebook, pdf = folder / NOTEBOOK[part], folder / pdf_of(part)
    reader = pypdf.PdfReader(str(pdf))
    figures = image_outputs(notebook)
    assert figures >= NOTEBOOKS[part][2]
    assert sum(len(page.images) for page in reader.pages) == figures
    assert 5 <= len(reader.pages) <= 40, len(reader.pages)
    assert f"{pdf} written: {len(reader.pages)} pages, {figures} figures" in done.stdout
    text = " ".join(pdf_text(pdf))
    titles = headings(notebook)
    assert len(titles) >= 5
    missing = [title for title in titles if title not in text]
    assert not missing, missing
    assert "(smoke mode)" in text, "the notebook's printed output is in the PDF too"
    assert not (folder / "hw4_written.pdf").exists(), "no merged file without PDFs to merge"


@pytest.mark.notebook
@pytest.mark.timeout(NOTEBOOK_RUN_S + MAKE_PDF_S)
@pytest.mark.parametrize("part", by_notebook(PARTS))
def test_first_pages_render_with_their_figures(part, converted, tmp_path):
    """pdftoppm draws the pages up to the first figure; that page is darker than the title page (the
    training digits are white on black), so the figure is visible, not only embedded."""
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed: `make venv` installs it as root")
    from matplotlib.image import imread

    folder, done = converted(part)
    assert done.returncode == 0, done.stderr
    pdf = folder / pdf_of(part)
    first_figure = next(number for number, page in enumerate(pypdf.PdfReader(str(pdf)).pages, 1) if page.images)
    subprocess.run(["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", str(first_figure), str(pdf),
                    str(tmp_path / "page")], check=True, timeout=120)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == first_figure
    darkness = []
    for png in pages:
        pixels = imread(png)[..., :3].mean(axis=-1)
        assert pixels.shape == (440, 340), pixels.shape                  # US Letter at 40 dpi
        darkness.append(float((pixels < 0.3).mean()))
    assert darkness[0] < 0.01 and darkness[-1] > 0.02, darkness


@pytest.mark.notebook
@notebook_group("part1")
@pytest.mark.timeout(NOTEBOOK_RUN_S + MAKE_PDF_S)
def test_merge_puts_the_given_pdfs_first_in_their_order(converted, chromium, tmp_path):
    source, done = converted("part1")
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "part1"
    shutil.copytree(source, folder)
    notebook_pages = len(pypdf.PdfReader(str(folder / "hw4-part1.pdf")).pages)
    theory = text_pdf(tmp_path / "theory.pdf", ["Theory answers, page one", "Theory answers, page two"])
    extra = text_pdf(tmp_path / "other.pdf", ["An appendix"])

    merged = make_pdf(folder, extra, theory, chromium=chromium)    # not in alphabetical order, on purpose

    assert merged.returncode == 0, merged.stderr
    written = folder / "hw4_written.pdf"
    assert f"{written} written: {3 + notebook_pages} pages, from other.pdf, theory.pdf, hw4-part1.pdf" in merged.stdout
    pages = pdf_text(written)
    assert len(pages) == 3 + notebook_pages
    assert pages[:3] == ["An appendix", "Theory answers, page one", "Theory answers, page two"]
    assert pages[3].startswith("HW4 Part 1: Generative Adversarial Networks")
    assert pages[3:] == pdf_text(folder / "hw4-part1.pdf")
    assert sum(len(page.images) for page in pypdf.PdfReader(str(written)).pages) == image_outputs(folder / "hw4-part1.ipynb")


@pytest.mark.notebook
@notebook_group("part1")
@pytest.mark.timeout(NOTEBOOK_RUN_S + MAKE_PDF_S)
def test_a_missing_figure_warns_and_the_pdf_is_still_made(converted, chromium, tmp_path):
    source, done = converted("part1")
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "part1"
    shutil.copytree(source, folder)
    notebook = folder / "hw4-part1.ipynb"
    nb = json.loads(notebook.read_text())
    cell = next(cell for cell in nb["cells"] if cell["cell_type"] == "code" and "plt.show()" in "".join(cell["source"])
                and any("image/png" in output.get("data", {}) for output in cell["outputs"]))
    cell["outputs"] = [output for output in cell["outputs"] if "image/png" not in output.get("data", {})]
    notebook.write_text(json.dumps(nb))
    first_line = "".join(cell["source"]).splitlines()[0]
    label = f'In [{cell["execution_count"]}] "{first_line if len(first_line) <= 40 else first_line[:37] + "..."}"'

    warned = make_pdf(folder, chromium=chromium)

    assert warned.returncode == 0, warned.stderr
    assert lines(warned.stderr) == [
        f"warning: hw4-part1.ipynb: {label} calls show/imshow/savefig but has no figure in its outputs, so the PDF "
        "will not show one. If a figure belongs there, rerun the notebook (Kernel > Restart & Run All), save it "
        "and run make_pdf again."]
    images = sum(len(page.images) for page in pypdf.PdfReader(str(folder / "hw4-part1.pdf")).pages)
    assert images == image_outputs(notebook) == image_outputs(source / "hw4-part1.ipynb") - 1


@pytest.fixture
def printer(chromium, tmp_path, monkeypatch):
    """make_pdf's module, loaded in this process, printing with the tests' Chromium."""
    if chromium:
        monkeypatch.setenv("HW4_CHROMIUM", chromium)
    else:
        monkeypatch.delenv("HW4_CHROMIUM", raising=False)
    for name in ("TMPDIR", "TEMP", "TMP"):       # print_pdf points these at its own folder: restore them
        monkeypatch.setenv(name, str(tmp_path))
    return load_make_pdf()


def test_figures_below_a_busy_part_of_the_page_are_printed(printer, tmp_path):
    """Chromium prints once the whole page has loaded. A script that keeps the page busy for a while
    stands in for a loaded machine: printing as soon as the network is idle left out the figures that
    came after it (seen as 4 of 9 figures in a PDF made during a busy test run)."""
    import base64
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def figure(level):          # distinct pictures: Chromium stores identical ones once
        buffer = io.BytesIO()
        plt.imsave(buffer, [[level, 0.0], [0.0, 1.0]], format="png", cmap="gray")
        return base64.b64encode(buffer.getvalue()).decode()

    busy = "<script>const start = Date.now(); while (Date.now() - start < 1500) {}</script>"
    html = ("<html><head></head><body><h1>Figures</h1>" + busy
            + "".join(f'<img src="data:image/png;base64,{figure(level)}">' for level in (0.2, 0.5, 0.8))
            + "</body></html>")
    pdf = tmp_path / "figures.pdf"

    printer.print_pdf(html, pdf)

    assert printer.pdf_facts(pdf) == (1, 3)


def test_a_page_chromium_cannot_print_in_time_is_refused_with_a_message(printer, tmp_path, monkeypatch):
    """A Chromium that starts but cannot load and print the page within make_pdf's limit (here cut
    to a millisecond): a message and no PDF, not a traceback."""
    monkeypatch.setattr(printer, "PRINT_S", 0.001)
    pdf = tmp_path / "late.pdf"

    with pytest.raises(printer.Refused) as refused:
        printer.print_pdf("<html><body><h1>Late</h1></body></html>", pdf)

    assert str(refused.value).startswith("error: Chromium could not print the notebook (")
    assert str(refused.value).endswith("Close other programs and run make_pdf again.")
    assert not pdf.exists()


# ---------------------------------------------------------------- refusals (no browser needed)


def ran_cleanly(notebook):
    """Mark every code cell of the (unexecuted) handout notebook as run in order, with a text output."""
    nb = json.loads(notebook.read_text())
    count = 0
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and "".join(cell["source"]).strip():
            count += 1
            cell["execution_count"] = count
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["ran\n"]}]
    return nb


def code_cells(nb):
    return [cell for cell in nb["cells"] if cell["cell_type"] == "code" and "".join(cell["source"]).strip()]


def first_line(cell):
    line = next(text.strip() for text in "".join(cell["source"]).splitlines() if text.strip())
    return line if len(line) <= 40 else line[:37] + "..."


@pytest.fixture
def template(tmp_path):
    """A copy of part 1's handout as students get it (the notebook never ran)."""
    return handout_copy(tmp_path, "part1")


def refused(folder, expected_lines):
    done = make_pdf(folder, chromium="/nonexistent/chromium")    # it must stop before looking for a browser
    assert done.returncode == 1, done.stdout + done.stderr
    assert lines(done.stderr) == expected_lines
    assert not (folder / "hw4-part1.pdf").exists() and not (folder / "hw4_written.pdf").exists()


def test_a_notebook_without_outputs_is_refused(template):
    refused(template, [
        "error: hw4-part1.ipynb has no outputs: it was saved before its cells ran.",
        f"No PDF was made. To fix: open hw4-part1.ipynb, {RERUN}"])


def test_a_notebook_with_an_error_output_is_refused(template):
    notebook = template / "hw4-part1.ipynb"
    nb = ran_cleanly(notebook)
    cell = code_cells(nb)[4]
    cell["outputs"].append({"output_type": "error", "ename": "NotImplementedError",
                            "evalue": "bce_loss: not implemented yet", "traceback": ["..."]})
    notebook.write_text(json.dumps(nb))
    refused(template, [
        f'error: hw4-part1.ipynb: In [5] "{first_line(cell)}" stopped with an error: '
        "NotImplementedError: bce_loss: not implemented yet",
        f"No PDF was made. To fix: fix the error, then open hw4-part1.ipynb, {RERUN}"])


def test_cells_run_out_of_order_or_never_are_refused(template):
    notebook = template / "hw4-part1.ipynb"
    nb = ran_cleanly(notebook)
    cells = code_cells(nb)
    cells[2]["execution_count"], cells[3]["execution_count"] = 4, 3       # run again, out of order
    cells[6]["execution_count"], cells[6]["outputs"] = None, []            # added or edited, never run
    notebook.write_text(json.dumps(nb))
    refused(template, [
        f'error: hw4-part1.ipynb: the cell "{first_line(cells[6])}" never ran.',
        f'error: hw4-part1.ipynb: In [3] "{first_line(cells[3])}" ran before In [4] "{first_line(cells[2])}" '
        "above it: the cells did not run in order from top to bottom.",
        f"No PDF was made. To fix: open hw4-part1.ipynb, {RERUN}"])


def test_bad_arguments_are_refused(template, tmp_path):
    notebook = template / "hw4-part1.ipynb"
    notebook.write_text(json.dumps(ran_cleanly(notebook)))
    done = make_pdf(template, tmp_path / "theory.pdf")
    assert done.returncode == 1 and lines(done.stderr) == [f"error: no such file: {(tmp_path / 'theory.pdf').resolve()}"]
    (template / "hw4-part1.pdf").write_bytes(b"%PDF-1.4\n")
    done = make_pdf(template, template / "hw4-part1.pdf")
    assert done.returncode == 1 and lines(done.stderr) == [
        "error: hw4-part1.pdf is made by make_pdf and added after the files you give: leave it out"]
    notebook.unlink()
    done = make_pdf(template)
    assert done.returncode == 1
    assert lines(done.stderr) == [f"error: none of hw4-part1.ipynb, hw4-part2.ipynb is in {template}: "
                                  "run make_pdf from the folder of one part of the handout"]


def test_an_absent_browser_is_named_with_the_fix(template, tmp_path, monkeypatch):
    """A notebook that passes the checks, and no Chromium: the message says what to install."""
    notebook = template / "hw4-part1.ipynb"
    notebook.write_text(json.dumps(ran_cleanly(notebook)))      # text outputs only: figure warnings come first
    done = make_pdf(template, chromium=str(template / "no-such-chromium"))
    errors = [line for line in lines(done.stderr) if not line.startswith("warning: ")]
    assert done.returncode == 1
    assert errors == [f"error: HW4_CHROMIUM names {template / 'no-such-chromium'}, which is not a file: "
                      "unset it to use playwright's Chromium, or point it at a Chrome or Chromium"]

    # A student who skipped `playwright install chromium`: playwright finds no browser of its own.
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path / "no-browsers"))
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setenv("TMPDIR", str(temporary))
    done = make_pdf(template)
    assert list(temporary.iterdir()) == []      # nothing left behind, playwright's folders included
    errors = [line for line in lines(done.stderr) if not line.startswith("warning: ")]
    assert done.returncode == 1
    assert errors[0].startswith("error: Chromium, which prints the PDF, did not start ("), errors
    assert errors[1:] == [
        "Install it once with: python -m playwright install chromium "
        "(on Colab: python -m playwright install --with-deps chromium).",
        "On Linux, if it then says a library is missing: python -m playwright install-deps chromium"]
    assert not (template / "hw4-part1.pdf").exists()


@pytest.mark.parametrize("source, draws", [
    ("show_images(images[:32], title='x')\nplt.show()", True),
    ("fig, ax = plt.subplots()\nax.imshow(x)", True),
    ("%matplotlib inline\nplt.savefig('a.png')", True),
    ("def show(x):\n    plt.imshow(x)\n    plt.show()", False),        # defines, does not draw
    ("class Plot:\n    def draw(self):\n        plt.show()", False),
    ("show_gan_results(vanilla)", False),                              # the rule sees only the cell's own calls
    ("x = (", False),                                                   # not Python: not judged
])
def test_which_cells_count_as_drawing(source, draws):
    assert load_make_pdf()._draws(source) is draws


# ---------------------------------------------------------------- the collect scripts


@pytest.mark.parametrize("part", sorted(PARTS))
def test_collect_warns_when_the_pdf_is_missing_or_older_than_the_notebook(part, tmp_path):
    folder = handout_copy(tmp_path, part, package_from=REPO / "solution" / part)
    notebook, pdf = folder / NOTEBOOK[part], folder / pdf_of(part)
    with_outputs(notebook)
    missing = f"warning: {pdf.name} is missing: make it with `bash make_pdf.sh` and upload it with your written answers"
    stale = (f"warning: {pdf.name} is older than {notebook.name}: run `bash make_pdf.sh` again so that the PDF "
             "shows the notebook you submit")

    done = collect(folder, part, tmp_path)
    assert done.returncode == 0 and lines(done.stderr) == [missing], done.stderr

    pdf.write_bytes(b"%PDF-1.4\n")
    mtime = notebook.stat().st_mtime
    os.utime(pdf, (mtime - 60, mtime - 60))
    done = collect(folder, part, tmp_path)
    assert done.returncode == 0 and lines(done.stderr) == [stale], done.stderr

    os.utime(pdf, (mtime + 60, mtime + 60))
    done = collect(folder, part, tmp_path)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert (folder / f"hw4_{part}_submission.zip").is_file()
