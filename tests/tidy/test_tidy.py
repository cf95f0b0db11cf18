"""House rules that a reviewer would otherwise have to check by hand."""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "netfin"
FUNCTION_LINES_MAX = 70
MONEY_NAMES = re.compile(r"amount|balance|price|premium|principal|debits|credits|fee")


def _modules() -> list[tuple[Path, ast.Module]]:
    return [(p, ast.parse(p.read_text(), str(p))) for p in sorted(SRC.rglob("*.py"))]


def test_sources_exist() -> None:
    assert len(_modules()) > 10


def test_functions_are_at_most_70_lines() -> None:
    """Schema migrations are declarations, not logic, and are exempt."""
    long = [
        f"{path.relative_to(SRC)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for path, tree in _modules()
        if "migrations" not in path.parts
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > FUNCTION_LINES_MAX
    ]
    assert long == []


def test_no_print_in_src() -> None:
    calls = [
        f"{path.relative_to(SRC)}:{node.lineno}"
        for path, tree in _modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print"
    ]
    assert calls == []


def test_no_bare_assert_in_src() -> None:
    """``assert`` vanishes under ``python -O``; invariants use ``core.invariant``.
    The one allowed form narrows a type right after an ``invariant`` call."""
    bad = []
    for path, tree in _modules():
        lines = path.read_text().splitlines()
        for node in ast.walk(tree):
            if isinstance(node, ast.Assert) and "invariant() checked it" not in lines[node.lineno - 1]:
                bad.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert bad == []


def test_no_float_on_money_paths() -> None:
    """No float literal or float() call in an expression that names money."""
    bad = []
    for path, tree in _modules():
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "float"
                and any(MONEY_NAMES.search(ast.unparse(a)) for a in node.args)
            ):
                bad.append(f"{path.relative_to(SRC)}:{node.lineno} float(money)")
            if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = ast.unparse(node.targets[0] if isinstance(node, ast.Assign) else node.target)
                value = node.value
                if (
                    value is not None
                    and MONEY_NAMES.search(targets)
                    and any(
                        isinstance(n, ast.Constant) and isinstance(n.value, float) for n in ast.walk(value)
                    )
                ):
                    bad.append(f"{path.relative_to(SRC)}:{node.lineno} {targets} = float")
            if isinstance(node, ast.AnnAssign) and MONEY_NAMES.search(ast.unparse(node.target)):
                if "float" in ast.unparse(node.annotation):
                    bad.append(f"{path.relative_to(SRC)}:{node.lineno} annotated float")
    assert bad == []


def test_no_bare_except_pass() -> None:
    bad = []
    for path, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.ExceptHandler) and all(isinstance(s, ast.Pass) for s in node.body):
                bad.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert bad == []


def test_every_context_documents_itself() -> None:
    for init in SRC.glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and len(doc) > 40, f"{init} needs a docstring: purpose, invariants, public names"


def test_no_secrets_or_keys_in_tree() -> None:
    root = SRC.parents[1]
    for path in root.rglob("*"):
        if any(p.startswith(".venv") for p in path.parts) or ".git" in path.parts or not path.is_file():
            continue
        if path.suffix in {".pem", ".key"}:
            raise AssertionError(f"key file in the tree: {path}")
