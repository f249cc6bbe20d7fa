"""The size rule (scripts/check_sizes.py): no module over ~350 lines, no function over 60 lines
or 8 parameters, in the package, the benchmarks, the scripts, the examples and the tests."""
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_no_module_or_function_is_too_large():
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "check_sizes.py")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def test_the_check_sees_a_breach(tmp_path):
    params = ", ".join(f"a{i}" for i in range(9))
    (tmp_path / "big.py").write_text(f"def f({params}):\n    pass\n" + "x = 1\n" * 400)
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "check_sizes.py"), str(tmp_path)],
                          capture_output=True, text=True)
    assert done.returncode == 1
    assert "9 parameters" in done.stdout and "lines (max 350)" in done.stdout
