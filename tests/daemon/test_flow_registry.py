"""The flow registry: what a load and a reload keep, replace and drop."""

from __future__ import annotations

from pathlib import Path

from _daemon_helpers import flow_yaml, write_flows

from ivrd.daemon import FlowRegistry
from ivrd.flow import load_directory

SUBFLOW = """ivr: 1
name: confirm
inputs: {}
returns: [done]
start: ask
steps:
  ask: {type: play, prompt: {play: confirm.wav}, next: done}
"""


def test_flows_are_registered_by_name(tmp_path: Path) -> None:
    write_flows(tmp_path, "sales", "support")
    registry, change = FlowRegistry.build(load_directory(tmp_path))
    assert list(registry) == ["sales", "support"]
    assert change.loaded == ("sales", "support")
    assert registry.file_of("sales") == str(tmp_path / "sales.yaml")
    assert "sales" in registry
    assert registry.get("nope") is None


def test_a_broken_file_keeps_the_previous_version(tmp_path: Path) -> None:
    write_flows(tmp_path, "sales", "support")
    first, _ = FlowRegistry.build(load_directory(tmp_path))
    (tmp_path / "sales.yaml").write_text(flow_yaml("sales").replace("next: bye", "next: byee"))
    second, change = FlowRegistry.build(load_directory(tmp_path), first)
    assert second.get("sales") is first.get("sales")
    assert second.get("support") is not first.get("support")
    assert change.kept == ("sales",)
    assert change.loaded == ("support",)
    (error,) = change.errors
    assert str(error) == (
        f"{tmp_path}/sales.yaml:8:11: steps.greet.next: unknown step 'byee'; did you mean 'bye'?"
    )
    assert first.get("sales") is not None  # the old registry is untouched


def test_a_broken_file_without_a_previous_version_is_not_served(tmp_path: Path) -> None:
    (tmp_path / "new.yaml").write_text("ivr: 1\nname: new\n", encoding="utf-8")
    registry, change = FlowRegistry.build(load_directory(tmp_path))
    assert len(registry) == 0
    assert change.failed == (str(tmp_path / "new.yaml"),)
    assert [d.message for d in change.errors] == [
        "missing field 'start'; name the first step, e.g. 'start: main_menu'",
        "missing field 'steps'",
    ]


def test_a_deleted_file_takes_its_flow_along(tmp_path: Path) -> None:
    write_flows(tmp_path, "sales", "support")
    first, _ = FlowRegistry.build(load_directory(tmp_path))
    (tmp_path / "support.yaml").unlink()
    second, change = FlowRegistry.build(load_directory(tmp_path), first)
    assert list(second) == ["sales"]
    assert change.removed == ("support",)


def test_subflows_are_not_routable(tmp_path: Path) -> None:
    write_flows(tmp_path, "sales")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "confirm.yaml").write_text(SUBFLOW, encoding="utf-8")
    registry, change = FlowRegistry.build(load_directory(tmp_path))
    assert change.errors == ()
    assert list(registry) == ["sales"]


def test_two_files_with_one_name_keep_the_first(tmp_path: Path) -> None:
    write_flows(tmp_path, "sales")
    (tmp_path / "sales2.yaml").write_text(flow_yaml("sales"), encoding="utf-8")
    registry, change = FlowRegistry.build(load_directory(tmp_path))
    assert registry.file_of("sales") == str(tmp_path / "sales.yaml")
    assert [str(d) for d in change.errors] == [
        f"{tmp_path}/sales2.yaml:1:1: name: the flow name 'sales' is taken by "
        f"{tmp_path}/sales.yaml; file ignored"
    ]
