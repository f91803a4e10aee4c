"""The demo, ``python -m sknnlite``: its comparison, its search and its picture."""

import re
import sys

import pytest
from sklearn.datasets import load_diabetes

from sknnlite import __version__
from sknnlite.__main__ import _show_training, main


@pytest.fixture(scope="module")
def diabetes():
    return load_diabetes(return_X_y=True)


def test_demo_prints_summary_and_saves_the_picture(diabetes, tmp_path, capsys):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    path = tmp_path / "curves.png"
    _show_training(*diabetes, str(path))
    out = capsys.readouterr().out
    assert "total" in out and "4,929" in out  # 10*64+64 + 64*64+64 + 64+1
    assert f"Loss curves saved to {path}" in out
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_without_matplotlib_says_how_to_get_the_picture(
    diabetes, tmp_path, monkeypatch, capsys
):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    path = tmp_path / "curves.png"
    _show_training(*diabetes, str(path))
    out = capsys.readouterr().out
    assert "total" in out
    assert "pip install matplotlib" in out
    assert not path.exists()


@pytest.mark.slow
def test_demo_main_prints_the_comparison_the_search_and_the_model(tmp_path, capsys):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    path = tmp_path / "curves.png"
    main(["--loss-curve", str(path)])
    out = capsys.readouterr().out
    assert out.startswith(
        f"sknnlite {__version__}: diabetes data, 442 rows x 10 features, 5-fold CV"
    )
    cv = dict(re.findall(r"^(.+?)\s+R² =\s+(-?[\d.]+) ± [\d.]+", out, flags=re.M))
    ours = float(cv["NNRegressor [Dense(100), ReLU(), Dense()]"])
    raw_mlp = float(cv["MLPRegressor(hidden_layer_sizes=(100,))"])
    scaled_mlp = float(cv["MLPRegressor, standardised target"])
    assert ours > 0.4 and abs(ours - scaled_mlp) < 0.05
    assert raw_mlp < 0  # the unscaled target is what the comparison shows
    grid = re.findall(r"^  R² =\s+(-?[\d.]+)  (\{.*\})$", out, flags=re.M)
    assert len(grid) == 4
    best_params = max(grid, key=lambda row: float(row[0]))[1]
    assert f"best: {best_params}" in out
    assert re.search(r"One model with early stopping, \d+ epochs:", out)
    assert "4,929" in out and f"Loss curves saved to {path}" in out
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
