"""The step-by-step backprop page: one self-contained HTML file to click through.

:func:`stepper` takes a graph's output and returns a :class:`Stepper`, which Jupyter shows
inline (``_repr_html_``, inside a sandboxed iframe so several can share a notebook) and
``.save("steps.html")`` writes as ONE file with no network access: the circuit diagram as
inline SVG from Graphviz, inline CSS and JS, and the steps as JSON.  The page steps gate
by gate, as the lecture's slides do: the inputs hold their values from the start; each
forward step runs one gate (its output value appears on its wire); the backward pass
starts with the output's gradient 1, and each backward step runs one gate backwards: its
gradient times each local derivative appears on every input wire it is sent to, a node
used several times showing the running sum (``0.20 + 0.20 = 0.40``).  Captions name the
sender and the receivers by the names drawn on the diagram (an unlabelled gate output
gets a small name beside its wire).  Next, Previous, Play/Pause and Reset buttons and the
arrow keys step; clicking a node highlights it and shows its whole chain-rule expansion.
Every number on the page comes from :mod:`autodiff.explain` (the same steps
``gradwire explain`` prints, the same numbers ``backward()`` produces).  Graphs built from
micrograd-style classes (``data``, ``grad``, ``_prev``, ``_op``) work too.

The page is filled in one pass, and the step data is JSON in which ``<``, ``>``, ``&``
and U+2028/9 are escaped, so no label can end its ``<script>`` or inject markup; captions
are set with ``textContent``.

Stable hooks for tests: ``#stepper`` carries ``data-step``, ``data-phase`` and
``data-current`` (a DOT node name like ``n12``); ``#caption``, ``#counter``,
``#expansion``, buttons ``#prev #next #play #reset``; SVG groups ``#wire-n<k>`` and
``#gate-n<k>``; the highlighted one has class ``current``.  Each step's ``names`` lists
the names its caption uses.

    >>> from autodiff import Value
    >>> x = Value(2.0, label="x"); s = stepper((x * x).exp())
    >>> len(s.steps)                      # start + 2 gates forward + seed + 2 backward
    6
"""

from __future__ import annotations

import html
import json
import re
from typing import Any, Dict, List

from autodiff import Value
from autodiff.explain import (
    _backward,
    chain_rule,
    check_precision,
    fmt,
    forward_steps,
    graph_order,
    input_names,
    node_names,
)
from autodiff.files import atomic_write
from autodiff.micrograd_compat import as_graph, count_nodes, is_micrograd_style

from .diagram import GraphTooLarge, draw

__all__ = ["Stepper", "stepper"]


class Stepper:
    """The forward and backward steps of a graph as an interactive page.

    ``steps`` is the list of dicts the page walks through (``phase``, ``node``,
    ``caption``, ``names``, ``show``); ``html()`` the page; ``save(path)`` writes it."""

    def __init__(
        self,
        root: Any,
        precision: int = 2,
        style: str = "circuit",
        max_nodes: int = 150,
        title: str = "",
    ) -> None:
        check_precision(precision, "stepper")
        if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1:
            raise ValueError(f"stepper(max_nodes={max_nodes!r}): max_nodes must be a positive int")
        if not isinstance(title, str):
            raise TypeError(f"stepper(title): expected a str, got {type(title).__name__}")
        n = count_nodes(_checked(root), max_nodes)  # refuse a large graph before any work
        if n > max_nodes:
            raise GraphTooLarge(
                f"stepper: this graph has more than max_nodes={max_nodes} nodes; a page "
                "stepping through it would be unreadable. Step through a smaller part of "
                f"it, or pass max_nodes= a larger number to build it anyway."
            )
        root = as_graph(root, "stepper(root)")
        self.root = root
        self.precision = precision
        self.title = title or "Backpropagation, step by step"
        out = root.label or "L"
        names = node_names(root, out)
        fw = forward_steps(root, precision)
        bw, grads = _backward(root, precision, 1.0, out)
        self._diagram = draw(
            root,
            style=style,
            precision=precision,
            max_nodes=max_nodes,
            ids=True,
            grad_of={k: (0.0 if g is None else g) for k, g in grads.items()},
            names=names,
            widest=_widest(bw),
        )
        nodes = graph_order(root)
        dot_id = {id(v): f"n{k}" for k, v in enumerate(nodes)}
        p = precision
        leaves = [v for v in nodes if v.is_leaf]
        steps: List[Dict[str, Any]] = [
            {
                "phase": "start",
                "node": "",
                "names": [names[id(v)] for v in leaves],
                "caption": "The inputs hold their values (green). Press Next (or →) to run "
                "the forward pass, one gate at a time.",
                "show": [[dot_id[id(v)], "v", fmt(v.data, p), fmt(v.data, p)] for v in leaves],
            }
        ]
        for k, s in enumerate(fw, 1):
            read = input_names(s.node, names)
            ins = _names_list(read)
            steps.append(
                {
                    "phase": "forward",
                    "node": dot_id[id(s.node)],
                    "names": [s.name, *read],
                    "caption": f"Forward {k}/{len(fw)}: gate {s.gate} reads {ins} "
                    f"and computes {s.rule}",
                    "show": [[dot_id[id(s.node)], "v", fmt(s.value, p), fmt(s.value, p)]],
                }
            )
        seed = fmt(1.0, p)
        steps.append(
            {
                "phase": "backward",
                "node": dot_id[id(root)],
                "names": [out],
                "caption": f"Backward pass: it starts at the output {out}, with "
                f"d{out}/d{out} = {seed} (red).",
                "show": [[dot_id[id(root)], "g", seed, seed]],
            }
        )
        for k, s in enumerate(bw, 1):
            show = []
            for q, tot, run in zip(s.inputs, s.totals, s.running):
                later = "?" if tot is None else fmt(tot, p)
                now = run or later
                show.append([dot_id[id(q)], "g", now, later])
            up = fmt(s.upstream, p) if s.upstream is not None else "?"
            lines = "\n  ".join(s.text_lines())
            steps.append(
                {
                    "phase": "backward",
                    "node": dot_id[id(s.node)],
                    "names": [s.name, *s.receivers],
                    "caption": f"Backward {k}/{len(bw)}: gate {s.gate} (output {s.name}, "
                    f"d{out}/d{s.name} = {up}) sends upstream x local to each "
                    f"input:\n  {lines}",
                    "show": show,
                }
            )
        last = (
            "Done: every wire holds its value (green) and the gradient of "
            f"{out} with respect to it (red). Click a node for its chain rule."
        )
        steps[-1]["caption"] += "\n" + last
        self.steps = steps
        self.nodes = {
            dot_id[id(v)]: {
                "name": names[id(v)],
                "expansion": chain_rule(root, v, precision, output=out).text,
            }
            for v in nodes
        }

    # --- the page -----------------------------------------------------------------------
    def svg(self) -> str:
        """The diagram as inline SVG (no XML prolog)."""
        svg = self._diagram.pipe(format="svg", encoding="utf-8")
        return svg[svg.index("<svg") :]

    def html(self) -> str:
        """The whole page: one self-contained HTML document, filled in one pass (text
        put in is never searched for placeholders again)."""
        parts = {
            "TITLE": html.escape(self.title),
            "SVG": self.svg(),
            "CSS": _CSS,
            "JS": _JS,
            "DATA": script_json({"steps": self.steps, "nodes": self.nodes}),
        }
        return _SLOT.sub(lambda m: parts[m.group(1)], _PAGE)

    def save(self, path: str) -> str:
        """Write the page to ``path`` (atomically); returns the path."""
        page = self.html()
        return atomic_write(path, lambda f: f.write(page))

    def _repr_html_(self) -> str:
        # An iframe keeps each stepper's ids and keyboard handler to itself in a notebook.
        # It is as tall as the controls and captions (about 280 px) plus the diagram at its
        # natural size (the SVG's height in points, 4/3 px each; narrower cells shrink it).
        m = re.search(r'<svg[^>]*\bheight="([0-9.]+)pt"', self.svg())
        height = 280 + (round(float(m.group(1)) * 4 / 3) if m else 250)
        return (
            f'<iframe srcdoc="{html.escape(self.html(), quote=True)}" '
            f'style="width:100%;height:{min(height, 1000)}px;border:1px solid #ddd" '
            f'sandbox="allow-scripts"></iframe>'
        )

    def __repr__(self) -> str:
        n = sum(1 for s in self.steps if s["phase"] == "forward")
        return f"Stepper({n} nodes, {len(self.steps) - 1} steps; .save('steps.html'))"


def stepper(root: Any, precision: int = 2, style: str = "circuit", max_nodes: int = 150) -> Stepper:
    """The interactive step-by-step page for the graph below ``root`` (a gradwire Value
    or a micrograd-style one).  A graph of more than ``max_nodes`` nodes is refused
    with :class:`~visualize.GraphTooLarge` before anything is built.

        >>> from autodiff import Value
        >>> s = stepper(Value(1.0, label="a").exp())
        >>> s.steps[1]["caption"]
        'Forward 1/1: gate exp reads a and computes L = exp(1.00) = 2.72'
    """
    return Stepper(root, precision=precision, style=style, max_nodes=max_nodes)


def _widest(bw: list) -> Dict[int, str]:
    """``{id(node): the longest running-sum text its wire will show}``."""
    out: Dict[int, str] = {}
    for s in bw:
        for q, text in zip(s.inputs, s.running):
            if len(text) > len(out.get(id(q), "")):
                out[id(q)] = text
    return out


def _checked(root: Any) -> Any:
    if isinstance(root, Value) or is_micrograd_style(root):
        return root
    raise TypeError(
        f"stepper(root): expected a Value, got {type(root).__name__} (a gradwire "
        "Value, or a micrograd-style one with data, grad, _prev and _op)"
    )


def _names_list(names: List[str]) -> str:
    """``'a'``, ``'a and b'``, ``'a, b and c'`` (each name once)."""
    names = list(dict.fromkeys(names))
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


_JSON_SCRIPT_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def script_json(data: Any) -> str:
    """``data`` as JSON safe inside a ``<script>`` element: ``<``, ``>``, ``&`` and the
    line separators U+2028/9 are written as ``\\u`` escapes, so no string in it can
    close the element, open a comment or markup, or break the script.

        >>> script_json({"label": "</script><!--"})
        '{"label": "\\\\u003c/script\\\\u003e\\\\u003c!--"}'
    """
    text = json.dumps(data, ensure_ascii=False)
    return re.sub("[<>&\u2028\u2029]", lambda m: _JSON_SCRIPT_ESCAPES[m.group(0)], text)


_SLOT = re.compile(r"%(TITLE|SVG|CSS|JS|DATA)%")


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
  padding: 6px 8px; background: #f6f8fa; border-left: 3px solid #d97706; min-height: 4.2em;
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
  var COLOR = {v: '#1a7f37', g: '#cf222e'};
  function texts(nid, kind) {
    var g = document.getElementById('wire-' + nid);
    return g ? Array.prototype.filter.call(g.querySelectorAll('text'), function (t) {
      return (t.getAttribute('fill') || '').toLowerCase() === COLOR[kind]; }) : [];
  }
  function put(nid, kind, text) {  // text null: hidden
    texts(nid, kind).forEach(function (t) {
      if (text !== null) t.textContent = text;
      t.classList.toggle('hide', text === null);
    });
  }
  function highlight(nid) {
    document.querySelectorAll('#diagram g.current').forEach(function (g) {
      g.classList.remove('current'); });
    if (nid) {
      var g = document.getElementById('gate-' + nid) || document.getElementById('wire-' + nid);
      if (g) g.classList.add('current');
    }
    root.setAttribute('data-current', nid);
  }
  function render() {
    Object.keys(DATA.nodes).forEach(function (nid) { put(nid, 'v', null); put(nid, 'g', null); });
    for (var i = 0; i <= step; i++) {
      steps[i].show.forEach(function (s) { put(s[0], s[1], i === step ? s[2] : s[3]); });
    }
    highlight(steps[step].node);
    caption.textContent = steps[step].caption;
    counter.textContent = 'step ' + step + ' / ' + (steps.length - 1);
    root.setAttribute('data-step', String(step));
    root.setAttribute('data-phase', steps[step].phase);
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
    if (!m || !DATA.nodes[m[1]]) return;
    g.addEventListener('click', function () {
      pause();
      document.querySelectorAll('#diagram g.selected').forEach(function (s) {
        s.classList.remove('selected'); });
      g.classList.add('selected');
      highlight(m[1]);
      var info = DATA.nodes[m[1]];
      var box = document.getElementById('expansion');
      box.textContent = info.expansion;
      box.setAttribute('data-node', m[1]);
    });
  });
  render();
})();
"""
