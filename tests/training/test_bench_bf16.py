"""The benchmarks time bf16 only where the CPU computes it natively, and label it otherwise."""
from act_bench.runtime import machine

from benchmarks import bf16_support
from benchmarks.summary import pick


def test_bf16_is_skipped_or_labelled_where_it_is_emulated(monkeypatch, capsys):
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.setattr(machine, "_cpuinfo", lambda: ("server", "avx2 avx512f avx512_bf16"))
    assert bf16_support.kernels_label("bf16") == "native"
    assert bf16_support.timed_precisions(["bf16", "fp32"], False, "bench") == ["bf16", "fp32"]
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")  # oneDNN capped below bf16: emulated here too
    assert bf16_support.kernels_label("bf16") == "emulated" and bf16_support.kernels_label("fp32") == "native"
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA")
    monkeypatch.setattr(machine, "_cpuinfo", lambda: ("laptop", "fpu sse2 avx2 fma"))
    assert bf16_support.timed_precisions(["bf16", "fp32"], False, "bench") == ["fp32"]
    assert "bf16 skipped" in capsys.readouterr().out
    assert bf16_support.timed_precisions(["bf16", "fp32"], True, "bench") == ["bf16", "fp32"]


def test_the_summary_takes_no_figure_from_emulated_kernels():
    rows = [{"profile": "cpu", "precision": "bf16", "kernels": "emulated", "fraction_of_attainable": ""},
            {"profile": "cpu", "chunk_size": "7", "precision": "fp32", "fraction_of_attainable": "0.6"},  # another chunk
            {"profile": "cpu", "precision": "fp32", "kernels": "native", "fraction_of_attainable": "0.8"},
            {"profile": "paper", "precision": "fp32", "fraction_of_attainable": "0.7"}]  # written before the column
    assert pick(rows, "fraction_of_attainable", profile="cpu", precision="bf16") is None
    assert pick(rows, "fraction_of_attainable", profile="cpu", precision="fp32") == 0.8
    assert pick(rows, "fraction_of_attainable", profile="paper", precision="fp32") == 0.7
