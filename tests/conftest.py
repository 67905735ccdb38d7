"""Shared pytest fixtures: a seeded random generator, and the engine's switches
(no_grad, detect_anomaly, tracing) put back after every test."""
import random

import pytest

from autodiff.value import STATE


@pytest.fixture
def rng() -> random.Random:
    """A random generator with a fixed seed, so failures reproduce."""
    return random.Random(1234)


@pytest.fixture(autouse=True)
def _engine_switches_restored():
    yield
    STATE.grad_enabled, STATE.anomaly, STATE.tracing = True, False, False
