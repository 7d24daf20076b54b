"""ivrd.flow is pure: no event loop, no sockets, no command line.

`socket` itself cannot be absent from sys.modules: the standard library's importlib.metadata
(used by the holidays package) loads it through email.utils. So the check is twofold: the I/O
libraries are not loaded at all, and no module of ours imports socket (or any I/O module).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import ivrd.flow

FORBIDDEN = {"anyio", "asyncio", "click", "httpx", "select", "selectors", "socket", "ssl", "trio"}


def test_importing_flow_loads_no_io_library() -> None:
    code = (
        "import sys, ivrd.flow\n"
        "loaded = ('anyio', 'asyncio', 'click', 'httpx', 'trio', 'ivrd.esl', 'ivrd.cli')\n"
        "print(','.join(sorted(m for m in loaded if m in sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_no_flow_module_imports_io() -> None:
    package = Path(ivrd.flow.__file__).parent
    modules = sorted(package.glob("*.py"))
    assert len(modules) > 10
    for module in modules:
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN, f"{module.name} imports {name}"
                assert not name.startswith(("ivrd.esl", "ivrd.cli", "ivrd.engine", "ivrd.daemon"))
