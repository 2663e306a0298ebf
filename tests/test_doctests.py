"""The examples in the docstrings run, against whichever ncs is installed (an editable
checkout or a wheel): the modules are imported by name, never collected from ``src/``."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import ncs

MODULES = sorted(
    m.name for m in pkgutil.walk_packages(ncs.__path__, "ncs.") if m.name != "ncs.__main__"
)


@pytest.mark.parametrize("name", ["ncs", *MODULES])
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(
        module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
