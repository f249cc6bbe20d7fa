"""The report's header (what the last `act-bench run` / `sweep` into a folder was), in words:
run.json's values as a reader writes them, not as Python prints them (no dict or list reprs,
no empty entries)."""
from __future__ import annotations

from typing import Any, Iterable

SKIPPED = ("history", "finished")


def _key(name: str) -> str:
    return name[:-2].replace("_", " ") if name.endswith("_s") else name.replace("_", " ")


def format_value(value: Any) -> str:
    """A record's value in words: lists joined by commas, a mapping as "key value" pairs (a
    key ending in _s is seconds: "wall 337.5 s"), anything empty as ""."""
    if value is None:
        return ""
    if isinstance(value, dict):
        parts = [f"{_key(str(k))} {format_value(v)}{' s' if str(k).endswith('_s') else ''}"
                 for k, v in value.items() if format_value(v)]
        return ", ".join(parts)
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
            yield _key(str(key)) if str(key).endswith("_s") else str(key), text
