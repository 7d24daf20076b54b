"""The docs that come from the code are up to date, and the hand-written ones name everything
the code has (metrics, settings, exit codes, signals).

A failure here means: run `ivrd docs build` (and commit the result), or describe the new
metric or setting in docs/operations.md.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from ivrd.cli import main
from ivrd.daemon import EXIT_CANNOT_START, EXIT_CRASHED, EXIT_OK
from ivrd.daemon.config import SECTIONS
from ivrd.daemon.loading import env_variable
from ivrd.flow.reference import flow_reference
from ivrd.observability.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
REGENERATE = "run `ivrd docs build` in the repository's root to regenerate the docs"


def build(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["docs", "build", *args])
    return result.exit_code, result.stderr


def test_the_generated_docs_are_up_to_date() -> None:
    code, stderr = build("--check", "--docs", str(DOCS), "--flows", str(ROOT / "flows"))
    assert code == 0, f"{stderr}{REGENERATE}"


def test_the_flow_reference_is_the_one_the_models_give() -> None:
    text = (DOCS / "flow-reference.md").read_text(encoding="utf-8")
    assert text == flow_reference(), REGENERATE


def test_the_reference_command_prints_it() -> None:
    result = CliRunner().invoke(main, ["docs", "reference"])
    assert (result.exit_code, result.stdout) == (0, flow_reference())


def test_build_rewrites_stale_docs_and_check_reports_them(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(DOCS, docs)
    flows = tmp_path / "flows"
    shutil.copytree(ROOT / "flows", flows)
    (docs / "flow-reference.md").write_text("stale\n", encoding="utf-8")
    (docs / "flows.md").unlink()
    assert build("--check", "--docs", str(docs), "--flows", str(flows)) == (
        1,
        f"{docs / 'flow-reference.md'} is out of date: run `ivrd docs build` to regenerate it\n"
        f"{docs / 'flows.md'} is out of date: run `ivrd docs build` to regenerate it\n",
    )
    assert build("--docs", str(docs), "--flows", str(flows)) == (
        0,
        f"wrote {docs / 'flow-reference.md'}\nwrote {docs / 'flows.md'}\n",
    )
    assert build("--check", "--docs", str(docs), "--flows", str(flows)) == (0, "")
    assert (docs / "flows.md").read_text(encoding="utf-8") == (DOCS / "flows.md").read_text(
        encoding="utf-8"
    )


def test_build_needs_the_markers_in_operations(tmp_path: Path) -> None:
    (tmp_path / "operations.md").write_text("# Operations\n", encoding="utf-8")
    code, stderr = build("--docs", str(tmp_path), "--flows", str(ROOT / "flows"))
    assert (code, stderr) == (
        2,
        f"ivrd docs build: {tmp_path / 'operations.md'}: put <!-- generated: configuration --> "
        "and <!-- end: configuration --> around the generated part, once each\n",
    )


OPERATIONS = (DOCS / "operations.md").read_text(encoding="utf-8")


def test_operations_names_every_metric() -> None:
    metrics = Metrics(process_metrics=False)
    names = []
    for family in metrics.registry.collect():
        suffix = "_total" if family.type == "counter" else ""
        names.append(family.name + suffix)
    assert "ivrd_calls_started_total" in names
    missing = [name for name in names if f"`{name}`" not in OPERATIONS]
    assert missing == [], "describe these metrics in docs/operations.md#metrics"


def test_operations_names_every_setting_and_its_variable() -> None:
    for section, model in SECTIONS.items():
        assert f"### `{section}`" in OPERATIONS, REGENERATE
        for key in model.model_fields:
            assert f"`{env_variable(section, key)}`" in OPERATIONS, REGENERATE


def test_operations_names_signals_and_exit_codes() -> None:
    for signal in ("SIGHUP", "SIGTERM", "SIGINT", "a second `SIGTERM`"):
        assert signal in OPERATIONS
    serve = next(line for line in OPERATIONS.splitlines() if line.startswith("| `ivrd serve` |"))
    cells = [cell.strip() for cell in serve.split("|")[1:-1]]
    header = next(line for line in OPERATIONS.splitlines() if line.startswith("| command | 0 |"))
    codes = [cell.strip() for cell in header.split("|")[1:-1]]
    for code in (EXIT_OK, EXIT_CRASHED, EXIT_CANNOT_START):
        assert cells[codes.index(str(code))], f"exit code {code} of ivrd serve is not described"


def test_the_docs_link_to_each_other_and_exist() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for page in ("getting-started.md", "flow-reference.md", "flows.md", "operations.md"):
        assert (DOCS / page).is_file()
        assert f"(docs/{page})" in readme
    for document in DOCS.glob("*.md"):
        text = document.read_text(encoding="utf-8")
        for target in ("getting-started.md", "flow-reference.md", "flows.md", "operations.md"):
            if f"]({target}" in text:
                assert (DOCS / target).is_file()
