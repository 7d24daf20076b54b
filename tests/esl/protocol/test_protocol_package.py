"""The protocol package is pure: standard library only, and its public names are all there."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import ivrd.esl.protocol as protocol

PACKAGE = Path(protocol.__file__).parent

# Load the package by itself: its parents (`ivrd`, `ivrd.esl`) are stood in for by empty
# packages, so that what it imports, and only that, ends up in sys.modules.
ISOLATED_IMPORT = """
import json, sys, types
for name, path in (("ivrd", {ivrd!r}), ("ivrd.esl", {esl!r})):
    module = types.ModuleType(name)
    module.__path__ = [path]
    sys.modules[name] = module
before = set(sys.modules)
import ivrd.esl.protocol
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def test_importing_it_loads_only_the_standard_library() -> None:
    code = ISOLATED_IMPORT.format(ivrd=str(PACKAGE.parents[1]), esl=str(PACKAGE.parent))

    result = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True
    )
    loaded = json.loads(result.stdout)
    assert "ivrd.esl.protocol._parser" in loaded
    outside = sorted(
        name
        for name in loaded
        if name.split(".")[0] not in sys.stdlib_module_names
        and not name.startswith("ivrd.esl.protocol")
    )
    assert outside == []
    for name in ("anyio", "trio", "pydantic", "yaml", "click", "jinja2", "httpx", "socket"):
        assert name not in loaded


def test_its_source_imports_only_the_standard_library_and_itself() -> None:
    imported = set()
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{path.name}: relative import"
                imported.add(node.module or "")

    assert "ivrd.esl.protocol._parser" in imported
    assert (
        sorted(
            name
            for name in imported
            if name.split(".")[0] not in sys.stdlib_module_names
            and not name.startswith("ivrd.esl.protocol")
        )
        == []
    )
    assert "socket" not in imported


def test_public_names() -> None:
    # Other layers build on these: renaming one is an API change.
    assert set(protocol.__all__) == {
        "CLOSED",
        "DEFAULT_MAX_FRAME_SIZE",
        "DEFAULT_MAX_HEAD_SIZE",
        "NEED_DATA",
        "ApiResponse",
        "AuthRequest",
        "Command",
        "CommandParser",
        "CommandReply",
        "DisconnectNotice",
        "Event",
        "EventFormat",
        "EventMessage",
        "Headers",
        "LocalProtocolError",
        "LogData",
        "Message",
        "Parser",
        "ProtocolError",
        "RawMessage",
        "RemoteProtocolError",
        "RudeRejection",
        "Sentinel",
        "commands",
        "writers",
    }
    assert all(hasattr(protocol, name) for name in protocol.__all__)
    assert repr(protocol.NEED_DATA) == "NEED_DATA"
    assert repr(protocol.CLOSED) == "CLOSED"
