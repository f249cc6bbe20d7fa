"""The package's import graph, read from the source: no circles between modules or between
folders, no folder importing one of a higher layer, and no act_bench import put inside a
function to hide a circle.

An import inside a function is allowed when the module it imports loads a heavy library at
import time (torch, MuJoCo, h5py, ...: commands that do not need it start fast), or when it is
listed in DEFERRED below with the reason. Every import counts, those inside functions and under
`if TYPE_CHECKING:` too, so a circle cannot hide behind either."""
import ast
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parents[1] / "act_bench"
# third-party libraries slow to import or needing a GPU or GL stack: imported where used
HEAVY = {"torch", "torchvision", "mujoco", "dm_control", "matplotlib", "h5py", "ray", "diffusers", "lerobot", "av",
         "cv2", "imageio", "imageio_ffmpeg", "tensorboard", "pyarrow", "gym_aloha"}
# (importer, imported): the in-function act_bench imports of light modules, each with its reason
DEFERRED = {
    ("act_bench", "act_bench.errors"): "`import act_bench` registers the built-in envs inside a function, so "
                                       "a missing GL library is caught there and reported by the command that needs it",
    ("act_bench", "act_bench.tasks.registry"): "the same registration",
}


# The folders (and the top-level modules) from the ground up: each imports only from those before it.
LAYERS = ("errors", "plugins", "storage", "runtime", "sim", "scripted", "tasks", "envs", "data", "policies",
          "evaluation", "interop", "demos", "training", "report", "grid", "cli")
TOP_LEVEL_AT_MOST = 8  # modules directly in act_bench/ (the package's __init__ aside)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imported(module: str, node, is_package: bool) -> list[str]:
    """The act_bench modules an import statement loads (the module itself, not its parents)."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        base = module.split(".") if is_package else module.split(".")[:-1]
        prefix = ".".join(base[:len(base) - node.level + 1] + [node.module or ""]).strip(".") if node.level else node.module
        names = [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in MODULES else prefix for a in node.names]
    found = []
    for name in names:
        while name not in MODULES and "." in name:
            name = name.rsplit(".", 1)[0]
        if name in MODULES and name != module:
            found.append(name)
    return found


def _scan():
    """(graph of every act_bench import with edge attribute in_function, {module: third-party
    top-level names imported at module level})."""
    graph, third_party = nx.DiGraph(), {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text())
        in_function = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                       for n in ast.walk(f)}
        graph.add_node(module)
        third_party[module] = set()
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            lazy = id(node) in in_function
            if not lazy and (isinstance(node, ast.Import) or not node.level):
                roots = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
                third_party[module] |= {r.split(".")[0] for r in roots if not r.startswith("act_bench")}
            for target in _imported(module, node, path.name == "__init__.py"):
                if not graph.has_edge(module, target) or graph.edges[module, target]["in_function"]:
                    graph.add_edge(module, target, in_function=lazy)
    return graph, third_party


GRAPH, THIRD_PARTY = _scan()


def _heavy_at_import(module: str) -> set[str]:
    """The heavy libraries importing `module` loads (through module-level imports)."""
    eager = nx.DiGraph([(a, b) for a, b, lazy in GRAPH.edges(data="in_function") if not lazy])
    reached = {module} | (nx.descendants(eager, module) if module in eager else set())
    return set().union(*(THIRD_PARTY[m] for m in reached)) & HEAVY


def _folder(module: str) -> str:
    """act_bench.tasks.registry -> act_bench.tasks; a top-level module stands for itself."""
    return ".".join(module.split(".")[:2])


def test_the_scan_sees_the_package():
    assert len(MODULES) > 100 and GRAPH.number_of_edges() > 300
    assert GRAPH.edges["act_bench.grid.run", "act_bench.grid.plan"]["in_function"] is False
    assert "torch" in _heavy_at_import("act_bench.policies.base")


def test_no_import_circle_between_modules():
    circles = sorted(" -> ".join(c + [c[0]]) for c in nx.simple_cycles(GRAPH))
    assert not circles, "import circles:\n" + "\n".join(circles[:20])


def test_no_import_circle_between_folders():
    folders = nx.DiGraph()
    for a, b in GRAPH.edges:
        fa, fb = _folder(a), _folder(b)
        if fa != fb and not fb == "act_bench":  # the package itself: every module's parent
            folders.add_edge(fa, fb)
    circles = sorted(" -> ".join(c + [c[0]]) for c in nx.simple_cycles(folders))
    assert not circles, "folder circles:\n" + "\n".join(circles[:20])


def _layer(module: str) -> str:
    return _folder(module).removeprefix("act_bench.")


def test_folders_import_only_from_lower_layers():
    inside = [m for m in MODULES if m != "act_bench"]  # the package itself: every module's parent
    assert set(LAYERS) == {_layer(m) for m in inside}
    upward = sorted(f"{_layer(a)} -> {_layer(b)} ({a} imports {b})" for a, b in GRAPH.edges
                    if a in inside and b in inside and LAYERS.index(_layer(a)) < LAYERS.index(_layer(b)))
    assert not upward, "imports from a higher layer:\n" + "\n".join(upward)


def test_the_top_level_stays_small():
    top = sorted(p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    assert len(top) <= TOP_LEVEL_AT_MOST, f"{len(top)} modules directly in act_bench/: {', '.join(top)}"


def test_imports_inside_functions_load_something_heavy_or_say_why():
    hidden = []
    for a, b, lazy in GRAPH.edges(data="in_function"):
        if lazy and (a, b) not in DEFERRED and not _heavy_at_import(b):
            hidden.append(f"{a} imports {b} inside a function (it loads nothing heavy: import it at the top)")
    assert not hidden, "\n".join(sorted(hidden))


def test_every_deferred_import_is_still_there():
    stale = [pair for pair in DEFERRED if not GRAPH.has_edge(*pair) or not GRAPH.edges[pair]["in_function"]]
    assert not stale, f"DEFERRED lists imports that are gone: {stale}"
