"""`backprop-lab bench`: numpy vs torch CPU, measured in one process, as ratios.

Absolute times on a shared machine are noise; the ratio numpy/torch measured in the same run, with
warm-up and medians, is what is reported (lower is better; < 1 means numpy is faster).
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass

import numpy as np

CONV_SHAPES = [((64, 1, 8, 8), 8), ((32, 3, 32, 32), 16), ((32, 16, 16, 16), 32)]  # course shapes, k3 p1
TARGETS = {"conv2d (fast)": 1.5, "pool": 1.2, "MLP epoch": 0.6, "CNN epoch": 1.3}


@dataclass
class Row:
    name: str
    shape: str
    dtype: str
    numpy_ms: float
    torch_ms: float

    @property
    def ratio(self) -> float:
        return self.numpy_ms / self.torch_ms


def timeit(fn, min_time: float = 0.25, repeats: int = 5) -> float:
    """Median seconds of one call, after a warm-up; each sample loops long enough to be timed."""
    # torch's OpenMP threads keep spinning ~200 ms after a call and starve numpy's BLAS threads
    # (a 1.2 ms product measured 12 ms right after a torch conv): let them fall asleep first.
    time.sleep(0.25)
    t = time.perf_counter()
    fn()
    if time.perf_counter() - t > 0.2:  # slow work: fewer samples keep the whole bench short
        repeats = 3
    else:  # warm up for a while: the first calls pay for fresh memory pages, not for arithmetic
        while time.perf_counter() - t < min_time / 2:
            fn()
    start, n = time.perf_counter(), 0
    while time.perf_counter() - start < min_time / repeats or n == 0:
        fn()
        n += 1
    samples = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - t) / n)
    return statistics.median(samples)


def _conv_pair(shape, filters, dtype, naive=False):
    import torch

    from backprop_lab.functional import conv2d_backward, conv2d_backward_naive, conv2d_forward, conv2d_forward_naive

    rng = np.random.default_rng(0)
    x = rng.normal(size=shape).astype(dtype)
    w = rng.normal(size=(filters, shape[1], 3, 3)).astype(dtype)
    b = rng.normal(size=filters).astype(dtype)
    fwd, bwd = (conv2d_forward_naive, conv2d_backward_naive) if naive else (conv2d_forward, conv2d_backward)

    def ours():
        out, cache = fwd(x, w, b, 1, 1)
        bwd(np.ones_like(out), cache)

    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))

    def theirs():
        out = torch.nn.functional.conv2d(xt, wt, bt, 1, 1)
        out.backward(torch.ones_like(out))

    return ours, theirs


def _pool_pair(kind, shape):
    import torch

    from backprop_lab import functional as F

    x = np.random.default_rng(1).normal(size=shape)
    fwd, bwd = getattr(F, f"{kind}pool2d_forward"), getattr(F, f"{kind}pool2d_backward")
    tfn = torch.nn.functional.max_pool2d if kind == "max" else torch.nn.functional.avg_pool2d

    def ours():
        out, cache = fwd(x, 2)
        bwd(np.ones_like(out), cache)

    xt = torch.tensor(x, requires_grad=True)

    def theirs():
        out = tfn(xt, 2)
        out.backward(torch.ones_like(out))

    return ours, theirs


def _linear_pair(n, d, h):
    import torch

    from backprop_lab import functional as F

    rng = np.random.default_rng(2)
    x, w, b = rng.normal(size=(n, d)), rng.normal(size=(h, d)), rng.normal(size=h)

    def ours():
        z, c1 = F.linear_forward(x, w, b)
        a, c2 = F.relu_forward(z)
        dz = F.relu_backward(np.ones_like(a), c2)
        F.linear_backward(dz, c1)

    xt, wt, bt = (torch.tensor(v, requires_grad=True) for v in (x, w, b))

    def theirs():
        a = torch.relu(torch.nn.functional.linear(xt, wt, bt))
        a.backward(torch.ones_like(a))

    return ours, theirs


def _epoch_pair(model_name):
    import torch

    from backprop_lab import nn, optim
    from backprop_lab.data import digits_split
    from backprop_lab.functional import softmax_cross_entropy
    from backprop_lab.torch_ref import to_torch

    flat = model_name == "MLP"
    X, _, y, _ = digits_split(flatten=flat)
    model = nn.models.MLP(64, (128, 64), 10, seed=0) if flat else nn.models.CNN(seed=0)
    twin = to_torch(model)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    topt = torch.optim.SGD(twin.parameters(), lr=0.05, momentum=0.9)
    order = np.random.default_rng(0).permutation(len(X))
    batches = [order[i:i + 64] for i in range(0, len(X), 64)]
    Xt, yt = torch.tensor(X), torch.tensor(y)

    def ours():
        for idx in batches:
            opt.zero_grad()
            loss, dscores = softmax_cross_entropy(model(X[idx]), y[idx])
            model.backward(dscores)
            opt.step()

    def theirs():
        for idx in batches:
            topt.zero_grad()
            loss = torch.nn.functional.cross_entropy(twin(Xt[idx]), yt[idx])
            loss.backward()
            topt.step()

    return ours, theirs


def _gradcheck_pair():
    import torch

    from backprop_lab.functional import conv2d_forward
    from backprop_lab.gradcheck import numeric_gradient

    rng = np.random.default_rng(3)
    x, w, b = rng.normal(size=(4, 1, 8, 8)), rng.normal(size=(4, 1, 3, 3)), rng.normal(size=4)

    # The same numerical check (centered differences over every weight) with each side's forward.
    def ours():
        numeric_gradient(lambda a: conv2d_forward(x, a, b, 1, 1)[0], w)

    xt, bt = torch.tensor(x), torch.tensor(b)

    def theirs():
        numeric_gradient(lambda a: torch.nn.functional.conv2d(xt, torch.from_numpy(a), bt, 1, 1).numpy(), w)

    return ours, theirs


def run(quick: bool = False) -> list[Row]:
    """Measure every row; `quick` shortens the timing (for tests), not the list."""
    min_time = 0.05 if quick else 0.3
    rows = []

    def add(name, shape, dtype, pair):
        ours, theirs = pair
        rows.append(Row(name, shape, dtype, 1e3 * timeit(ours, min_time), 1e3 * timeit(theirs, min_time)))

    add("conv2d (naive)", "(64,1,8,8)->8 k3 p1", "float64", _conv_pair((64, 1, 8, 8), 8, np.float64, naive=True))
    for shape, f in CONV_SHAPES:
        add("conv2d (fast)", f"{shape}->{f} k3 p1".replace(" ", ""), "float64", _conv_pair(shape, f, np.float64))
    shape, f = CONV_SHAPES[1]
    add("conv2d (fast)", f"{shape}->{f} k3 p1".replace(" ", ""), "float32", _conv_pair(shape, f, np.float32))
    for kind in ("max", "avg"):
        add("pool", f"{kind} 2x2 (64,8,8,8)", "float64", _pool_pair(kind, (64, 8, 8, 8)))
        add("pool", f"{kind} 2x2 (32,16,32,32)", "float64", _pool_pair(kind, (32, 16, 32, 32)))
    add("linear+relu", "(64,128)->128", "float64", _linear_pair(64, 128, 128))
    add("linear+relu", "(256,512)->512", "float64", _linear_pair(256, 512, 512))
    add("MLP epoch", "digits 64-128-64-10 b64", "float64", _epoch_pair("MLP"))
    add("CNN epoch", "digits conv8-conv16 b64", "float64", _epoch_pair("CNN"))
    add("gradcheck conv", "w (4,1,3,3), x (4,1,8,8)", "float64", _gradcheck_pair())
    return rows


_MEM_SCRIPT = r"""
import sys, numpy as np, torch
x = np.random.default_rng(0).normal(size=(64, 3, 32, 32))
w = np.random.default_rng(1).normal(size=(32, 3, 3, 3))
b = np.zeros(32)
if sys.argv[1] == "torch":
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    def step():
        out = torch.nn.functional.conv2d(xt, wt, bt, 1, 1); out.backward(torch.ones_like(out))
else:
    from backprop_lab.functional import conv2d_forward, conv2d_backward
    def step():
        out, cache = conv2d_forward(x, w, b, 1, 1); conv2d_backward(np.ones_like(out), cache)
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the peak-RSS counter (VmHWM) so imports do not count
base = status("VmRSS")
step()
print(status("VmHWM") - base)
"""


def peak_memory() -> dict:
    """Extra peak RSS (MiB) of one conv fwd+bwd at (64,3,32,32)->32 k3 p1, each side in a fresh process.

    Linux only (it resets /proc/self's peak-RSS counter after the imports); elsewhere returns {}.
    """
    out = {}
    if not os.path.exists("/proc/self/clear_refs"):
        return out
    for side in ("numpy", "torch"):
        proc = subprocess.run([sys.executable, "-c", _MEM_SCRIPT, side], capture_output=True, text=True, check=True)
        out[side] = float(proc.stdout.strip().splitlines()[-1])
    return out


def summary(rows: list[Row]) -> dict:
    fast64 = [r.ratio for r in rows if r.name == "conv2d (fast)" and r.dtype == "float64"]
    return {
        "conv2d (fast)": float(np.exp(np.mean(np.log(fast64)))),
        "conv2d (fast) worst": max(fast64),
        "pool": max(r.ratio for r in rows if r.name == "pool"),
        "MLP epoch": next(r.ratio for r in rows if r.name == "MLP epoch"),
        "CNN epoch": next(r.ratio for r in rows if r.name == "CNN epoch"),
    }


def environment() -> dict:
    import torch

    return {"cores": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "numpy": np.__version__, "python": platform.python_version(), "machine": platform.machine()}


def format_table(rows: list[Row], env: dict, summ: dict, mem: dict | None) -> str:
    lines = ["backprop_lab bench: numpy vs torch CPU in one process (medians; ratio = numpy / torch, "
             "lower is better)", f"machine: {env['cores']} cores, torch {env['torch']} with "
             f"{env['torch_threads']} threads, numpy {env['numpy']}", "",
             f"{'work':<16} {'shape':<28} {'dtype':<8} {'numpy ms':>10} {'torch ms':>10} {'ratio':>8}"]
    lines.append("-" * len(lines[-1]))
    for r in rows:
        lines.append(f"{r.name:<16} {r.shape:<28} {r.dtype:<8} "
                     f"{r.numpy_ms:>10.3f} {r.torch_ms:>10.3f} {r.ratio:>7.2f}x")
    lines.append("")
    for key, value in summ.items():
        target = TARGETS.get(key, 2.5 if key.endswith("worst") else None)
        verdict = "" if target is None else (f"  meets <= {target:.1f}x" if value <= target else
                                             f"  MISSES <= {target:.1f}x")
        label = "conv2d (fast) geometric mean" if key == "conv2d (fast)" else key
        lines.append(f"{label:<32} {value:6.2f}x{verdict}")
    if mem:
        lines.append(f"{'conv peak memory (64,3,32,32)->32':<32} numpy {mem['numpy']:.0f} MiB, torch "
                     f"{mem['torch']:.0f} MiB ({mem['numpy'] / max(mem['torch'], 1e-9):.2f}x)")
    return "\n".join(lines)


def main(as_json: bool = False, quick: bool = False, memory: bool = True) -> dict:
    rows = run(quick=quick)
    env, summ = environment(), summary(rows)
    mem = peak_memory() if memory else None
    result = {"environment": env, "rows": [dict(asdict(r), ratio=r.ratio) for r in rows], "summary": summ,
              "memory_mib": mem}
    print(json.dumps(result, indent=2) if as_json else format_table(rows, env, summ, mem))
    return result
