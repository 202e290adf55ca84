"""Building blocks for exercise checks: torch twins and reference comparisons in one call."""
from __future__ import annotations

import numpy as np

from ..gradcheck import check_gradient


def torch_grads(fn, inputs: dict, wrt, dout=None):
    """Run ``fn(**tensors)`` in torch float64 and backprop `dout` (ones for a scalar).

    Args:
        fn: a function of torch tensors returning one tensor.
        inputs: name -> numpy array or number.
        wrt: names of the inputs to differentiate.
        dout: upstream gradient (shape of the output); None means ones.

    Returns:
        (out as numpy, {name: grad as numpy}).
    """
    import torch

    tensors = {k: torch.tensor(np.asarray(v, dtype=np.float64), requires_grad=k in wrt)
               for k, v in inputs.items()}
    out = fn(**tensors)
    seed = torch.ones_like(out) if dout is None else torch.tensor(np.asarray(dout, dtype=np.float64))
    out.backward(seed)
    return out.detach().numpy(), {k: tensors[k].grad.numpy() for k in wrt}


def compare(candidate, name: str, reference, torch_value, batch_size=None, tol=None):
    """One `CheckResult` for `candidate` against the reference and torch."""
    return check_gradient(candidate, name=name, reference=np.asarray(reference, dtype=np.float64),
                          torch=np.asarray(torch_value, dtype=np.float64), batch_size=batch_size, tol=tol)
