"""A live training view: loss curve and decision boundary updating while a model trains.

:class:`LiveView` wraps an ``nn.Trainer`` (anything with ``.step() -> StepInfo``,
``.history``, ``.model`` and, for the boundary, ``.X``/``.y``).  In a notebook it is an
ipywidgets box with Pause/Play and Step buttons, a status line and the figure (an image
widget) redrawn every ``every`` steps.  :meth:`LiveView.run` trains now and returns when
done (its numbers are the ones to assert); :meth:`LiveView.start` trains in the kernel's
event loop, one step at a time, so the buttons stay responsive.  That background run
always ends on its own: after its ``steps``, at Pause (Play starts the rest again) or at
:meth:`LiveView.stop`; nothing ever waits for it, so a notebook run without a browser
(nbclient, nbconvert) finishes as usual.  Outside a notebook it degrades to text: one
line per ``every`` steps.  It can also ride along an ``nn.fit`` run as its callback
(``fit(..., callback=view.callback)``): there it redraws every ``every`` steps, and Pause
stops the run.

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

import io
import math
import sys
from typing import TYPE_CHECKING, Any, Optional, TextIO

import numpy as np

from .plots import in_notebook

if TYPE_CHECKING:  # matplotlib is loaded only when a figure is drawn
    from .plots import PlotFigure

__all__ = ["LiveView", "live_training", "in_notebook"]

#: the largest grid the live view's decision boundary is drawn on (it redraws often)
MAX_LIVE_RESOLUTION = 200


def _count(steps: Any, where: str) -> int:
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(
            f"{where}(steps={steps!r}): steps must be an int >= 0 (the number of updates to make)"
        )
    return int(steps)


class LiveView:
    """Watch a Trainer train: widgets in a notebook, text lines elsewhere.

    ``every``: redraw (or print) after every that many steps; ``resolution``: the grid
    of the decision boundary panel (at most 200, it is redrawn often).

        >>> from nn import MLP, Trainer, datasets
        >>> X, y = datasets.moons(20, seed=0, labels="pm1")
        >>> view = LiveView(Trainer(MLP(2, [4, 1], seed=0), X, y), every=5, notebook=False)
        >>> view
        LiveView(not started, every=5, paused=False)
    """

    def __init__(
        self,
        trainer: Any,
        every: int = 10,
        notebook: Optional[bool] = None,
        out: Optional[TextIO] = None,
        resolution: int = 40,
    ) -> None:
        if not callable(getattr(trainer, "step", None)):
            raise TypeError(
                f"LiveView(trainer): expected an nn.Trainer (with .step()), got "
                f"{type(trainer).__name__}"
            )
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
            raise ValueError(f"LiveView(every={every!r}): every must be a positive int")
        if (
            isinstance(resolution, bool)
            or not isinstance(resolution, (int, np.integer))
            or not 2 <= resolution <= MAX_LIVE_RESOLUTION
        ):
            raise ValueError(
                f"LiveView(resolution={resolution!r}): resolution must be an int "
                f"from 2 to {MAX_LIVE_RESOLUTION}"
            )
        self.trainer = trainer
        self.every = int(every)
        self.notebook = in_notebook() if notebook is None else bool(notebook)
        self.out = out if out is not None else sys.stdout
        self.resolution = int(resolution)
        self.paused = False
        self.losses: list = []
        self.accuracies: list = []
        self.last: Any = None
        self.error: Optional[BaseException] = None
        self._task: Any = None
        self._remaining = 0  # background steps still to make
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

    def run(self, steps: int) -> LiveView:
        """Train ``steps`` updates now (blocking), stopping early if paused."""
        steps = _count(steps, "LiveView.run")
        for _ in range(steps):
            if self.paused:
                break
            self.step()
        if self.losses and len(self.losses) % self.every:
            self.update()
        return self

    @property
    def running(self) -> bool:
        """True while a background run started by :meth:`start` is making steps."""
        return self._task is not None and not self._task.done()

    def start(self, steps: int) -> LiveView:
        """Train ``steps`` updates in the background (in a notebook), so Pause and Step
        work while it runs; returns at once.  The run ends by itself after ``steps``
        updates, at Pause or at :meth:`stop`.  Outside a notebook (or without a running
        event loop) this is :meth:`run`."""
        steps = _count(steps, "LiveView.start")
        if self.running:
            raise RuntimeError(
                "LiveView.start: this view is already training in the "
                "background; Pause it or call stop() first"
            )
        if not self.notebook:
            return self.run(steps)
        import asyncio

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop to share: train now
            return self.run(steps)
        self._remaining = steps
        self.paused = False
        self._show_paused()
        self._task = loop.create_task(self._background())
        return self

    async def _background(self) -> None:
        import asyncio

        try:
            while self._remaining > 0 and not self.paused:
                self._remaining -= 1
                self.step()
                await asyncio.sleep(0)  # let button clicks and messages through
        except Exception as e:  # shown in the status line; the run ends here
            self.error = e
            self._remaining = 0
        finally:
            self.update()

    def stop(self) -> None:
        """End the background run now (it makes no further steps)."""
        self._remaining = 0

    def callback(self, info: Any) -> bool:
        """For ``nn.fit(..., callback=view.callback)``: record, redraw; False (stop) if paused."""
        self._record(info)
        return not self.paused

    # --- display -----------------------------------------------------------------------
    def status(self) -> str:
        """One line: the step count, the last loss and accuracy, and the run's state."""
        if self.error is not None:
            return f"stopped by an error: {type(self.error).__name__}: {self.error}"
        if self.last is None:
            return "not started"
        acc = self.last.accuracy
        acc_s = (
            ""
            if acc is None or (isinstance(acc, float) and math.isnan(acc))
            else f"  accuracy {float(acc):.1%}"
        )
        done = getattr(self.trainer, "steps_done", None)
        done = len(self.losses) if not isinstance(done, int) else done
        state = ""
        if self.paused:
            state = "  (paused)"
        elif self.running and self._remaining > 0:
            state = f"  (training, {self._remaining} steps to go)"
        return f"step {done}  loss {float(self.last.loss):.4f}{acc_s}{state}"

    def update(self) -> None:
        """Print a line, or redraw the widget's status and figure."""
        if not self.notebook:
            print(self.status(), file=self.out)
            return
        status = self.status()
        buf = io.BytesIO()  # drawn before the first step too: the untrained model
        try:
            self.figure().savefig(buf, format="png", dpi=80)
        except (ValueError, TypeError) as e:  # e.g. outputs became NaN, not an MLP
            status += f"  (figure not redrawn: {e})"
        else:
            self._image.value = buf.getvalue()
        self._status.value = status

    def figure(self) -> PlotFigure:
        """Loss curve (and decision boundary when the Trainer holds 2-D data)."""
        from .plots import PlotFigure, plot_decision_boundary

        X = getattr(self.trainer, "X", None)
        has_2d = X is not None and getattr(X, "ndim", 0) == 2 and X.shape[1] == 2
        fig = PlotFigure(figsize=(9 if has_2d else 5, 3.5), layout="constrained")
        axes = fig.subplots(1, 2 if has_2d else 1, squeeze=False)[0]
        axes[0].plot(range(1, len(self.losses) + 1), self.losses, color="#cf222e")
        bs = getattr(self.trainer, "batch_size", None)
        n = getattr(self.trainer, "n", None)
        axes[0].set_title(
            "loss on all rows" if bs is None or bs == n else f"loss on each step's batch of {bs}"
        )
        axes[0].set_xlabel("step")
        if has_2d:
            plot_decision_boundary(
                self.trainer.model, X, self.trainer.y, resolution=self.resolution, ax=axes[1]
            )
        return fig

    def _build_widget(self) -> Any:
        try:
            import ipywidgets as w
        except ImportError:
            raise ModuleNotFoundError(
                "LiveView in a notebook needs ipywidgets: pip install 'gradwire[notebook]' "
                "(or pass notebook=False for text output)",
                name="ipywidgets",
            ) from None

        self._play = w.Button(description="Pause", icon="pause")
        self._step_btn = w.Button(description="Step", icon="step-forward")
        self._status = w.Label(value=self.status())
        self._image = w.Image(format="png")
        for widget, name in (
            (self._play, "pause"),
            (self._step_btn, "step"),
            (self._status, "status"),
            (self._image, "figure"),
        ):
            widget.add_class(f"gradwire-live-{name}")
        self._play.on_click(self._on_play)
        self._step_btn.on_click(self._on_step)
        box = w.VBox([w.HBox([self._play, self._step_btn, self._status]), self._image])
        box.add_class("gradwire-live")
        self.widget = box
        self.update()
        return box

    def _show_paused(self) -> None:
        if self.widget is not None:
            self._play.description = "Play" if self.paused else "Pause"
            self._play.icon = "play" if self.paused else "pause"
            self._status.value = self.status()

    def _on_play(self, _button: Any = None) -> None:
        """The Pause/Play button: Pause ends the background run after its current step;
        Play starts the steps it had left again."""
        self.paused = not self.paused
        if not self.paused and self._remaining > 0 and not self.running:
            self.start(self._remaining)
        self._show_paused()

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


def live_training(
    trainer_or_model: Any,
    X: Any = None,
    y: Any = None,
    steps: int = 100,
    every: int = 10,
    notebook: Optional[bool] = None,
    **trainer_kwargs: Any,
) -> LiveView:
    """Train and watch: give an ``nn.Trainer``, or a model with ``X, y`` (and Trainer
    options such as ``loss=``).  In a notebook, shows the widget and starts training in
    the background (:meth:`LiveView.start`); elsewhere trains now, printing a line every
    ``every`` steps.

        >>> from nn import MLP, datasets
        >>> X, y = datasets.moons(20, seed=0, labels="pm1")
        >>> view = live_training(MLP(2, [4, 1], seed=0), X, y, steps=2, every=2,
        ...                      notebook=False, loss="hinge")   # doctest: +ELLIPSIS
        step 2  loss ...
    """
    steps = _count(steps, "live_training")
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
