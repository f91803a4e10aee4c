"""The Examples in the public docstrings run, and every public object has some.

Each docstring example is a doctest, collected here from the public modules
and run as one test per docstring, with the project's warning policy (an
sknnlite warning the example does not expect fails it). matplotlib draws
with the Agg backend, so no window opens.
"""

import doctest
import importlib
import inspect
import sys
import types

import matplotlib
import pytest

matplotlib.use("Agg")

#: Modules whose docstrings are the documentation (the API reference).
PUBLIC_MODULES = [
    "sknnlite",
    "sknnlite.activations",
    "sknnlite.classifier",
    "sknnlite.display",
    "sknnlite.dropout",
    "sknnlite.exceptions",
    "sknnlite.initializers",
    "sknnlite.layers",
    "sknnlite.losses",
    "sknnlite.network",
    "sknnlite.normalization",
    "sknnlite.onnx",
    "sknnlite.optimizers",
    "sknnlite.regressor",
    "sknnlite.streaming",
    "sknnlite.testing",
    "sknnlite.training",
]

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _doctests():
    """Every docstring with examples in the public modules, once each."""
    finder = doctest.DocTestFinder(exclude_empty=True)
    found = {}
    for name in PUBLIC_MODULES:
        module = importlib.import_module(name)
        for test in finder.find(module):
            if test.examples:
                found.setdefault(test.name, test)
    return sorted(found.values(), key=lambda test: test.name)


DOCTESTS = _doctests()


def _public_objects():
    """``(qualified name, object)`` of each class and function in an ``__all__``."""
    objects = {}
    for name in PUBLIC_MODULES:
        module = importlib.import_module(name)
        for attribute in getattr(module, "__all__", []):
            value = getattr(module, attribute)
            if inspect.isclass(value) or inspect.isroutine(value):
                objects.setdefault(f"{value.__module__}.{value.__qualname__}", value)
    return sorted(objects.items())


@pytest.mark.parametrize("test", DOCTESTS, ids=[test.name for test in DOCTESTS])
def test_docstring_examples_run(test):
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    # Each example runs in a fresh module of its own, as a script would, so
    # that classes it defines (a layer) can be pickled by check_layer.
    namespace = types.ModuleType("sknnlite_docstring_example")
    namespace.__dict__.update(test.globs)
    namespace.__name__ = "sknnlite_docstring_example"
    test.globs = namespace.__dict__
    sys.modules[namespace.__name__] = namespace
    failures = []
    try:
        runner.run(test, out=failures.append, clear_globs=False)
    finally:
        del sys.modules[namespace.__name__]
    assert runner.failures == 0, "".join(failures)


@pytest.mark.parametrize("name, value", _public_objects())
def test_public_object_has_runnable_examples(name, value):
    """Every public class and function shows how it is called."""
    docstring = inspect.getdoc(value) or ""
    assert "Examples\n--------" in docstring, f"{name} has no Examples section"
    assert ">>> " in docstring.split("Examples\n--------")[1], f"{name}: no doctest"


def test_doctests_are_collected():
    """A broken finder would make the test above vacuous."""
    names = {test.name for test in DOCTESTS}
    assert "sknnlite.regressor.NNRegressor" in names
    assert "sknnlite.testing.check_layer" in names
