"""Optimizers and schedulers against torch.optim: same trajectories, same state, same errors.

Every comparison builds the same float64 parameters on both sides, feeds each side the gradient of
one fixed function at *its own* current values, and checks parameters and every state buffer
(under torch's names) after every step, to a normwise relative error of 1e-12.
"""
import itertools
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.optim import lr_scheduler as torch_sched

from backprop_lab import optim
from backprop_lab.gradcheck import rel_error
from backprop_lab.nn.parameter import Parameter
from backprop_lab.optim import lr_scheduler as our_sched

TOL = 1e-12
SHAPES = [(3, 4), (5,), ()]  # a matrix, a vector and a 0-d scalar parameter
WORST = {"rel_error": 0.0}  # the largest deviation seen, for the record

_rng = np.random.default_rng(1234)
TARGETS = [_rng.normal(size=s) for s in SHAPES]
NOISE = [[_rng.normal(scale=0.3, size=s) for s in SHAPES] for _ in range(64)]

TORCH = {"SGD": torch.optim.SGD, "Adagrad": torch.optim.Adagrad, "RMSprop": torch.optim.RMSprop,
         "Adam": torch.optim.Adam, "AdamW": torch.optim.AdamW}
OURS = {name: getattr(optim, name) for name in TORCH}


def grad_fn(x, k, t):
    """Gradient of 0.5|x - c|^2 - cos(3x)/6 + noise_t . x for parameter k at step t (both sides)."""
    return x - TARGETS[k] + 0.5 * np.sin(3 * x) + NOISE[t % len(NOISE)][k]


def make_twins(seed=0):
    rng = np.random.default_rng(seed)
    data = [rng.normal(size=s) for s in SHAPES]
    return [Parameter(d) for d in data], [torch.tensor(d, requires_grad=True) for d in data]


def set_grads(opt, topt, ours, theirs, t):
    opt.zero_grad()
    topt.zero_grad()
    for k, (p, q) in enumerate(zip(ours, theirs)):
        p.grad += grad_fn(p.data, k, t)  # accumulate, as a module's backward does
        q.grad = torch.from_numpy(np.asarray(grad_fn(q.detach().numpy(), k, t)))


def close(ours, theirs, what):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    err = rel_error(ours, theirs)
    WORST["rel_error"] = max(WORST["rel_error"], err)
    assert err <= TOL, f"{what}: rel_error {err:.2e}"


def assert_match(opt, topt, ours, theirs, step):
    for k, (p, q) in enumerate(zip(ours, theirs)):
        close(p.data, q, f"step {step} param {k}")
        mine, ref = opt.state.get(p, {}), topt.state.get(q, {})
        assert set(mine) == set(ref), f"state names {sorted(mine)} vs torch {sorted(ref)}"
        for key, value in ref.items():
            if key == "step":
                assert mine[key] == float(value), f"step {step} param {k}: step count"
            else:
                close(mine[key], value, f"step {step} param {k} state[{key!r}]")


def run_twins(opt, topt, ours, theirs, steps=30, start=0, lr_change_at=15, scheds=None):
    for t in range(start, start + steps):
        if t == lr_change_at:  # a manual change takes effect on the next step, on both sides
            for g, tg in zip(opt.param_groups, topt.param_groups):
                g["lr"] *= 0.5
                tg["lr"] *= 0.5
        set_grads(opt, topt, ours, theirs, t)
        opt.step()
        topt.step()
        if scheds is not None:
            scheds[0].step()
            scheds[1].step()
            assert scheds[0].get_last_lr() == pytest.approx(scheds[1].get_last_lr(), rel=TOL)
            assert [g["lr"] for g in opt.param_groups] == scheds[0].get_last_lr()
        assert_match(opt, topt, ours, theirs, t)


def _grid(**options):
    keys = list(options)
    return [dict(zip(keys, values)) for values in itertools.product(*options.values())]


CASES = (
    [("SGD", kw) for kw in _grid(lr=[0.05], momentum=[0, 0.9], dampening=[0, 0.3],
                                 nesterov=[False, True], weight_decay=[0, 0.1],
                                 maximize=[False, True])
     if not (kw["nesterov"] and (kw["momentum"] == 0 or kw["dampening"] != 0))]
    + [("Adagrad", kw) for kw in _grid(lr=[0.1], lr_decay=[0, 0.05], weight_decay=[0, 0.1],
                                       initial_accumulator_value=[0, 0.5], maximize=[False, True])]
    + [("Adagrad", dict(eps=1e-3))]
    + [("RMSprop", kw) for kw in _grid(lr=[0.01], alpha=[0.99, 0.6], centered=[False, True],
                                       momentum=[0, 0.8], weight_decay=[0, 0.1],
                                       maximize=[False, True])]
    + [("Adam", kw) for kw in _grid(lr=[0.05], betas=[(0.9, 0.999), (0.3, 0.8)],
                                    weight_decay=[0, 0.1], amsgrad=[False, True],
                                    maximize=[False, True])]
    + [("AdamW", kw) for kw in _grid(lr=[0.05], weight_decay=[1e-2, 0.3], amsgrad=[False, True],
                                     maximize=[False, True])]
    + [(name, {}) for name in TORCH]  # torch's defaults
)


@pytest.mark.parametrize("name, kwargs", CASES,
                         ids=[f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items())}"
                              for n, kw in CASES])
def test_trajectory_and_state_match_torch(name, kwargs):
    ours, theirs = make_twins()
    opt, topt = OURS[name](ours, **kwargs), TORCH[name](theirs, **kwargs)
    assert opt.defaults["lr"] == topt.defaults["lr"]
    run_twins(opt, topt, ours, theirs, steps=30)


GROUP_OPTIONS = {"SGD": dict(momentum=0.5, nesterov=True), "Adagrad": dict(lr_decay=0.1),
                 "RMSprop": dict(centered=True, momentum=0.3), "Adam": dict(amsgrad=True),
                 "AdamW": dict(weight_decay=0.2, betas=(0.8, 0.99))}


@pytest.mark.parametrize("name", list(TORCH))
def test_param_groups_with_their_own_options(name):
    ours, theirs = make_twins(seed=1)

    def groups(ps):
        return [{"params": ps[:2], "lr": 0.03}, {"params": ps[2:], **GROUP_OPTIONS[name]}]

    opt = OURS[name](groups(ours), lr=0.1, weight_decay=0.05)
    topt = TORCH[name](groups(theirs), lr=0.1, weight_decay=0.05)
    assert [g["lr"] for g in opt.param_groups] == [0.03, 0.1]
    run_twins(opt, topt, ours, theirs, steps=25, lr_change_at=10)


def test_defaults_match_torch_signatures():
    for name in TORCH:
        ours, theirs = make_twins()
        opt, topt = OURS[name](ours), TORCH[name](theirs)
        for key, value in opt.defaults.items():
            assert topt.defaults[key] == value, (name, key)


# ---- schedulers ------------------------------------------------------------------------------

def _warmup_cosine(mod, opt):
    if mod is our_sched:
        return our_sched.warmup_cosine(opt, warmup_iters=5, total_iters=25, start_factor=0.1,
                                       eta_min=1e-3)
    return mod.SequentialLR(opt, [mod.LinearLR(opt, 0.1, 1.0, total_iters=5),
                                  mod.CosineAnnealingLR(opt, T_max=20, eta_min=1e-3)],
                            milestones=[5])


SCHEDULERS = {
    "StepLR": lambda mod, opt: mod.StepLR(opt, step_size=4, gamma=0.5),
    "ExponentialLR": lambda mod, opt: mod.ExponentialLR(opt, gamma=0.9),
    "CosineAnnealingLR": lambda mod, opt: mod.CosineAnnealingLR(opt, T_max=6, eta_min=1e-3),
    "LinearLR": lambda mod, opt: mod.LinearLR(opt, start_factor=0.25, total_iters=8),
    "LinearLR-decay": lambda mod, opt: mod.LinearLR(opt, 1.0, end_factor=0.1, total_iters=6),
    "warmup_cosine": _warmup_cosine,
    "SequentialLR-3": lambda mod, opt: mod.SequentialLR(
        opt, [mod.ExponentialLR(opt, 0.8), mod.StepLR(opt, 3), mod.CosineAnnealingLR(opt, 4)],
        milestones=[4, 11]),
}


@pytest.mark.parametrize("sched", list(SCHEDULERS))
@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_scheduler_drives_optimizer_like_torch(name, sched):
    ours, theirs = make_twins(seed=2)
    kwargs = dict(lr=0.1, momentum=0.9) if name == "SGD" else dict(lr=0.1)

    def groups(ps):
        return [{"params": ps[:1]}, {"params": ps[1:], "lr": 0.02}]

    opt, topt = OURS[name](groups(ours), **kwargs), TORCH[name](groups(theirs), **kwargs)
    s, ts = SCHEDULERS[sched](our_sched, opt), SCHEDULERS[sched](torch_sched, topt)
    assert s.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=TOL)  # the epoch-0 lr
    run_twins(opt, topt, ours, theirs, steps=30, lr_change_at=-1, scheds=(s, ts))


@pytest.mark.parametrize("T_max", [1, 7, 10])
def test_cosine_recursion_matches_torch_over_three_periods(T_max):
    ours, theirs = make_twins()
    opt, topt = optim.SGD(ours, lr=0.3), torch.optim.SGD(theirs, lr=0.3)
    s = our_sched.CosineAnnealingLR(opt, T_max=T_max, eta_min=0.01)
    ts = torch_sched.CosineAnnealingLR(topt, T_max=T_max, eta_min=0.01)
    with warnings.catch_warnings():  # torch warns that the optimizer never stepped
        warnings.simplefilter("ignore")
        for epoch in range(1, 6 * T_max + 2):  # a period is 2 * T_max
            s.step()
            ts.step()
            (lr,), (tlr,) = s.get_last_lr(), ts.get_last_lr()
            assert abs(lr - tlr) <= TOL * abs(tlr), (epoch, lr, tlr)
            # the recursion tracks the closed form (this is why torch can use either)
            assert lr == pytest.approx(s._get_closed_form_lr()[0], rel=1e-9, abs=1e-12)


def test_scheduler_sets_initial_lr_and_base_lrs():
    p = Parameter(np.zeros(2))
    opt = optim.SGD([{"params": [p], "lr": 0.5}])
    s = our_sched.LinearLR(opt, start_factor=0.5, total_iters=2)
    assert opt.param_groups[0]["initial_lr"] == 0.5 and s.base_lrs == [0.5]
    assert opt.param_groups[0]["lr"] == 0.25 == s.get_last_lr()[0]
    with pytest.raises(KeyError):
        our_sched.StepLR(optim.SGD([Parameter(np.zeros(1))]), step_size=2, last_epoch=3)


# ---- errors ----------------------------------------------------------------------------------

INVALID = [
    ("SGD", dict(lr=-1)), ("SGD", dict(momentum=-0.5)), ("SGD", dict(weight_decay=-1e-4)),
    ("SGD", dict(nesterov=True)), ("SGD", dict(nesterov=True, momentum=0.9, dampening=0.1)),
    ("Adagrad", dict(lr=-0.1)), ("Adagrad", dict(lr_decay=-1)), ("Adagrad", dict(weight_decay=-1)),
    ("Adagrad", dict(initial_accumulator_value=-0.1)), ("Adagrad", dict(eps=-1e-10)),
    ("RMSprop", dict(lr=-1)), ("RMSprop", dict(eps=-1.0)), ("RMSprop", dict(momentum=-0.9)),
    ("RMSprop", dict(weight_decay=-1)), ("RMSprop", dict(alpha=-0.5)),
    ("Adam", dict(lr=-1)), ("Adam", dict(eps=-1e-8)), ("Adam", dict(betas=(1.0, 0.999))),
    ("Adam", dict(betas=(0.9, -0.1))), ("Adam", dict(weight_decay=-0.1)),
    ("AdamW", dict(lr=-1)), ("AdamW", dict(betas=(0.9, 1.5))),
]


@pytest.mark.parametrize("name, kwargs", INVALID, ids=[f"{n}-{kw}" for n, kw in INVALID])
def test_invalid_hyperparameters_raise_torchs_value_error(name, kwargs):
    with pytest.raises(ValueError) as ours:
        OURS[name]([Parameter(np.zeros(2))], **kwargs)
    with pytest.raises(ValueError) as theirs:
        TORCH[name]([torch.zeros(2, requires_grad=True)], **kwargs)
    assert str(ours.value) == str(theirs.value)


def test_bad_params_raise_like_torch():
    p = Parameter(np.zeros(2))
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([])
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.Adam([{"params": [p]}, {"params": [p]}])
    with pytest.raises(TypeError):
        optim.SGD(p)
    with pytest.raises(TypeError, match="can only optimize Parameters"):
        optim.SGD([np.zeros(2)])
    with pytest.raises(ValueError, match="Starting multiplicative factor"):
        our_sched.LinearLR(optim.SGD([p]), start_factor=0)


# ---- zero_grad, checkpoints ------------------------------------------------------------------

def test_zero_grad_zeroes_in_place():
    ours, _ = make_twins()
    opt = optim.SGD(ours)
    grads = [p.grad for p in ours]
    for p in ours:
        p.grad += 1.0
    opt.zero_grad()
    assert all(p.grad is g and not np.any(g) for p, g in zip(ours, grads))


@pytest.mark.parametrize("name, kwargs", [("SGD", dict(momentum=0.9)), ("Adam", dict(amsgrad=True)),
                                          ("RMSprop", dict(centered=True, momentum=0.5)),
                                          ("Adagrad", dict(lr_decay=0.01))])
def test_load_torch_state_dict_and_continue(name, kwargs):
    """Train in torch, load its state_dict into ours, then both continue in lockstep."""
    _, theirs = make_twins(seed=3)
    topt = TORCH[name](theirs, lr=0.05, **kwargs)
    for t in range(10):
        topt.zero_grad()
        for k, q in enumerate(theirs):
            q.grad = torch.from_numpy(np.asarray(grad_fn(q.detach().numpy(), k, t)))
        topt.step()
    ours = [Parameter(q.detach().numpy()) for q in theirs]
    opt = OURS[name](ours, lr=0.5, **kwargs)  # the loaded lr (0.05) must win
    opt.load_state_dict(topt.state_dict())
    assert opt.param_groups[0]["lr"] == 0.05
    assert_match(opt, topt, ours, theirs, step=10)
    run_twins(opt, topt, ours, theirs, steps=15, start=10, lr_change_at=-1)


def test_state_dict_round_trip_is_a_copy():
    ours, theirs = make_twins()
    opt, topt = optim.Adam(ours, lr=0.05), torch.optim.Adam(theirs, lr=0.05)
    run_twins(opt, topt, ours, theirs, steps=5, lr_change_at=-1)
    saved = opt.state_dict()
    assert sorted(saved["state"]) == [0, 1, 2] and saved["param_groups"][0]["params"] == [0, 1, 2]
    assert not np.shares_memory(saved["state"][0]["exp_avg"], opt.state[ours[0]]["exp_avg"])
    fresh = [Parameter(p.data) for p in ours]
    opt2 = optim.Adam(fresh)
    opt2.load_state_dict(saved)
    assert not np.shares_memory(saved["state"][0]["exp_avg"], opt2.state[fresh[0]]["exp_avg"])
    run_twins(opt2, topt, fresh, theirs, steps=10, start=5, lr_change_at=-1)


# ---- property test: random hyperparameters ---------------------------------------------------

@settings(max_examples=25, deadline=None)
@given(name=st.sampled_from(list(TORCH)), lr=st.floats(1e-4, 0.2), b1=st.floats(0.0, 0.95),
       wd=st.sampled_from([0.0, 1e-3, 0.2]), flag=st.booleans(), seed=st.integers(0, 2**16))
def test_random_hyperparameters_match_torch(name, lr, b1, wd, flag, seed):
    kwargs = {"SGD": dict(momentum=b1, nesterov=flag and b1 > 0),
              "Adagrad": dict(lr_decay=b1, initial_accumulator_value=float(flag)),
              "RMSprop": dict(alpha=0.5 + b1 / 2, centered=flag, momentum=b1 / 2),
              "Adam": dict(betas=(b1, 0.999), amsgrad=flag),
              "AdamW": dict(betas=(b1, 0.99), amsgrad=flag)}[name]
    ours, theirs = make_twins(seed)
    opt = OURS[name](ours, lr=lr, weight_decay=wd, **kwargs)
    topt = TORCH[name](theirs, lr=lr, weight_decay=wd, **kwargs)
    run_twins(opt, topt, ours, theirs, steps=12, lr_change_at=6)
