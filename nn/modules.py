"""Neurons, layers and multi-layer perceptrons built from `autodiff.Value`, plus saving.

The classes follow micrograd's ``nn`` (same names, signatures and behaviour, so its demo
runs unchanged): a :class:`Neuron` computes ``z = w·x + b`` and ``a = σ(z)`` exactly as
the seed lecture writes it, a :class:`Layer` is a list of neurons fed the same input,
and an :class:`MLP` chains layers with ReLU hidden layers and a linear last layer.  A
single output comes back as a ``Value``, several as a list.  Beyond micrograd: an
``activation`` choice (``relu``, ``tanh``, ``sigmoid``), a ``seed``/``rng`` for
reproducible initialisation, a neuron's ``w·x + b`` recorded as one node (``fused``,
the default; ``fused=False`` records micrograd's gate-per-product graph), ``state_dict``,
and ``save``/``load`` to a validated JSON file written atomically (never pickle).
A model of one input also takes a bare number (``model(0.5)`` is ``model([0.5])``).
Sizes are guarded: a model of more than :data:`MAX_PARAMS` parameters (a million, about
140 MB of Values) is refused unless ``max_params`` says otherwise, and ``load`` reads
only regular files of at most :data:`MAX_FILE_BYTES`.

    >>> import random; random.seed(0)
    >>> model = MLP(2, [4, 1])
    >>> model
    MLP(2 -> [4 relu, 1 linear])
    >>> type(model([1.0, -2.0])).__name__, len(model.parameters())
    ('Value', 17)
"""

from __future__ import annotations

import json
import math
import os
import random
import stat
from numbers import Real
from typing import Any, Iterator, Optional, Sequence, Union

import numpy as np

from autodiff import Value, affine
from autodiff.files import atomic_write

__all__ = [
    "Module",
    "Neuron",
    "Layer",
    "MLP",
    "ModelFileError",
    "ACTIVATIONS",
    "MAX_PARAMS",
    "MAX_FILE_BYTES",
]

ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear")
FORMAT = "gradwire-mlp"
VERSION = 1

#: The most parameters a Neuron, Layer or MLP is built with (or loaded with) unless its
#: ``max_params`` says otherwise: each is a Value of about 140 bytes, and a scalar engine
#: trains a million of them at a few seconds per sample already.
MAX_PARAMS = 1_000_000
#: The largest model file ``MLP.load`` reads unless its ``max_bytes`` says otherwise.
MAX_FILE_BYTES = 64 * 1024 * 1024

Rng = Union[random.Random, np.random.Generator, None]


class ModelFileError(ValueError):
    """A saved model file that cannot be loaded: the message names the file and why."""


# --- initialisation ---------------------------------------------------------------------


def _make_rng(seed: Optional[int], rng: Rng, where: str) -> Rng:
    """The generator to draw initial weights from: ``rng`` as given, a fresh
    ``random.Random(seed)``, or None for Python's global ``random`` (as micrograd)."""
    if seed is not None and rng is not None:
        raise ValueError(f"{where}: give seed or rng, not both")
    if rng is not None:
        if not isinstance(rng, (random.Random, np.random.Generator)):
            raise TypeError(
                f"{where}: rng must be a random.Random or a numpy Generator, "
                f"got {type(rng).__name__}"
            )
        return rng
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"{where}: seed must be an int, got {type(seed).__name__}")
        return random.Random(int(seed))
    return None


def _uniform(rng: Rng, n: int) -> list:
    """n floats from uniform(-1, 1), drawn one by one like micrograd."""
    if rng is None:
        return [random.uniform(-1, 1) for _ in range(n)]
    if isinstance(rng, random.Random):
        return [rng.uniform(-1, 1) for _ in range(n)]
    return [float(v) for v in rng.uniform(-1.0, 1.0, n)]


def _check_size(n: Any, what: str) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{what} must be a positive int, got {n!r}")
    return int(n)


def _check_params(count: int, max_params: Any, where: str) -> None:
    """Refuse a model of more than ``max_params`` parameters (None: no limit)."""
    if max_params is None:
        return
    if (
        isinstance(max_params, bool)
        or not isinstance(max_params, (int, np.integer))
        or max_params < 1
    ):
        raise ValueError(
            f"{where}: max_params must be a positive int or None, got {max_params!r:.40}"
        )
    if count > max_params:
        raise ValueError(
            f"{where}: {count:,} parameters is more than max_params="
            f"{int(max_params):,} (about {count * 140 / 1e6:,.0f} MB of "
            "Values); pass a larger max_params (or None) if you mean it"
        )


def _inputs(x: Any, n: int, where: str) -> Any:
    """The inputs as a sequence: lists, tuples and arrays as given, a bare number or
    Value as a list of one for a one-input module; anything else is a TypeError."""
    if isinstance(x, np.ndarray) and x.ndim == 0:
        x = x.item()
    if isinstance(x, (list, tuple, np.ndarray)):
        return x
    if isinstance(x, (Value, Real)) and not isinstance(x, bool):
        if n == 1:
            return [x]
        raise TypeError(
            f"{where}: expected a list of {n} inputs, got a single {type(x).__name__} {x!r:.40}"
        )
    if isinstance(x, (str, bytes)) or not hasattr(x, "__iter__"):
        raise TypeError(
            f"{where}: expected a list of {n} numbers or Values, got {type(x).__name__} {x!r:.40}"
        )
    return list(x)


def _check_activation(activation: Any, where: str) -> str:
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"{where}: unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}"
        )
    return activation


# --- modules ----------------------------------------------------------------------------


def _fused_repr(fused: bool) -> str:
    """The repr's suffix: nothing for the default, ``', fused=False'`` otherwise."""
    return "" if fused else ", fused=False"


class Module:
    """Base of every model part: parameters, ``zero_grad`` and a ``state_dict``."""

    def parameters(self) -> list:
        """Every trainable Value of this module, in a fixed order."""
        return []

    def named_parameters(self) -> Iterator[tuple]:
        """``(name, Value)`` pairs, names such as ``'layers.0.neurons.3.w.1'``."""
        return iter(())

    def zero_grad(self) -> None:
        """Set every parameter's ``grad`` to 0 (call before each ``backward``)."""
        for p in self.parameters():
            p.grad = 0.0

    def state_dict(self) -> dict:
        """``{name: float}`` for every parameter (a snapshot; see ``load_state_dict``).

        >>> n = Neuron(2, seed=0); sd = n.state_dict()
        >>> sorted(sd)
        ['b', 'w.0', 'w.1']
        """
        return {name: p.data for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict) -> None:
        """Set parameter values from ``state`` (names as ``state_dict``); the names must
        match exactly and every value must be a finite number."""
        if not isinstance(state, dict):
            raise TypeError(f"load_state_dict: expected a dict, got {type(state).__name__}")
        named = dict(self.named_parameters())
        missing = [k for k in named if k not in state]
        extra = [k for k in state if k not in named]
        if missing or extra:
            raise KeyError(
                f"load_state_dict: missing keys {missing[:5]}, unexpected keys {extra[:5]}"
            )
        values = {}
        for k, v in state.items():
            try:
                f = float(v) if isinstance(v, Real) and not isinstance(v, bool) else None
            except OverflowError:  # an int beyond the float range
                f = math.inf
            if f is None or not math.isfinite(f):
                raise ValueError(f"load_state_dict: {k} must be a finite number, got {v!r:.40}")
            values[k] = f
        for k, p in named.items():
            p.data = values[k]


class Neuron(Module):
    """One neuron: ``z = w·x + b``, ``a = σ(z)``.

    ``nin`` weights drawn from uniform(-1, 1) (from ``rng``, a fresh ``random.Random(seed)``,
    or Python's global ``random`` like micrograd), bias 0; more than ``max_params``
    parameters (default :data:`MAX_PARAMS`, None for no limit) are refused.
    ``nonlin=False`` makes it linear; otherwise ``activation`` picks σ (relu by
    default).  By default z is one
    ``w·x+b`` node (:func:`autodiff.affine`): the graph a diagram or the step explainer
    shows has a node per neuron, and training is several times faster.  ``fused=False``
    records micrograd's graph instead, a ``*`` and a ``+`` gate per input, to step through
    a neuron product by product.  The values are the same floats either way, and so are
    the gradients when the inputs are distinct Values, as in an MLP (an input passed
    more than once may get its shares added in another order, so its last bits can
    differ).

        >>> n = Neuron(2, activation="sigmoid", seed=1)
        >>> n
        Neuron(2, sigmoid)
        >>> 0 < n([1.0, 2.0]).data < 1
        True
    """

    def __init__(
        self,
        nin: int,
        nonlin: bool = True,
        activation: str = "relu",
        seed: Optional[int] = None,
        rng: Rng = None,
        fused: bool = True,
        max_params: Optional[int] = MAX_PARAMS,
    ) -> None:
        nin = _check_size(nin, "Neuron(nin)")
        _check_params(nin + 1, max_params, "Neuron")
        rng = _make_rng(seed, rng, "Neuron")
        act = _check_activation(activation, "Neuron") if nonlin else "linear"
        self.w = [Value(v) for v in _uniform(rng, nin)]
        self.b = Value(0.0)
        self._name("")
        self.activation = act
        self.nonlin = act != "linear"
        self.fused = bool(fused)

    def __call__(self, x: Sequence) -> Value:
        if type(x) is not list:
            x = _inputs(x, len(self.w), repr(self))
        if len(x) != len(self.w):
            raise ValueError(f"{self!r}: expected {len(self.w)} inputs, got {len(x)}")
        if self.fused:  # z = w·x + b: one 'w·x+b' node
            z = affine(self.w, x, self.b)
        else:  # micrograd's graph: a '*' and a '+' node per input
            z = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        act = self.activation
        if act == "relu":
            return z.relu()
        if act == "linear":
            return z
        return z.tanh() if act == "tanh" else z.sigmoid()

    def _name(self, prefix: str) -> None:
        """Label the parameters by where they sit: ``w0, w1, ..., b`` after ``prefix``."""
        for i, w in enumerate(self.w):
            w.label = f"{prefix}w{i}"
        self.b.label = f"{prefix}b"

    def parameters(self) -> list:
        return [*self.w, self.b]

    def named_parameters(self) -> Iterator[tuple]:
        for i, w in enumerate(self.w):
            yield f"w.{i}", w
        yield "b", self.b

    def __repr__(self) -> str:
        return f"Neuron({len(self.w)}, {self.activation}{_fused_repr(self.fused)})"


class Layer(Module):
    """``nout`` neurons reading the same ``nin`` inputs; keyword arguments go to each
    :class:`Neuron`.  One neuron's output is returned as a Value, else a list.  More
    than ``max_params`` parameters (default :data:`MAX_PARAMS`) are refused.

        >>> Layer(3, 2, activation="tanh", seed=0)
        Layer(3 -> 2 tanh)
    """

    def __init__(
        self,
        nin: int,
        nout: int,
        seed: Optional[int] = None,
        rng: Rng = None,
        max_params: Optional[int] = MAX_PARAMS,
        **kwargs: Any,
    ) -> None:
        nin = _check_size(nin, "Layer(nin)")
        nout = _check_size(nout, "Layer(nout)")
        _check_params((nin + 1) * nout, max_params, "Layer")
        rng = _make_rng(seed, rng, "Layer")
        self.neurons = [Neuron(nin, rng=rng, max_params=None, **kwargs) for _ in range(nout)]
        self._name("")

    def _name(self, prefix: str) -> None:
        """Label the parameters ``N<j>.w<i>`` and ``N<j>.b`` after ``prefix``."""
        for j, n in enumerate(self.neurons):
            n._name(f"{prefix}N{j}.")

    def __call__(self, x: Sequence) -> Union[Value, list]:
        if type(x) is not list:
            x = _inputs(x, self.nin, repr(self))
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    @property
    def nin(self) -> int:
        return len(self.neurons[0].w)

    @property
    def nout(self) -> int:
        return len(self.neurons)

    @property
    def activation(self) -> str:
        return self.neurons[0].activation

    def parameters(self) -> list:
        return [p for n in self.neurons for p in n.parameters()]

    def named_parameters(self) -> Iterator[tuple]:
        for i, n in enumerate(self.neurons):
            for name, p in n.named_parameters():
                yield f"neurons.{i}.{name}", p

    def __repr__(self) -> str:
        return (
            f"Layer({self.nin} -> {self.nout} {self.activation}"
            f"{_fused_repr(self.neurons[0].fused)})"
        )


class MLP(Module):
    """A multi-layer perceptron: layers of sizes ``nouts`` on ``nin`` inputs, hidden
    layers with ``activation`` (relu, as micrograd), the last one ``out_activation``
    (linear, as micrograd).  ``seed``/``rng`` make the initial weights reproducible;
    ``fused`` goes to every :class:`Neuron` (one ``w·x+b`` node per neuron, or with
    ``fused=False`` a gate per product and sum, as micrograd records it).  A model of
    more than ``max_params`` parameters (default :data:`MAX_PARAMS`, a million; None for
    no limit) is refused before anything is allocated.

        >>> m = MLP(2, [16, 16, 1], seed=0)
        >>> m
        MLP(2 -> [16 relu, 16 relu, 1 linear])
        >>> m.nin, m.nouts, len(m.parameters())
        (2, [16, 16, 1], 337)
    """

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        activation: str = "relu",
        out_activation: str = "linear",
        seed: Optional[int] = None,
        rng: Rng = None,
        fused: bool = True,
        max_params: Optional[int] = MAX_PARAMS,
    ) -> None:
        nin = _check_size(nin, "MLP(nin)")
        if isinstance(nouts, (str, bytes)) or not isinstance(nouts, Sequence) or not nouts:
            raise ValueError(f"MLP(nouts) must be a non-empty list of layer sizes, got {nouts!r}")
        nouts = [_check_size(n, f"MLP(nouts[{i}])") for i, n in enumerate(nouts)]
        _check_activation(activation, "MLP(activation)")
        _check_activation(out_activation, "MLP(out_activation)")
        rng = _make_rng(seed, rng, "MLP")
        sz = [nin, *nouts]
        _check_params(sum((sz[i] + 1) * sz[i + 1] for i in range(len(nouts))), max_params, "MLP")
        last = len(nouts) - 1
        self.layers = [
            Layer(
                sz[i],
                sz[i + 1],
                rng=rng,
                fused=fused,
                max_params=None,
                activation=out_activation if i == last else activation,
            )
            for i in range(len(nouts))
        ]
        self._name()

    def _name(self) -> None:
        """Label every parameter by where it sits: ``L1.N0.w2`` is layer 1's (the first
        layer's) neuron 0's weight on its input 2, ``L1.N0.b`` its bias."""
        for i, layer in enumerate(self.layers):
            layer._name(f"L{i + 1}.")

    def __call__(self, x: Sequence) -> Union[Value, list]:
        if type(x) is not list:
            x = _inputs(x, self.nin, repr(self))
        h: Any = x  # a layer's output: a list, or one Value (the next layer takes either)
        for layer in self.layers:
            h = layer(h)
        return h

    @property
    def nin(self) -> int:
        return self.layers[0].nin

    @property
    def nouts(self) -> list:
        return [layer.nout for layer in self.layers]

    def parameters(self) -> list:
        return [p for layer in self.layers for p in layer.parameters()]

    def named_parameters(self) -> Iterator[tuple]:
        for i, layer in enumerate(self.layers):
            for name, p in layer.named_parameters():
                yield f"layers.{i}.{name}", p

    def __repr__(self) -> str:
        sizes = ", ".join(f"{layer.nout} {layer.activation}" for layer in self.layers)
        fused = _fused_repr(self.layers[0].neurons[0].fused)
        return f"MLP({self.nin} -> [{sizes}]{fused})"

    # --- saving -------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The JSON document ``save`` writes: format, version, architecture, parameters
        and their labels."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "nin": self.nin,
            "layers": [
                {
                    "nout": layer.nout,
                    "activation": layer.activation,
                    "weights": [[w.data for w in n.w] for n in layer.neurons],
                    "biases": [n.b.data for n in layer.neurons],
                    "labels": {
                        "weights": [[w.label for w in n.w] for n in layer.neurons],
                        "biases": [n.b.label for n in layer.neurons],
                    },
                }
                for layer in self.layers
            ],
        }

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Write the model to ``path`` as JSON, atomically: the document goes to a
        temporary file in the same folder, which then replaces ``path`` in one step, so
        a crash mid-save leaves any previous file intact.

            >>> import tempfile, os
            >>> m = MLP(2, [3, 1], seed=0)
            >>> p = os.path.join(tempfile.mkdtemp(), "m.json")
            >>> m.save(p); MLP.load(p)([1.0, 2.0]).data == m([1.0, 2.0]).data
            True
        """
        path = os.fspath(path)
        doc = self.to_dict()
        for name, p in self.named_parameters():
            if not math.isfinite(p.data):
                raise ValueError(
                    f"save {path}: parameter {name} is {p.data!r}; "
                    "a model with NaN or inf parameters is not saved"
                )
        atomic_write(path, lambda f: json.dump(doc, f, allow_nan=False))

    @classmethod
    def load(
        cls,
        path: Union[str, os.PathLike],
        max_bytes: Optional[int] = MAX_FILE_BYTES,
        max_params: Optional[int] = MAX_PARAMS,
    ) -> MLP:
        """Read a model written by :meth:`save`, checking every field; a malformed
        file raises :class:`ModelFileError` naming the file and the problem.

        Only a regular file is read (a FIFO, a device such as ``/dev/zero`` or a folder
        is refused without blocking or reading it), of at most ``max_bytes`` bytes
        (default :data:`MAX_FILE_BYTES`, 64 MiB) describing at most ``max_params``
        parameters (default :data:`MAX_PARAMS`); None lifts either limit."""
        path = os.fspath(path)
        for name, limit in (("max_bytes", max_bytes), ("max_params", max_params)):
            if limit is not None and (
                isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1
            ):
                raise ValueError(
                    f"MLP.load: {name} must be a positive int or None, got {limit!r:.40}"
                )
        data = _read_regular(path, max_bytes)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ModelFileError(f"{path}: not a text (UTF-8) file: {e}") from None
        return cls.from_dict(_parse_json(text, path), path, max_params=max_params)

    @classmethod
    def from_dict(
        cls, doc: Any, source: str = "<dict>", max_params: Optional[int] = MAX_PARAMS
    ) -> MLP:
        """Build a model from a ``to_dict`` document, validating it (see ``load``)."""
        nin, layers = _validate(doc, source, max_params)
        model = cls.__new__(cls)
        model.layers = []
        sizes = [nin] + [layer["nout"] for layer in layers]
        for i, spec in enumerate(layers):
            layer = Layer(
                sizes[i], sizes[i + 1], seed=0, activation=spec["activation"], max_params=None
            )
            for n, ws, b in zip(layer.neurons, spec["weights"], spec["biases"]):
                for w, v in zip(n.w, ws):
                    w.data = float(v)
                n.b.data = float(b)
            model.layers.append(layer)
        model._name()
        for i, spec in enumerate(layers):
            if "labels" in spec:  # optional: files without it get the default labels
                _restore_labels(model.layers[i], spec["labels"], f"layers[{i}].labels", source)
        return model


def _read_regular(path: str, max_bytes: Optional[int]) -> bytes:
    """The bytes of the regular file at ``path``, at most ``max_bytes`` of them.  The
    file is opened without blocking (a FIFO with no writer would otherwise wait) and
    checked on the open descriptor, so what is read is what was checked."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = (
                "a folder"
                if stat.S_ISDIR(st.st_mode)
                else "a FIFO (named pipe)"
                if stat.S_ISFIFO(st.st_mode)
                else "a device"
                if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                else "a socket"
                if stat.S_ISSOCK(st.st_mode)
                else "not a file"
            )
            raise ModelFileError(
                f"{path}: is {kind}, not a regular file; a model is loaded only from a regular file"
            )
        if max_bytes is not None and st.st_size > max_bytes:
            raise ModelFileError(
                f"{path}: {st.st_size:,} bytes is more than max_bytes="
                f"{int(max_bytes):,}; pass a larger max_bytes (or None) "
                "if you trust this file"
            )
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read() if max_bytes is None else f.read(max_bytes + 1)
    finally:
        os.close(fd)
    if max_bytes is not None and len(data) > max_bytes:
        raise ModelFileError(
            f"{path}: more than max_bytes={int(max_bytes):,} bytes (the file grew while being read)"
        )
    return data


def _parse_json(text: str, path: str) -> Any:
    def no_constant(name: str) -> Any:
        raise ModelFileError(
            f"{path}: contains {name}, which is not a valid parameter "
            "value (NaN and infinity are never saved)"
        )

    try:
        return json.loads(text, parse_constant=no_constant)
    except json.JSONDecodeError as e:
        what = "truncated (ends early)" if e.pos >= len(text.rstrip()) else "not valid JSON"
        raise ModelFileError(
            f"{path}: {what}: {e.msg} at line {e.lineno} column {e.colno}"
        ) from None
    except ModelFileError:
        raise
    except RecursionError:
        raise ModelFileError(
            f"{path}: not a model file: its JSON is nested too deeply to read"
        ) from None
    except ValueError as e:  # e.g. an integer of more digits than Python converts
        raise ModelFileError(f"{path}: not a model file: {e}") from None


def _validate(doc: Any, path: str, max_params: Optional[int] = MAX_PARAMS) -> tuple:
    """Check a saved document field by field; return ``(nin, layers)``."""

    def bad(msg: str) -> ModelFileError:
        return ModelFileError(f"{path}: {msg}")

    if not isinstance(doc, dict):
        raise bad(f"expected a JSON object, got {type(doc).__name__}")
    for key in ("format", "version", "nin", "layers"):
        if key not in doc:
            raise bad(f"missing key {key!r}")
    if doc["format"] != FORMAT:
        raise bad(f"format is {doc['format']!r}, expected {FORMAT!r}")
    if doc["version"] != VERSION or isinstance(doc["version"], bool):
        raise bad(f"unsupported version {doc['version']!r}; this gradwire reads version {VERSION}")
    nin = doc["nin"]
    if isinstance(nin, bool) or not isinstance(nin, int) or nin < 1:
        raise bad(f"nin must be a positive int, got {nin!r}")
    layers = doc["layers"]
    if not isinstance(layers, list) or not layers:
        raise bad("layers must be a non-empty list")
    fan_in, count = nin, 0
    for spec in layers:  # the size the file declares, before reading the numbers
        nout = spec.get("nout") if isinstance(spec, dict) else None
        if isinstance(nout, int) and not isinstance(nout, bool) and nout > 0:
            count += (fan_in + 1) * nout
            fan_in = nout
    if max_params is not None and count > max_params:
        raise bad(
            f"declares {count:,} parameters, more than max_params="
            f"{int(max_params):,}; pass a larger max_params (or None) if you trust "
            "this file"
        )
    fan_in = nin
    for i, spec in enumerate(layers):
        where = f"layers[{i}]"
        if not isinstance(spec, dict):
            raise bad(f"{where} must be an object, got {type(spec).__name__}")
        for key in ("nout", "activation", "weights", "biases"):
            if key not in spec:
                raise bad(f"{where}: missing key {key!r}")
        nout = spec["nout"]
        if isinstance(nout, bool) or not isinstance(nout, int) or nout < 1:
            raise bad(f"{where}.nout must be a positive int, got {nout!r}")
        if spec["activation"] not in ACTIVATIONS:
            raise bad(
                f"{where}.activation {spec['activation']!r} is not one of {', '.join(ACTIVATIONS)}"
            )
        ws, bs = spec["weights"], spec["biases"]
        if not isinstance(ws, list) or len(ws) != nout:
            raise bad(
                f"{where}.weights: wrong shape, expected {nout} rows of {fan_in}, got {_shape(ws)}"
            )
        for j, row in enumerate(ws):
            if not isinstance(row, list) or len(row) != fan_in:
                raise bad(
                    f"{where}.weights[{j}]: wrong shape, expected {fan_in} numbers, "
                    f"got {_shape(row)}"
                )
            for k, v in enumerate(row):
                _check_number(v, f"{where}.weights[{j}][{k}]", bad)
        if not isinstance(bs, list) or len(bs) != nout:
            raise bad(f"{where}.biases: wrong shape, expected {nout} numbers, got {_shape(bs)}")
        for j, v in enumerate(bs):
            _check_number(v, f"{where}.biases[{j}]", bad)
        fan_in = nout
    return nin, layers


def _restore_labels(layer: Layer, labels: Any, where: str, path: str) -> None:
    """Set the parameters' labels from a saved ``labels`` object, checked field by field."""

    def strings(xs: Any, n: int, what: str, rows: bool = False) -> list:
        if not isinstance(xs, list) or len(xs) != n:
            raise ModelFileError(
                f"{path}: {what}: wrong shape, expected {n} "
                f"{'rows' if rows else 'labels'}, got {_shape(xs)}"
            )
        for k, x in enumerate(xs if not rows else ()):
            if not isinstance(x, str) or len(x) > 200:
                raise ModelFileError(
                    f"{path}: {what}[{k}] must be a label (a string of at "
                    f"most 200 characters), got {x!r:.40}"
                )
        return xs

    if not isinstance(labels, dict):
        raise ModelFileError(f"{path}: {where} must be an object, got {type(labels).__name__}")
    ws = strings(labels.get("weights"), layer.nout, f"{where}.weights", rows=True)
    bs = strings(labels.get("biases"), layer.nout, f"{where}.biases")
    for j, (n, row, b) in enumerate(zip(layer.neurons, ws, bs)):
        for w, lab in zip(n.w, strings(row, layer.nin, f"{where}.weights[{j}]")):
            w.label = lab
        n.b.label = b


def _shape(x: Any) -> str:
    if isinstance(x, list):
        return f"a list of {len(x)}"
    return type(x).__name__


def _check_number(v: Any, where: str, bad: Any) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise bad(f"{where} is not a number: {v!r:.40}")
    if isinstance(v, int) and not -1e308 < v < 1e308:
        raise bad(f"{where} is an integer too large for a float ({len(str(abs(v)))} digits)")
    if not math.isfinite(v):
        raise bad(f"{where} is {v!r}; parameters must be finite")
