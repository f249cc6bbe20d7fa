"""`act-bench inspect DIR`: a summary table of a demonstration folder."""
from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from act_bench.data.dataset import episode_paths, inspect_episode
from act_bench.data.verify import manifest_hashes, verify_episode
from act_bench.errors import DataError
from act_bench.storage.layout import DEMO_MANIFEST


def recorded_cameras(path: Path) -> list[str]:
    """Camera names stored in an episode file (DataError if it cannot be read)."""
    try:
        with h5py.File(path, "r") as f:
            return list(f["observations/images"].keys()) if "observations/images" in f else []
    except OSError as exc:
        raise DataError(f"{path}: not a readable HDF5 file (truncated or corrupt?): {' '.join(str(exc).split())}") from None


def summarize(data_dir: str | Path) -> list[dict]:
    """One row per episode: index, length, best stage, first step of each stage, cameras."""
    rows, listed = [], manifest_hashes(Path(data_dir))
    for path in episode_paths(data_dir):
        info = inspect_episode(path, recorded_cameras(path))  # validates keys, shapes and dtypes
        verify_episode(path, listed.get(path.name))  # and the content hash, every chunk read
        with h5py.File(path, "r") as f:
            stage = f["stage"][()] if "stage" in f else None
            seed = f.attrs.get("seed")
            style = f.attrs.get("style")
            draws = json.loads(f.attrs["human_draws"]) if "human_draws" in f.attrs else None
        row = {"file": path.name, "seed": None if seed is None else int(seed), "length": info.length,
               "max_stage": None if stage is None else int(stage.max()), "style": style}
        if draws is not None:  # the episode's drawn ways of doing each step, and a redone grasp
            row["modes"] = "/".join(draws["modes"].values())
            row["redo"] = "yes" if draws["correction"] else "no"
        for s in range(1, 5 + int(stage is not None and stage.max() > 4)):  # -v3: a strict stage 5
            hit = None if stage is None else np.flatnonzero(stage >= s)
            row[f"stage{s}_at"] = None if hit is None or hit.size == 0 else int(hit[0])
        row["cameras"] = ",".join(f"{c}:{h}x{w}" for c, (h, w) in info.image_shapes.items()) or "-"
        rows.append(row)
    return rows


def format_table(rows: list[dict]) -> str:
    cols = list(rows[0])
    cells = [[("-" if r.get(c) is None else str(r[c])) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    line = lambda vals: "  ".join(v.rjust(w) for v, w in zip(vals, widths))  # noqa: E731
    return "\n".join([line(cols), line(["-" * w for w in widths])] + [line(r) for r in cells])


def add_arguments(p) -> None:
    p.add_argument("dir", help="a folder written by act-bench generate-demos")


def main(args) -> int:
    rows = summarize(args.dir)
    if any("stage5_at" in r for r in rows):  # every row gets the column once one episode has it
        rows = [{**{k: v for k, v in r.items() if k != "cameras"}, "stage5_at": r.get("stage5_at"),
                 "cameras": r["cameras"]} for r in rows]
    print(format_table(rows))
    manifest = Path(args.dir) / DEMO_MANIFEST
    stages = [r["max_stage"] for r in rows if r["max_stage"] is not None]
    strict = f", strict (stage 5) in {sum(s == 5 for s in stages)}" if any(s > 4 for s in stages) else ""
    print(f"\n{len(rows)} episodes, mean length {np.mean([r['length'] for r in rows]):.0f}, "
          f"success (stage 4) in {sum(s >= 4 for s in stages)}/{len(stages)}{strict}")
    if manifest.exists():
        m = json.loads(manifest.read_text())
        rate = m.get("scripted_success_rate")  # None for imported data (no scripted attempts)
        source = f"scripted success {rate:.1%}" if rate is not None else f"from {m.get('source', '?')}"
        if m.get("style"):  # human-like: the share of attempts kept, and what they drew
            source = (f"style {m['style']} ({m['style_params']['version']}), {m['episodes']} recorded of "
                      f"{m['attempts']} attempted ({m['success_rate']:.1%})")
            print(f"draws: {json.dumps(m.get('draws'))}")
        print(f"task {m['task']}, base seed {m['seed']}, {source}, "
              f"image size {m['image_size'][0]}x{m['image_size'][1]}, noise {m['noise']}")
    elif not rows:
        raise DataError(f"{args.dir}: no episodes")
    return 0
