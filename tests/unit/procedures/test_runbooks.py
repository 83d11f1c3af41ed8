"""The runbooks: anchors, sections, and the promises the code makes about them.

Every `runbook=` reference and every "kafkaops runbook NAME SECTION" text in the code must land on a
real heading; every command must be documented; the generated CLI reference must be current.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from kafkaops.cli.reference import generate, walk
from kafkaops.errors import UsageError
from kafkaops.procedures import runbooks
from kafkaops.procedures.signatures import SIGNATURES

ROOT = Path(__file__).resolve().parents[3]
RUNBOOKS = ROOT / "runbooks"
CODE = ROOT / "kafkaops"

# The failures that up, doctor and logs recognise: other modules link to these anchors.
FAILURE_ANCHORS = [
    "stale-broker-registration",
    "cluster-id-mismatch",
    "zookeeper-unreachable",
    "port-in-use",
    "advertised-listeners",
    "log-dir-failure",
    "windows-file-lock",
    "unclean-shutdown",
    "foreign-process",
    "broker-unreachable",
    "client-security",
    "broker-not-answering",
    "topic-missing",
    "offsets-topic-replication",
    "consumer-shows-nothing",
    "producer-offset-ahead",
    "rows-committed-out-of-order",
    "row-too-large",
    "database-unreachable",
    "java-missing",
    "kafka-not-installed",
    "data-under-tmp",
    "disk-space",
]

# The parts of the procedure, each with its runbook.
PARTS = ["startup", "topics", "producer", "persistence", "consumer", "failures", "reset", "doctor", "quick-reference"]


# --------------------------------------------------------------------------------------------
# slugs, headings, sections


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Cluster id mismatch", "cluster-id-mismatch"),
        ("Data under /tmp", "data-under-tmp"),
        ("`kafkaops topics create`", "kafkaops-topics-create"),
        ("Kafka's own tools without a bin folder", "kafkas-own-tools-without-a-bin-folder"),
        ("Producer → Kafka flow", "producer--kafka-flow"),
        ("See [the reset runbook](reset.md)", "see-the-reset-runbook"),
        ("snake_case stays", "snake_case-stays"),
    ],
)
def test_slugify_matches_github(title: str, slug: str) -> None:
    assert runbooks.slugify(title) == slug


def test_headings_skip_code_and_number_repeats() -> None:
    text = "# Title\n\n## Fix\n\n```sh\n# not a heading\n```\n\n## Fix\n\n~~~\n## also not\n~~~\n### Deeper\n"
    found = [(h.level, h.anchor) for h in runbooks.headings(text)]
    assert found == [(1, "title"), (2, "fix"), (2, "fix-1"), (3, "deeper")]


def test_section_runs_to_the_next_heading_of_the_same_level() -> None:
    text = "# T\n\nintro\n\n## A\n\na text\n\n### A1\n\nsub\n\n## B\n\nb text\n"
    assert runbooks.section(text, "a") == "## A\n\na text\n\n### A1\n\nsub\n"
    assert runbooks.section(text, "#b") == "## B\n\nb text\n"
    assert runbooks.section(text, "a1") == "### A1\n\nsub\n"


def test_unknown_section_names_the_closest_and_all() -> None:
    with pytest.raises(UsageError) as info:
        runbooks.section("# T\n## Port in use\n## Disk space\n", "port-in-us", runbook="failures")
    assert info.value.message == "no section 'port-in-us' in runbook failures (did you mean 'port-in-use'?)"
    assert info.value.hint == "available: port-in-use, disk-space"


@pytest.mark.parametrize(
    ("reference", "parsed"),
    [
        ("failures port-in-use", ("failures", "port-in-use")),
        ("failures#port-in-use", ("failures", "port-in-use")),
        ("failures.md#port-in-use", ("failures", "port-in-use")),
        ("failures", ("failures", None)),
        ("  reset  ", ("reset", None)),
    ],
)
def test_parse_reference(reference: str, parsed: tuple[str, str | None]) -> None:
    assert runbooks.parse_reference(reference) == parsed


def test_find_runbook_unknown_lists_the_available_ones() -> None:
    with pytest.raises(UsageError) as info:
        runbooks.find_runbook("failure")
    assert info.value.message == "no runbook 'failure' (did you mean 'failures'?)"
    assert info.value.hint is not None and "failures" in info.value.hint and "index" in info.value.hint


def test_source_checkout_reads_the_repository_folder() -> None:
    assert runbooks.runbooks_dir() == RUNBOOKS
    names = [b.name for b in runbooks.list_runbooks()]
    assert names[: len(PARTS) + 1] == [runbooks.INDEX, *PARTS]
    assert "cli-reference" in names


def test_readme_is_listed_as_index_and_as_readme() -> None:
    assert runbooks.find_runbook("index").path.name == "README.md"
    assert runbooks.find_runbook("README").path.name == "README.md"


# --------------------------------------------------------------------------------------------
# content promises


def _anchors(name: str) -> set[str]:
    return {h.anchor for h in runbooks.headings(runbooks.read(runbooks.find_runbook(name)))}


def test_every_part_of_the_procedure_has_its_runbook_linked_from_the_index() -> None:
    index = (RUNBOOKS / "README.md").read_text(encoding="utf-8")
    for path in RUNBOOKS.glob("*.md"):
        if path.name != "README.md":
            assert f"]({path.name})" in index, f"{path.name} is not linked from runbooks/README.md"
    for part in PARTS:
        assert (RUNBOOKS / f"{part}.md").is_file()


def test_failures_has_one_complete_section_per_known_failure() -> None:
    text = runbooks.read(runbooks.find_runbook("failures"))
    for anchor in FAILURE_ANCHORS:
        body = runbooks.section(text, anchor)
        for part in ("**Symptom.**", "**How kafkaops detects it.**", "**Why it happens.**", "**Fix with kafkaops.**", "**Fix by hand.**"):
            assert part in body, f"failures#{anchor} lacks {part}"
        fix = body.split("**Fix with kafkaops.**")[1].split("**Fix by hand.**")[0]
        assert "`kafkaops " in fix, f"failures#{anchor}: the fix names no kafkaops command"
        if anchor not in ("producer-offset-ahead", "rows-committed-out-of-order"):  # plain SQL, the same everywhere
            assert "Windows" in body and ("Linux" in body), f"failures#{anchor}: manual steps for both systems"


def test_persistence_states_each_rule_and_names_its_test() -> None:
    text = runbooks.read(runbooks.find_runbook("persistence"))
    for anchor, test_id in [
        ("deleting-rows-does-not-delete-events", "tests/integration/test_produce.py::test_messages_survive_row_deletion"),
        ("a-restart-keeps-the-data", "tests/integration/test_services.py::test_messages_survive_down_and_up"),
        (
            "only-retention-or-a-reset-removes-messages",
            "tests/integration/test_reset.py::test_confirm_yes_stops_in_order_and_empties_exactly_the_configured_folders",
        ),
    ]:
        assert test_id in runbooks.section(text, anchor)


def test_producer_documents_format_guarantee_and_offsets() -> None:
    text = runbooks.read(runbooks.find_runbook("producer"))
    event = runbooks.section(text, "the-event-format")
    for field in ('"id": "livedb:42"', '"source"', '"op": "c"', '"ts_ms"', '"after"'):
        assert field in event
    assert "at least once" in runbooks.section(text, "the-delivery-guarantee").lower()
    assert "last_id" in runbooks.section(text, "the-offset-table")


_LINK = re.compile(r"\]\(([a-z0-9-]+\.md)?(?:#([^)]+))?\)")
_TEST_ID = re.compile(r"(tests/[\w/]+\.py)::(test_\w+)")


def test_the_tests_named_in_runbooks_exist() -> None:
    """A runbook that says "proved by <test>" must name a test that is really there."""
    named = {(m.group(1), m.group(2)) for p in RUNBOOKS.glob("*.md") for m in _TEST_ID.finditer(p.read_text(encoding="utf-8"))}
    assert len(named) >= 3
    missing = []
    for file, name in sorted(named):
        path = ROOT / file
        defined = path.is_file() and {n.name for n in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if isinstance(n, ast.FunctionDef)}
        if not defined or name not in defined:
            missing.append(f"{file}::{name}")
    assert not missing, f"runbooks name tests that do not exist: {missing}"


def test_links_between_runbooks_resolve() -> None:
    for path in RUNBOOKS.glob("*.md"):
        for m in _LINK.finditer(path.read_text(encoding="utf-8")):
            target, anchor = m.group(1) or path.name, m.group(2)
            assert (RUNBOOKS / target).is_file(), f"{path.name} links to missing {target}"
            if anchor:
                assert anchor in {h.anchor for h in runbooks.headings((RUNBOOKS / target).read_text(encoding="utf-8"))}, (
                    f"{path.name} links to missing {target}#{anchor}"
                )


# --------------------------------------------------------------------------------------------
# references used by the code


_CLI_TEXT = re.compile(r"kafkaops runbook ([a-z][a-z0-9.-]*)(?:[ #]([a-z0-9][a-z0-9_-]*))?")
_BARE = re.compile(r"^failures [a-z0-9][a-z0-9-]*$")


def _runbook_positions(trees: list[ast.Module]) -> dict[str, int]:
    """Functions with a parameter named ``runbook`` -> its position among the positional arguments."""
    positions: dict[str, int] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                names = [a.arg for a in (*node.args.posonlyargs, *node.args.args)]
                if names and names[0] in ("self", "cls"):
                    names = names[1:]
                if "runbook" in names:
                    positions[node.name] = names.index("runbook")
    return positions


def collect_references() -> dict[str, set[str]]:
    """Every runbook reference in kafkaops/**/*.py -> the places that use it.

    Found as: ``runbook="NAME SECTION"`` keywords; a string passed where a function takes its
    ``runbook`` parameter by position; "kafkaops runbook NAME [SECTION]" inside any string; and any
    string that is exactly "failures <anchor>". A bare anchor (no runbook name) means the failures
    runbook, which is how the signature table and doctor's helpers write them.
    """
    found: dict[str, set[str]] = {}

    def add(ref: str, where: str) -> None:
        ref = ref.strip()
        if " " not in ref and "#" not in ref and ref not in {b.name for b in runbooks.list_runbooks()}:
            ref = f"failures {ref}"
        found.setdefault(ref, set()).add(where)

    files = sorted(CODE.rglob("*.py"))
    trees = [ast.parse(path.read_text(encoding="utf-8"), filename=str(path)) for path in files]
    positions = _runbook_positions(trees)
    for path, tree in zip(files, trees, strict=True):
        rel = path.relative_to(ROOT)
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "runbook" and isinstance(node.value, ast.Constant):
                if isinstance(node.value.value, str):
                    add(node.value.value, f"{rel}:{node.value.lineno}")
            elif isinstance(node, ast.Call):
                func = node.func.id if isinstance(node.func, ast.Name) else node.func.attr if isinstance(node.func, ast.Attribute) else None
                index = positions.get(func or "")
                if index is not None and len(node.args) > index:
                    arg = node.args[index]
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        add(arg.value, f"{rel}:{arg.lineno}")
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                for m in _CLI_TEXT.finditer(node.value):
                    if m.group(1) in ("name", "NAME"):
                        continue  # the usage text itself
                    add(f"{m.group(1)} {m.group(2) or ''}", f"{rel}:{node.lineno}")
                if _BARE.match(node.value):
                    add(node.value, f"{rel}:{node.lineno}")
    for sig in SIGNATURES:
        add(sig.runbook, f"signatures.{sig.id}")
    return found


def test_the_collector_finds_the_references_it_must() -> None:
    refs = collect_references()
    assert "failures stale-broker-registration" in refs  # runbook="..." in services.py
    assert "failures windows-file-lock" in refs  # a signature
    assert any(place.startswith("kafkaops/procedures/signatures.py:") for place in refs["failures windows-file-lock"])  # by position


def test_every_runbook_reference_in_the_code_resolves() -> None:
    broken = []
    for ref, places in sorted(collect_references().items()):
        try:
            runbooks.resolve(ref)
        except UsageError as exc:
            broken.append(f"{ref!r} used at {sorted(places)}: {exc.message}")
    assert not broken, "\n".join(broken)


# --------------------------------------------------------------------------------------------
# commands


def test_every_command_is_in_the_reference_and_in_a_written_runbook() -> None:
    reference = (RUNBOOKS / runbooks.REFERENCE_FILE).read_text(encoding="utf-8")
    written = "\n".join(p.read_text(encoding="utf-8") for p in RUNBOOKS.glob("*.md") if p.name != runbooks.REFERENCE_FILE)
    commands = [info.name for info in walk()]
    assert "kafkaops runbook" in commands and "kafkaops up" in commands
    missing_ref = [c for c in commands if f"## `{c}`" not in reference]
    missing_doc = [c for c in commands if c != "kafkaops" and not re.search(re.escape(c) + r"(?![\w-])", written)]
    assert not missing_ref, f"not in cli-reference.md (regenerate it): {missing_ref}"
    assert not missing_doc, f"not documented in any runbook: {missing_doc}"


def test_generated_reference_is_current() -> None:
    current = (RUNBOOKS / runbooks.REFERENCE_FILE).read_text(encoding="utf-8")
    assert current == generate(), "runbooks/cli-reference.md is out of date: run python -m kafkaops.cli.reference --write-reference"


def test_every_option_appears_in_the_reference() -> None:
    text = generate()
    for info in walk():
        for param in info.command.params:
            if getattr(param, "hidden", False):
                continue
            for opt in param.opts:
                if opt.startswith("-"):
                    assert opt in text, f"{info.name} {opt} missing from the reference"


def test_the_documented_event_is_what_the_producer_builds() -> None:
    """The example in producer.md has the shape, field order and key the event builder really produces."""
    import json

    from kafkaops.procedures.db import TableRef
    from kafkaops.procedures.produce import EventBuilder

    event = runbooks.section(runbooks.read(runbooks.find_runbook("producer")), "the-event-format")
    documented = json.loads(event.split("```json\n", 1)[1].split("```", 1)[0])
    row = documented["after"]
    built = json.loads(EventBuilder("kafkaops", TableRef("public", "livedb")).value(row["id"], json.dumps(row), documented["ts_ms"]) or "")
    assert built == documented
    assert list(built) == list(documented)
