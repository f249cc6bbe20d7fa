"""The report's header speaks words, not Python reprs."""
from act_bench.report.header import format_value, header_items


def test_header_items_are_words():
    meta = {"methods": "act,act-no-te,bc", "overrides": "", "execution": [], "swept": ["model.chunk_size"],
            "timing": {"wall_s": 337.5, "demos_s": 1.25, "jobs": 2, "executor": "local"}, "episodes": 50,
            "finished": True, "history": [{"methods": "act"}], "note": None}
    items = dict(header_items(meta))
    assert items == {"methods": "act,act-no-te,bc", "swept": "model.chunk_size",
                     "timing": "wall_s 337.5, demos_s 1.25, jobs 2, executor local", "episodes": "50"}
    assert not any(c in text for text in items.values() for c in "[]{}'")


def test_format_value():
    assert format_value(["a", "", "b"]) == "a, b"
    assert format_value({"x": {}, "y_s": 0.5}) == "y_s 0.5"
    assert format_value(0.1 + 0.2) == "0.3"
