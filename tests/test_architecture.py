"""The layers of docs/architecture.md: no module imports a higher layer, and none imports in a
circle. Every import counts, also those inside functions."""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import pytest

from conftest import ROOT

SRC = ROOT / "src" / "ncs"

#: Layer of every module, lowest first (the same list as docs/architecture.md).
LAYERS: dict[str, int] = {
    # 0 base: no knowledge of criteria or of the pipeline
    "_version": 0,
    "_optional": 0,
    "errors": 0,
    "measures": 0,
    "_codes": 0,
    "_text": 0,
    "labels": 0,
    "names": 0,
    "cells": 0,
    "dialect": 0,
    "_progress": 0,
    # 1 rules: data (criteria, guideline schemes, nerve items) and the registry
    "criteria": 1,
    "schemes": 1,
    "guidelines": 1,
    "registry": 1,
    # 2 the rule engine
    "engine": 2,
    # 3 input and per-nerve data
    "plausibility": 3,
    "schema": 3,
    "normative": 3,
    "segments": 3,
    "fwave": 3,
    "wide": 3,
    "spreadsheet": 3,
    "privacy": 3,
    "provenance": 3,
    "waveform": 3,
    "simulate": 3,
    "testing": 3,
    "testing.strategies": 3,
    # 4 words
    "explain": 4,
    "criteria_doc": 4,
    # 5 the pipeline
    "summary": 5,
    "analyze": 5,
    # 6 uses of results
    "compare": 6,
    "followup": 6,
    "batch": 6,
    "dask": 6,
    "report": 6,
    "plot": 6,
    "io": 6,
    "cli": 6,
    "cli_input": 6,
    "__main__": 6,
    "": 7,  # the package itself re-exports the everyday names
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    name = ".".join(parts)
    return "" if name == "__init__" else name.removesuffix(".__init__")


def _imports(path: Path) -> set[str]:
    """ncs modules imported anywhere in a file (``from ncs import x`` counts x if a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "ncs":
                for alias in node.names:
                    if alias.name in LAYERS:
                        found.add(alias.name)
            elif node.module.startswith("ncs."):
                found.add(node.module.removeprefix("ncs."))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("ncs."):
                    found.add(alias.name.removeprefix("ncs."))
    return found


@functools.cache
def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in SRC.rglob("*.py")}


def test_every_module_has_a_layer():
    assert set(_graph()) == set(LAYERS)


@pytest.mark.parametrize("module", sorted(LAYERS))
def test_no_module_imports_a_higher_layer(module):
    graph = _graph()
    upward = {m for m in graph[module] - {module} if LAYERS[m] > LAYERS[module]}
    assert not upward, f"{module} (layer {LAYERS[module]}) imports {sorted(upward)}"


def test_no_import_cycles():
    graph = _graph()
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if dep == node:
                continue
            if state.get(dep) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*path, node, dep]))
            if state.get(dep) is None:
                visit(dep, [*path, node])
        state[node] = 2

    for module in sorted(graph):
        if state.get(module) is None:
            visit(module, [])


def test_rules_know_nothing_of_the_pipeline_or_the_words():
    graph = _graph()
    for rules in ("criteria", "schemes", "guidelines", "registry"):
        assert not graph[rules] & {"engine", "explain", "summary", "analyze"}, rules


def test_architecture_page_lists_the_same_layers():
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    listed = dict(re.findall(r"^\| `([a-z_.]+)` \| (\d) \|", page, flags=re.MULTILINE))
    expected = {("ncs" if k == "" else k): str(v) for k, v in LAYERS.items()}
    assert listed == expected
