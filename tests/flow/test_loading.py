"""Loading files and directories: results, reports, subflows, unreadable files."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivrd.flow import (
    FlowError,
    find_flow_files,
    load_directory,
    load_flow,
    load_flow_text,
    validate_paths,
)

GOOD = "ivr: 1\nstart: bye\nsteps:\n  bye: {type: hangup}\n"
SUBFLOW = (
    "ivr: 1\nreturns: [done]\nstart: a\nsteps:\n  a: {type: play, prompt: {say: x}, next: done}\n"
)


def test_load_result_for_a_good_flow(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(GOOD)
    result = load_flow(tmp_path / "good.yaml")
    assert result.ok
    assert result.diagnostics == result.errors == result.warnings == ()
    flow = result.require()
    assert flow.name == "good"
    assert flow.source is not None
    assert flow.source.file == str(tmp_path / "good.yaml")


def test_require_raises_flow_error_with_every_diagnostic() -> None:
    result = load_flow_text(
        "ivr: 1\nstart: x\nsteps:\n  a: {type: hangup}\n  b: {type: hnagup}\n", "b.yaml"
    )
    with pytest.raises(FlowError) as caught:
        result.require()
    assert [str(d) for d in caught.value.diagnostics] == [
        "b.yaml:5:13: steps.b.type: unknown step type 'hnagup'; did you mean 'hangup'?"
    ]
    assert "1 error(s) in flow:\nb.yaml:5:13:" in str(caught.value)


def test_unreadable_and_undecodable_files(tmp_path: Path) -> None:
    missing = load_flow(tmp_path / "missing.yaml")
    assert [d.message for d in missing.diagnostics] == [
        "cannot read the file: No such file or directory"
    ]
    (tmp_path / "latin1.yaml").write_bytes("name: caf\xe9\n".encode("latin-1"))
    undecodable = load_flow(tmp_path / "latin1.yaml")
    assert undecodable.flow is None
    assert undecodable.diagnostics[0].message.startswith("cannot read the file: 'utf-8' codec")


def test_a_document_that_is_only_null_or_text() -> None:
    for text in ("~\n", "just text\n"):
        result = load_flow_text(text, "n.yaml")
        assert [str(d) for d in result.diagnostics] == [
            "n.yaml:1:1: a flow file is a mapping (ivr: 1, name, start, steps, ...), "
            "not a list or text"
        ]


def test_name_is_required_when_the_file_name_is_not_a_name() -> None:
    result = load_flow_text(GOOD, "my flow.yaml")
    assert [str(d) for d in result.diagnostics] == ["my flow.yaml:1:1: missing field 'name'"]


def test_subflows_are_found_relative_to_the_flow(tmp_path: Path) -> None:
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "sub.yaml").write_text(SUBFLOW)
    (tmp_path / "main.yaml").write_text(
        "ivr: 1\nsubflows: {sub: parts/sub.yaml}\nstart: r\nsteps:\n"
        "  r: {type: run, subflow: sub, returns: {done: bye}}\n  bye: {type: hangup}\n"
    )
    flow = load_flow(tmp_path / "main.yaml").require()
    assert flow.subflow("sub").name == "sub"
    with pytest.raises(KeyError):
        flow.subflow("other")


def test_a_broken_subflow_is_reported_in_its_own_file(tmp_path: Path) -> None:
    (tmp_path / "sub.yaml").write_text(
        "ivr: 1\nreturns: [done]\nstart: a\nsteps:\n  a: {type: play}\n"
    )
    (tmp_path / "main.yaml").write_text(
        "ivr: 1\nsubflows: {sub: sub.yaml}\nstart: r\nsteps:\n"
        "  r: {type: run, subflow: sub, returns: {done: bye}}\n  bye: {type: hangup}\n"
    )
    main = str(tmp_path / "main.yaml")
    sub = str(tmp_path / "sub.yaml")
    assert [str(d) for d in load_flow(main).diagnostics] == [
        f"{main}:2:17: subflows.sub: subflow 'sub.yaml' could not be loaded (see its errors)",
        f"{sub}:5:3: steps.a: missing field 'next'",
        f"{sub}:5:3: steps.a: missing field 'prompt'",
    ]


def test_a_flow_that_is_not_a_subflow(tmp_path: Path) -> None:
    (tmp_path / "plain.yaml").write_text(GOOD)
    (tmp_path / "main.yaml").write_text(
        "ivr: 1\nsubflows: {sub: plain.yaml}\nstart: r\nsteps:\n"
        "  r: {type: run, subflow: sub, returns: {done: bye}}\n  bye: {type: hangup}\n"
    )
    main = str(tmp_path / "main.yaml")
    assert [str(d) for d in load_flow(main).diagnostics] == [
        f"{main}:2:17: subflows.sub: 'plain.yaml' is not a subflow: it lists no 'returns'"
    ]


def test_subflow_languages_must_cover_the_caller(tmp_path: Path) -> None:
    (tmp_path / "sub.yaml").write_text(SUBFLOW)
    (tmp_path / "main.yaml").write_text(
        "ivr: 1\nlanguages: {default: en, available: [en, de]}\nsubflows: {sub: sub.yaml}\n"
        "start: r\nsteps:\n  r: {type: run, subflow: sub, returns: {done: bye}}\n"
        "  bye: {type: hangup}\n"
    )
    main = str(tmp_path / "main.yaml")
    assert [str(d) for d in load_flow(main).diagnostics] == [
        f"{main}:3:17: subflows.sub: subflow 'sub' does not speak de (its languages: en)"
    ]


def test_directories_and_reports(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yml").write_text("ivr: 1\n")
    (tmp_path / "notes.txt").write_text("not a flow")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.yaml").write_text("broken: [")
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "c.yaml").write_text(GOOD)
    files = find_flow_files(tmp_path)
    assert files == [str(tmp_path / n) for n in ("a.yaml", "b.yml", "nested/c.yaml")]
    assert {k: v.ok for k, v in load_directory(tmp_path).items()} == dict(
        zip(files, [True, False, True], strict=True)
    )
    report = validate_paths([tmp_path, tmp_path / "a.yaml"])
    assert report.files == [*files, str(tmp_path / "a.yaml")]
    assert [d.message for d in report.errors] == [
        "missing field 'start'; name the first step, e.g. 'start: main_menu'",
        "missing field 'steps'",
    ]
    assert report.failed()
    assert report.summary() == "4 files checked: 2 errors, 0 warnings"


FLOW_WORDS = st.sampled_from(
    ["ivr: 1\n", "start: a\n", "steps:\n", "  a:\n", "    type: menu\n", "    type: hangup\n",
     "    next: a\n", "    prompt: {say: x}\n", "    options: {'1': a}\n", "  b: {type: play}\n",
     "on:\n", "  key: {'*0': a}\n", "    digits: {min: 2, max: 1}\n", "#: x\n", "\t", ": ", "- "]
)  # fmt: skip


@given(st.lists(FLOW_WORDS, max_size=12).map("".join))
def test_any_text_gives_a_flow_or_errors_never_an_exception(text: str) -> None:
    result = load_flow_text(text, "fuzz.yaml")
    assert result.ok == (not result.errors)
    for diagnostic in result.diagnostics:
        assert diagnostic.line >= 1
        assert diagnostic.column >= 1
        assert str(diagnostic).startswith("fuzz.yaml:")
