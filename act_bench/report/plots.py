"""The report's plots: success per stage (mean over seeds, a 95% interval that includes training
noise, one dot per seed) and training loss curves, written as PNG files (atomically)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from act_bench.evaluation.table_checks import read_metrics
from act_bench.report import failed_cells
from act_bench.report.cell_tables import cells_of
from act_bench.report.results import order_key, task_order
from act_bench.storage import layout
from act_bench.storage.atomic_io import atomic_path


def save_figure(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png", bbox_inches="tight", pil_kwargs={"optimize": True})
    return path


def plot_success(results: pd.DataFrame, path) -> Path | None:
    """Grouped bars: stage on x, one bar per method, error bars = the table's interval (training
    noise included; none where one seed left it unmeasured)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    results = failed_cells.evaluated(results)
    if results.empty:  # every cell failed: nothing to plot
        return None
    agg = cells_of(results)
    tasks = list(dict.fromkeys(agg["task"]))
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 3.8), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        g = agg[agg["task"] == task]
        stages = g.drop_duplicates("stage_index").sort_values("stage_index")["stage_name"].tolist()
        methods = list(dict.fromkeys(g["method"]))
        width = 0.8 / len(methods)
        x = np.arange(len(stages))
        for j, method in enumerate(methods):
            gm = g[g["method"] == method].sort_values("stage_index")
            mean = gm["rate_mean"].to_numpy()
            err = np.nan_to_num(np.vstack([np.clip(mean - gm["ci_low"].to_numpy(float), 0, None),
                                           np.clip(gm["ci_high"].to_numpy(float) - mean, 0, None)]))
            xs = x + (j - (len(methods) - 1) / 2) * width
            ax.bar(xs, 100 * mean, width, yerr=100 * err, capsize=3, label=method)
            cell = results[(results["task"] == task) & (results["method"] == method)]
            if cell["seed"].nunique() > 1:  # each seed as a dot, so seed-to-seed spread shows
                per_stage = cell.pivot(index="seed", columns="stage_index", values="rate")[gm["stage_index"]]
                for _, rates in per_stage.iterrows():
                    ax.plot(xs, 100 * rates.to_numpy(), "k.", ms=5, alpha=0.7)
        ax.set_xticks(x, stages, rotation=15)
        ax.set_ylim(0, 105)
        ax.set_ylabel("episodes reaching stage (%)")
        ax.set_title(task)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Success per stage (mean over seeds, 95% interval with training noise: t or quasi-binomial; "
                 "dots: seeds)", fontsize=10)
    out = save_figure(fig, Path(path))
    plt.close(fig)
    return out


def find_loss_curves(out_dir) -> list[tuple[str, str, str, pd.DataFrame]]:
    curves = []
    for task, policy, seed, path in layout.training_metrics(out_dir):
        df = read_metrics(path)
        if "step" in df.columns and "train_loss" in df.columns and len(df):
            curves.append((task, policy, seed, df))
    return curves


def plot_loss_curves(curves, path) -> Path | None:
    """Training loss (smoothed, solid) and validation loss (dashed) per task, policy and seed."""
    if not curves:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = sorted(dict.fromkeys(c[0] for c in curves), key=lambda t: order_key(task_order(), t))
    policies = list(dict.fromkeys(c[1] for c in curves))
    colours = {p: f"C{i}" for i, p in enumerate(policies)}
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 3.8), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        labelled = set()
        for t, policy, seed, df in curves:
            if t != task:
                continue
            label = policy if policy not in labelled else None
            labelled.add(policy)
            window = max(1, len(df) // 50)
            ax.plot(df["step"], df["train_loss"].rolling(window, min_periods=1).mean(), color=colours[policy],
                    lw=1.2, alpha=0.8, label=label)
            if "val_loss" in df.columns and df["val_loss"].notna().any():
                v = df[df["val_loss"].notna()]
                ax.plot(v["step"], v["val_loss"], color=colours[policy], ls="--", lw=1, alpha=0.8)
        ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.set_ylabel("loss")
        ax.set_title(f"{task} (solid: train, dashed: validation)", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    out = save_figure(fig, Path(path))
    plt.close(fig)
    return out
