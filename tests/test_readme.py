"""Each of the README's Python examples runs alone, and its two commands match CI."""

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


EXAMPLES = [block for block in BLOCKS if not _is_signature_listing(block)]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    "block", EXAMPLES, ids=[f"block{i}" for i in range(len(EXAMPLES))]
)
def test_each_readme_python_block_runs_alone(block, monkeypatch):
    # Each block in a namespace of its own, as when a user pastes one block
    # into a fresh interpreter: a name defined by another block is a NameError.
    # A module of its own, so that the classes a block defines can be pickled.
    module = types.ModuleType("readme")
    monkeypatch.setitem(sys.modules, "readme", module)
    exec(compile(block, "README.md", "exec"), module.__dict__)


def test_ci_runs_the_readme_test_command():
    commands = re.findall(r"```bash\n(.*?)\n```", README, flags=re.S)
    test_command = commands[1].strip()
    assert "pytest" in test_command
    assert test_command in (ROOT / ".ci" / "run").read_text()
