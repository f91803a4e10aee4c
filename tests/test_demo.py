"""The demo's last part: a fitted model's summary and its loss-curve picture."""

import sys

import pytest
from sklearn.datasets import load_diabetes

from sknnlite.__main__ import _show_training


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
