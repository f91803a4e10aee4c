"""The benchmark script runs end to end on tiny sizes (no timing is asserted)."""

import importlib.util
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def load_benchmark():
    path = ROOT / "benchmarks" / "bench_mlp.py"
    spec = importlib.util.spec_from_file_location("bench_mlp", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_quick_benchmark_prints_a_row_per_case_and_the_memory(capsys):
    bench = load_benchmark()
    argv = ["--quick", "--scale", "0.005", "--rounds", "1", "--epochs", "1"]
    bench.main([*argv, "--memory-rows", "5000"])
    out = capsys.readouterr().out
    assert "threads=1" in out and "kernel=" in out
    rows = [line for line in out.splitlines() if re.match(r"\| (friedman1|regr)", line)]
    assert [row.split(" | ")[1] for row in rows] == ["float64", "float32"] * 2
    for row in rows:
        ratio = float(row.split(" | ")[4].rstrip("x"))
        assert ratio > 0
    assert re.search(r"predict 5000 x 50 float32: [\d.]+ MiB traced", out)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--memory-rows", "0"], "argument --memory-rows: must be above 0, got 0"),
        (["--rounds", "0"], "argument --rounds: must be above 0, got 0"),
        (["--epochs", "-3"], "argument --epochs: must be above 0, got -3"),
        (["--threads", "0"], "argument --threads: must be above 0, got 0"),
        (["--scale", "-1"], "argument --scale: must be above 0, got -1"),
        (["--scale", "nan"], "argument --scale: must be above 0, got nan"),
        (["--rounds", "two"], "argument --rounds: invalid int value: 'two'"),
    ],
)
def test_bad_arguments_fail_before_any_benchmark_runs(argv, message, capsys):
    # --memory-rows 0 used to fail only after every timing case had run.
    bench = load_benchmark()
    with pytest.raises(SystemExit) as info:
        bench.parse_args(argv)
    assert info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith(message)
