"""A live training view: loss curve and decision boundary updating while a model trains.

:class:`LiveView` wraps an ``nn.Trainer`` (anything with ``.step() -> StepInfo``,
``.history``, ``.model`` and, for the boundary, ``.X``/``.y``).  In a notebook it is an
ipywidgets box with Play/Pause and Step buttons, a status line and a figure redrawn every
``every`` steps; :meth:`LiveView.start` trains in the kernel's event loop so the buttons
stay responsive.  Outside a notebook it degrades to text: one line per ``every`` steps.
It can also ride along an ``nn.fit`` run as its callback (``fit(..., callback=view.callback)``):
there it redraws every ``every`` steps, and Pause stops the run.

    >>> class Info: step, epoch, loss, accuracy, batch_size = 1, 0, 0.5, 1.0, 4
    >>> class T:
    ...     history = None
    ...     def step(self): return Info()
    >>> import io; out = io.StringIO()
    >>> v = LiveView(T(), every=1, notebook=False, out=out); _ = v.run(1)
    >>> out.getvalue()
    'step 1  loss 0.5000  accuracy 100.0%\\n'
"""
from __future__ import annotations

import math
import sys
from typing import Any, Optional, TextIO

__all__ = ["LiveView", "live_training", "in_notebook"]


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where widgets can show)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    return ip is not None and "IPKernelApp" in getattr(ip, "config", {})


class LiveView:
    """Watch a Trainer train: widgets in a notebook, text lines elsewhere."""

    def __init__(self, trainer: Any, every: int = 10, notebook: Optional[bool] = None,
                 out: Optional[TextIO] = None, resolution: int = 40) -> None:
        if not callable(getattr(trainer, "step", None)):
            raise TypeError(f"LiveView(trainer): expected an nn.Trainer (with .step()), got "
                            f"{type(trainer).__name__}")
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"LiveView(every={every!r}): every must be a positive int")
        self.trainer = trainer
        self.every = every
        self.notebook = in_notebook() if notebook is None else bool(notebook)
        self.out = out if out is not None else sys.stdout
        self.resolution = resolution
        self.paused = False
        self.losses: list = []
        self.accuracies: list = []
        self.last: Any = None
        self.widget = self._build_widget() if self.notebook else None

    # --- training ----------------------------------------------------------------------
    def step(self) -> Any:
        """One Trainer update, recorded; redraws (or prints) every ``every`` steps."""
        info = self.trainer.step()
        self._record(info)
        return info

    def _record(self, info: Any) -> None:
        self.last = info
        self.losses.append(float(info.loss))
        self.accuracies.append(float(info.accuracy))
        if len(self.losses) % self.every == 0:
            self.update()

    def run(self, steps: int) -> "LiveView":
        """Train ``steps`` updates now (blocking), stopping early if paused."""
        for _ in range(int(steps)):
            if self.paused:
                break
            self.step()
        if self.losses and len(self.losses) % self.every:
            self.update()
        return self

    def start(self, steps: int) -> "LiveView":
        """In a notebook, train in the background so Pause/Step work; else :meth:`run`."""
        if not self.notebook:
            return self.run(steps)
        import asyncio

        async def loop() -> None:
            for _ in range(int(steps)):
                while self.paused:
                    await asyncio.sleep(0.1)
                self.step()
                await asyncio.sleep(0)
            self.update()
        self._task = asyncio.get_event_loop().create_task(loop())
        return self

    def callback(self, info: Any) -> bool:
        """For ``nn.fit(..., callback=view.callback)``: record, redraw; False (stop) if paused."""
        self._record(info)
        return not self.paused

    # --- display -----------------------------------------------------------------------
    def status(self) -> str:
        if self.last is None:
            return "not started"
        acc = self.last.accuracy
        acc_s = "" if acc is None or (isinstance(acc, float) and math.isnan(acc)) \
            else f"  accuracy {float(acc):.1%}"
        done = getattr(self.trainer, "steps_done", None)
        done = len(self.losses) if not isinstance(done, int) else done
        return f"step {done}  loss {float(self.last.loss):.4f}{acc_s}"

    def update(self) -> None:
        """Print a line, or redraw the widget's status and figure."""
        if not self.notebook:
            print(self.status(), file=self.out)
            return
        self._status.value = self.status()
        from IPython.display import clear_output, display
        fig = self.figure()
        with self._plot:
            clear_output(wait=True)
            display(fig)

    def figure(self):
        """Loss curve (and decision boundary when the Trainer holds 2-D data)."""
        from matplotlib.figure import Figure

        from .plots import plot_decision_boundary
        X = getattr(self.trainer, "X", None)
        has_2d = X is not None and getattr(X, "ndim", 0) == 2 and X.shape[1] == 2
        fig = Figure(figsize=(9 if has_2d else 5, 3.5))
        axes = fig.subplots(1, 2 if has_2d else 1, squeeze=False)[0]
        axes[0].plot(range(1, len(self.losses) + 1), self.losses, color="#cf222e")
        axes[0].set_title("loss")
        axes[0].set_xlabel("step")
        if has_2d:
            plot_decision_boundary(self.trainer.model, X, self.trainer.y,
                                   resolution=self.resolution, ax=axes[1])
        fig.tight_layout()
        return fig

    def _build_widget(self) -> Any:
        import ipywidgets as w
        self._play = w.Button(description="Pause", icon="pause")
        self._step_btn = w.Button(description="Step", icon="step-forward")
        self._status = w.Label(value=self.status())
        self._plot = w.Output()
        self._play.on_click(self._on_play)
        self._step_btn.on_click(self._on_step)
        return w.VBox([w.HBox([self._play, self._step_btn, self._status]), self._plot])

    def _on_play(self, _button: Any = None) -> None:
        self.paused = not self.paused
        if self.widget is not None:
            self._play.description = "Play" if self.paused else "Pause"
            self._play.icon = "play" if self.paused else "pause"

    def _on_step(self, _button: Any = None) -> None:
        """The Step button: pause, make one update, redraw."""
        if not self.paused:
            self._on_play()
        self.step()
        self.update()

    def _ipython_display_(self) -> None:
        from IPython.display import display
        if self.widget is not None:
            display(self.widget)
        else:
            print(repr(self))

    def __repr__(self) -> str:
        return f"LiveView({self.status()}, every={self.every}, paused={self.paused})"


def live_training(trainer_or_model: Any, X: Any = None, y: Any = None, steps: int = 100,
                  every: int = 10, notebook: Optional[bool] = None, **trainer_kwargs: Any
                  ) -> LiveView:
    """Train and watch: give an ``nn.Trainer``, or a model with ``X, y`` (and Trainer
    options such as ``loss=``).  In a notebook, shows the widget and starts training in
    the background; elsewhere trains now, printing a line every ``every`` steps."""
    trainer = trainer_or_model
    if not callable(getattr(trainer, "step", None)):
        if X is None or y is None:
            raise ValueError("live_training: pass an nn.Trainer, or a model with X and y")
        from nn import Trainer
        trainer = Trainer(trainer_or_model, X, y, **trainer_kwargs)
    view = LiveView(trainer, every=every, notebook=notebook)
    if view.notebook:
        from IPython.display import display
        display(view.widget)
    return view.start(steps)
