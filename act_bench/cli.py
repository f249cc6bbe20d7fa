"""The `act-bench` command line.

Each subcommand lives in its own module, which provides `add_arguments(parser)` and
`main(args) -> int`. This file only wires them together and turns expected failures
(`ActBenchError`) into a one-line message and a non-zero exit.
"""
from __future__ import annotations

import argparse
import ctypes
import importlib
import sys

from act_bench.errors import ActBenchError
from act_bench.runtime import out_of_memory
from act_bench.storage import interrupts

# name -> (module, help)
COMMANDS = {
    "generate-demos": ("act_bench.demos.generate", "record scripted demonstrations to HDF5"),
    "inspect": ("act_bench.data.inspect", "summarise a folder of demonstrations"),
    "replay": ("act_bench.demos.replay", "render a recorded episode to a video"),
    "train": ("act_bench.training.train", "train one policy"),
    "eval": ("act_bench.evaluation.cli", "roll a trained policy out and score it"),
    "run": ("act_bench.grid.run", "the whole benchmark: demos, training, evaluation, report"),
    "sweep": ("act_bench.grid.sweep", "the grid at every value of one or more profile fields (ablations)"),
    "remote": ("act_bench.grid.remote", "a grid's trainings on a (GPU) machine, packed to be evaluated elsewhere"),
    "report": ("act_bench.report.build", "rebuild tables, plots and report.html from results.csv"),
    "compare": ("act_bench.report.compare", "B against A, the training run as the unit: effect, interval, p"),
    "export-lerobot": ("act_bench.interop.lerobot_export", "write a demo folder as a LeRobotDataset (v3.0)"),
    "import-lerobot": ("act_bench.interop.lerobot_import", "read a LeRobotDataset into a demo folder to train on"),
    "verify": ("act_bench.data.verify", "recompute a demo folder's content hashes, reading every chunk"),
}


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """--help shows each option's default, unless its help already names it or it has none worth
    showing (a switch, an empty list)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if not action.option_strings or "default" in text or not _shows_default(action.default):
            return text
        return f"{text} (default: %(default)s)"


def _shows_default(default) -> bool:
    return default not in (None, argparse.SUPPRESS) and not isinstance(default, (bool, list))


def version() -> str:
    from importlib import metadata

    try:
        return metadata.version("act-bench")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    """Only the chosen command's module is imported (so `generate-demos` never loads torch)."""
    parser = argparse.ArgumentParser(prog="act-bench", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text, formatter_class=DefaultsHelpFormatter)
        p.set_defaults(_module=module_name)
        if name in argv:
            importlib.import_module(module_name).add_arguments(p)
            for action in p._actions:  # argparse formats no help at all for an option without one
                if not action.help and action.option_strings and _shows_default(action.default):
                    action.help = "(default: %(default)s)"
    return parser


def main(argv: list[str] | None = None) -> int:
    """argv None: the act-bench program itself (not a caller in-process), whose signals are its own."""
    try:
        return _main(sys.argv[1:] if argv is None else list(argv))
    finally:
        if argv is None:  # argparse's exit (--help, a usage error) included
            interrupts.ignore_from_now()


def _main(argv: list[str]) -> int:
    prog = " ".join(["act-bench", *(a for a in argv[:1] if a in COMMANDS)])
    interrupts.install()  # SIGTERM too ends a command with one line saying where it stopped
    try:  # building the parser lists tasks and methods, which loads plugins: may fail too
        args = build_parser(argv).parse_args(argv)
        code = int(importlib.import_module(args._module).main(args) or 0)
        late = interrupts.swallowed()  # a signal Python swallowed after the last progress note
        if late is not None:
            raise late
        return code
    except ActBenchError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except (MemoryError, RuntimeError) as exc:  # numpy's ArrayMemoryError, torch's allocators (CPU, CUDA)
        if not out_of_memory.is_out_of_memory(exc):
            raise
        print(f"{prog}: error: out of memory ({out_of_memory.short(exc)}); use smaller sizes", file=sys.stderr)
        return 2
    except OSError as exc:  # a file system problem outside the atomic writers (read-only, disk full)
        where = f" ({exc.filename})" if exc.filename else ""
        why = exc.strerror or " ".join(str(exc).split())
        print(f"{prog}: error: {why}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        return _interrupted(prog, exc)
    except ctypes.ArgumentError as exc:  # a signal landing inside a ctypes call's argument conversion
        inner = interrupts.converted(exc)
        if inner is None:
            raise
        return _interrupted(prog, inner)


def _interrupted(prog: str, exc: KeyboardInterrupt) -> int:
    print(interrupts.message(prog, exc), file=sys.stderr)
    return getattr(exc, "exit_code", 130)


if __name__ == "__main__":
    sys.exit(main())
