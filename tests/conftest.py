"""Shared test set-up: where the FreeSWITCH captures live, and Hypothesis's CI profile."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

# shared/ sits beside the repository, here and in CI (a fresh clone with a copy beside it).
CAPTURES_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "esl-captures"

# Bounded and deterministic: the same examples on every run, no example database on disk.
settings.register_profile("ivrd", max_examples=200, deadline=None, derandomize=True, database=None)
settings.load_profile("ivrd")


def capture_names() -> list[str]:
    """Every capture session (`outbound_session`, ...) that has a `.raw` file."""
    names = sorted(path.stem for path in CAPTURES_DIR.glob("*.raw"))
    if not names:
        raise RuntimeError(f"no FreeSWITCH captures (*.raw) in {CAPTURES_DIR.resolve()}")
    return names


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # A test that takes `capture_name` runs once per capture session.
    if "capture_name" in metafunc.fixturenames:
        metafunc.parametrize("capture_name", capture_names())


@pytest.fixture(scope="session")
def captures_dir() -> Path:
    """The directory of real FreeSWITCH event-socket captures (`NAME.raw`, `NAME.txt`)."""
    if not CAPTURES_DIR.is_dir():
        pytest.fail(f"FreeSWITCH captures not found at {CAPTURES_DIR.resolve()}")
    return CAPTURES_DIR
