"""The demo, ``python -m sknnlite``: arguments checked first, then its comparison,
its search, a summary and a loss-curve picture."""

import pathlib
import re
import shutil
import subprocess
import sys
import warnings

import pytest
from sklearn.datasets import load_diabetes
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknnlite import Dense, NNRegressor, ReLU, __version__
from sknnlite import __main__ as demo
from sknnlite.__main__ import _show_training, main

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def diabetes():
    return load_diabetes(return_X_y=True)


def test_demo_prints_summary_and_saves_the_picture(diabetes, tmp_path, capsys):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.close("all")
    path = tmp_path / "curves.png"
    _show_training(*diabetes, str(path))
    # The demo closes its figure: a session that calls main() (or the test
    # after this one, checking that a failed plot opens none) sees no leak.
    assert plt.get_fignums() == []
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


def test_demo_says_so_when_there_is_no_epoch_to_plot(diabetes, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    model = make_pipeline(
        StandardScaler(),
        NNRegressor([Dense(8), ReLU(), Dense()], max_iter=2, random_state=0),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter reached
        model.fit(*diabetes)
    # A fit always records an epoch now (a new model that cannot finish one
    # raises); an empty history is what a model from sknnlite 0.1 could have.
    model[-1].loss_curve_ = []
    path = tmp_path / "curves.png"
    demo._save_loss_curve(model, str(path))
    assert "recorded no epoch" in capsys.readouterr().out
    assert not path.exists()


# ---------------------------------------------------------------- arguments
@pytest.fixture
def no_training(monkeypatch):
    """Make any step of the demo that would load data or train fail the test."""

    def fail(*args, **kwargs):
        raise AssertionError("the demo started before checking its arguments")

    for name in ("load_diabetes", "_compare_with_mlp", "_show_training"):
        monkeypatch.setattr(demo, name, fail)


def _error_of(argv, capsys):
    with pytest.raises(SystemExit) as info:
        demo.main(argv)
    assert info.value.code == 2  # argparse's status for a usage error
    err = capsys.readouterr().err
    assert err.startswith("usage: python -m sknnlite")
    return err.splitlines()[-1]


@pytest.mark.parametrize(
    "name, message",
    [
        ("missing/x.png", r"the folder .*missing does not exist; create it"),
        ("x.xyz", r"x.xyz has unknown image format '.xyz'; .*\.png, .*\.svg"),
        ("curves", r"curves has no suffix; the suffix picks the format: .*\.png"),
        (".", r"is a folder; give a file name, e\.g\. .*loss_curve\.png"),
    ],
)
def test_bad_loss_curve_path_fails_before_training(
    name, message, tmp_path, no_training, capsys
):
    pytest.importorskip("matplotlib")
    line = _error_of(["--loss-curve", str(tmp_path / name)], capsys)
    assert line.startswith("python -m sknnlite: error: argument --loss-curve: ")
    assert re.search(message, line), line


def test_unwritable_path_fails_before_training(
    tmp_path, monkeypatch, no_training, capsys
):
    pytest.importorskip("matplotlib")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    # Root passes every permission check, so the refusal is simulated.
    monkeypatch.setattr(demo.tempfile, "NamedTemporaryFile", refuse)
    line = _error_of(["--loss-curve", str(tmp_path / "x.png")], capsys)
    assert line.endswith("x.png: permission denied; choose another path")


@pytest.mark.skipif(not pathlib.Path("/proc/self").is_dir(), reason="no /proc")
def test_a_folder_that_refuses_new_files_fails_before_training(no_training, capsys):
    # /proc passes os.access for root, but no file can be created there: the
    # demo trained for a minute and then failed with a traceback.
    pytest.importorskip("matplotlib")
    line = _error_of(["--loss-curve", "/proc/x.png"], capsys)
    assert line.startswith("python -m sknnlite: error: argument --loss-curve: ")
    assert "cannot write /proc/x.png" in line


def test_an_existing_writable_file_is_not_changed_by_the_check(
    tmp_path, no_training, capsys
):
    pytest.importorskip("matplotlib")
    target = tmp_path / "x.png"
    target.write_bytes(b"old")
    assert demo._folder_problem(target) is None
    assert target.read_bytes() == b"old"


@pytest.mark.skipif(shutil.which("xelatex") is not None, reason="LaTeX is installed")
def test_format_matplotlib_cannot_write_here_fails_before_training(
    tmp_path, no_training, capsys
):
    pytest.importorskip("matplotlib")
    line = _error_of(["--loss-curve", str(tmp_path / "x.pgf")], capsys)
    assert "matplotlib cannot save .pgf files here: 'xelatex' not found" in line


def test_asking_for_a_plot_without_matplotlib_fails_before_training(
    tmp_path, monkeypatch, no_training, capsys
):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    line = _error_of(["--loss-curve", str(tmp_path / "x.png")], capsys)
    assert "needs matplotlib, which is not installed" in line
    assert "pip install matplotlib" in line
    # Without --loss-curve the demo runs, and says at the end how to get a plot.
    assert demo._parse_args([]).loss_curve == "loss_curve.png"


def test_good_paths_are_accepted(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    path = str(tmp_path / "curves.svg")
    assert demo._parse_args(["--loss-curve", path]).loss_curve == path
    monkeypatch.chdir(tmp_path)
    assert demo._parse_args([]).loss_curve == "loss_curve.png"


def _run_demo(*args):
    return subprocess.run(
        [sys.executable, "-m", "sknnlite", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_help_is_plain_text():
    result = _run_demo("--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(
        "usage: python -m sknnlite [-h] [--loss-curve PATH]"
    )
    assert "``" not in result.stdout  # no reST markup
    assert "Demo of sknnlite. Trains NNRegressor on the diabetes data" in result.stdout


def test_command_line_error_exits_with_status_2_before_training(tmp_path):
    pytest.importorskip("matplotlib")
    result = _run_demo("--loss-curve", str(tmp_path / "missing" / "x.png"))
    assert result.returncode == 2
    assert result.stdout == ""  # the demo prints its first line when it starts
    assert "error: argument --loss-curve: the folder" in result.stderr
    assert "Traceback" not in result.stderr
