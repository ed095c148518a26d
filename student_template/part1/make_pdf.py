"""The PDF of this part's notebook, for the written part of HW4 on Gradescope.

    bash make_pdf.sh                    writes hw4-partN.pdf from hw4-partN.ipynb (this folder's notebook)
    bash make_pdf.sh theory.pdf ...     also writes hw4_written.pdf: those PDFs in that order, then
                                        hw4-partN.pdf

`python make_pdf.py ...` does the same without bash. The notebook must have run from top to
bottom and been saved: make_pdf refuses it otherwise, and says what to do.

How: nbconvert turns the notebook into HTML (its "webpdf" template, figures embedded), and a
headless Chromium driven by playwright prints that page to PDF; pypdf merges PDFs. Nothing is
downloaded while converting: the page may load no file from the internet. The Chromium is
playwright's own (install it once: python -m playwright install chromium), or the browser
that the environment variable HW4_CHROMIUM names (a Chrome or Chromium you already have).
"""
import argparse
import ast
import os
import re
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOTEBOOKS = ("hw4-part1.ipynb", "hw4-part2.ipynb")
MERGED = "hw4_written.pdf"
CHROMIUM_VARIABLE = "HW4_CHROMIUM"
# A cell whose own code (not a function or class it defines) calls one of these draws a figure.
DRAWING_CALLS = ("show", "imshow", "savefig")
RERUN = ("run Kernel > Restart & Run All (on Colab: Runtime > Restart session and run all), "
         "wait for the last cell, save the notebook, then run make_pdf again")
GET_CHROMIUM = "python -m playwright install chromium (on Colab: python -m playwright install --with-deps chromium)"
INSTALL = f"python -m pip install -r requirements.txt, then {GET_CHROMIUM}"
SHOWN = 3       # problems of one kind listed before "and N more"
# Long code lines would be cut off at the page's edge: wrap them instead.
WRAP_CSS = "<style>pre { white-space: pre-wrap !important; overflow-wrap: anywhere; }</style>"
PRINT_S = 300   # loading and printing the page (measured: 1 s; 27 s with Chromium's CPU slowed 40 times)
# Resolves once every figure is decoded and the fonts are ready, so that printing draws them all.
EVERY_FIGURE_DRAWN = """() => Promise.all(Array.from(document.images, image => image.decode().catch(() => null)))
                          .then(() => document.fonts.ready).then(() => true)"""


class Refused(Exception):
    """make_pdf stops: the message says why and what to do."""


# -- reading and checking the notebook ------------------------------------------------------------
def find_notebook(folder: Path) -> Path:
    found = [folder / name for name in NOTEBOOKS if (folder / name).is_file()]
    if len(found) != 1:
        what = "none of" if not found else "more than one of"
        raise Refused(f"error: {what} {', '.join(NOTEBOOKS)} is in {folder}: "
                      "run make_pdf from the folder of one part of the handout")
    return found[0]


def read_notebook(path: Path):
    import nbformat

    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as error:     # bad JSON or not a notebook: nbformat raises several kinds
        raise Refused(f"error: {path.name} could not be read as a notebook ({error}). "
                      "Open it in Jupyter or Colab and save it again.") from error
    for cell in nb.cells:          # Colab leaves these out of cells that never ran
        if cell.cell_type == "code":
            cell.setdefault("outputs", [])
            cell.setdefault("execution_count", None)
    return nb


def _label(cell) -> str:
    """How the student finds the cell: its prompt, if it ran, and its first line."""
    line = next((text.strip() for text in cell.source.splitlines() if text.strip()), "")
    line = line if len(line) <= 40 else line[:37] + "..."
    return f'In [{cell.execution_count}] "{line}"' if cell.execution_count is not None else f'the cell "{line}"'


def _draws(source: str) -> bool:
    """Whether the cell's own code calls plt.show(), .imshow(...) or .savefig(...)."""
    code = re.sub(r"(?m)^(\s*)[%!]", r"\1#", source)      # IPython magics and shell lines as comments
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return False
    nodes = list(tree.body)
    while nodes:
        node = nodes.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue                                    # a definition draws only where it is called
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            if name in DRAWING_CALLS:
                return True
        nodes.extend(ast.iter_child_nodes(node))
    return False


def _has_image(cell) -> bool:
    return any(key.startswith("image/") for output in cell.outputs for key in output.get("data", {}))


def _listed(problems: list) -> list:
    if len(problems) <= SHOWN:
        return problems
    return problems[:SHOWN] + [f"... and {len(problems) - SHOWN} more like these"]


def check_notebook(nb, name: str):
    """(errors, warnings): lines to print. Any error means no PDF."""
    code = [cell for cell in nb.cells if cell.cell_type == "code" and cell.source.strip()]
    if not any(cell.outputs for cell in code):
        return [f"error: {name} has no outputs: it was saved before its cells ran.",
                f"No PDF was made. To fix: open {name}, {RERUN}."], []
    failed, never, disorder = [], [], []
    previous = None                                     # the highest count above, and its cell
    for cell in code:
        for output in cell.outputs:
            if output.output_type == "error":
                failed.append(f"error: {name}: {_label(cell)} stopped with an error: "
                              f"{output.get('ename', 'Error')}: {output.get('evalue', '')}".rstrip())
        count = cell.execution_count
        if count is None:
            never.append(f"error: {name}: {_label(cell)} never ran.")
        elif previous is not None and count <= previous.execution_count:
            disorder.append(f"error: {name}: {_label(cell)} ran before {_label(previous)} above it: "
                            "the cells did not run in order from top to bottom.")
        if count is not None and (previous is None or count > previous.execution_count):
            previous = cell
    errors = _listed(failed) + _listed(never) + _listed(disorder)
    if errors:
        first = "fix the error, then " if failed else ""
        errors.append(f"No PDF was made. To fix: {first}open {name}, {RERUN}.")
    warnings = [f"warning: {name}: {_label(cell)} calls {'/'.join(DRAWING_CALLS)} but has no figure in its "
                "outputs, so the PDF will not show one. If a figure belongs there, rerun the notebook "
                "(Kernel > Restart & Run All), save it and run make_pdf again."
                for cell in code if _draws(cell.source) and not _has_image(cell)]
    return errors, warnings


def image_outputs(nb) -> int:
    """PNG and JPEG outputs: each is one image in the PDF (SVG figures are drawn, not embedded)."""
    return sum(key in ("image/png", "image/jpeg") for cell in nb.cells if cell.cell_type == "code"
               for output in cell.outputs for key in output.get("data", {}))


# -- converting ---------------------------------------------------------------------------------
def notebook_html(nb, folder: Path) -> str:
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="webpdf", embed_images=True)   # what nbconvert --to webpdf prints
    html, _ = exporter.from_notebook_node(nb, resources={"metadata": {"path": str(folder)}})
    return html.replace("</head>", WRAP_CSS + "</head>", 1)


def _offline(route):
    """Let the page load only what it carries (figures are data: URLs); abort the rest (MathJax, ...)."""
    if route.request.url.startswith(("file:", "data:")):
        route.continue_()
    else:
        route.abort()


def print_pdf(html: str, destination: Path) -> None:
    from playwright.sync_api import Error, sync_playwright

    executable = os.environ.get(CHROMIUM_VARIABLE) or None
    if executable and not Path(executable).is_file():
        raise Refused(f"error: {CHROMIUM_VARIABLE} names {executable}, which is not a file: "
                      f"unset it to use playwright's Chromium, or point it at a Chrome or Chromium")
    with tempfile.TemporaryDirectory() as folder:
        # playwright's driver makes a profile folder and an artifacts folder in the temporary
        # folder, and leaves both behind when the browser does not start: give it this one.
        for name in ("TMPDIR", "TEMP", "TMP"):
            os.environ[name] = folder
        with sync_playwright() as playwright:
            page_file = Path(folder) / "notebook.html"
            page_file.write_text(html, encoding="utf-8")
            try:
                browser = playwright.chromium.launch(executable_path=executable)
            except Error as error:
                raise Refused(f"error: Chromium, which prints the PDF, did not start ({_first_line(error)}).\n"
                              f"Install it once with: {GET_CHROMIUM}.\n"
                              "On Linux, if it then says a library is missing: "
                              "python -m playwright install-deps chromium") from error
            try:
                page = browser.new_page()
                page.set_default_timeout(PRINT_S * 1000)
                page.route("**/*", _offline)
                page.emulate_media(media="print")
                # "load" waits for every figure; "networkidle" alone can fire while a slow or busy
                # machine is still parsing the page, and the PDF then lacks the figures below that.
                page.goto(page_file.as_uri(), wait_until="load")
                page.evaluate(EVERY_FIGURE_DRAWN)
                data = page.pdf(print_background=True)
            except Error as error:
                raise Refused(f"error: Chromium could not print the notebook ({_first_line(error)}). "
                              "Close other programs and run make_pdf again.") from error
            finally:
                browser.close()
    _write(destination, data)


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _write(destination: Path, data: bytes) -> None:
    """Whole or not at all: a half-written PDF must not look like a finished one."""
    partial = destination.with_name(destination.name + ".part")
    partial.write_bytes(data)
    os.replace(partial, destination)


def merge(sources: list, destination: Path) -> int:
    """destination: the pages of `sources` in order; returns its page count."""
    import io

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for source in sources:
        try:
            writer.append(PdfReader(str(source)))
        except Exception as error:      # pypdf raises several kinds for a file that is not a PDF
            raise Refused(f"error: {source} could not be read as a PDF ({error}): "
                          "give PDF files only, the theory answers first") from error
    buffer = io.BytesIO()
    writer.write(buffer)
    _write(destination, buffer.getvalue())
    return len(writer.pages)


def pdf_facts(path: Path):
    """(pages, embedded images) of a PDF."""
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    return len(reader.pages), sum(len(page.images) for page in reader.pages)


# -- the command ----------------------------------------------------------------------------------
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="bash make_pdf.sh", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pdfs", nargs="*", type=Path, metavar="FILE.pdf",
                        help="PDFs to merge with the notebook's, in this order (your theory answers first)")
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help=f"the merged PDF (default: {MERGED} in this folder)")
    args = parser.parse_args(argv)
    try:
        return make(args.pdfs, args.output)
    except Refused as refused:
        print(refused, file=sys.stderr)
        return 1


def make(extra: list, output) -> int:
    try:
        import nbconvert  # noqa: F401  (checked here to name the fix before any work)
        import playwright  # noqa: F401
        import pypdf  # noqa: F401
    except ImportError as error:
        raise Refused(f"error: {error.name} is not installed in this Python ({sys.executable}).\n"
                      f"Install what make_pdf needs with: {INSTALL}.") from error
    notebook = find_notebook(HERE)
    pdf = notebook.with_suffix(".pdf")
    merged = (output or HERE / MERGED).resolve()
    extra = [path.resolve() for path in extra]
    missing = [str(path) for path in extra if not path.is_file()]
    if missing:
        raise Refused(f"error: no such file: {', '.join(missing)}")
    if pdf in extra:
        raise Refused(f"error: {pdf.name} is made by make_pdf and added after the files you give: leave it out")
    if merged in extra:
        raise Refused(f"error: {merged.name} is both an input and the merged output: name another output with -o")

    nb = read_notebook(notebook)
    errors, warnings = check_notebook(nb, notebook.name)
    if errors:
        raise Refused("\n".join(errors))
    for warning in warnings:
        print(warning, file=sys.stderr)

    print(f"Printing {notebook.name} to PDF ...")
    print_pdf(notebook_html(nb, HERE), pdf)
    pages, images = pdf_facts(pdf)
    expected = image_outputs(nb)
    print(f"{pdf} written: {pages} pages, {images} figures")
    if images < expected:
        print(f"warning: {pdf.name} holds {images} images but {notebook.name} has {expected} image outputs: "
              "check that every figure is in the PDF", file=sys.stderr)
    if extra:
        order = extra + [pdf]
        total = merge(order, merged)
        print(f"{merged} written: {total} pages, from {', '.join(path.name for path in order)}")
        print(f"Upload {merged.name} to the written part of HW4 on Gradescope and mark the pages of each question.")
    else:
        print("To put your theory answers (and other PDFs) before it in one file: bash make_pdf.sh theory.pdf ...")
    return 0


if __name__ == "__main__":
    sys.exit(main())
