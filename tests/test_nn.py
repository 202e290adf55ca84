"""`backprop_lab.nn` on its own terms: module bookkeeping, gradient accumulation, init, clipping,
dropout masks, the residual highway and a short training run. (Module-vs-torch comparisons of
every layer live in test_torch_ref.py.)"""
import math
from collections import OrderedDict

import numpy as np
import pytest
import torch

from backprop_lab import nn
from backprop_lab.gradcheck import rel_error
from backprop_lab.nn import init

TOL = 1e-10  # same float64 computation on both sides, up to summation order (see test_torch_ref)


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# ---- Module bookkeeping -------------------------------------------------------------------
class TwoLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 5, rng=0)
        self.act = nn.ReLU()
        self.scale = nn.Parameter(np.ones(5))
        self.fc2 = nn.Linear(5, 2, rng=1)
        self.register_buffer("calls", np.array(0))
        self.note = "plain attribute"

    def forward(self, x):
        self.calls += 1
        h = self.act(self.fc1(x))
        self._cache = h
        return self.fc2(h * self.scale.data)

    def backward(self, dout):
        dz = self.fc2.backward(dout)
        self.scale.grad += np.sum(dz * self._cache, axis=0)
        return self.fc1.backward(self.act.backward(dz * self.scale.data))


def test_registration_order_names_and_state_dict():
    m = TwoLayer()
    assert [n for n, _ in m.named_parameters()] == ["scale", "fc1.weight", "fc1.bias",
                                                    "fc2.weight", "fc2.bias"]
    assert list(m.state_dict()) == ["scale", "calls", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert [n for n, _ in m.named_modules()] == ["", "fc1", "act", "fc2"]
    assert [n for n, _ in m.named_children()] == ["fc1", "act", "fc2"]
    assert m.note == "plain attribute" and "note" not in m.state_dict()
    m(randn(3, 4))
    assert int(m.calls) == 1 and int(m.state_dict()["calls"]) == 1  # buffer updated and saved
    # Reassigning a registered parameter with a non-Parameter is an error, as in torch.
    with pytest.raises(TypeError):
        m.scale = np.zeros(5)
    del m.fc2, m.note
    assert "fc2.weight" not in dict(m.named_parameters()) and not hasattr(m, "note")
    with pytest.raises(AttributeError):
        del m.missing


def test_forgetting_super_init_gives_a_clear_error():
    class Bad(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match="super"):
        Bad()


def test_sequential_container_protocol():
    layers = [nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)]
    s = nn.Sequential(*layers)
    assert len(s) == 3 and list(s) == layers and s[0] is layers[0] and s[-1] is layers[2]
    tail = s[1:]
    assert isinstance(tail, nn.Sequential) and [n for n, _ in tail.named_children()] == ["1", "2"]
    s.append(nn.Tanh())
    assert len(s) == 4 and isinstance(s[3], nn.Tanh)
    named = nn.Sequential(OrderedDict(fc=nn.Linear(3, 2), act=nn.ReLU()))
    assert [n for n, _ in named.named_parameters()] == ["fc.weight", "fc.bias"]
    with pytest.raises(IndexError):
        s[10]


def test_train_eval_propagates_and_returns_self():
    m = nn.MLP(4, [5], 2, batchnorm=True, dropout=0.2)
    assert all(mod.training for mod in m.modules())
    assert m.eval() is m and not any(mod.training for mod in m.modules())
    m.train()
    assert all(mod.training for mod in m.modules())


def test_backward_before_forward_raises():
    for m in (nn.Linear(2, 2), nn.ReLU(), nn.Sequential(nn.Tanh()), nn.Residual(nn.Tanh())):
        with pytest.raises(RuntimeError, match="before forward"):
            m.backward(np.ones((1, 2)))


def test_repr_nests_like_torch():
    m = nn.Sequential(nn.Linear(2, 3), nn.Residual(nn.Sequential(nn.Linear(3, 3), nn.ReLU())))
    assert repr(m) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (1): Residual(\n"
        "    (block): Sequential(\n"
        "      (0): Linear(in_features=3, out_features=3, bias=True)\n"
        "      (1): ReLU()\n"
        "    )\n"
        "  )\n"
        ")")


# ---- gradients accumulate -----------------------------------------------------------------
ACCUMULATING = {
    "linear": (lambda: nn.Linear(5, 3, rng=0), (4, 5)),
    "conv": (lambda: nn.Conv2d(2, 3, 3, padding=1, rng=0), (2, 2, 5, 5)),
    "bn2d_train": (lambda: nn.BatchNorm2d(2), (3, 2, 4, 4)),
    "mlp_bn": (lambda: nn.MLP(5, [6, 6], 3, batchnorm=True), (4, 5)),
    "cnn": (lambda: nn.CNN(seed=1), (2, 1, 8, 8)),
    "residual": (lambda: nn.Residual(nn.Sequential(nn.Linear(5, 5, rng=2), nn.Tanh())), (4, 5)),
}


def grads(m):
    return {n: p.grad.copy() for n, p in m.named_parameters()}


@pytest.mark.parametrize("name", list(ACCUMULATING))
def test_backward_accumulates_and_zero_grad_resets(name):
    factory, shape = ACCUMULATING[name]
    x1, x2 = randn(*shape, seed=1), randn(*shape, seed=2)
    m = factory()
    d1 = randn(*m(x1).shape, seed=3)
    dx_first = m.backward(d1)
    g1 = grads(m)
    assert all(np.any(g) for n, g in g1.items() if n.endswith("weight")), "a weight got no gradient"
    # The same backward again (the cache of the last forward is kept): grads double, dx repeats.
    np.testing.assert_array_equal(m.backward(d1), dx_first)
    for n, p in m.named_parameters():
        np.testing.assert_array_equal(p.grad, 2 * g1[n])
    # zero_grad, then two different forward/backward pairs: the sum of each on its own.
    m.zero_grad()
    assert all(not np.any(p.grad) for p in m.parameters())
    fresh = [factory(), factory()]
    singles = []
    for f, x in zip(fresh, (x1, x2)):
        f.backward(randn(*f(x).shape, seed=3))
        singles.append(grads(f))
    m2 = factory()
    for x in (x1, x2):
        m2.backward(randn(*m2(x).shape, seed=3))
    for n, p in m2.named_parameters():
        assert rel_error(p.grad, singles[0][n] + singles[1][n]) <= TOL, n


# ---- dropout ------------------------------------------------------------------------------
def test_dropout_mask_semantics():
    p = 0.3
    drop = nn.Dropout(p, rng=0)
    x = randn(200, 50) + 3.0  # no zeros in x, so zeros in out come from the mask only
    out = drop(x)
    kept = out != 0
    # Inverted dropout: survivors scaled by 1/(1-p), so E[out] = x and eval needs no rescale.
    np.testing.assert_allclose(out[kept], x[kept] / (1 - p), rtol=1e-15)
    n = x.size
    assert abs((~kept).mean() - p) < 4 * math.sqrt(p * (1 - p) / n)
    dout = randn(200, 50, seed=1)
    dx = drop.backward(dout)
    np.testing.assert_allclose(dx, np.where(kept, dout / (1 - p), 0.0), rtol=1e-15)
    # The same mask expressed in torch gives the same gradient.
    xt = torch.tensor(x, requires_grad=True)
    (xt * torch.from_numpy(kept) / (1 - p)).backward(torch.from_numpy(dout))
    assert rel_error(dx, xt.grad.numpy()) <= TOL
    # Own generator: same seed, same masks; eval mode is the identity.
    np.testing.assert_array_equal(nn.Dropout(p, rng=0)(x), out)
    assert not np.array_equal(drop(x), out)
    drop.eval()
    np.testing.assert_array_equal(drop(x), x)
    np.testing.assert_array_equal(drop.backward(dout), dout)


# ---- residual -----------------------------------------------------------------------------
def test_residual_is_a_gradient_highway():
    block = nn.Sequential(nn.Linear(4, 4, rng=0), nn.Tanh())
    res = nn.Residual(block)
    x, d = randn(3, 4), randn(3, 4, seed=1)
    out = res(x)
    np.testing.assert_allclose(out, x + block(x))
    block(x)
    d_block = block.backward(d)
    res(x)
    np.testing.assert_allclose(res.backward(d), d + d_block)
    # With W = 0 the block passes no gradient back (F is a constant), yet dx = dout: the
    # identity path alone carries the gradient, whatever the block does.
    init.zeros_(block[0].weight)
    res(x)
    np.testing.assert_array_equal(res.backward(d), d)
    with pytest.raises(ValueError, match="shape"):
        nn.Residual(nn.Linear(4, 2))(x)


# ---- init ---------------------------------------------------------------------------------
NONLINEARITIES = [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None),
                  ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2), ("selu", None)]


@pytest.mark.parametrize("nl,param", NONLINEARITIES)
def test_calculate_gain_matches_torch(nl, param):
    assert init.calculate_gain(nl, param) == torch.nn.init.calculate_gain(nl, param)


@pytest.mark.parametrize("shape", [(3, 5), (7, 2), (4, 3, 3, 3), (8, 1, 5, 5), (2, 3, 4, 5, 6)])
def test_fan_in_fan_out_match_torch(shape):
    assert init.calculate_fan_in_and_fan_out(np.empty(shape)) == \
        torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    with pytest.raises(ValueError):
        init.calculate_fan_in_and_fan_out(np.empty(3))


def _scale_of(values, unit):
    """Least-squares s with values = s * unit (exact up to rounding when they share a draw)."""
    return float(np.sum(values * unit) / np.sum(unit * unit))


INITS = [  # (name, our call, torch call, uniform?)
    ("xavier_uniform", lambda a, r: init.xavier_uniform_(a, rng=r),
     lambda t, g: torch.nn.init.xavier_uniform_(t, generator=g), True),
    ("xavier_uniform_gain", lambda a, r: init.xavier_uniform_(a, gain=init.calculate_gain("tanh"), rng=r),
     lambda t, g: torch.nn.init.xavier_uniform_(t, gain=5 / 3, generator=g), True),
    ("xavier_normal", lambda a, r: init.xavier_normal_(a, gain=2.0, rng=r),
     lambda t, g: torch.nn.init.xavier_normal_(t, gain=2.0, generator=g), False),
    ("kaiming_uniform", lambda a, r: init.kaiming_uniform_(a, rng=r),
     lambda t, g: torch.nn.init.kaiming_uniform_(t, generator=g), True),
    ("kaiming_uniform_torch_default", lambda a, r: init.kaiming_uniform_(a, a=math.sqrt(5), rng=r),
     lambda t, g: torch.nn.init.kaiming_uniform_(t, a=math.sqrt(5), generator=g), True),
    ("kaiming_normal_relu_fan_out",
     lambda a, r: init.kaiming_normal_(a, mode="fan_out", nonlinearity="relu", rng=r),
     lambda t, g: torch.nn.init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu", generator=g), False),
    ("kaiming_normal_tanh", lambda a, r: init.kaiming_normal_(a, nonlinearity="tanh", rng=r),
     lambda t, g: torch.nn.init.kaiming_normal_(t, nonlinearity="tanh", generator=g), False),
]


@pytest.mark.parametrize("name,ours,theirs,uniform", INITS, ids=[c[0] for c in INITS])
@pytest.mark.parametrize("shape", [(300, 200), (32, 16, 3, 3)])
def test_init_scale_matches_torch_exactly_and_statistically(name, ours, theirs, uniform, shape):
    # Both libraries draw U(-b, b) as -b + 2b*u (and N(0, s) as s*z): dividing the init by the
    # same generator's U(-1, 1) (or N(0, 1)) draw recovers each side's b (or s) to ~1e-16.
    arr = np.empty(shape)
    assert ours(arr, np.random.default_rng(7)) is arr  # in place, returns its argument
    unit_rng = np.random.default_rng(7)
    unit = unit_rng.uniform(-1, 1, shape) if uniform else unit_rng.standard_normal(shape)
    our_scale = _scale_of(arr, unit)
    t = torch.empty(shape, dtype=torch.float64)
    theirs(t, torch.Generator().manual_seed(7))
    t_unit = torch.empty(shape, dtype=torch.float64)
    if uniform:
        t_unit.uniform_(-1, 1, generator=torch.Generator().manual_seed(7))
    else:
        t_unit.normal_(0, 1, generator=torch.Generator().manual_seed(7))
    torch_scale = _scale_of(t.numpy(), t_unit.numpy())
    assert abs(our_scale / torch_scale - 1) < 1e-12
    # And the samples really have that distribution: |w| <= b, std = b / sqrt(3) (or s).
    std = our_scale / math.sqrt(3) if uniform else our_scale
    assert abs(arr.std() / std - 1) < 0.03 and abs(arr.mean()) < 0.03 * std
    if uniform:
        assert np.abs(arr).max() <= our_scale and np.abs(arr).max() > 0.99 * our_scale


def test_init_formulas_by_hand():
    w = np.empty((400, 100))  # fan_in 100, fan_out 400
    init.kaiming_normal_(w, nonlinearity="relu", rng=0)
    assert abs(w.std() / math.sqrt(2 / 100) - 1) < 0.02  # He: Var = 2 / fan_in
    init.xavier_uniform_(w, rng=0)
    assert abs(w.var() / (2 / 500) - 1) < 0.03  # Glorot: Var = 2 / (fan_in + fan_out)
    p = nn.Parameter(np.empty((3, 4)))
    assert init.ones_(p) is p and np.all(p.data == 1)
    assert np.all(init.zeros_(np.empty(3)) == 0) and np.all(init.constant_(np.empty(2), 0.5) == 0.5)
    u = init.uniform_(np.empty(1000), -2, 3, rng=0)
    assert u.min() >= -2 and u.max() < 3
    nrm = init.normal_(np.empty(20000), mean=1.0, std=0.5, rng=0)
    assert abs(nrm.mean() - 1) < 0.02 and abs(nrm.std() - 0.5) < 0.02
    # Seeded: same seed, same values.
    np.testing.assert_array_equal(init.normal_(np.empty(5), rng=3), init.normal_(np.empty(5), rng=3))


@pytest.mark.parametrize("layer", [nn.Linear(50, 400, rng=0), nn.Conv2d(6, 64, 3, rng=0)])
def test_default_layer_init_is_torchs(layer):
    fan_in = int(np.prod(layer.weight.shape[1:]))
    bound = 1 / math.sqrt(fan_in)  # kaiming_uniform_(a=sqrt(5)) simplifies to this
    for p in (layer.weight.data, layer.bias.data):
        assert np.abs(p).max() <= bound and np.abs(p).max() > 0.9 * bound
    assert abs(layer.weight.data.std() / (bound / math.sqrt(3)) - 1) < 0.05
    assert layer.weight.dtype == np.float64
    assert nn.Linear(2, 2, dtype=np.float32).weight.dtype == np.float32


# ---- clipping -----------------------------------------------------------------------------
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf, "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    shapes = [(4, 3), (3,), (2, 2, 3, 3)]
    values = [randn(*s, seed=i) for i, s in enumerate(shapes)]
    ours = [nn.Parameter(np.zeros(s)) for s in shapes]
    theirs = [torch.zeros(s, dtype=torch.float64, requires_grad=True) for s in shapes]
    for p, t, v in zip(ours, theirs, values):
        p.grad += v
        t.grad = torch.from_numpy(v.copy())
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    t_total = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert isinstance(total, float) and abs(total / float(t_total) - 1) < 1e-13
    for p, t in zip(ours, theirs):
        assert rel_error(p.grad, t.grad.numpy()) <= 1e-13
    new_norm = nn.utils.clip_grad_norm_(ours, math.inf if max_norm > 1 else max_norm, norm_type)
    assert new_norm <= max_norm + 1e-9


def test_clip_grad_value_matches_torch():
    v = randn(5, 5)
    p = nn.Parameter(np.zeros((5, 5)))
    p.grad += v
    t = torch.zeros((5, 5), dtype=torch.float64, requires_grad=True)
    t.grad = torch.from_numpy(v.copy())
    nn.utils.clip_grad_value_([p], 0.7)
    torch.nn.utils.clip_grad_value_([t], 0.7)
    np.testing.assert_array_equal(p.grad, t.grad.numpy())
    assert nn.utils.clip_grad_norm_(nn.Parameter(np.zeros(2)), 1.0) == 0.0  # a single Parameter


# ---- models -------------------------------------------------------------------------------
def test_mlp_layout_seeds_and_init():
    m = nn.MLP(64, [128, 64], 10, batchnorm=True, dropout=0.1, activation="tanh")
    kinds = [type(mod).__name__ for mod in m]
    assert kinds == ["Linear", "BatchNorm1d", "Tanh", "Dropout", "Linear", "BatchNorm1d", "Tanh",
                     "Dropout", "Linear"]
    assert m(randn(5, 64)).shape == (5, 10)
    same, other = nn.MLP(64, [128, 64], 10, seed=0), nn.MLP(64, [128, 64], 10, seed=1)
    base = nn.MLP(64, [128, 64], 10)
    np.testing.assert_array_equal(base[0].weight.data, same[0].weight.data)
    assert not np.array_equal(base[0].weight.data, other[0].weight.data)
    # kaiming (default): He normal with the ReLU gain, zero biases.
    big = nn.MLP(400, [300], 10)
    assert abs(big[0].weight.data.std() / math.sqrt(2 / 400) - 1) < 0.03
    assert not np.any(big[0].bias.data)
    xav = nn.MLP(400, [300], 10, init="xavier", activation="tanh")
    assert abs(xav[0].weight.data.std() / (5 / 3 * math.sqrt(2 / 700)) - 1) < 0.03
    tor = nn.MLP(400, [300], 10, init="torch")
    assert np.abs(tor[0].weight.data).max() <= 1 / 20 and np.any(tor[0].bias.data)
    assert len(nn.MLP(3, [], 2)) == 1  # no hidden layer: logistic regression
    with pytest.raises(ValueError):
        nn.MLP(3, [4], 2, activation="gelu")
    with pytest.raises(ValueError):
        nn.MLP(3, [4], 2, init="orthogonal")


@pytest.mark.parametrize("size,channels,features", [(8, (8, 16), 16 * 2 * 2), (28, (8, 16), 16 * 7 * 7),
                                                    (10, (4, 6), 6 * 2 * 2)])
def test_cnn_shapes(size, channels, features):
    m = nn.CNN(image_size=size, channels=channels)
    assert m[-1].in_features == features
    assert m(randn(2, 1, size, size)).shape == (2, 10)
    with pytest.raises(ValueError):
        nn.CNN(image_size=3)


def test_cnn_learns_a_batch_of_digits():
    data = pytest.importorskip("backprop_lab.data")
    F = pytest.importorskip("backprop_lab.functional")
    if not hasattr(data, "load_digits") or not hasattr(F, "softmax_cross_entropy"):
        pytest.skip("backprop_lab.data.load_digits or functional.softmax_cross_entropy missing")
    X, y = data.load_digits()
    X, y = X[:128], y[:128]
    model = nn.CNN(seed=0)
    losses = []
    for _ in range(40):
        loss, dscores = F.softmax_cross_entropy(model(X), y)
        losses.append(float(loss))
        model.zero_grad()
        model.backward(dscores)
        for p in model.parameters():
            p.data -= 0.1 * p.grad
    assert losses[0] > 2.0  # about log(10) at the start
    assert losses[-1] < 0.5 * losses[0], losses
    accuracy = np.mean(model(X).argmax(axis=1) == y)
    assert accuracy > 0.8
