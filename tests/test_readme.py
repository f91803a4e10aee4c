"""The README's Python examples run as written, and its two commands match CI."""

import pathlib
import re
import sys
import types

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)


def _is_signature_listing(block):
    return block.lstrip().startswith("NNRegressor(layers=None")


def test_every_python_block_of_the_readme_is_found_and_only_one_skipped():
    assert len(BLOCKS) == README.count("```python\n")
    assert sum(_is_signature_listing(block) for block in BLOCKS) == 1


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_readme_python_blocks_run_in_order(monkeypatch):
    # A module of its own, so that the classes the README defines can be pickled.
    module = types.ModuleType("readme")
    monkeypatch.setitem(sys.modules, "readme", module)
    namespace = module.__dict__
    for block in BLOCKS:
        if _is_signature_listing(block):
            continue  # the signature listing, not an example
        exec(compile(block, "README.md", "exec"), namespace)
    scale = namespace["Scale"]
    from sknnlite.testing import check_layer_gradients

    assert check_layer_gradients(scale()).ok


def test_ci_runs_the_readme_test_command():
    commands = re.findall(r"```bash\n(.*?)\n```", README, flags=re.S)
    test_command = commands[1].strip()
    assert "pytest" in test_command
    assert test_command in (ROOT / ".ci" / "run").read_text()
