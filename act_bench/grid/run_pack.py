"""Finished run folders as one tarball, and back: how a grid trained elsewhere comes home.

A GPU machine (often one borrowed for a while) trains and the evaluation happens here, so only
what evaluation and the report read travels: each finished run's config.json, done.json, metrics.csv and best
checkpoint (safetensors + JSON), a few MB a run. The tarball's manifest lists every file with
its SHA-256; unpacking checks them all before any run folder is placed, puts each run in with
one rename (never half a folder), keeps an identical run that is already there, and refuses to
overwrite a different one.

    {runs_root}/{task}/{policy}/{profile}/seed{S}/...  <->  runs.tar.gz: runs/{...}/..., manifest.json
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
import time
from pathlib import Path, PurePosixPath

from act_bench.errors import ActBenchError
from act_bench.storage import layout
from act_bench.storage.atomic_io import WriteError, atomic_path

MANIFEST = "manifest.json"
FORMAT = 1
BEST_WEIGHTS = f"{layout.RUN_CHECKPOINTS}/{layout.BEST}.safetensors"
PACKED = (layout.RUN_CONFIG, layout.RUN_DONE, layout.RUN_METRICS, f"{layout.RUN_CHECKPOINTS}/{layout.BEST}.json",
          BEST_WEIGHTS)
OPTIONAL = ("remote-train.log",)  # the training's own output, when a sweep wrote one


def finished_runs(runs_root: Path) -> list[Path]:
    """Run folders (task/policy/profile/seedS) under runs_root whose training finished."""
    return sorted(p.parent for p in Path(runs_root).glob(f"*/*/*/seed*/{layout.RUN_DONE}"))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def pack_runs(runs_root: str | Path, out: str | Path) -> list[str]:
    """Write the finished runs under runs_root into the tarball `out`; returns their relative paths."""
    root, out = Path(runs_root), Path(out)
    runs = finished_runs(root)
    if not runs:
        raise ActBenchError(f"{root}: no finished run (task/policy/profile/seedS/{layout.RUN_DONE}) to pack")
    files: dict[str, dict[str, str]] = {}
    for run in runs:
        rel = run.relative_to(root).as_posix()
        missing = [name for name in PACKED if not (run / name).is_file()]
        if missing:
            raise ActBenchError(f"{run} is finished but lacks {', '.join(missing)}; retrain it or remove it")
        names = PACKED + tuple(n for n in OPTIONAL if (run / n).is_file())
        files[rel] = {name: _sha256(run / name) for name in names}
    manifest = {"format": FORMAT, "packed_at": time.strftime("%Y-%m-%d %H:%M:%S"), "host": os.uname().nodename,
                "runs": files}
    with atomic_path(out) as tmp:
        with tarfile.open(tmp, "w:gz") as tar:
            data = json.dumps(manifest, indent=1).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime = len(data), int(time.time())
            tar.addfile(info, io.BytesIO(data))
            for rel, names in files.items():
                for name in names:
                    tar.add(root / rel / name, arcname=f"runs/{rel}/{name}", recursive=False)
    return list(files)


def _read_manifest(tar: tarfile.TarFile, path: Path) -> dict[str, dict[str, str]]:
    try:
        manifest = json.load(tar.extractfile(MANIFEST))
        runs = manifest["runs"]
        ok = manifest.get("format") == FORMAT and isinstance(runs, dict)
    except (KeyError, TypeError, ValueError, AttributeError):
        ok = False
    if not ok:
        raise ActBenchError(f"{path}: not a packed runs tarball (no readable {MANIFEST} of format {FORMAT})")
    for rel, names in runs.items():
        parts = PurePosixPath(rel).parts
        if len(parts) != 4 or not parts[3].startswith("seed") or any(p in ("", ".", "..") for p in parts) \
                or not isinstance(names, dict) or not set(PACKED) <= set(names) \
                or not set(names) <= set(PACKED + OPTIONAL):
            raise ActBenchError(f"{path}: manifest entry {rel!r} is not a run folder of the expected files")
    return runs


def _extract(tar: tarfile.TarFile, runs: dict, dest: Path, path: Path) -> None:
    """Every listed file into dest/{rel}/, each checked against its hash; nothing else is read."""
    wanted = {f"runs/{rel}/{name}": digest for rel, names in runs.items() for name, digest in names.items()}
    members = {m.name: m for m in tar.getmembers() if m.name in wanted}
    for name, digest in wanted.items():
        member = members.get(name)
        if member is None or not member.isfile():
            raise ActBenchError(f"{path}: {name} is listed in the manifest but not in the tarball")
        target = dest / name.removeprefix("runs/")
        target.parent.mkdir(parents=True, exist_ok=True)
        with tar.extractfile(member) as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)
        if _sha256(target) != digest:
            raise ActBenchError(f"{path}: {name} does not match its SHA-256 in the manifest (damaged in transit?)")


def _same_run(a: Path, b: Path) -> bool:
    return all((b / n).is_file() and _sha256(a / n) == _sha256(b / n) for n in (layout.RUN_DONE, BEST_WEIGHTS))


def unpack_runs(tarball: str | Path, runs_root: str | Path, replace_unfinished: bool = False) -> dict[str, str]:
    """Place the tarball's runs under runs_root; returns {run: "added" | "replaced" | "already there"}.
    All checks come before the first run is placed: a refusal changes nothing."""
    path, root = Path(tarball), Path(runs_root)
    try:
        tar = tarfile.open(path, "r:*")
    except (OSError, tarfile.TarError) as exc:
        raise ActBenchError(f"{path}: cannot read the tarball ({exc})") from None
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".unpack.", suffix=".tmp", dir=root))
    except OSError as exc:
        tar.close()
        raise WriteError(root, exc) from None
    try:
        with tar:
            runs = _read_manifest(tar, path)
            _extract(tar, runs, staging, path)
        plan = {rel: _placement(staging / rel, root / rel, replace_unfinished) for rel in runs}
        for rel, action in plan.items():
            target = root / rel
            if action == "replaced":
                shutil.rmtree(target)
            if action != "already there":
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / rel, target)
        return plan
    except OSError as exc:
        raise WriteError(root, exc) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _placement(new: Path, target: Path, replace_unfinished: bool) -> str:
    if not target.exists():
        return "added"
    if (target / layout.RUN_DONE).is_file():
        if _same_run(new, target):
            return "already there"
        raise ActBenchError(f"{target} already holds another finished training; move it away to unpack this one")
    if not replace_unfinished:
        raise ActBenchError(f"{target} holds an unfinished training; pass --replace-unfinished to put the "
                            "finished one in its place")
    return "replaced"
