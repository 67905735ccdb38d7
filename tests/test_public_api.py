"""The packages' public names: everything in ``__all__`` is there, and the diagram errors a
caller catches come from ``visualize`` itself.  And the slow-test list in conftest.py
names tests that exist, so a renamed test does not slip back into the quick suite."""

import ast
import importlib
import pathlib

import pytest
from conftest import SLOW_TESTS

import visualize
import visualize.diagram


@pytest.mark.parametrize("package", ["autodiff", "nn", "visualize"])
def test_every_name_in_all_is_defined(package):
    mod = importlib.import_module(package)
    missing = [name for name in mod.__all__ if not hasattr(mod, name)]
    assert missing == []
    assert len(set(mod.__all__)) == len(mod.__all__)


def test_visualize_exports_the_diagram_errors():
    for name in ("GraphTooLarge", "GraphvizNotFound", "LayoutTimeout"):
        assert name in visualize.__all__
        assert getattr(visualize, name) is getattr(visualize.diagram, name)
    assert issubclass(visualize.LayoutTimeout, visualize.GraphTooLarge)


@pytest.mark.parametrize("module, name", sorted(SLOW_TESTS))
def test_each_listed_slow_test_exists(module, name):
    tree = ast.parse((pathlib.Path(__file__).parent / module).read_text(encoding="utf-8"))
    names = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert name in names
