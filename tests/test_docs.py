"""The documentation site's API reference lists every public name.

The site itself is built by CI (``python -m sphinx -W -b html docs
docs/_build/html``); this test keeps ``docs/api.rst`` in step with the code
without building it: a name added to an ``__all__`` must be added to the
reference too.
"""

import importlib
import inspect
import re
from pathlib import Path

import pytest

API = Path(__file__).parents[1] / "docs" / "api.rst"

#: Modules documented in the reference besides ``sknnlite`` itself.
MODULES = [
    "sknnlite.testing",
    "sknnlite.streaming",
    "sknnlite.onnx",
    "sknnlite.training",
]


def _listed():
    """``{module: names}`` of the autosummary entries of ``docs/api.rst``."""
    listed, module = {}, None
    for line in API.read_text().splitlines():
        if match := re.match(r"\.\. currentmodule:: (\S+)", line):
            module = match[1]
        elif match := re.match(r"   ([A-Za-z_]\w*)$", line):
            listed.setdefault(module, set()).add(match[1])
    return listed


@pytest.mark.parametrize("module_name", ["sknnlite", *MODULES])
def test_api_reference_lists_every_public_name(module_name):
    module = importlib.import_module(module_name)
    public = {
        name
        for name in module.__all__
        if inspect.isclass(getattr(module, name))
        or inspect.isroutine(getattr(module, name))
    }
    missing = public - _listed().get(module_name, set())
    assert not missing, f"add to docs/api.rst under {module_name}: {sorted(missing)}"


def test_api_reference_names_exist():
    """An entry that names nothing would fail the docs build only in CI."""
    for module_name, names in _listed().items():
        module = importlib.import_module(module_name)
        assert all(hasattr(module, name) for name in names), module_name
