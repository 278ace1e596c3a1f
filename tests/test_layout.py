"""The house rules of the package layout that a reader relies on (STYLE.md)."""
from __future__ import annotations

from pathlib import Path

SERVICE = Path(__file__).resolve().parents[1] / "service"
MAX_LINES = 450


def test_no_module_is_over_450_lines():
    """A module longer than this holds more than one concept: split it by what its parts are for."""
    long = {str(path.relative_to(SERVICE)): n for path in SERVICE.rglob("*.py")
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}
