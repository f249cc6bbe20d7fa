"""The report's header (what the last `act-bench run` / `sweep` into a folder was), in words:
run.json's values as a reader writes them, not as Python prints them (no dict or list reprs,
no empty entries); names stay run.json's own, so the page and the file read alike."""
from __future__ import annotations

from typing import Any, Iterable

SKIPPED = ("history", "finished")


def format_value(value: Any) -> str:
    """A record's value in words: lists joined by commas, a mapping as "key value" pairs, a
    float without float noise, anything empty as ""."""
    if value is None:
        return ""
    if isinstance(value, dict):
        return ", ".join(f"{k} {text}" for k, text in ((k, format_value(v)) for k, v in value.items()) if text)
    if isinstance(value, (list, tuple)):
        return ", ".join(s for s in (format_value(v) for v in value) if s)
    if isinstance(value, float):
        return f"{value:.10g}"  # 0.3, not 0.30000000000000004; 123456.7 kept
    return str(value).strip()


def header_items(meta: dict) -> Iterable[tuple[str, str]]:
    """(name, text) for each entry worth showing, in the record's order."""
    for key, value in meta.items():
        text = format_value(value)
        if key not in SKIPPED and text:
            yield str(key), text
