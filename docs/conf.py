"""Sphinx configuration of the sknnlite documentation.

Build from the repository root (the docs extra installs the tools)::

    python -m pip install -e ".[docs]"
    python -m sphinx -W -b html docs docs/_build/html

The gallery scripts under ``examples/`` run at build time; the API
reference is generated from the docstrings by autosummary.
"""

import datetime
import re

import matplotlib

import sknnlite

matplotlib.use("Agg")  # the gallery draws without a window

project = "sknnlite"
author = "the sknnlite developers"
copyright = f"{datetime.date.today().year}, {author}"
version = release = sknnlite.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
templates_path = ["_templates"]

# Markdown pages (the user guide, the changelog): GitHub-style tables and
# heading anchors, so that links like [text](#how-a-fit-ends) work as there.
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

# API reference: one page per public object, from its numpydoc docstring.
autosummary_generate = True
autodoc_typehints = "none"
numpydoc_show_class_members = False  # autosummary lists them instead
numpydoc_class_members_toctree = False

# Example gallery: each examples/plot_*.py runs at build time and its
# figures are kept; a failing script fails the build.
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "within_subsection_order": "FileNameSortKey",
    # "Examples using X" at the end of each API page.
    "doc_module": ("sknnlite",),
    "backreferences_dir": "generated",
    "reference_url": {"sknnlite": None},
}


def _skip_scikit_learn_machinery(app, what, name, obj, skip, options):
    """Leave out the methods every scikit-learn estimator inherits.

    ``get_params``, ``set_params``, metadata routing (``set_*_request``,
    ``get_metadata_routing``): scikit-learn documents them, and their
    docstrings link to its glossary, which this site does not have.
    """
    if name in {"get_params", "set_params", "get_metadata_routing"}:
        return True
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def _unlink_scikit_learn_references(app, what, name, obj, options, lines):
    """Plain text for the ``:ref:``/``:term:`` links of inherited docstrings.

    ``NNClassifier.score`` is ``ClassifierMixin.score``, whose docstring links
    to pages of scikit-learn's own documentation.
    """
    if (getattr(obj, "__module__", None) or "").startswith("sklearn."):
        lines[:] = [_SCIKIT_LEARN_ROLE.sub(r"*\1*", line) for line in lines]


_SCIKIT_LEARN_ROLE = re.compile(r":(?:ref|term):`([^`<]+?)(?:\s*<[^>]*>)?`")


def setup(app):
    app.connect("autodoc-skip-member", _skip_scikit_learn_machinery)
    app.connect("autodoc-process-docstring", _unlink_scikit_learn_references)


html_theme = "pydata_sphinx_theme"
html_title = f"sknnlite {release}"
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_static_path = []
html_show_sourcelink = False
