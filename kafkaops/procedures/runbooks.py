"""The runbooks: find them, list them, and cut one section out by its anchor.

The Markdown files live in the repository's ``runbooks/`` folder; a built wheel carries a copy as
``kafkaops/runbooks/`` (pyproject's ``force-include``), so ``kafkaops runbook`` works wherever the
package is installed. A reference such as ``"failures port-in-use"`` (what errors carry in
``runbook=``) names a runbook and a heading's anchor, slugged the way GitHub slugs headings, so the
same anchor works in the terminal and as ``runbooks/failures.md#port-in-use`` on the web.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from kafkaops.errors import UsageError
from kafkaops.text import did_you_mean

# The runbook README is the index; it is listed under this name.
INDEX = "index"
# The order `kafkaops runbook` lists them in: the order of the procedure's parts. Others follow by name.
ORDER = (
    INDEX,
    "startup",
    "topics",
    "producer",
    "persistence",
    "consumer",
    "failures",
    "reset",
    "doctor",
    "quick-reference",
    "cli-reference",
)
REFERENCE_FILE = "cli-reference.md"

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_NOT_SLUG = re.compile(r"[^\w\- ]", re.UNICODE)


@dataclass(frozen=True)
class Runbook:
    name: str
    path: Path
    title: str


@dataclass(frozen=True)
class Heading:
    level: int
    title: str
    anchor: str
    line: int  # 0-based line index in the file


def package_dir() -> Path:
    """Where a built wheel puts the runbooks: next to the package's modules."""
    return Path(__file__).resolve().parent.parent / "runbooks"


def source_dir() -> Path | None:
    """The repository's runbooks/ folder, when kafkaops runs from a source checkout (or editable install)."""
    root = Path(__file__).resolve().parent.parent.parent
    folder = root / "runbooks"
    if (root / "pyproject.toml").is_file() and folder.is_dir():
        return folder
    return None


def runbooks_dir() -> Path:
    """The folder the runbooks are read from: the packaged copy if present, else the source checkout's."""
    packaged = package_dir()
    if packaged.is_dir() and any(packaged.glob("*.md")):
        return packaged
    source = source_dir()
    if source is not None:
        return source
    raise UsageError(
        "the runbooks are not installed with this copy of kafkaops",
        hint=f"reinstall kafkaops from a wheel (it carries them in {packaged}), or read runbooks/ in the repository",
    )


def slugify(title: str) -> str:
    """A heading's anchor as GitHub makes it: inline markup dropped, lower case, punctuation removed, spaces to '-'."""
    text = _LINK.sub(r"\1", title)
    text = text.replace("`", "").replace("*", "")
    text = text.strip().lower()
    text = _NOT_SLUG.sub("", text)
    return text.replace(" ", "-")


def headings(text: str) -> list[Heading]:
    """Every ATX heading outside fenced code, with unique anchors (a repeated slug gets -1, -2, ...)."""
    found: list[Heading] = []
    seen: dict[str, int] = {}
    fence: str | None = None
    for no, line in enumerate(text.splitlines()):
        m = _FENCE.match(line)
        if m:
            marker = m.group(1)
            if fence is None:
                fence = marker[0] * 3
            elif marker.startswith(fence):
                fence = None
            continue
        if fence is not None:
            continue
        h = _HEADING.match(line)
        if not h:
            continue
        title = h.group(2).strip()
        base = slugify(title)
        count = seen.get(base, 0)
        seen[base] = count + 1
        anchor = base if count == 0 else f"{base}-{count}"
        found.append(Heading(len(h.group(1)), title, anchor, no))
    return found


def _name_of(path: Path) -> str:
    return INDEX if path.stem.lower() == "readme" else path.stem


def _title_of(text: str, fallback: str) -> str:
    for h in headings(text):
        if h.level == 1:
            return h.title.replace("`", "")
    return fallback


def list_runbooks(folder: Path | None = None) -> list[Runbook]:
    folder = folder or runbooks_dir()
    books = []
    for path in folder.glob("*.md"):
        name = _name_of(path)
        books.append(Runbook(name, path, _title_of(path.read_text(encoding="utf-8"), name)))
    rank = {name: i for i, name in enumerate(ORDER)}
    return sorted(books, key=lambda b: (rank.get(b.name, len(ORDER)), b.name))


def _unknown(kind: str, wanted: str, choices: list[str], where: str = "") -> UsageError:
    close = did_you_mean(wanted, choices, n=1, quote=True)
    message = f"no {kind} {wanted!r}{where}" + (f" ({close})" if close else "")
    return UsageError(message, hint="available: " + ", ".join(choices))


def find_runbook(name: str, folder: Path | None = None) -> Runbook:
    books = list_runbooks(folder)
    wanted = name.strip().lower()
    if wanted.endswith(".md"):
        wanted = wanted[:-3]
    if wanted == "readme":
        wanted = INDEX
    for book in books:
        if book.name.lower() == wanted:
            return book
    raise _unknown("runbook", name, [b.name for b in books])


def read(book: Runbook) -> str:
    return book.path.read_text(encoding="utf-8")


def section(text: str, anchor: str, *, runbook: str = "") -> str:
    """The section under the heading with this anchor, down to the next heading of the same or a higher level."""
    wanted = anchor.strip().lstrip("#").lower()
    all_headings = headings(text)
    lines = text.splitlines()
    for i, h in enumerate(all_headings):
        if h.anchor != wanted:
            continue
        end = len(lines)
        for later in all_headings[i + 1 :]:
            if later.level <= h.level:
                end = later.line
                break
        return "\n".join(lines[h.line : end]).rstrip() + "\n"
    where = f" in runbook {runbook}" if runbook else ""
    raise _unknown("section", anchor, [h.anchor for h in all_headings if h.level > 1], where)


def parse_reference(reference: str) -> tuple[str, str | None]:
    """``"failures port-in-use"``, ``"failures#port-in-use"`` or ``"failures.md#port-in-use"`` -> (name, anchor)."""
    ref = reference.strip()
    if "#" in ref:
        name, _, anchor = ref.partition("#")
    else:
        name, _, anchor = ref.partition(" ")
    name = name.strip()
    if name.endswith(".md"):
        name = name[:-3]
    anchor = anchor.strip()
    return name, (anchor or None)


def resolve(reference: str, folder: Path | None = None) -> tuple[Runbook, str]:
    """The runbook and the Markdown a reference points to (the whole runbook when it names no section)."""
    name, anchor = parse_reference(reference)
    return load(name, anchor, folder)


def load(name: str, anchor: str | None = None, folder: Path | None = None) -> tuple[Runbook, str]:
    book = find_runbook(name, folder)
    text = read(book)
    if anchor:
        text = section(text, anchor, runbook=book.name)
    return book, text
