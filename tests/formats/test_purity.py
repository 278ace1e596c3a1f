"""service/formats/ stays pure: no Flask, no database, no models, no services."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

FORMATS = Path(__file__).resolve().parents[2] / "service" / "formats"
FORBIDDEN = ("flask", "flask_babel", "flask_login", "sqlalchemy", "celery", "service.models", "service.extensions",
             "service.services", "service.web", "service.api", "service.matching")


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            # Relative imports from service/formats/x.py: "." is service.formats, ".." is service.
            base = "service" if node.level == 2 else "service.formats" if node.level == 1 else ""
            module = ".".join(filter(None, (base, node.module)))
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("path", sorted(FORMATS.glob("*.py")), ids=lambda p: p.name)
def test_a_format_module_imports_no_framework_and_no_database(path):
    bad = {name for name in _imports(path) if name.startswith(FORBIDDEN)}
    assert not bad, f"{path.name} imports {sorted(bad)}"
