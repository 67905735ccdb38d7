"""The step-by-step backprop page: one self-contained HTML file to click through.

:func:`stepper` takes a graph's output and returns a :class:`Stepper`, which Jupyter shows
inline (``_repr_html_``, inside a sandboxed iframe so several can share a notebook) and
``.save("steps.html")`` writes as ONE file with no network access: the circuit diagram as
inline SVG from Graphviz, inline CSS and JS, and the steps as JSON.  The page walks the
forward pass (values appear on the wires) and then the backward pass (gradients appear,
the current gate is highlighted, the caption shows the chain-rule product), with Next,
Previous, Play/Pause and Reset buttons and the arrow keys.  Clicking a node shows its whole
chain-rule expansion from the output down to it.  Every number on the page comes from
:mod:`autodiff.explain` (the same numbers ``backward()`` produces).

Stable hooks for tests: ``#stepper`` carries ``data-step``, ``data-phase`` and
``data-current`` (a DOT node name like ``n12``); ``#caption``, ``#counter``,
``#expansion``, buttons ``#prev #next #play #reset``; SVG groups ``#wire-n<k>`` and
``#gate-n<k>``; the highlighted one has class ``current``.

    >>> from autodiff import Value
    >>> x = Value(2.0, label="x"); s = stepper((x * x).exp())
    >>> len(s.steps)                      # intro + 3 forward + 3 backward
    7
"""
from __future__ import annotations

import html
import json
from typing import Any, Dict, List

from autodiff import Value, backward_steps, chain_rule, forward_steps
from autodiff.explain import node_names
from autodiff.files import atomic_write

from .diagram import draw

__all__ = ["Stepper", "stepper"]


class Stepper:
    """The forward and backward steps of a graph as an interactive page.

    ``steps`` is the list of dicts the page walks through (``phase``, ``node``,
    ``caption``); ``html()`` the page; ``save(path)`` writes it."""

    def __init__(self, root: Value, precision: int = 2, style: str = "circuit",
                 max_nodes: int = 150, title: str = "") -> None:
        if not isinstance(root, Value):
            raise TypeError(f"stepper(root): expected a Value, got {type(root).__name__}")
        self.root = root
        self.precision = precision
        self.title = title or "Backpropagation, step by step"
        names = node_names(root)
        fw = forward_steps(root, precision)
        bw = backward_steps(root, precision)
        self._diagram = draw(root, style=style, precision=precision, max_nodes=max_nodes,
                             ids=True, grad_of={id(s.node): s.upstream for s in bw})
        dot_id = {id(s.node): f"n{s.index}" for s in fw}
        out = root.label or "L"
        steps: List[Dict[str, Any]] = [{
            "phase": "start", "node": "",
            "caption": "Press Next (or →) to run the forward pass: each node's value "
                       "appears in green on its wire."}]
        for k, s in enumerate(fw, 1):
            kind = "input" if s.node.is_leaf else f"gate {s.gate}"
            steps.append({"phase": "forward", "node": dot_id[id(s.node)],
                          "caption": f"Forward {k}/{len(fw)} ({kind}): {s.rule}"})
        for k, s in enumerate(bw, 1):
            nid = dot_id[id(s.node)]
            if s.node is root:
                head = f"Backward {k}/{len(bw)}: d{out}/d{out} = {s.upstream:.{precision}f}; "
            else:
                head = f"Backward {k}/{len(bw)}: "
            if s.node.is_leaf:
                cap = f"{head}input {s.name}: {s.rule}"
            else:
                cap = f"{head}gate {s.gate} sends back upstream x local: " + \
                      "  |  ".join(([s.sum_text] if s.sum_text else []) + list(s.lines))
            steps.append({"phase": "backward", "node": nid, "caption": cap})
        last = ("Done: every wire holds its value (green) and the gradient of "
                f"{out} with respect to it (red). Click a node for its chain rule.")
        steps[-1]["caption"] += "  —  " + last
        self.steps = steps
        self.nodes = {dot_id[id(s.node)]: {
            "name": names[id(s.node)],
            "expansion": chain_rule(root, s.node, precision).text} for s in fw}

    # --- the page -----------------------------------------------------------------------
    def svg(self) -> str:
        """The diagram as inline SVG (no XML prolog)."""
        svg = self._diagram.pipe(format="svg", encoding="utf-8")
        return svg[svg.index("<svg"):]

    def html(self) -> str:
        """The whole page: one self-contained HTML document."""
        data = json.dumps({"steps": self.steps, "nodes": self.nodes}, ensure_ascii=False)
        data = data.replace("</", "<\\/")  # cannot close the <script> element early
        return (_PAGE.replace("%TITLE%", html.escape(self.title))
                .replace("%SVG%", self.svg())
                .replace("%CSS%", _CSS).replace("%JS%", _JS).replace("%DATA%", data))

    def save(self, path: str) -> str:
        """Write the page to ``path`` (atomically); returns the path."""
        page = self.html()
        return atomic_write(path, lambda f: f.write(page))

    def _repr_html_(self) -> str:
        # An iframe keeps each stepper's ids and keyboard handler to itself in a notebook.
        height = 260 + 22 * max(1, self.svg().count("<g id=\"wire-") // 6)
        return (f'<iframe srcdoc="{html.escape(self.html(), quote=True)}" '
                f'style="width:100%;height:{min(height, 700)}px;border:1px solid #ddd" '
                f'sandbox="allow-scripts"></iframe>')

    def __repr__(self) -> str:
        n = sum(1 for s in self.steps if s["phase"] == "forward")
        return f"Stepper({n} nodes, {len(self.steps) - 1} steps; .save('steps.html'))"


def stepper(root: Value, precision: int = 2, style: str = "circuit",
            max_nodes: int = 150) -> Stepper:
    """The interactive step-by-step page for the graph below ``root``.

        >>> from autodiff import Value
        >>> s = stepper(Value(1.0, label="a").exp())
        >>> s.steps[1]["caption"]
        'Forward 1/2 (input): a = 1.00'
    """
    return Stepper(root, precision=precision, style=style, max_nodes=max_nodes)


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>%TITLE%</title>
<style>%CSS%</style></head>
<body>
<div id="stepper" data-step="0" data-phase="start" data-current="">
<h1>%TITLE%</h1>
<div id="controls">
<button id="reset" title="Reset (Home)">Reset</button>
<button id="prev" title="Previous (←)">&#x25C0; Previous</button>
<button id="play" title="Play / pause (space)">&#x25B6; Play</button>
<button id="next" title="Next (→)">Next &#x25B6;</button>
<span id="counter"></span>
</div>
<div id="caption" aria-live="polite"></div>
<div id="diagram">%SVG%</div>
<p class="legend"><span class="val">green</span>: forward value &nbsp;
<span class="grad">red</span>: gradient &nbsp; click a node for its chain rule</p>
<pre id="expansion"></pre>
</div>
<script type="application/json" id="stepdata">%DATA%</script>
<script>%JS%</script>
</body></html>
"""

_CSS = """
body { font-family: Helvetica, Arial, sans-serif; margin: 12px; color: #1f2328; }
h1 { font-size: 16px; margin: 0 0 8px; }
#controls button { font-size: 13px; padding: 3px 10px; margin-right: 4px; cursor: pointer; }
#counter { color: #57606a; font-size: 13px; margin-left: 8px; }
#caption { font-family: Menlo, Consolas, monospace; font-size: 13px; margin: 10px 0;
  padding: 6px 8px; background: #f6f8fa; border-left: 3px solid #d97706; min-height: 1.4em;
  white-space: pre-wrap; }
#diagram svg { max-width: 100%; height: auto; }
#diagram g.node { cursor: pointer; }
#diagram text.hide { visibility: hidden; }
#diagram g.current ellipse { fill: #fff3c4; stroke: #d97706; stroke-width: 3; }
#diagram g.current text { font-weight: bold; }
#diagram g.selected ellipse { stroke: #0969da; stroke-width: 2; }
#expansion { font-size: 12px; background: #f6f8fa; padding: 6px 8px; min-height: 1.2em;
  white-space: pre-wrap; }
.legend { font-size: 12px; color: #57606a; } .val { color: #1a7f37; } .grad { color: #cf222e; }
"""

_JS = r"""
(function () {
  var DATA = JSON.parse(document.getElementById('stepdata').textContent);
  var steps = DATA.steps, root = document.getElementById('stepper');
  var caption = document.getElementById('caption'), counter = document.getElementById('counter');
  var playBtn = document.getElementById('play'), timer = null, step = 0;
  var GREEN = '#1a7f37', RED = '#cf222e';
  function texts(nid, color) {
    var g = document.getElementById('wire-' + nid);
    return g ? Array.prototype.filter.call(g.querySelectorAll('text'), function (t) {
      return (t.getAttribute('fill') || '').toLowerCase() === color; }) : [];
  }
  function show(nid, color, on) {
    texts(nid, color).forEach(function (t) { t.classList.toggle('hide', !on); });
  }
  function render() {
    var seenV = {}, seenG = {};
    for (var i = 1; i <= step; i++) {
      if (steps[i].phase === 'forward') seenV[steps[i].node] = true;
      if (steps[i].phase === 'backward') seenG[steps[i].node] = true;
    }
    Object.keys(DATA.nodes).forEach(function (nid) {
      show(nid, GREEN, !!seenV[nid]); show(nid, RED, !!seenG[nid]);
    });
    var cur = steps[step].node;
    document.querySelectorAll('#diagram g.current').forEach(function (g) {
      g.classList.remove('current'); });
    if (cur) {
      var g = document.getElementById('gate-' + cur) || document.getElementById('wire-' + cur);
      if (g) g.classList.add('current');
    }
    caption.textContent = steps[step].caption;
    counter.textContent = 'step ' + step + ' / ' + (steps.length - 1);
    root.setAttribute('data-step', String(step));
    root.setAttribute('data-phase', steps[step].phase);
    root.setAttribute('data-current', cur);
  }
  function go(k) { step = Math.max(0, Math.min(steps.length - 1, k)); render(); }
  function next() { if (step >= steps.length - 1) { pause(); } else { go(step + 1); } }
  function pause() { if (timer) { clearInterval(timer); timer = null; }
    playBtn.textContent = '\u25B6 Play'; root.setAttribute('data-playing', 'false'); }
  function play() { if (step >= steps.length - 1) go(0);
    timer = setInterval(next, 900); playBtn.textContent = '\u23F8 Pause';
    root.setAttribute('data-playing', 'true'); }
  document.getElementById('next').onclick = function () { pause(); next(); };
  document.getElementById('prev').onclick = function () { pause(); go(step - 1); };
  document.getElementById('reset').onclick = function () { pause(); go(0); };
  playBtn.onclick = function () { if (timer) pause(); else play(); };
  document.addEventListener('keydown', function (e) {
    if (e.key === 'ArrowRight') { pause(); next(); e.preventDefault(); }
    else if (e.key === 'ArrowLeft') { pause(); go(step - 1); e.preventDefault(); }
    else if (e.key === 'Home') { pause(); go(0); e.preventDefault(); }
    else if (e.key === ' ') { if (timer) pause(); else play(); e.preventDefault(); }
  });
  document.querySelectorAll('#diagram g.node').forEach(function (g) {
    var m = /^(?:wire|gate)-(n\d+)$/.exec(g.id || '');
    if (!m) return;
    g.addEventListener('click', function () {
      document.querySelectorAll('#diagram g.selected').forEach(function (s) {
        s.classList.remove('selected'); });
      g.classList.add('selected');
      var info = DATA.nodes[m[1]];
      var box = document.getElementById('expansion');
      box.textContent = info.expansion;
      box.setAttribute('data-node', m[1]);
    });
  });
  render();
})();
"""
