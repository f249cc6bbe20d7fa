"""The documentation: README.md and docs/ link only to what exists, their generated tables,
plots and CLI reference match the committed results and parsers, they say nothing about how
the project was made, and (where MkDocs is installed) the site builds in strict mode."""
from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from cli_helpers import load_script

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", ROOT / "results" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
CODE = re.compile(r"`[^`\n]*`")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.M)
# words about how the project was made rather than about the software
PROCESS_WORDS = re.compile(r"\bsessions?\b|\bissue\s*#?\d+|\bthe issue\b|\bthe note\b|design\.md|\blent\b|\blendings?\b",
                           re.I)


def _prose(text: str) -> str:
    """The text without fenced code blocks and inline code, where links are not links."""
    return CODE.sub("", FENCE.sub("", text))


def _slug(heading: str) -> str:
    """python-markdown's toc slug (MkDocs' anchors): inline markup dropped, lower case, hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", lambda m: m.group(1) or "", heading)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[-\s]+", "-", re.sub(r"[^\w\s-]", "", text).strip().lower())


def _anchors(page: Path) -> set[str]:
    return {_slug(h) for h in HEADING.findall(FENCE.sub("", page.read_text()))}


def _links(page: Path):
    for target in LINK.findall(_prose(page.read_text())):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        yield target


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_to_existing_files_and_anchors(page):
    broken = []
    for target in _links(page):
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{target} (no heading '#{anchor}' in {dest.name})")
    assert not broken, f"{page.relative_to(ROOT)}: broken links: {broken}"


def test_link_check_sees_links_and_anchors():
    """The checker itself: it finds links outside code and slugs headings as MkDocs does."""
    text = "see [a](x.md#b) and `[not](a link)`\n```\n[nor](this.md)\n```\n![img](i.png)"
    assert LINK.findall(_prose(text)) == ["x.md#b", "i.png"]
    assert _slug("The -v2 reference") == "the-v2-reference"
    assert _slug("`act-bench eval`") == "act-bench-eval"
    assert _slug("The paper's simulated study, in hours") == "the-papers-simulated-study-in-hours"


def test_readme_is_a_short_guide():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    for command in ("make run", "make test"):  # the set-up commands CI and users rely on
        assert command in readme


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_words_about_how_the_project_was_made(page):
    hits = [line.strip() for line in page.read_text().splitlines() if PROCESS_WORDS.search(line)]
    assert not hits, f"{page.relative_to(ROOT)}: {hits}"


def _docs_tables(*args: str) -> subprocess.CompletedProcess:
    # a fresh process: plugins registered by other tests would change the CLI's task lists
    return subprocess.run([sys.executable, "scripts/docs_tables.py", "--check", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_generated_tables_and_plots_match_committed_results():
    done = _docs_tables("--skip", "cli")
    assert done.returncode == 0, done.stderr


def test_a_stale_generated_block_is_rewritten_from_its_results():
    docs_tables = load_script("docs_tables")
    page = "text\n<!-- generated: run:check-v1-demos100 -->\n| act | 99.9 |\n<!-- end generated -->\nmore\n"
    new = docs_tables.render(page, {})
    assert "99.9" not in new and new.startswith("text\n") and new.endswith("<!-- end generated -->\nmore\n")
    # check-v1-demos100's act: 45 of 50 on one seed, so no interval with training noise, Wilson beside
    assert "| act | 90.0 | 90.0 | 90.0 | 90.0 | 90 | - | >= 6 | none | [78.6, 95.7] | 1 | 50 |" in new
    assert docs_tables.render(new, {}) == new


def _reference_table(folder: Path, seeds, rates: dict) -> None:
    """A results.csv of the -v3 tasks, 50 episodes a seed: each method's final stage at about
    rates[method] (odd seeds one episode more, strictly between 0 and 1), earlier stages higher."""
    import pandas as pd

    stages = {"transfer_cube_v3": ("touch", "lift", "handover_touch", "transfer", "strict_transfer"),
              "insertion_v3": ("touch", "grasp", "contact", "insert", "strict_insert")}
    rows = []
    for task, names in stages.items():
        for method, rate in rates.items():
            for seed in seeds:
                for i, name in enumerate(names, 1):
                    k = min(50, round(rate * 50) + (seed % 2 if 0 < rate < 1 else 0) + max(0, 4 - i))
                    rows.append({"task": task, "method": method, "seed": seed, "stage_index": i, "stage_name": name,
                                 "successes": k, "episodes": 50, "rate": k / 50, "ci_low": 0.0, "ci_high": 1.0})
    folder.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(folder / "results.csv", index=False)


def test_the_headline_shows_the_bounds_and_each_columns_seeds(tmp_path, monkeypatch):
    """A -v3 reference: the bounds scored beside the methods get their rows, and the caption
    names each data style's training seeds when they differ."""
    docs_tables = load_script("docs_tables")
    _reference_table(tmp_path / "ref", range(10), {"act": 0.9, "act-no-te": 0.88, "bc": 0.02, "scripted": 1.0,
                                                   "still": 0.0})
    _reference_table(tmp_path / "ref-human", range(5), {"act": 0.5, "act-no-te": 0.5, "bc": 0.0})
    monkeypatch.setattr(docs_tables, "RESULTS", tmp_path)
    monkeypatch.setattr(docs_tables, "HEADLINE", {"folder": "ref", "human": "ref-human", "chunk": 100,
                                                  "tasks": ("transfer_cube_v3", "insertion_v3")})
    table = docs_tables.headline()
    assert "training seeds 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 (scripted) and 0, 1, 2, 3, 4 (human-like)" in table
    lines = [line for line in table.splitlines() if line.startswith("| ")]
    assert [line.split(" | ")[0] for line in lines if "| human-like |" in line] == ["| act", "| act-no-te", "| bc"]
    assert any(line.startswith("| scripted | scripted | **100.0**") for line in lines)
    assert any(line.startswith("| still | scripted | **0.0**") for line in lines)
    stages = docs_tables.paper_table_i()
    assert "| still | scripted |" in stages and "| still | human-like |" not in stages


@pytest.mark.skipif(sys.version_info[:2] != (3, 11),
                    reason="the CLI reference is argparse's help as Python 3.11 lays it out")
def test_cli_reference_matches_the_parsers():
    done = _docs_tables()
    assert done.returncode == 0, done.stderr


def test_docs_folder_stays_small():
    size = sum(p.stat().st_size for p in (ROOT / "docs").rglob("*") if p.is_file())
    assert size < 30 * 2**20, f"docs/ is {size / 2**20:.1f} MiB"


def test_committed_results_stay_small_and_their_pages_link_their_media():
    """results/ and docs/ stay well under 30 MB; the committed report.html pages link the plots and
    videos beside them (act-bench report --link-media) rather than carry a second, base64 copy."""
    size = sum(p.stat().st_size for d in ("results", "docs") for p in (ROOT / d).rglob("*")
               if p.is_file() and "__pycache__" not in p.parts)
    assert size < 25 * 2**20, f"results/ and docs/ hold {size / 2**20:.1f} MiB"
    pages = sorted((ROOT / "results").rglob("report.html"))
    assert pages
    for page in pages:
        text = page.read_text()
        assert "base64," not in text, f"{page.relative_to(ROOT)} embeds its media: rebuild it with --link-media"
        missing = [src for src in re.findall(r"src='([^']+)'", text) if not (page.parent / src).is_file()]
        assert not missing, f"{page.relative_to(ROOT)} links missing files: {missing}"


@pytest.mark.skipif(any(importlib.util.find_spec(m) is None for m in ("mkdocs", "material", "mkdocstrings")),
                    reason="the docs extra is not installed (pip install -e '.[docs]')")
def test_site_builds_in_strict_mode(tmp_path):
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "site" / "index.html").exists()


def test_no_process_words_anywhere_in_the_repository():
    """Code, tests, scripts, configs and notes speak of the software, not of how it was made."""
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout: the tracked files cannot be listed")
    text_files = [ROOT / f for f in listed.stdout.splitlines()
                  if re.search(r"\.(py|md|sh|toml|xml|yml|yaml|txt|cfg)$|(^|/)(Makefile|run)$", f)
                  and (ROOT / f).is_file() and f != "tests/test_docs.py"]
    hits = [f"{p.relative_to(ROOT)}:{i}: {line.strip()}" for p in text_files
            for i, line in enumerate(p.read_text(errors="replace").splitlines(), 1) if PROCESS_WORDS.search(line)]
    assert not hits, hits
