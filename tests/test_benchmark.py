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
    assert all(len(row.strip("|").split("|")) == 12 for row in rows)
    assert re.search(r"predict 5000 x 50 float32: [\d.]+ MiB traced", out)


def test_format_row_computes_every_ratio_the_right_way_up():
    row = {
        "dataset": "friedman1 400x10",
        "dtype": "float32",
        "mlp_s": [0.3, 0.2, 0.4],
        "ours_s": [0.1, 0.12, 0.08],
        "floor_s": 0.05,
        "mlp_r2": 0.9,
        "ours_r2": 0.91,
        "mlp_rows_s": 2e6,
        "ours_rows_s": 3e6,
    }
    cells = [cell.strip() for cell in load_benchmark().format_row(row).split("|")]
    assert cells[1:-1] == [
        "friedman1 400x10",
        "float32",
        "0.300 (0.200-0.400)",  # MLP s/epoch: median (min-max)
        "0.100 (0.080-0.120)",
        "3.00x",  # MLP / ours: above 1 when ours is faster
        "0.050",
        "2.00x",  # ours / matmul floor
        "0.9000",
        "0.9100",
        "2.00M",
        "3.00M",
        "1.50x",  # ours / MLP predict throughput
    ]


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


def load_grid_benchmark():
    """``benchmarks/bench_grid.py`` as a module (it imports bench_mlp)."""
    path = ROOT / "benchmarks" / "bench_grid.py"
    sys.path.insert(0, str(path.parent))
    try:
        spec = importlib.util.spec_from_file_location("bench_grid", path)
        bench = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(bench)
    finally:
        sys.path.remove(str(path.parent))
    return bench


def test_grid_benchmark_prints_a_row_per_cell_and_the_latencies(capsys):
    bench = load_grid_benchmark()
    argv = ["--widths", "4", "8", "--batches", "16", "--rows", "64"]
    bench.main([*argv, "--epochs", "1", "--rounds", "1", "--latency-rounds", "1"])
    out = capsys.readouterr().out
    assert out.startswith("CPU: ") and "threads=1" in out and "cpu clock" in out
    cells = [line.split(" | ") for line in out.splitlines() if re.match(r"\| \d", line)]
    assert [(c[0], c[1], c[2]) for c in cells] == [
        ("| 4", "16", "float64"),
        ("| 4", "16", "float32"),
        ("| 8", "16", "float64"),
        ("| 8", "16", "float32"),
    ]
    calls = [line for line in out.splitlines() if line.startswith("| NN")]
    assert len(calls) == 4
    for line in calls:  # the ratio is a number (float raises otherwise)
        float(line.split(" | ")[4].rstrip(" |"))


def test_grid_cell_ratios_are_the_right_way_up():
    row = {
        "mlp": 3.0,
        "ours": 1.0,
        "torch": 2.0,
        "floor": 0.5,
        "spread": {"ours": (0.9, 1.1)},
    }
    cells = [
        c.strip()
        for c in load_grid_benchmark().format_cell(64, 200, float, row).split("|")
    ]
    assert cells[6:11] == ["2.000", "2.00x", "3.00x", "0.500", "2.0x"]


def test_grid_benchmark_refuses_bad_arguments_before_running(capsys):
    with pytest.raises(SystemExit):
        load_grid_benchmark().parse_args(["--rows", "0"])
    assert "must be above 0, got 0" in capsys.readouterr().err
