"""``python -m build`` makes an sdist and a wheel that work once installed."""

import email
import os
import pathlib
import subprocess
import sys
import tarfile
import zipfile

import pytest

pytest.importorskip("build")

ROOT = pathlib.Path(__file__).resolve().parents[1]
MODULES = sorted(path.name for path in (ROOT / "sknnlite").glob("*.py"))

#: Run from the installed wheel alone: import, fit, predict, ONNX export.
SMOKE_TEST = """
import pathlib, sys
import numpy as np
import sknnlite
from sknnlite import Dense, NNClassifier, ReLU

site = pathlib.Path(sys.argv[1]).resolve()
assert site in pathlib.Path(sknnlite.__file__).resolve().parents, sknnlite.__file__
rng = np.random.default_rng(0)
X = rng.normal(size=(60, 3)).astype(np.float32)
y = np.where(X[:, 0] > 0, "yes", "no")
model = NNClassifier([Dense(8), ReLU(), Dense()], max_iter=20, random_state=0)
labels = model.fit(X, y).predict(X)
try:
    import onnxruntime
    from sknnlite.onnx import to_onnx
except ImportError:
    print("fit and predict; no ONNX extra")
else:
    onx = to_onnx(model, X, options={"zipmap": False})
    session = onnxruntime.InferenceSession(onx.SerializeToString())
    assert (session.run(None, {"X": X})[0] == labels).all()
    print("fit, predict and ONNX export")
"""


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """The sdist and the wheel that ``python -m build`` makes of this tree."""
    outdir = tmp_path_factory.mktemp("dist")
    command = [sys.executable, "-m", "build", "--no-isolation", "--outdir", outdir]
    subprocess.run([*command, ROOT], check=True, capture_output=True)
    (sdist,) = outdir.glob("sknnlite-*.tar.gz")
    (wheel,) = outdir.glob("sknnlite-*.whl")
    return sdist, wheel


def test_sdist_has_the_license_readme_and_every_module(dist):
    sdist, _ = dist
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"LICENSE", "README.md", "pyproject.toml"} <= names
    assert {f"sknnlite/{module}" for module in MODULES} <= names


def test_wheel_metadata_names_license_extras_and_readme(dist):
    _, wheel = dist
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (metadata,) = [name for name in names if name.endswith(".dist-info/METADATA")]
        message = email.message_from_bytes(archive.read(metadata))
    assert {f"sknnlite/{module}" for module in MODULES} <= names
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    assert message["License-Expression"] == "BSD-3-Clause"
    assert {"onnx", "skops", "plot", "dask", "test"} <= set(
        message.get_all("Provides-Extra")
    )
    assert "## Saving and deploying" in message.get_payload()


def test_installed_wheel_fits_predicts_and_exports(dist, tmp_path):
    _, wheel = dist
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index"]
        + ["--target", site, wheel],
        check=True,
        capture_output=True,
    )
    # The wheel's copy comes first on the path; numpy, scikit-learn and the
    # ONNX packages come from this environment.
    env = {**os.environ, "PYTHONPATH": str(site)}
    result = subprocess.run(
        [sys.executable, "-c", SMOKE_TEST, str(site)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    try:  # the test extra has the ONNX packages; a bare install may not
        import onnxruntime  # noqa: F401
    except ImportError:
        expected = "fit and predict; no ONNX extra"
    else:
        expected = "fit, predict and ONNX export"
    assert result.stdout.strip() == expected
