"""Tests for the scalar autograd `backprop_lab.scalar.Value`: each op, and random graphs, against torch float64."""
import math

import matplotlib

matplotlib.use("Agg")  # headless: draw_graph must work without a display

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from backprop_lab.gradcheck import rel_error
from backprop_lab.scalar import Value, draw_graph


def leaf_t(x):
    return torch.tensor(float(x), dtype=torch.float64, requires_grad=True)


def assert_normwise_close(actual, expected, tol=1e-10):
    """Normwise relative error (the project's `rel_error`): the same float64 operations in the
    same order agree to ~1e-15, so 1e-10 is generous and still catches any wrong rule."""
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    assert np.all(np.isfinite(actual)), actual
    err = rel_error(actual, expected)
    assert err < tol, f"normwise error {err:.3g}\nactual   {actual}\nexpected {expected}"


# --- the chain rule example of notebook 01 -----------------------------------------------

def test_classic_loss_and_gradients():
    w, x = Value(2.0, label="w"), Value(3.0, label="x")
    loss = (w * x - 10) ** 2
    loss.backward()
    assert loss.data == 16.0
    assert w.grad == -24.0  # 2(wx - 10) x
    assert x.grad == -16.0  # 2(wx - 10) w
    assert repr(loss) == "Value(data=16.0, grad=1.0)"


@settings(max_examples=50, deadline=None)
@given(st.floats(-100, 100), st.floats(-100, 100))
def test_classic_loss_gradient_formula(w0, x0):
    w, x = Value(w0), Value(x0)
    loss = (w * x - 10) ** 2
    loss.backward()
    assert math.isclose(w.grad, 2 * (w0 * x0 - 10) * x0, rel_tol=1e-12, abs_tol=1e-9)
    assert math.isclose(x.grad, 2 * (w0 * x0 - 10) * w0, rel_tol=1e-12, abs_tol=1e-9)


def test_repr_shows_data_and_grad():
    v = Value(16.0)
    v.grad = -24.0
    assert repr(v) == "Value(data=16.0, grad=-24.0)"


# --- every op against torch (one registry drives the test) --------------------------------

def any_real(rng):
    return rng.uniform(-2.0, 2.0)


def positive(rng):
    return rng.uniform(0.3, 3.0)


def away_from_zero(rng):
    return rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 2.0)


# name -> (f(a, b) written once for both Value and torch.Tensor, domain of a, domain of b)
OPS = {
    "add": (lambda a, b: a + b, any_real, any_real),
    "radd": (lambda a, b: 1.5 + a, any_real, any_real),
    "sub": (lambda a, b: a - b, any_real, any_real),
    "rsub": (lambda a, b: 2.0 - a, any_real, any_real),
    "mul": (lambda a, b: a * b, any_real, any_real),
    "rmul": (lambda a, b: -3.0 * a, any_real, any_real),
    "div": (lambda a, b: a / b, any_real, away_from_zero),
    "rtruediv": (lambda a, b: 2.0 / a, away_from_zero, any_real),
    "neg": (lambda a, b: -a, any_real, any_real),
    "pow2": (lambda a, b: a**2, any_real, any_real),
    "pow3": (lambda a, b: a**3, any_real, any_real),
    "pow-1": (lambda a, b: a**-1, away_from_zero, any_real),
    "pow0.5": (lambda a, b: a**0.5, positive, any_real),
    "pow-1.5": (lambda a, b: a**-1.5, positive, any_real),
    "rpow": (lambda a, b: 2.0**a, any_real, any_real),
    "exp": (lambda a, b: a.exp(), any_real, any_real),
    "log": (lambda a, b: a.log(), positive, any_real),
    "tanh": (lambda a, b: a.tanh(), any_real, any_real),
    "sigmoid": (lambda a, b: a.sigmoid(), any_real, any_real),
    "relu": (lambda a, b: a.relu(), any_real, any_real),
}


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("name", OPS)
def test_op_matches_torch(name, seed):
    f, dom_a, dom_b = OPS[name]
    rng = np.random.default_rng(seed)
    a0, b0 = dom_a(rng), dom_b(rng)

    def loss(a, b):
        out = f(a, b)
        return out * a + out + b  # `out` and `a` are used twice: gradients must add up

    a, b = Value(a0), Value(b0)
    ours = loss(a, b)
    ours.backward()
    at, bt = leaf_t(a0), leaf_t(b0)
    ref = loss(at, bt)
    ref.backward()
    assert_normwise_close([ours.data, a.grad, b.grad], [ref.item(), at.grad.item(), bt.grad.item()])


def test_fan_out_a_times_a_plus_a():
    a = Value(1.5)
    f = a * a + a
    f.backward()
    assert f.data == 3.75
    assert a.grad == 2 * 1.5 + 1  # both paths through `*` and the direct path, summed


def test_relu_derivative_at_zero_is_zero_like_torch():
    a = Value(0.0)
    a.relu().backward()
    at = leaf_t(0.0)
    at.relu().backward()
    assert a.grad == at.grad.item() == 0.0


@pytest.mark.parametrize("x", [800.0, -800.0, 40.0, -40.0])
def test_sigmoid_is_stable_for_large_inputs(x):
    a = Value(x)
    s = a.sigmoid()
    s.backward()
    at = leaf_t(x)
    ts = at.sigmoid()
    ts.backward()
    assert math.isfinite(s.data) and math.isfinite(a.grad)
    assert s.data == pytest.approx(ts.item(), rel=1e-15, abs=1e-300)
    assert a.grad == pytest.approx(at.grad.item(), rel=1e-12, abs=1e-300)


def test_exp_overflow_gives_inf_and_underflow_zero():
    assert Value(800.0).exp().data == math.inf
    assert Value(-800.0).exp().data == 0.0


def test_numbers_on_either_side_including_numpy_scalars():
    a = Value(3.0)
    for out, expected in [(a + 1, 4.0), (1 + a, 4.0), (a - 1, 2.0), (1 - a, -2.0), (a * 2, 6.0),
                          (2 * a, 6.0), (a / 2, 1.5), (6 / a, 2.0), (a**2, 9.0), (2**a, 8.0),
                          (-a, -3.0), (np.float64(2.0) * a, 6.0), (np.float64(1.0) - a, -2.0)]:
        assert isinstance(out, Value)
        assert out.data == expected
    # numpy arrays of numbers broadcast elementwise into object arrays of Values
    arr = np.array([1.0, 2.0]) * a
    assert arr.dtype == object and [v.data for v in arr] == [3.0, 6.0]


def test_invalid_operations_raise_clear_errors():
    a = Value(-2.0)
    with pytest.raises(TypeError, match="constant"):
        a ** Value(2.0)
    with pytest.raises(ValueError, match="fractional power"):
        a**0.5
    with pytest.raises(ValueError, match="log"):
        a.log()
    with pytest.raises(TypeError):
        a + "1"


# --- random expression graphs -------------------------------------------------------------

UNARY = ["neg", "exp", "log", "tanh", "sigmoid", "relu", "pow", "rpow"]
BINARY = ["add", "sub", "mul", "div", "radd", "rsub", "rmul", "rdiv"]


def apply(op, a, b, c):
    """One step of a random program; `c` is a constant. Written once for Value and torch.Tensor.

    Restricted ops get their domain from differentiable wrappers (log(a*a + 0.5), positive bases
    for fractional powers, denominators b*b + 0.5), so every graph is smooth and finite.
    """
    if op == "neg":
        return -a
    if op == "exp":
        return a.exp()
    if op == "log":
        return (a * a + 0.5).log()
    if op in ("tanh", "sigmoid", "relu"):
        return getattr(a, op)()
    if op == "pow":
        return (a * a + 0.5) ** c if c != int(c) or c < 0 else a**c
    if op == "rpow":
        return 1.5**a
    if op == "add":
        return a + b
    if op == "sub":
        return a - b
    if op == "mul":
        return a * b
    if op == "div":
        return a / (b * b + 0.5)
    if op == "radd":
        return c + a
    if op == "rsub":
        return c - a
    if op == "rmul":
        return c * a
    if op == "rdiv":
        return c / (a * a + 0.5)
    raise AssertionError(op)


def random_program(seed, n_leaves=4, n_steps=16):
    """Build a random graph with Values, recording each step so that torch can replay it.

    Operands are drawn with replacement from every node so far, so fan-out (`a * a`, a node used
    by several later ones) happens all the time. A step whose result exceeds 1e3 is dropped.
    """
    rng = np.random.default_rng(seed)
    leaves = list(rng.uniform(-2.0, 2.0, n_leaves))
    pool = [Value(x) for x in leaves]
    steps = []
    while len(steps) < n_steps:
        op = str(rng.choice(UNARY + BINARY))
        i, j = (int(k) for k in rng.integers(len(pool), size=2))
        c = float(rng.choice([-1.5, -1.0, -0.5, 0.5, 2.0, 3.0])) if op == "pow" else float(rng.uniform(-2, 2))
        out = apply(op, pool[i], pool[j], c)
        if abs(out.data) < 1e3:
            pool.append(out)
            steps.append((op, i, j, c))
    return leaves, steps, pool


@pytest.mark.parametrize("seed", range(25))
def test_random_expression_graph_matches_torch(seed):
    leaves, steps, pool = random_program(seed)
    loss = pool[0]
    for v in pool[1:]:
        loss = loss + v  # every node feeds the loss: more fan-out
    loss.backward()

    tpool = [leaf_t(x) for x in leaves]
    for op, i, j, c in steps:
        t = apply(op, tpool[i], tpool[j], c)
        t.retain_grad()
        tpool.append(t)
    tloss = tpool[0]
    for t in tpool[1:]:
        tloss = tloss + t
    tloss.backward()

    assert_normwise_close([v.data for v in pool], [t.item() for t in tpool])
    # every node's gradient, leaves and intermediates alike
    assert_normwise_close([v.grad for v in pool], [t.grad.item() for t in tpool])


# --- a 2-2-1 tanh network ------------------------------------------------------------------

def mlp_221_loss(params, samples):
    """Mean squared error of a 2-2-1 tanh network; works for Value and for torch tensors."""
    w1, b1, w2, b2 = params  # w1: 2x2 (out, in) like nn.Linear.weight, b1: 2, w2: 1x2, b2: 1
    total = 0.0
    for (x1, x2), target in samples:
        h = [(w1[k][0] * x1 + w1[k][1] * x2 + b1[k]).tanh() for k in range(2)]
        out = (w2[0][0] * h[0] + w2[0][1] * h[1] + b2[0]).tanh()
        total = total + (out - target) ** 2
    return total / len(samples)


def test_221_tanh_network_gradients_match_torch():
    rng = np.random.default_rng(0)
    shapes = [(2, 2), (2,), (1, 2), (1,)]
    init = [rng.normal(size=s) for s in shapes]
    xor = [((0.0, 0.0), -1.0), ((0.0, 1.0), 1.0), ((1.0, 0.0), 1.0), ((1.0, 1.0), -1.0)]

    def nest(arr, make):
        return [nest(row, make) for row in arr] if np.ndim(arr) else make(arr)

    ours = [nest(a, Value) for a in init]
    loss = mlp_221_loss(ours, xor)
    loss.backward()
    theirs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in init]
    tloss = mlp_221_loss(theirs, xor)
    tloss.backward()

    assert loss.data == pytest.approx(tloss.item(), rel=1e-13)
    for p, t in zip(ours, theirs):
        assert_normwise_close(np.vectorize(lambda v: v.grad)(np.array(p, dtype=object)), t.grad.numpy())


# --- the backward pass itself --------------------------------------------------------------

def test_topological_order_lists_each_node_once_children_first():
    _, _, pool = random_program(7)
    root = pool[-1] + pool[-2] * pool[0]
    order = root.topological_order()
    assert order[-1] is root
    assert len({id(v) for v in order}) == len(order)
    position = {id(v): k for k, v in enumerate(order)}
    for v in order:
        for child in v._prev:
            assert position[id(child)] < position[id(v)]


def test_long_chain_needs_no_recursion():
    x = Value(0.5)
    y = x
    for _ in range(5_000):  # far beyond Python's default recursion limit of 1000
        y = y + 0.0001
    y.backward()
    assert x.grad == 1.0


def test_backward_twice_accumulates_leaf_grads_like_torch():
    a, b = Value(1.2), Value(-0.7)
    out = (a * b).tanh() * a
    out.backward()
    out.backward()
    at, bt = leaf_t(1.2), leaf_t(-0.7)
    tout = (at * bt).tanh() * at
    tout.backward(retain_graph=True)
    tout.backward()
    assert_normwise_close([a.grad, b.grad], [at.grad.item(), bt.grad.item()])


def test_zero_grad_clears_the_whole_graph():
    a = Value(2.0)
    out = a * a + a.exp()
    out.backward()
    out.zero_grad()
    assert all(v.grad == 0.0 for v in out.topological_order())


# --- drawing -------------------------------------------------------------------------------

def test_draw_graph_one_box_per_value_one_circle_per_op():
    a = Value(1.5, label="a")
    b = Value(-0.5, label="b")
    f = (a * a + a * b).tanh() - b / 2
    f.label = "f"
    f.backward()
    ax = draw_graph(f, title="fan-out")
    try:
        nodes = f.topological_order()
        boxes = [p for p in ax.patches if p.get_gid() == "value"]
        circles = [p for p in ax.patches if p.get_gid() == "op"]
        assert len(boxes) == len(nodes)
        assert len(circles) == sum(1 for v in nodes if v._prev)
        texts = " ".join(t.get_text() for t in ax.texts)
        assert "a" in texts and "f" in texts and "grad" in texts and "tanh" in texts
        ax.figure.canvas.draw()  # renders without error
    finally:
        plt.close(ax.figure)


def test_draw_graph_into_given_axes_and_single_node():
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    try:
        w, x = Value(2.0, label="w"), Value(3.0, label="x")
        loss = (w * x - 10) ** 2
        loss.backward()
        assert draw_graph(loss, ax=axes[0]) is axes[0]
        assert len([p for p in axes[0].patches if p.get_gid() == "value"]) == 6  # w, x, w*x, 10, w*x-10, loss
        assert draw_graph(Value(1.0, label="alone"), ax=axes[1]) is axes[1]
        fig.canvas.draw()
    finally:
        plt.close(fig)
