"""The package's four parts import in one direction only: the tree shows the architecture.

lab (the bench) knows no lesson; patterns (code to copy) use only the standard library;
demos may use lab and patterns; exercises may use anything.
"""

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "asyncio_patterns"
PARTS = ("lab", "patterns", "demos", "exercises")
ALLOWED = {"lab": {"lab"}, "patterns": {"patterns"}, "demos": {"lab", "patterns", "demos"}, "exercises": set(PARTS)}


def imports(path: Path) -> list[tuple[str, str]]:
    """(top-level module or package part, how it was written) for each import in ``path``."""
    module_parts = path.relative_to(PACKAGE).with_suffix("").parts
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name.split(".")[0], alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                name = node.module or ""
                if name.split(".")[0] == "asyncio_patterns":
                    rest = name.split(".")[1:] or ["asyncio_patterns"]
                    found.append((f"asyncio_patterns.{rest[0]}", name))
                else:
                    found.append((name.split(".")[0], name))
                continue
            # a relative import: resolve it against this module's place in the package
            package = list(module_parts[:-1])  # the package this module (or __init__) belongs to
            base = package[: len(package) - (node.level - 1)]
            target = base + (node.module.split(".") if node.module else [])
            written = "." * node.level + (node.module or "")
            found.append((f"asyncio_patterns.{target[0]}" if target else "asyncio_patterns", written))
    return found


def part_of(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0]


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if part_of(p) in PARTS)


def test_the_tree_has_the_four_parts():
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()} == set(PARTS)
    assert {p.name for p in PACKAGE.glob("*.py")} == {"__init__.py"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_go_one_way(path):
    part = part_of(path)
    for top, written in imports(path):
        if top.startswith("asyncio_patterns."):
            target = top.split(".", 1)[1]
            assert target in ALLOWED[part], f"{part}/ must not import {target}/ ({written!r} in {path.name})"
        elif top == "asyncio_patterns":
            pytest.fail(f"{path.name} imports the package's top level ({written!r}); import the part itself")
        elif part == "patterns":
            assert top in sys.stdlib_module_names or top == "__future__", (
                f"patterns/ is standard library only, but {path.name} imports {written!r}")


def test_the_checker_sees_a_forbidden_import(tmp_path, monkeypatch):
    # The rule above must be able to fail: a lab module that imported a demo is caught.
    fake = PACKAGE / "lab" / "clock.py"
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: "from ..demos.lock import race_demo\nimport aiohttp\n")
    assert imports(fake) == [("asyncio_patterns.demos", "..demos.lock"), ("aiohttp", "aiohttp")]
