"""The size rule of the code base: no module over MAX_LINES lines, no function over MAX_BODY
lines or MAX_PARAMS parameters (self and cls not counted; *args and **kwargs count as one each).

    python scripts/check_sizes.py [PATH ...]   (default: act_bench, benchmarks, scripts, examples, tests)

Prints one line per breach and exits 1 when there is any.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

MAX_LINES, MAX_BODY, MAX_PARAMS = 350, 60, 8
REPO = Path(__file__).resolve().parents[1]
DEFAULT = ("act_bench", "benchmarks", "scripts", "examples", "tests")


def _params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    a = fn.args
    names = [p.arg for p in (*a.posonlyargs, *a.args, *a.kwonlyargs)]
    n = len([x for x in names if x not in ("self", "cls")])
    return n + (a.vararg is not None) + (a.kwarg is not None)


def breaches(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    out = []
    lines = text.count("\n") + (not text.endswith("\n") and bool(text))
    if lines > MAX_LINES:
        out.append(f"{path}: {lines} lines (max {MAX_LINES})")
    for node in ast.walk(ast.parse(text, str(path))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.end_lineno - node.lineno + 1
            if body > MAX_BODY:
                out.append(f"{path}:{node.lineno}: {node.name} has {body} lines (max {MAX_BODY})")
            if _params(node) > MAX_PARAMS:
                out.append(f"{path}:{node.lineno}: {node.name} has {_params(node)} parameters (max {MAX_PARAMS})")
    return out


def main(argv: list[str]) -> int:
    roots = [Path(p) for p in argv] or [REPO / d for d in DEFAULT]
    files = sorted(f for r in roots for f in ([r] if r.is_file() else r.rglob("*.py")))
    found = [line for f in files for line in breaches(f)]
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
