"""report.html: tables, plots and videos in one page. By default images and videos are embedded
as base64 data URIs, so the page still works when it is moved or mailed on its own; with
`Media.link_from` (the report's folder) they are referenced by relative path instead, a page ~10x
smaller that works beside its folder (what a committed results folder wants: the PNGs and MP4s
are there already)."""
from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from act_bench.report import failed_cells
from act_bench.report.cell_tables import CAPTION, DISPERSION_NOTE, dispersion_lines
from act_bench.report.header import header_items
from act_bench.report.results import PROVENANCE_NOTE, bounds_note, percent, provenance_table, seeds_phrase


def _data_uri(path: Path, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def _media_src(path: Path, mime: str, link_from: Path | None) -> str:
    """A relative link where the file lies inside link_from, else the file embedded."""
    if link_from is not None:
        try:
            return html.escape(Path(path).resolve().relative_to(Path(link_from).resolve()).as_posix(), quote=True)
        except ValueError:  # outside the folder: a link would break when the folder moves
            pass
    return _data_uri(path, mime)


def _html_table(df: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                   for row in df.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_CSS = """body{font-family:system-ui,sans-serif;margin:24px;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:right}
th{background:#f2f2f2}td:first-child{text-align:left}img{max-width:100%}.videos{display:flex;flex-wrap:wrap;gap:12px}
figure{margin:0}figcaption{font-size:12px;color:#555}.caption{font-size:13px;color:#444}"""


def _history_rows(history: list[dict]) -> list[dict]:
    """The history table: the last entry is the invocation writing this report (still running);
    an earlier one never marked finished was interrupted and not resumed with the same settings."""
    return [{**{k: v for k, v in h.items() if k != "finished"},
             **({"interrupted": "yes"} if h.get("finished") is False and i < len(history) - 1 else {})}
            for i, h in enumerate(history)]


@dataclass
class Media:
    """The page's plots ({title: png}) and videos ((task, method, seed, mp4) each); link_from: the
    page's folder, to link them by relative path rather than embed them."""

    images: dict[str, Path] = field(default_factory=dict)
    videos: list = field(default_factory=list)
    link_from: Path | None = None


def render_html(results, tables, media: Media, meta: dict | None = None, command: str = "run",
                notes: dict[str, str] | None = None, sections: list[tuple[str, str, pd.DataFrame]] = ()) -> str:
    """command: which act-bench command wrote the folder ("run", or "sweep": sweep.py);
    notes: a line under each table (its dispersion); sections: (title, caption, table) after them."""
    title = "act-bench report" if command == "run" else f"act-bench {command} report"
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>",
             f"<style>{_CSS}</style></head><body><h1>{title}</h1>"]
    if meta:
        items = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in header_items(meta))
        parts.append(f"<p class='caption'>The last <code>act-bench {command}</code> into this folder:</p><ul class='caption'>{items}</ul>")
        if len(meta.get("history", [])) > 1:
            rows = pd.DataFrame(_history_rows(meta["history"]))
            parts.append(f"<details><summary>Runs that wrote into this folder</summary>{_html_table(rows)}</details>")
    parts.append(f"<h2>Success rates</h2><p class='caption'>{html.escape(CAPTION.format(seeds=seeds_phrase(results)))}"
                 f" {html.escape(DISPERSION_NOTE)}</p>")
    bounds = bounds_note(results)
    if bounds:
        parts.append(f"<p class='caption'>{html.escape(bounds)}</p>")
    notes = dispersion_lines(results) if notes is None else notes
    for task, table in tables.items():
        parts.append(f"<h3>{html.escape(task)}</h3>{_html_table(table)}")
        if task in notes:
            parts.append(f"<p class='caption'>{html.escape(notes[task])}</p>")
    for title, caption, table in sections:
        parts.append(f"<h2>{html.escape(title)}</h2><p class='caption'>{html.escape(caption)}</p>{_html_table(table)}")
    parts.append(failed_cells.html_section(results))
    prov = provenance_table(results)
    if prov is not None:
        parts.append(f"<h2>Demonstrations and machines</h2><p class='caption'>{html.escape(PROVENANCE_NOTE)}</p>"
                     f"{_html_table(prov)}")
    for title, path in media.images.items():
        src = _media_src(path, "image/png", media.link_from)
        parts.append(f"<h2>{html.escape(title)}</h2><img alt='{html.escape(title)}' src='{src}'>")
    if media.videos:
        parts.append("<h2>Evaluation videos</h2><p class='caption'>Filmed from the angled camera, not the "
                     "camera the policy saw, with the stage reached in the banner.</p><div class='videos'>")
        for task, method, seed, p in media.videos:
            cap = f"{task} / {method} / {seed} / {p.stem}"
            parts.append(f"<figure><video controls muted loop autoplay playsinline preload='auto' width='320' "
                         f"src='{_media_src(p, 'video/mp4', media.link_from)}'></video><figcaption>{html.escape(cap)}</figcaption></figure>")
        parts.append("</div>")
    per_seed = results.assign(rate=results["rate"].map(percent), ci_low=results["ci_low"].map(percent),
                              ci_high=results["ci_high"].map(percent))
    parts.append(f"<details><summary>Per-seed results (results.csv)</summary>{_html_table(per_seed)}</details>")
    parts.append("</body></html>")
    return "\n".join(parts)
