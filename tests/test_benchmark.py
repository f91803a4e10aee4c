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
    argv = ["--datasets", "moons", "friedman3", "--budgets", "10", "--seeds", "1"]
    bench.main([*argv, "--no-cache", "--quiet", "--set", "he:hidden__init=he_uniform"])
    out = capsys.readouterr().out
    lines = out.splitlines()
    rows = [line for line in lines if re.match(r"\| (moons|friedman3) ", line)]
    assert len(rows) == 2
    # friedman3: two sknnlite columns, MLP, MLP std-y and two differences;
    # moons has no standardised-target peer.
    assert rows[1].count("|") == 9 and "–" in rows[0]
    summary = [line for line in out.splitlines() if re.match(r"(sknnlite|he): ", line)]
    assert [line.split(":")[0] for line in summary] == ["sknnlite", "he"]
    assert all("worst" in line and "mean" in line for line in summary)


def test_accuracy_benchmark_compact_table_has_a_row_per_dataset():
    bench = load_accuracy_benchmark()
    ours = bench.Column("sknnlite", "sknnlite")
    results = {
        (name, budget, label): [{"score": score, "n_iter": 10, "seconds": 0.1}]
        for name, label, score in [
            ("moons", "sknnlite", 0.9), ("moons", "MLP", 0.8),
            ("friedman3", "sknnlite", 0.7), ("friedman3", "MLP std-y", 0.6),
        ]
        for budget in ("10", "default")
    }  # fmt: skip
    datasets, budgets = ["moons", "friedman3"], ["10", "default"]
    lines = bench.compact_table(results, datasets, budgets, ours)
    assert lines[0] == "| dataset | data | 10 epochs | defaults |"
    assert lines[2].startswith("| moons | ") and lines[2].endswith(
        " | 0.900 / 0.800 | 0.900 / 0.800 |"
    )
    assert lines[3].endswith(" | 0.700 / 0.600 | 0.700 / 0.600 |")


def test_accuracy_benchmark_settings_reach_every_dense_layer():
    bench = load_accuracy_benchmark()
    settings = bench.parse_settings("dense__use_bias=False,output__units=2,alpha=0.5")
    model = bench.sknnlite_model("regression", "10", seed=0, settings=settings)
    dense = [layer for layer in model.layers if type(layer).__name__ == "Dense"]
    assert [layer.use_bias for layer in dense] == [False, False, False]
    assert [layer.units for layer in dense] == [64, 64, 2]
    assert model.alpha == 0.5
