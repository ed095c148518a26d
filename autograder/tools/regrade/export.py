"""A Gradescope "Export Submissions" folder: submission_metadata.yml and a folder per submission."""
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

METADATA = "submission_metadata.yml"


class RegradeError(Exception):
    """A problem with the command's inputs (not with a submission): reported, exit status 2."""


def _plain(key) -> str:
    """Gradescope writes Ruby symbols as keys (':name'); accept 'name' too."""
    return key[1:] if isinstance(key, str) and key.startswith(":") else str(key)


def _plain_keys(value):
    if isinstance(value, dict):
        return {_plain(key): _plain_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain_keys(item) for item in value]
    return value


def _yaml_loader():
    """A safe YAML loader that also reads Ruby-tagged values (!ruby/object:BigDecimal '18:0.5e1', ...)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def tagged(loader, suffix, node):
        if isinstance(node, yaml.MappingNode):
            return loader.construct_mapping(node, deep=True)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node, deep=True)
        text = loader.construct_scalar(node)
        if "BigDecimal" in suffix and ":" in text:
            text = text.split(":", 1)[1]
        try:
            return float(text)
        except ValueError:
            return text

    Loader.add_multi_constructor("!", tagged)
    return Loader


@dataclass
class Submission:
    id: str
    folder: Optional[Path]
    names: List[str] = field(default_factory=list)
    emails: List[str] = field(default_factory=list)
    sids: List[str] = field(default_factory=list)
    created_at: str = ""
    score: str = ""


def _text(value) -> str:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def find_export_root(export: Path) -> Path:
    """The folder that holds submission_metadata.yml: `export` itself, or its only subfolder that does
    (the downloaded zip unpacks into assignment_NNN_export/)."""
    if not export.is_dir():
        raise RegradeError(f"{export} is not a folder (unzip Gradescope's export first)")
    if (export / METADATA).is_file():
        return export
    inner = [path for path in export.iterdir() if path.is_dir() and (path / METADATA).is_file()]
    if len(inner) == 1:
        return inner[0]
    raise RegradeError(f"no {METADATA} in {export}: is it an unzipped Gradescope 'Export Submissions' folder?")


def read_export(export: Path) -> List[Submission]:
    """Every submission of the export, in the metadata's order, then folders the metadata does not list."""
    import yaml

    root = find_export_root(export)
    try:
        raw = yaml.load((root / METADATA).read_text(encoding="utf-8"), Loader=_yaml_loader()) or {}
    except yaml.YAMLError as error:
        raise RegradeError(f"{root / METADATA} is not valid YAML: {error}") from error
    if not isinstance(raw, dict):
        raise RegradeError(f"{root / METADATA} is not a mapping of submission ids")
    submissions, seen = [], set()
    for key, entry in raw.items():
        key = str(key)
        entry = _plain_keys(entry) if isinstance(entry, dict) else {}
        people = [person for person in entry.get("submitters") or [] if isinstance(person, dict)]
        folder = root / key
        submissions.append(Submission(
            id=key, folder=folder if folder.is_dir() and not folder.is_symlink() else None,
            names=[_text(person.get("name")) for person in people],
            emails=[_text(person.get("email")) for person in people],
            sids=[_text(person.get("sid")) for person in people],
            created_at=_text(entry.get("created_at")), score=_text(entry.get("score"))))
        seen.add(key)
    for folder in sorted(root.iterdir()):
        if folder.is_dir() and not folder.is_symlink() and folder.name not in seen \
                and not folder.name.startswith((".", "__MACOSX")):
            submissions.append(Submission(id=folder.name, folder=folder))
    return submissions
