"""Golden files: compare output byte for byte with a checked-in copy.

``pytest --update-golden`` rewrites the copies instead of comparing (review the diff
before committing it). Without the option a missing or different file fails the test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

GOLDEN_ROOT = Path(__file__).resolve().parent.parent / "golden"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite golden files under tests/golden instead of comparing with them",
    )


class Golden:
    """Checks text against ``tests/golden/<relative path>``."""

    def __init__(self, update: bool) -> None:
        self.update = update

    def check(self, relative: str, actual: str) -> None:
        """Compare ``actual`` (as UTF-8) with the golden file, or rewrite it."""
        path = GOLDEN_ROOT / relative
        data = actual.encode("utf-8")
        if self.update:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists() or path.read_bytes() != data:
                path.write_bytes(data)
            return
        if not path.exists():
            pytest.fail(f"no golden file {relative}; run pytest --update-golden to create it")
        expected = path.read_bytes()
        if expected != data:
            first = next(
                (i for i, (a, b) in enumerate(zip(expected, data, strict=False)) if a != b),
                min(len(expected), len(data)),
            )
            pytest.fail(
                f"{relative} differs from its golden file at byte {first}; "
                "if the change is intended, run pytest --update-golden and review the diff"
            )


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Golden:
    """A :class:`Golden` honouring ``--update-golden``."""
    return Golden(bool(request.config.getoption("--update-golden")))
