"""Draw a scalar computation graph with matplotlib alone (no graphviz to install).

Layout, left to right like the forward pass:

* every `Value` is a box (label, data, grad) and every operation a small circle just left of
  the box it produces;
* a computed Value sits one layer right of its deepest input (longest path from the leaves);
  a leaf (input, weight, constant) sits just left of its first use, so that `w2` of a second
  layer is drawn next to the layer that uses it rather than far away at the left edge;
* an edge that skips layers gets a waypoint in each layer it crosses, so it runs in a lane of
  its own instead of behind the boxes in between;
* within a layer, nodes are ordered by a few barycenter sweeps (each node moves towards the
  mean height of its neighbours), keeping the ordering with the fewest edge crossings.

Colours: blue = named leaf (input or parameter), grey = constant, yellow = intermediate,
red = the root (the node `backward()` was called on).
"""
from __future__ import annotations

from collections import defaultdict

__all__ = ["draw_graph", "layout_graph"]

# Geometry in inches: when draw_graph makes its own figure, one data unit is one inch.
BOX_W, BOX_H = 1.25, 0.66
OP_R = 0.23
OP_GAP = 0.15  # between an op circle and the box it produces
LAYER_PITCH = 2.2  # box centre to box centre, left to right
ROW_PITCH = 0.92
FONT = 8.0

_COLORS = {"leaf": "#cfe2f3", "const": "#eeeeee", "inner": "#fff2cc", "root": "#f4cccc", "op": "#d9ead3"}
_OP_TEXT = {"+": "+", "-": "\u2212", "*": "\u00d7", "/": "\u00f7", "neg": "\u2212x", "sigmoid": "\u03c3"}


def layout_graph(root, sweeps=8):
    """Place every Value of `root`'s graph on a grid of layers (columns) and rows.

    An edge that skips layers (in `a * a + a`, `a` feeds the `+` two layers to its right) is
    routed through one invisible waypoint per skipped layer; the waypoints take part in the
    ordering, so such an edge gets a free lane instead of running behind a box.

    Args:
        root: the output `Value`.
        sweeps: number of barycenter passes (alternating left-to-right and right-to-left);
            the ordering with the fewest edge crossings seen is kept.

    Returns:
        (nodes, pos, routes): `nodes` is `root.topological_order()`; `pos` maps `id(value)` to
        `(column, row_y)` with columns 0, 1, 2, ... (left to right) and row_y centred on 0, top
        positive; `routes` maps `(id(child), id(parent))` to the list of `(column, row_y)`
        waypoints of that edge (empty when it joins adjacent layers).
    """
    nodes = root.topological_order()
    parents = defaultdict(list)  # id(child) -> Values that use it
    for v in nodes:
        for c in v._prev:
            parents[id(c)].append(v)

    # Longest path from the leaves for computed Values (topological order: children come first).
    col = {}
    for v in nodes:
        col[id(v)] = 1 + max(col[id(c)] for c in v._prev) if v._prev else 0
    # Leaves move right to just before their first use.
    for v in nodes:
        if not v._prev and parents[id(v)]:
            col[id(v)] = min(col[id(p)] for p in parents[id(v)]) - 1

    # Layout items: id(value) for Values, ("via", id(child), id(parent), k) for waypoints.
    # left[item] / right[item]: its neighbours one layer to the left / right.
    n_cols = max(col.values()) + 1
    columns = [[] for _ in range(n_cols)]
    left, right = defaultdict(list), defaultdict(list)
    for v in nodes:  # initial order within a column: depth-first order, already fairly good
        columns[col[id(v)]].append(id(v))
    chains = {}
    for v in nodes:
        for c in dict.fromkeys(v._prev):  # unique children, in order
            chain = [id(c)]
            for k in range(col[id(c)] + 1, col[id(v)]):
                via = ("via", id(c), id(v), k)
                columns[k].append(via)
                chain.append(via)
            chain.append(id(v))
            for a, b in zip(chain, chain[1:]):
                right[a].append(b)
                left[b].append(a)
            chains[(id(c), id(v))] = chain[1:-1]
    col.update({via: via[3] for chain in chains.values() for via in chain})

    def ys(column):
        n = len(column)
        return {item: (n - 1) / 2.0 - i for i, item in enumerate(column)}

    y = {}
    for column in columns:
        y.update(ys(column))

    def crossings():
        # Every segment now joins adjacent layers, so only segments in the same gap can cross.
        total = 0
        for k in range(n_cols - 1):
            segs = [(y[a], y[b]) for a in columns[k] for b in right[a]]
            total += sum((a0 - b0) * (a1 - b1) < 0 for i, (a0, a1) in enumerate(segs) for b0, b1 in segs[i + 1:])
        return total

    best = (crossings(), dict(y))
    for sweep in range(sweeps):
        nbrs = left if sweep % 2 == 0 else right
        order = range(n_cols) if sweep % 2 == 0 else range(n_cols - 1, -1, -1)
        for k in order:

            def key(item, nbrs=nbrs):
                near = nbrs[item]
                return sum(y[u] for u in near) / len(near) if near else y[item]

            columns[k].sort(key=key, reverse=True)  # larger y = higher on the page = first
            y.update(ys(columns[k]))
        n = crossings()
        if n < best[0]:
            best = (n, dict(y))
    y = best[1]

    pos = {id(v): (col[id(v)], y[id(v)]) for v in nodes}
    routes = {edge: [(col[via], y[via]) for via in chain] for edge, chain in chains.items()}
    return nodes, pos, routes


def _op_text(op):
    if op in _OP_TEXT:
        return _OP_TEXT[op]
    if op.startswith("**"):
        return "x^" + op[2:]
    if op.endswith("**"):
        return op[:-2] + "^x"
    return op


def draw_graph(root, ax=None, *, title=None, fmt=".4g"):
    """Draw the graph that computed `root`: one box per Value, one circle per operation.

    Each box shows the Value's label (if any), `data` and `grad`; arrows run from the inputs to
    the operation and from the operation to its result. A Value used twice by the same operation
    (as in `a * a`) gets two curved arrows: both paths add to its gradient.

    Args:
        root: the output `Value` (call `root.backward()` first to see gradients).
        ax: a matplotlib Axes to draw into; by default a new figure sized to the graph
            (about 2.2 inches per layer, 0.9 inch per row).
        title: optional title above the graph.
        fmt: format spec for data and grad.

    Returns:
        matplotlib.axes.Axes. The boxes are its `FancyBboxPatch` patches with gid "value",
        the operation circles its `Circle` patches with gid "op".
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

    nodes, pos, routes = layout_graph(root)
    n_cols = 1 + max(c for c, _ in pos.values())
    top_row = max(abs(r) for _, r in [*pos.values(), *(p for route in routes.values() for p in route)])

    def xy(v):  # box centre, in inches
        c, r = pos[id(v)]
        return LAYER_PITCH * c, ROW_PITCH * r

    # Extent: the leftmost box, and the rightmost box; one row is BOX_H tall.
    x0, x1 = -BOX_W / 2 - 0.15, LAYER_PITCH * (n_cols - 1) + BOX_W / 2 + 0.15
    half_h = ROW_PITCH * top_row + BOX_H / 2 + 0.15
    width, height = x1 - x0, 2 * half_h + (0.35 if title else 0.0)

    if ax is None:
        fig = plt.figure(figsize=(width, height))
        ax = fig.add_axes((0, 0, 1, 1))
        scale = 1.0
    else:  # shrink the text to whatever size the caller's axes have
        fig = ax.figure
        bbox = ax.get_position()
        w_in, h_in = bbox.width * fig.get_figwidth(), bbox.height * fig.get_figheight()
        scale = min(1.0, w_in / width, h_in / height)
    fs = FONT * scale

    box_of, op_of = {}, {}
    for v in nodes:
        x, y = xy(v)
        if v is root:
            kind = "root"
        elif v._prev:
            kind = "inner"
        else:
            kind = "leaf" if v.label else "const"
        box = FancyBboxPatch(
            (x - BOX_W / 2, y - BOX_H / 2), BOX_W, BOX_H,
            boxstyle="round,pad=0,rounding_size=0.08", fc=_COLORS[kind], ec="#555555", lw=0.8,
            zorder=3, gid="value",
        )
        ax.add_patch(box)
        box_of[id(v)] = box
        lines = [f"data {v.data:{fmt}}", f"grad {v.grad:{fmt}}"]
        if v.label:
            ax.text(x, y + BOX_H * 0.24, v.label, ha="center", va="center", fontsize=fs * 1.05,
                    fontweight="bold", zorder=4, clip_on=True)
            ax.text(x, y - BOX_H * 0.14, "\n".join(lines), ha="center", va="center",
                    fontsize=fs, family="monospace", zorder=4, linespacing=1.25)
        else:
            ax.text(x, y, "\n".join(lines), ha="center", va="center", fontsize=fs,
                    family="monospace", zorder=4, linespacing=1.25)

        if v._prev:
            ox = x - BOX_W / 2 - OP_GAP - OP_R
            circle = Circle((ox, y), OP_R, fc=_COLORS["op"], ec="#555555", lw=0.8, zorder=3, gid="op")
            ax.add_patch(circle)
            op_of[id(v)] = circle
            label = _op_text(v._op)
            ax.text(ox, y, label, ha="center", va="center", zorder=4,
                    fontsize=fs * (1.3 if len(label) <= 2 else 0.95 if len(label) <= 4 else 0.8))

    arrow = dict(arrowstyle="-|>", mutation_scale=10 * scale, color="#666666", lw=0.9 * scale, zorder=2)
    for v in nodes:
        if not v._prev:
            continue
        ox, oy = xy(v)[0] - BOX_W / 2 - OP_GAP - OP_R, xy(v)[1]
        ax.add_patch(FancyArrowPatch((ox, oy), xy(v), patchA=op_of[id(v)], patchB=box_of[id(v)], **arrow))
        seen = defaultdict(int)
        for c in v._prev:
            k = seen[id(c)]
            seen[id(c)] += 1
            # The same input twice (a * a): bend the two arrows apart so that both are visible.
            repeats = sum(1 for d in v._prev if d is c)
            rad = 0.0 if repeats == 1 else (0.3 if k == 0 else -0.3)
            # Leave from the middle of the box's right side, so that a steep edge runs in the gap
            # between layers instead of through the boxes above or below; an edge that skips
            # layers crosses each of them along its own lane (a waypoint of the layout).
            cx, cy = xy(c)
            points = [(cx + BOX_W / 2, cy)]
            for k, r in routes[(id(c), id(v))]:
                points += [(LAYER_PITCH * k - BOX_W / 2, ROW_PITCH * r), (LAYER_PITCH * k + BOX_W / 2, ROW_PITCH * r)]
            if len(points) > 1:
                ax.plot(*zip(*points), color=arrow["color"], lw=arrow["lw"], zorder=2, solid_joinstyle="round")
            ax.add_patch(FancyArrowPatch(
                points[-1], (ox, oy), patchB=op_of[id(v)],
                connectionstyle=f"arc3,rad={rad}", shrinkA=0, shrinkB=1, **arrow,
            ))

    if title:
        ax.text((x0 + x1) / 2, half_h + 0.1, title, ha="center", va="bottom", fontsize=fs * 1.3)
    ax.set_xlim(x0, x1)
    ax.set_ylim(-half_h, half_h + (0.35 if title else 0.0))
    ax.set_aspect("equal")
    ax.axis("off")
    return ax
