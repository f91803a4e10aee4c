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


def load_accuracy_benchmark():
    path = ROOT / "benchmarks" / "bench_accuracy.py"
    spec = importlib.util.spec_from_file_location("bench_accuracy", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_accuracy_benchmark_compares_candidates_with_the_fair_peer(capsys):
    bench = load_accuracy_benchmark()
    argv = ["--datasets", "iris", "diabetes", "--budgets", "10", "--seeds", "1"]
    bench.main([*argv, "--no-cache", "--quiet", "--set", "hidden__init=he_uniform"])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if re.match(r"\| (iris|diabetes) ", line)]
    assert len(rows) == 2
    # diabetes: two sknnlite columns, MLP, MLP std-y and two differences;
    # iris has no standardised-target peer.
    assert rows[1].count("|") == 9 and "–" in rows[0]
    summary = [line for line in out.splitlines() if line.startswith("sknnlite")]
    assert len(summary) == 3  # the version line and one per sknnlite column
    assert "worst" in summary[1] and "worst" in summary[2]


def test_accuracy_benchmark_settings_reach_every_dense_layer():
    bench = load_accuracy_benchmark()
    settings = bench.parse_settings("dense__use_bias=False,output__units=2,alpha=0.5")
    model = bench.sknnlite_model("regression", "10", seed=0, settings=settings)
    dense = [layer for layer in model.layers if type(layer).__name__ == "Dense"]
    assert [layer.use_bias for layer in dense] == [False, False, False]
    assert [layer.units for layer in dense] == [64, 64, 2]
    assert model.alpha == 0.5
