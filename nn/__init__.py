"""gradwire's neural networks, in the seed lecture's vocabulary: neurons, layers and
MLPs built from `autodiff.Value` (:mod:`nn.modules`), losses (:mod:`nn.losses`),
optimizers and parameter search (:mod:`nn.optim`), toy datasets (:mod:`nn.datasets`)
and training loops (:mod:`nn.train`).

    >>> from nn import MLP, fit, datasets
    >>> X, y = datasets.moons(30, seed=0, labels="pm1")
    >>> model = MLP(2, [8, 8, 1], seed=0)
    >>> history = fit(model, X, y, loss="hinge", steps=3, progress=False)
    >>> len(history)
    3
"""

from . import datasets, losses, optim
from .modules import MLP, Layer, ModelFileError, Module, Neuron
from .train import DivergedError, History, StepInfo, Trainer, accuracy, fit, predict

__all__ = [
    "Module",
    "Neuron",
    "Layer",
    "MLP",
    "ModelFileError",
    "losses",
    "optim",
    "datasets",
    "fit",
    "Trainer",
    "DivergedError",
    "History",
    "StepInfo",
    "predict",
    "accuracy",
]
