"""Every `backprop_lab.nn` module against its torch twin (`torch_ref.to_torch`), in float64.

One registry of cases drives every test: output, input gradient, parameter gradients and
buffers (`compare_module`), state_dict keys and order, repr, and the weight round trip.
"""
import inspect
from collections import OrderedDict

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from backprop_lab import nn, torch_ref
from backprop_lab.gradcheck import rel_error
from backprop_lab.torch_ref import compare_module, copy_weights, to_numpy, to_tensor, to_torch

# Both sides evaluate the same float64 expression and differ only in the order of summation
# (BLAS blocking, im2col vs torch's convolution, reduction trees): a few ulps times the length
# of the sums, 1e-16..1e-14 normwise here. 1e-10 leaves a wide margin, while a real bug (a
# wrong or missing term) shows up at 1e-3 or more.
TOL = 1e-10
# torch added BatchNorm's `bias=` keyword (and its repr) in a recent version; we print it.
BN_REPR_HAS_BIAS = "bias" in inspect.signature(torch.nn.BatchNorm1d).parameters
WORST = {}  # case -> largest rel. error seen, printed at the end of the session (-s)


def record(name, report):
    WORST[name] = max(WORST.get(name, 0.0), report.max_rel_error)


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def with_random_bn(m, seed=1):
    """Give every batchnorm non-trivial gamma, beta and running stats (defaults hide bugs)."""
    rng = np.random.default_rng(seed)
    for mod in m.modules():
        if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
            c = mod.num_features
            if mod.affine:
                mod.weight.data[...] = rng.uniform(0.5, 1.5, c)
                mod.bias.data[...] = rng.standard_normal(c)
            if mod.track_running_stats:
                mod.running_mean[...] = rng.standard_normal(c)
                mod.running_var[...] = rng.uniform(0.5, 2.0, c)
                mod.num_batches_tracked[...] = 3
    return m


def conv_block(c):
    return nn.Sequential(nn.Conv2d(c, c, 3, padding=1, rng=5), nn.BatchNorm2d(c), nn.ReLU())


# name -> (factory, input shape). Inputs are standard normal unless the name says otherwise.
CASES = {
    "linear": (lambda: nn.Linear(5, 3, rng=0), (4, 5)),
    "linear_nobias": (lambda: nn.Linear(5, 3, bias=False, rng=0), (4, 5)),
    "conv": (lambda: nn.Conv2d(2, 3, 3, rng=0), (2, 2, 6, 6)),
    "conv_s2_p1": (lambda: nn.Conv2d(2, 4, 3, stride=2, padding=1, rng=0), (3, 2, 7, 7)),
    "conv_rect_kernel": (lambda: nn.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=(1, 0), rng=0),
                         (2, 2, 7, 6)),
    "conv_nobias_k1": (lambda: nn.Conv2d(3, 2, 1, bias=False, rng=0), (2, 3, 4, 4)),
    "maxpool": (lambda: nn.MaxPool2d(2), (2, 3, 6, 6)),
    "maxpool_k3_s2": (lambda: nn.MaxPool2d(3, stride=2), (2, 2, 7, 7)),
    "maxpool_rect": (lambda: nn.MaxPool2d((2, 3), stride=(2, 1)), (2, 2, 6, 7)),
    "maxpool_ties": (lambda: nn.MaxPool2d(2), (2, 2, 6, 6)),
    "avgpool": (lambda: nn.AvgPool2d(2), (2, 3, 6, 6)),
    "avgpool_k3_s1": (lambda: nn.AvgPool2d(3, stride=1), (2, 2, 5, 5)),
    "relu": (lambda: nn.ReLU(), (4, 6)),
    "leaky_relu": (lambda: nn.LeakyReLU(), (4, 6)),
    "leaky_relu_0.2": (lambda: nn.LeakyReLU(0.2), (2, 3, 4, 4)),
    "sigmoid": (lambda: nn.Sigmoid(), (4, 6)),
    "tanh": (lambda: nn.Tanh(), (4, 6)),
    "dropout_p0_train": (lambda: nn.Dropout(0.0, rng=0), (4, 6)),
    "dropout_eval": (lambda: nn.Dropout(0.5, rng=0).eval(), (4, 6)),
    "flatten": (lambda: nn.Flatten(), (2, 3, 4, 4)),
    "bn1d_train": (lambda: with_random_bn(nn.BatchNorm1d(5)), (8, 5)),
    "bn1d_eval": (lambda: with_random_bn(nn.BatchNorm1d(5)).eval(), (8, 5)),
    "bn1d_momentum_none": (lambda: with_random_bn(nn.BatchNorm1d(5, momentum=None)), (8, 5)),
    "bn1d_no_affine": (lambda: with_random_bn(nn.BatchNorm1d(5, affine=False, eps=1e-3)), (8, 5)),
    "bn1d_no_running_stats_eval": (
        lambda: with_random_bn(nn.BatchNorm1d(5, track_running_stats=False)).eval(), (8, 5)),
    "bn2d_train": (lambda: with_random_bn(nn.BatchNorm2d(3, momentum=0.3)), (4, 3, 5, 5)),
    "bn2d_eval": (lambda: with_random_bn(nn.BatchNorm2d(3)).eval(), (4, 3, 5, 5)),
    "sequential": (lambda: nn.Sequential(nn.Linear(6, 8, rng=1), nn.ReLU(), nn.Linear(8, 3, rng=2)),
                   (5, 6)),
    "sequential_named": (lambda: nn.Sequential(OrderedDict(
        fc=nn.Linear(6, 4, rng=1), act=nn.Tanh(), out=nn.Linear(4, 2, rng=2))), (5, 6)),
    "residual": (lambda: nn.Residual(nn.Sequential(nn.Linear(6, 6, rng=3), nn.Tanh(),
                                                    nn.Linear(6, 6, rng=4))), (5, 6)),
    "residual_conv_bn": (lambda: with_random_bn(nn.Residual(conv_block(3))), (2, 3, 5, 5)),
    "residual_nested": (lambda: nn.Sequential(
        nn.Linear(4, 6, rng=1), nn.Residual(nn.Sequential(nn.Linear(6, 6, rng=2), nn.ReLU())),
        nn.Residual(nn.Residual(nn.Sequential(nn.Linear(6, 6, rng=3), nn.Sigmoid()))),
        nn.Linear(6, 2, rng=4)), (5, 4)),
    "mlp": (lambda: nn.MLP(8, [16, 12], 4, seed=0), (6, 8)),
    "mlp_bn_train": (lambda: with_random_bn(nn.MLP(8, [16, 12], 4, batchnorm=True, activation="tanh",
                                                   init="xavier", seed=1)), (6, 8)),
    "mlp_bn_dropout_eval": (lambda: with_random_bn(nn.MLP(8, [10], 3, batchnorm=True, dropout=0.3,
                                                          activation="leaky_relu")).eval(), (6, 8)),
    "mlp_sigmoid_torch_init": (lambda: nn.MLP(8, [10, 10], 3, activation="sigmoid", init="torch"),
                               (6, 8)),
    "cnn8": (lambda: nn.CNN(seed=0), (3, 1, 8, 8)),
    "cnn28": (lambda: nn.CNN(image_size=28, channels=(4, 6), seed=1), (2, 1, 28, 28)),
    "cnn_rgb_odd": (lambda: nn.CNN(in_channels=3, image_size=10, num_classes=5, channels=(3, 4)),
                    (2, 3, 10, 10)),
}


def make(name):
    factory, shape = CASES[name]
    if name.endswith("_ties"):  # small integers: many exact ties inside pooling windows
        x = np.random.default_rng(0).integers(0, 3, shape).astype(np.float64)
    else:
        x = randn(*shape)
    return factory(), x


@pytest.mark.parametrize("name", list(CASES))
def test_forward_backward_buffers_match_torch(name):
    module, x = make(name)
    report = compare_module(module, x, tol=TOL)
    record(name, report)
    assert report.passed, f"{name}:\n{report}"
    # Every parameter gradient and every buffer was compared.
    expected = {"out", "dx"} | {f"{n}.grad" for n, _ in module.named_parameters()}
    assert set(report) == expected | {n for n, _ in module.named_buffers()}


@pytest.mark.parametrize("name", list(CASES))
def test_names_order_and_repr_match_torch(name):
    module, _ = make(name)
    twin = to_torch(module)
    assert list(module.state_dict()) == list(twin.state_dict())
    assert [n for n, _ in module.named_parameters()] == [n for n, _ in twin.named_parameters()]
    assert [n for n, _ in module.named_buffers()] == [n for n, _ in twin.named_buffers()]
    assert [n for n, _ in module.named_modules()] == [n for n, _ in twin.named_modules()]
    assert [m.training for m in module.modules()] == [m.training for m in twin.modules()]
    ours = repr(module)
    if isinstance(module, (nn.MLP, nn.CNN)):  # their twin is a plain torch Sequential
        ours = ours.replace(type(module).__name__, "Sequential", 1)
    if not BN_REPR_HAS_BIAS:
        ours = ours.replace(", bias=True, track_running_stats", ", track_running_stats")
    assert ours == repr(twin)


WITH_STATE = [n for n in CASES if n.startswith(("linear", "conv", "bn", "mlp", "cnn", "res"))]


@pytest.mark.parametrize("name", WITH_STATE)
def test_state_dict_round_trip_numpy_torch_numpy(name):
    module, _ = make(name)
    twin = to_torch(module)
    with torch.no_grad():  # change the twin, so that values really travel back
        for t in twin.state_dict().values():
            t.add_(1)
    fresh, _ = make(name)
    copy_weights(twin, fresh)
    ours, theirs = fresh.state_dict(), twin.state_dict()
    assert list(ours) == list(theirs)
    for k in ours:
        assert ours[k].dtype == to_numpy(theirs[k]).dtype, k
        np.testing.assert_array_equal(ours[k], to_numpy(theirs[k]), err_msg=k)
    # ...and numpy -> torch again gives back exactly the same tensors.
    again = copy_weights(fresh, to_torch(fresh))
    for k, v in again.state_dict().items():
        assert torch.equal(v, theirs[k]), k


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 3), c=st.integers(1, 3), f=st.integers(1, 4), h=st.integers(3, 9),
       w=st.integers(3, 9), k=st.integers(1, 3), stride=st.integers(1, 3), padding=st.integers(0, 2),
       bias=st.booleans(), pool=st.sampled_from([None, nn.MaxPool2d, nn.AvgPool2d]))
def test_random_conv_stacks_match_torch(n, c, f, h, w, k, stride, padding, bias, pool):
    layers = [nn.Conv2d(c, f, k, stride=stride, padding=padding, bias=bias, rng=0), nn.ReLU()]
    ho, wo = (h + 2 * padding - k) // stride + 1, (w + 2 * padding - k) // stride + 1
    if pool is not None and min(ho, wo) >= 2:
        layers.append(pool(2))
    layers += [nn.Flatten()]
    model = nn.Sequential(*layers)
    report = compare_module(model, randn(n, c, h, w), tol=TOL)
    record("random conv stacks", report)
    assert report.passed, str(report)


# N >= 3 and widths >= 2: a train-mode batchnorm over N = 2 maps each feature to about +-1, so
# its dx is a near-total cancellation (~eps/var of its terms), and a width-1 layer before it is
# scale-invariant (its weight gradient is exactly 0). There both sides round to different
# near-zero numbers (1e-11..1e-9 apart, relatively) without either being wrong.
@settings(max_examples=25, deadline=None)
@given(n=st.integers(3, 6), sizes=st.lists(st.integers(2, 7), min_size=1, max_size=4),
       act=st.sampled_from(sorted(nn.models.ACTIVATIONS)), batchnorm=st.booleans(),
       train=st.booleans())
def test_random_mlps_match_torch(n, sizes, act, batchnorm, train):
    model = nn.MLP(sizes[0], sizes[1:-1], sizes[-1], activation=act, batchnorm=batchnorm, seed=n)
    model.train(train)
    report = compare_module(with_random_bn(model), randn(n, sizes[0]), tol=TOL)
    record("random MLPs", report)
    assert report.passed, str(report)


def test_state_dict_is_a_copy_and_load_is_in_place():
    m = nn.BatchNorm1d(3)
    sd = m.state_dict()
    sd["weight"][...] = 7
    assert np.all(m.weight.data == 1)
    weight_array = m.weight.data
    m.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})  # torch tensors accepted
    assert m.weight.data is weight_array and np.all(weight_array == 7)
    assert m.num_batches_tracked.dtype == np.int64


def test_load_state_dict_reports_missing_unexpected_and_shape():
    m = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    sd = m.state_dict()
    del sd["1.running_var"]
    sd["2.weight"] = np.zeros(2)
    sd["0.weight"] = np.zeros((3, 2))
    with pytest.raises(RuntimeError) as err:
        m.load_state_dict(sd)
    msg = str(err.value)
    assert "'1.running_var'" in msg and "'2.weight'" in msg and "0.weight" in msg and "(3, 2)" in msg
    del sd["0.weight"]
    sd["0.weight"] = m.state_dict()["0.weight"]
    result = m.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["1.running_var"] and result.unexpected_keys == ["2.weight"]


def test_batchnorm_running_stats_over_several_steps_then_eval():
    for momentum in (0.1, None):
        bn = nn.BatchNorm2d(3, momentum=momentum)
        twin = to_torch(bn)
        for step in range(5):
            x = randn(6, 3, 4, 4, seed=step) * (step + 1) + step
            out = bn(x)
            bn.backward(np.ones_like(out))
            twin(to_tensor(x))
        for k, v in twin.state_dict().items():
            assert rel_error(bn.state_dict()[k], to_numpy(v)) <= TOL, (momentum, k)
        assert int(bn.num_batches_tracked) == 5
        bn.eval()
        twin.eval()
        x = randn(2, 3, 4, 4, seed=9)
        assert rel_error(bn(x), to_numpy(twin(to_tensor(x)))) <= TOL
        # Eval mode leaves the running stats alone.
        assert int(bn.num_batches_tracked) == 5


def test_gradient_accumulation_matches_torch():
    """Two forward/backward pairs without zero_grad: grads are the sum, in both libraries."""
    model = nn.CNN(seed=3)
    twin = to_torch(model)
    xs, douts = [randn(2, 1, 8, 8, seed=s) for s in (1, 2)], [randn(2, 10, seed=s) for s in (3, 4)]
    for x, d in zip(xs, douts):
        model(x)
        model.backward(d)
        twin(to_tensor(x)).backward(to_tensor(d))
    params = dict(twin.named_parameters())
    for name, p in model.named_parameters():
        assert rel_error(p.grad, to_numpy(params[name].grad)) <= TOL, name


def test_shared_module_appears_once_like_torch():
    shared = nn.Linear(3, 3)
    m = nn.Sequential(shared, nn.ReLU(), shared)
    t = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.ReLU())
    t.append(t[0])
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert list(m.state_dict()) == list(t.state_dict())


def test_shared_modules_and_tied_parameters_stay_shared_in_the_twin():
    # The same module object twice: its backward would only see its last forward, so only the
    # structure is compared. Tied *parameters* in two modules are the supported way to share
    # weights: each module adds its own term into p.grad, and the sum matches torch's.
    shared = nn.Linear(3, 3)
    twin = to_torch(nn.Sequential(shared, nn.ReLU(), shared))
    assert twin[0] is twin[2]
    a, b = nn.Linear(3, 3, rng=0), nn.Linear(3, 3, rng=1)
    b.weight = a.weight
    tied = nn.Sequential(a, nn.Tanh(), b)
    twin = to_torch(tied)
    assert twin[0].weight is twin[2].weight and twin[0].bias is not twin[2].bias
    report = compare_module(tied, randn(4, 3), tol=TOL)
    assert report.passed and "0.weight.grad" in report and "2.weight.grad" not in report


def test_float32_module_gets_a_float32_twin():
    m = nn.Sequential(nn.Linear(4, 3, dtype=np.float32, rng=0), nn.Tanh())
    twin = to_torch(m)
    assert twin[0].weight.dtype == torch.float32
    report = compare_module(m, randn(5, 4).astype(np.float32))  # float32 tolerance (1e-4)
    assert report.passed, str(report)


def test_report_and_errors():
    m = nn.Linear(3, 2, rng=0)
    report = compare_module(m, randn(4, 3))
    assert report and report.passed and set(report) == {"out", "dx", "weight.grad", "bias.grad"}
    assert "PASS" in str(report) and report.max_rel_error < TOL
    # A broken backward is caught, with the diagnosis of the shared checking helper.
    m.backward = lambda dout: 2 * nn.Linear.backward(m, dout)
    bad = compare_module(m, randn(4, 3))
    assert not bad.passed and bad["dx"].diagnosis and "twice" in bad["dx"].diagnosis
    with pytest.raises(ValueError, match="Dropout"):
        compare_module(nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5)), randn(4, 3))
    with pytest.raises(TypeError, match="register_twin"):
        to_torch(nn.Module())


def test_register_twin_for_a_custom_module():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(4, 6, rng=0)
            self.act = nn.ReLU()
            self.bn = nn.BatchNorm1d(6)
            self.fc2 = nn.Linear(6, 2, rng=1)

        def forward(self, x):
            return self.fc2(self.bn(self.act(self.fc1(x))))

        def backward(self, dout):
            return self.fc1.backward(self.act.backward(self.bn.backward(self.fc2.backward(dout))))

    class TorchNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.act = torch.nn.Linear(4, 6), torch.nn.ReLU()
            self.bn, self.fc2 = torch.nn.BatchNorm1d(6), torch.nn.Linear(6, 2)

        def forward(self, x):
            return self.fc2(self.bn(self.act(self.fc1(x))))

    torch_ref.register_twin(Net, lambda m: TorchNet())
    net = with_random_bn(Net())
    assert [n for n, _ in net.named_parameters()] == ["fc1.weight", "fc1.bias", "bn.weight",
                                                      "bn.bias", "fc2.weight", "fc2.bias"]
    report = compare_module(net, randn(5, 4), tol=TOL)
    assert report.passed, str(report)


def test_helpers_and_devices():
    a = randn(2, 3)
    t = to_tensor(a, requires_grad=True)
    assert t.dtype == torch.float64 and t.requires_grad and t.device.type == "cpu"
    np.testing.assert_array_equal(to_numpy(t), a)
    assert torch_ref.default_device() == ("cuda" if torch.cuda.is_available() else "cpu")
    assert to_torch(nn.Linear(2, 2)).weight.device.type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="default_device"):
            to_tensor(a, device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_twin_on_cuda():
    for name in ("cnn8", "mlp_bn_train", "residual_conv_bn"):
        module, x = make(name)
        report = compare_module(module, x, tol=1e-9, device="cuda")  # cuDNN sums in other orders
        assert report.passed, f"{name}:\n{report}"


def test_torch_global_rng_untouched():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    to_torch(nn.CNN())
    assert torch.equal(torch.rand(3), expected)


def teardown_module(module):
    if WORST:
        worst = max(WORST, key=WORST.get)
        print(f"\n[test_torch_ref] max rel. error vs torch: {WORST[worst]:.2e} ({worst}); "
              f"{len(WORST)} cases (incl. the hypothesis-generated ones)")
