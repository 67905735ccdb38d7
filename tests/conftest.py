"""Shared pytest fixtures: a seeded random generator, and the engine's switches
(no_grad, detect_anomaly, tracing) put back after every test; hypothesis's profiles;
the `slow` marker put on the slow test modules and tests (`make quick` leaves them out)."""
import os
import random

import pytest
from hypothesis import settings

from autodiff.value import STATE


@pytest.fixture
def rng() -> random.Random:
    """A random generator with a fixed seed, so failures reproduce."""
    return random.Random(1234)


# Debian's Chromium, headless, with the flags that keep it off the network (the page and
# JupyterLab tests drive it through Playwright; `make test` installs it).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium for the module's tests."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(autouse=True)
def _engine_switches_restored():
    yield
    STATE.grad_enabled, STATE.anomaly, STATE.tracing = True, False, False


# Property tests (tests/test_properties.py) run the same examples on every run, so CI is
# deterministic and a failure reproduces; HYPOTHESIS_PROFILE=explore draws new ones, more.
settings.register_profile("ci", derandomize=True, database=None, deadline=None,
                          max_examples=60, print_blob=True)
settings.register_profile("explore", deadline=None, max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# Left out of `make quick` (pytest -m "not slow"); `make test` runs them.  Whole modules:
# the browser and Jupyter tests start Chromium or a kernel, the property tests run
# hypothesis's examples against PyTorch.
SLOW_MODULES = {
    "test_browser.py",
    "test_notebooks.py",
    "test_jupyterlab.py",
    "test_properties.py",
}
# Single tests (every parametrization) measured at about 3 s or more each with
# `pytest --durations=30` on a 2-core machine: full training runs and deep graphs.
SLOW_TESTS = {
    ("test_nn_acceptance.py", "test_spiral_three_classes_reaches_95_percent"),
    ("test_nn_acceptance.py", "test_micrograd_demo_reaches_100_percent_on_moons"),
    ("test_nn_acceptance.py", "test_linear_model_cannot_fit_but_mlp_can"),
    ("test_engine.py", "test_million_deep_chain"),
    ("test_tape.py", "test_tracing_100k_node_graphs"),
}


def pytest_collection_modifyitems(items: list) -> None:
    for item in items:
        module = item.path.name
        name = getattr(item, "originalname", item.name)
        if module in SLOW_MODULES or (module, name) in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
