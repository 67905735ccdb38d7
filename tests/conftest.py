"""Shared pytest fixtures: a seeded random generator, and the engine's switches
(no_grad, detect_anomaly, tracing) put back after every test; hypothesis's profiles."""
import os
import random

import pytest
from hypothesis import settings

from autodiff.value import STATE


@pytest.fixture
def rng() -> random.Random:
    """A random generator with a fixed seed, so failures reproduce."""
    return random.Random(1234)


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
