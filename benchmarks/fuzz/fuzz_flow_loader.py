"""atheris: the flow loader fed arbitrary file contents.

    benchmarks/.venv-bench/bin/python benchmarks/fuzz/fuzz_flow_loader.py -max_total_time=180 \\
        benchmarks/fuzz/corpus/flow_loader

What must hold for any input: loading gives a flow or diagnostics, never an exception; every
diagnostic names a file, a line and a column (1-based) and reads like one, never a traceback;
`require()` raises FlowError, our error type, exactly when there are errors. Subflows named by
the input are looked up in a copy of flows/ (so `subflows/verify-pin.yaml` loads), and a
loaded flow is also drawn as a graph, which walks every route.

Bytes that are not UTF-8 are loaded as the replacement characters a reader would see (a file
that is not UTF-8 never reaches the loader: reading it fails first, with its own diagnostic).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _corpus

with atheris.instrument_imports(include=["ivrd"]):
    from ivrd.flow import Diagnostic, FlowError, flow_graph, load_flow_text

FILE = "fuzz.yaml"
BASE = Path(tempfile.mkdtemp(prefix="ivrd-fuzz-flows-"))
shutil.copytree(_corpus.REPO / "flows", BASE, dirs_exist_ok=True)
KNOWN_FILES = {FILE, *(str(path.relative_to(BASE)) for path in BASE.rglob("*.yaml"))}


def check_diagnostic(diagnostic: Diagnostic) -> None:
    assert isinstance(diagnostic, Diagnostic), diagnostic
    assert diagnostic.line >= 1, diagnostic
    assert diagnostic.column >= 1, diagnostic
    assert diagnostic.file in KNOWN_FILES, diagnostic.file
    text = str(diagnostic)
    assert text.startswith(f"{diagnostic.file}:{diagnostic.line}:{diagnostic.column}: "), text
    assert diagnostic.message, text
    assert "Traceback" not in text, text


def TestOneInput(data: bytes) -> None:
    text = data.decode("utf-8", errors="replace")
    result = load_flow_text(text, FILE, BASE)
    for diagnostic in result.diagnostics:
        check_diagnostic(diagnostic)
    assert result.ok == (not result.errors)
    if result.flow is None:
        raised: FlowError | None = None
        try:
            result.require()
        except FlowError as error:
            raised = error
        assert raised is not None, "require() did not raise for a flow with errors"
        assert raised.diagnostics == result.diagnostics
    else:
        flow_graph(result.flow)


def main() -> None:
    _corpus.seed_directory(sys.argv, _corpus.flow_seeds())
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
