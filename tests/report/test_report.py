"""report.py: tables, plots and report.html from a results folder; the page renders in
headless Chromium with every image and video loaded."""
import argparse
import base64
import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from act_bench.errors import ActBenchError
from act_bench.evaluation.intervals import wilson_interval
from act_bench.report import build as report, results

from cli_helpers import load_script
from fakes import make_results_dir



@pytest.fixture(scope="module")
def results_dir(tmp_path_factory):
    out = make_results_dir(tmp_path_factory.mktemp("results"))
    report.build_report(out)
    return out


def _load_script():
    return load_script("screenshot_report")


def test_results_csv_columns_and_rows(results_dir):
    df = pd.read_csv(results_dir / "results.csv")
    assert list(df.columns) == results.COLUMNS + results.PROVENANCE
    assert len(df) == 2 * 2 * 2 * 4  # tasks x methods x seeds x stages
    assert list(df["task"].unique()) == ["transfer_cube", "insertion"]
    r = df.iloc[0]
    assert (r.ci_low, r.ci_high) == pytest.approx(wilson_interval(int(r.successes), int(r.episodes)))


def test_summary_markdown_seed_level_intervals_and_per_seed_values(results_dir):
    from act_bench.evaluation.seed_stats import cell_statistics

    df = pd.read_csv(results_dir / "results.csv")
    md = (results_dir / "summary.md").read_text()
    assert "mean over 2 training seeds" in md and "includes training noise" in md
    assert "measures evaluation noise only" in md and "Dispersion phi by stage:" in md
    cells = pd.read_csv(results_dir / "cells.csv")
    expected = cell_statistics(df)
    assert len(cells) == 2 * 2 * 4 and list(cells["ci_low"].round(9)) == list(expected["ci_low"].round(9))
    g = df[(df.task == "insertion") & (df.method == "bc") & (df.stage_index == 1)]
    c = expected[(expected.task == "insertion") & (expected.method == "bc") & (expected.stage_index == 1)].iloc[0]
    cell = f"{100 * g.rate.mean():.1f} [{100 * c.ci_low:.1f}, {100 * c.ci_high:.1f}]"
    section = md.split("## insertion")[1]
    assert ("| method | grasp | lift | contact | insert | insert per seed | SD | seeds for ±5 | interval | "
            "Wilson (evaluation only) | seeds | episodes |") in section
    assert re.search(rf"\| bc \| {re.escape(cell)} \|", section)
    final = df[(df.task == "insertion") & (df.method == "bc") & (df.stage_index == 4)].sort_values("seed")
    per_seed = " / ".join(f"{100 * r:.0f}" for r in final.rate)
    k, n = int(final.successes.sum()), int(final.episodes.sum())
    lo, hi = wilson_interval(k, n)
    assert len(final) == 2 and re.search(rf"\| bc \|.*\| {re.escape(per_seed)} \| .* \| "
                                         rf"\[{100 * lo:.1f}, {100 * hi:.1f}\] \| 2 \| {n} \|", section)


def test_plots_are_pngs(results_dir):
    for name in ("success.png", "loss_curves.png"):
        with Image.open(results_dir / name) as im:
            assert im.format == "PNG" and im.size[0] > 500
        assert (results_dir / name).stat().st_size < 200_000


def test_html_is_self_contained(results_dir):
    page = (results_dir / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2
    assert page.count("data:video/mp4;base64,") == 4  # one video per task and method
    assert "file:" not in page and "src='/" not in page and "src=\"/" not in page
    src = re.search(r"data:video/mp4;base64,([A-Za-z0-9+/=]+)", page).group(1)
    assert base64.b64decode(src)[4:8] == b"ftyp"  # an mp4


def test_link_media_links_the_folders_files_instead_of_embedding(results_dir, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(results_dir, copy)
    parser = argparse.ArgumentParser()
    report.add_arguments(parser)
    assert report.main(parser.parse_args([str(copy), "--link-media"])) == 0
    page = (copy / "report.html").read_text()
    assert "base64," not in page
    srcs = re.findall(r"src='([^']+)'", page)
    assert sorted(s.rsplit(".", 1)[1] for s in srcs) == ["mp4"] * 4 + ["png"] * 2
    assert all(not s.startswith("/") and (copy / s).is_file() for s in srcs)  # relative, inside the folder
    assert len(page) < len((results_dir / "report.html").read_text()) / 5
    # the tables are those of the embedding page
    strip = lambda text: re.sub(r"src='[^']+'", "", text)
    assert strip(page) == strip((results_dir / "report.html").read_text())


def test_media_outside_the_folder_stay_embedded(tmp_path):
    from act_bench.report.page import _media_src

    png = tmp_path / "elsewhere.png"
    png.write_bytes(b"\x89PNG")
    assert _media_src(png, "image/png", tmp_path / "folder").startswith("data:image/png;base64,")
    assert _media_src(png, "image/png", tmp_path) == "elsewhere.png"


def test_rebuild_from_results_csv_and_errors(results_dir, tmp_path):
    (results_dir / "report.html").unlink()
    args = argparse.Namespace(dir=str(results_dir), videos_per_cell=2, link_media=False)
    assert report.main(args) == 0
    assert (results_dir / "report.html").read_text().count("data:video/mp4;base64,") == 4  # 1 video per eval recorded
    with pytest.raises(ActBenchError, match="not found"):
        report.build_report(tmp_path / "missing")
    with pytest.raises(ActBenchError, match="no results.csv"):
        report.build_report(tmp_path)
    (tmp_path / "results.csv").write_text("task,method\nx,y\n")
    with pytest.raises(ActBenchError, match="lacks columns"):
        report.build_report(tmp_path)


def test_results_csv_rebuilt_from_evaluations(results_dir, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(results_dir, copy)
    (copy / "results.csv").unlink()
    report.build_report(copy)
    pd.testing.assert_frame_equal(pd.read_csv(copy / "results.csv"), pd.read_csv(results_dir / "results.csv"))


def test_report_renders_in_headless_chromium(results_dir, tmp_path):
    import shutil

    shot = _load_script()
    if shot.find_chromium() is None:
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium); render check not run")
    status = shot.check_media(results_dir / "report.html")
    assert len(status["images"]) == 2 and all(s["ok"] for s in status["images"]), status
    assert len(status["videos"]) == 4 and all(s["ok"] for s in status["videos"]), status
    assert all(s["width"] == 320 for s in status["videos"])
    png = shot.screenshot(results_dir / "report.html", tmp_path / "shot.png")
    with Image.open(png) as im:
        assert im.size == (1280, 2400) and np.asarray(im.convert("L")).std() > 10  # not a blank page
    # the check does notice a broken video
    page = (results_dir / "report.html").read_text()
    broken = tmp_path / "broken.html"
    broken.write_text(re.sub(r"data:video/mp4;base64,[A-Za-z0-9+/=]+", "data:video/mp4;base64,AAAA", page, count=1))
    status = shot.check_media(broken)
    assert [s["ok"] for s in status["videos"]] == [False, True, True, True]
    # a page that links its media loads them from beside it, and a missing file is noticed
    linked = tmp_path / "linked"
    shutil.copytree(results_dir, linked)
    report.build_report(linked, link_media=True)
    status = shot.check_media(linked / "report.html")
    assert len(status["videos"]) == 4 and all(s["ok"] for s in status["images"] + status["videos"]), status
    (linked / re.search(r"src='(evals/[^']+\.mp4)'", (linked / "report.html").read_text()).group(1)).unlink()
    assert sorted(s["ok"] for s in shot.check_media(linked / "report.html")["videos"]) == [False, True, True, True]
    assert sorted(p.name for p in linked.glob("*.html")) == ["report.html"]  # the probe is gone


def test_a_hex_demo_hash_stays_text(tmp_path):
    """A digest like 06e140908627 reads as a float (inf) unless the column is read as text."""
    from act_bench.report.results import COLUMNS, load_results

    row = dict(task="transfer_cube_v2", method="act", seed=0, stage_index=1, stage_name="touch", successes=1,
               episodes=2, rate=0.5, ci_low=0.1, ci_high=0.9, demos="d", demo_hash="06e140908627")
    pd.DataFrame([row], columns=[*COLUMNS, "demos", "demo_hash"]).to_csv(tmp_path / "results.csv", index=False)
    assert load_results(tmp_path)["demo_hash"].tolist() == ["06e140908627"]


def _seed_rows(method, demos, successes, stages=("touch", "lift")):
    return [{"task": "transfer_cube", "method": method, "seed": seed, "stage_index": i + 1, "stage_name": name,
             "successes": k, "episodes": 50, "rate": k / 50, "demos": demos}
            for seed, k in enumerate(successes) for i, name in enumerate(stages)]


def test_the_bounds_add_no_demos_column_and_no_pool_of_their_own():
    """scripted and still train on no demonstrations (demos blank): the table must not grow a
    demos column for them, nor the dispersion line list each stage twice."""
    from act_bench.report.cell_tables import dispersion_lines, summary_tables

    rows = (_seed_rows("act", "tc_top", [40, 45, 30]) + _seed_rows("bc", "tc_top", [0, 4, 1])
            + _seed_rows("scripted", None, [50, 50, 50]) + _seed_rows("still", None, [0, 0, 0]))
    df = pd.DataFrame(rows)
    table = summary_tables(df)["transfer_cube"]
    assert "demos" not in table.columns and table["method"].tolist() == ["act", "bc", "scripted", "still"]
    line = dispersion_lines(df)["transfer_cube"]
    assert line.count("touch ") == 1 and line.count("lift ") == 1 and "(4 df over 2 cells" in line, line
    human = pd.DataFrame(rows + _seed_rows("act", "tc_human", [20, 35, 25]))  # two demo folders: labelled
    table = summary_tables(human)["transfer_cube"]
    assert table["demos"].tolist() == ["tc_top", "tc_top", "-", "-", "tc_human"]
    line = dispersion_lines(human)["transfer_cube"]
    assert "touch (tc_top) " in line and "touch (tc_human) " in line and "nan" not in line, line
