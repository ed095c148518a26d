"""The work of the collect script (run that instead: bash collect_submission*.sh).

    python collect_helper.py ZIP NOTEBOOK GRADED_FILE ...

Checks the files, then zips them with their paths (the package's files, the notebook at the top).
Refuses when one is missing; warns when a graded file still raises NotImplementedError, when the
notebook has no outputs, and when the notebook's PDF (made by make_pdf.sh) is missing or older
than the notebook.
"""
import json
import os
import sys
import zipfile


def warn(message):
    print(f"warning: {message}", file=sys.stderr)


def check_pdf(notebook):
    """The PDF goes to the written part of the homework: it must show this notebook as it is now."""
    pdf = os.path.splitext(notebook)[0] + ".pdf"
    if not os.path.isfile(pdf):
        warn(f"{pdf} is missing: make it with `bash make_pdf.sh` and upload it with your written answers")
    elif os.path.getmtime(pdf) < os.path.getmtime(notebook):
        warn(f"{pdf} is older than {notebook}: run `bash make_pdf.sh` again so that the PDF shows "
             "the notebook you submit")


def main(zip_name, notebook, graded):
    missing = [path for path in graded + [notebook] if not os.path.isfile(path)]
    if missing:
        for path in missing:
            print(f"error: {path} is missing (expected in {os.getcwd()})", file=sys.stderr)
        if os.path.exists(zip_name):
            os.remove(zip_name)
            print(f"error: the old {zip_name} was removed so that it cannot be uploaded by mistake", file=sys.stderr)
        print(f"error: no {zip_name} was made", file=sys.stderr)
        return 1

    for path in graded:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = [number for number, line in enumerate(handle, 1) if "raise NotImplementedError" in line]
        if lines:
            where = ", ".join(str(number) for number in lines)
            warn(f"{path} still contains `raise NotImplementedError` "
                 f"({'line' if len(lines) == 1 else 'lines'} {where}): those functions will get no points")

    try:
        with open(notebook, encoding="utf-8") as handle:
            cells = json.load(handle).get("cells", [])
        has_outputs = any(cell.get("cell_type") == "code" and cell.get("outputs") for cell in cells)
    except (ValueError, AttributeError) as error:
        warn(f"{notebook} could not be read as a notebook ({error})")
    else:
        if not has_outputs:
            warn(f"{notebook} has no outputs: run all its cells and save it before collecting")
    check_pdf(notebook)

    partial = zip_name + ".part"
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, strict_timestamps=False) as archive:
        for path in graded + [notebook]:
            archive.write(path, arcname=path)
    os.replace(partial, zip_name)
    print(f"{os.path.join(os.getcwd(), zip_name)} written with {', '.join(graded + [notebook])}")
    print("Upload it to Gradescope.")
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
