"""The benchmark script runs end to end on tiny sizes (no timing is asserted)."""

import importlib.util
import pathlib
import re
import sys

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


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_predict_benchmark_prints_a_row_per_case(capsys):
    path = ROOT / "benchmarks" / "bench_predict.py"
    sys.path.insert(0, str(path.parent))  # it imports bench_mlp
    try:
        spec = importlib.util.spec_from_file_location("bench_predict", path)
        bench = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(bench)
        bench.main(["--quick", "--scale", "0.005", "--repeats", "1", "--block", "2"])
    finally:
        sys.path.remove(str(path.parent))
    out = capsys.readouterr().out
    assert "threads=1" in out and "cpu clock" in out
    rows = [line for line in out.splitlines() if re.match(r"\| (friedman1|regr)", line)]
    assert [row.split(" | ")[1] for row in rows] == ["float64", "float32"] * 2
    for row in rows:  # both ratios are numbers (float raises otherwise)
        float(row.split(" | ")[4].rstrip("x"))
        float(row.split(" | ")[7].rstrip("x |"))
