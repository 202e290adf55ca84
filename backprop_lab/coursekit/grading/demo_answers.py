"""Hand-written answers for the demo class: several correct styles per exercise cell, and classic bugs.

A `Variant` is one way a learner may fill in a release cell: the body of each stub function (and,
optionally, helper code above them). Its `bugs` are exact edits ``(old, new)`` of the filled cell
that plant one classic mistake, the way a learner makes it (not by scaling outputs). The variant
"M" is the course's own model answer (solutions/), with its bugs as edits of that text.

`SPECS` maps an assignment to its variants per cell and its cast (see `demo_class`). Assignments
without a spec get the generic cast: model answers, blanks, a copy and a reference copy.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Variant:
    """One way to write a cell: {function: body} (4-space indented in the cell), helper code above."""

    bodies: dict = field(default_factory=dict)
    prelude: str = ""
    bugs: dict = field(default_factory=dict)  # bug name -> ((old, new), ...)


@dataclass(frozen=True)
class Spec:
    """What the demo class plants in one assignment.

    variants: {grade_id: {variant name: Variant}}; "M" (the model answer) is implied. In a cell of
        several functions, students mix the styles of `shared` variants function by function (see
        `demo_class.mixed`); any other variant is one student's own style, kept whole.
    model_bugs: {grade_id: {bug name: ((old, new), ...)}} edits of the model answer.
    cast: {student: plan}; a plan is a role ("blank", "cheat", "reference", "copy:<student>") or
        one token per cell, in cell order: "-" (left blank), "A" (variant A), "A+bug-name".
    """

    variants: dict
    model_bugs: dict
    cast: dict
    shared: tuple = ("A", "C", "D")


# ------------------------------------------------------------------------- 03_vectorized_layers

LINEAR = {
    "A": Variant({
        "linear_forward": "out = np.dot(x, weight.T) + bias[None, :]\nreturn out, (x, weight, bias)",
        "linear_backward": ("x, weight, bias = cache\ndx = np.dot(dout, weight)\ndweight = np.dot(dout.T, x)\n"
                            "dbias = np.sum(dout, axis=0)\nreturn dx, dweight, dbias"),
    }, bugs={"dweight-transposed": (("np.dot(dout.T, x)", "np.dot(x.T, dout)"),)}),
    "B": Variant({
        "linear_forward": 'return np.einsum("nd,md->nm", x, weight) + bias, {"x": x, "w": weight}',
        "linear_backward": ('x, w = cache["x"], cache["w"]\ngrad_x = np.einsum("nm,md->nd", dout, w)\n'
                            'grad_w = np.einsum("nm,nd->md", dout, x)\ngrad_b = np.einsum("nm->m", dout)\n'
                            "return grad_x, grad_w, grad_b"),
    }),
    "C": Variant({
        "linear_forward": "W = weight\nz = x @ W.T\nz = z + bias\ncache = x, W\nreturn z, cache",
        "linear_backward": ("inputs, W = cache\nN = inputs.shape[0]\ndW = np.zeros_like(W)\nfor n in range(N):\n"
                            "    dW += np.outer(dout[n], inputs[n])\ndb = np.zeros(W.shape[0])\nfor n in range(N):\n"
                            "    db += dout[n]\nreturn dout @ W, dW, db"),
    }, bugs={"dbias-mean": (("return dout @ W, dW, db", "return dout @ W, dW, db / N"),)}),
    "D": Variant({
        "linear_forward": "y = np.matmul(x, weight.transpose()) + bias\nreturn y, (x.copy(), weight.copy())",
        "linear_backward": ("x_in, w = cache\nd_in = np.matmul(dout, w)\nd_w = np.matmul(dout.transpose(), x_in)\n"
                            "d_b = dout.sum(axis=0, keepdims=False)\nreturn d_in, d_w, d_b"),
    }, bugs={"dweight-transposed": (("np.matmul(dout.transpose(), x_in)", "np.matmul(x_in.transpose(), dout)"),)}),
}

ACTIVATIONS = {
    "A": Variant({
        "relu_forward": "out = x * (x > 0)\nreturn out, x",
        "relu_backward": "mask = cache > 0\nreturn np.where(mask, dout, 0.0)",
        "leaky_relu_forward": "out = np.where(x > 0, x, negative_slope * x)\nreturn out, (x, negative_slope)",
        "leaky_relu_backward": "x, slope = cache\ngrad = np.ones_like(x)\ngrad[x <= 0] = slope\nreturn dout * grad",
        "sigmoid_forward": ("out = np.empty_like(x, dtype=float)\npos = x >= 0\n"
                            "out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))\nex = np.exp(x[~pos])\n"
                            "out[~pos] = ex / (1.0 + ex)\nreturn out, out"),
        "sigmoid_backward": "sig = cache\nreturn dout * sig * (1.0 - sig)",
        "tanh_forward": "out = np.tanh(x)\nreturn out, out",
        "tanh_backward": "return dout * (1.0 - cache ** 2)",
    }, bugs={
        "sigmoid-naive": (("out = np.empty_like(x, dtype=float)\n    pos = x >= 0\n"
                           "    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))\n    ex = np.exp(x[~pos])\n"
                           "    out[~pos] = ex / (1.0 + ex)\n", "out = 1.0 / (1.0 + np.exp(-x))\n"),),
        "sigmoid-backward-uses-input": (("out[~pos] = ex / (1.0 + ex)\n    return out, out",
                                         "out[~pos] = ex / (1.0 + ex)\n    return out, x"),),
    }),
    "B": Variant({
        "relu_forward": "y = np.clip(x, 0.0, None)\nreturn y, (x > 0)",
        "relu_backward": "positive = cache\nreturn dout * positive.astype(dout.dtype)",
        "leaky_relu_forward": "factor = np.where(x > 0, 1.0, negative_slope)\nreturn x * factor, factor",
        "leaky_relu_backward": "factor = cache\nreturn dout * factor",
        "sigmoid_forward": ("# sigmoid(x) = (1 + tanh(x/2)) / 2: tanh never overflows\n"
                            "y = 0.5 + 0.5 * np.tanh(0.5 * x)\nreturn y, y"),
        "sigmoid_backward": "y = cache\nreturn dout * (y - y * y)",
        "tanh_forward": "y = np.tanh(x)\nreturn y, 1.0 - y * y",
        "tanh_backward": "local = cache  # the forward pass kept 1 - tanh^2\nreturn dout * local",
    }),
    "C": Variant({
        "relu_forward": "out = x.copy()\nout[out < 0] = 0\nreturn out, x",
        "relu_backward": "dx = dout.copy()\ndx[cache <= 0] = 0\nreturn dx",
        "leaky_relu_forward": "out = x.copy()\nout[x <= 0] *= negative_slope\nreturn out, (x, negative_slope)",
        "leaky_relu_backward": "x, negative_slope = cache\ndx = dout.copy()\ndx[x <= 0] *= negative_slope\nreturn dx",
        "sigmoid_forward": "z = np.exp(-np.abs(x))\nout = np.where(x >= 0, 1 / (1 + z), z / (1 + z))\nreturn out, out",
        "sigmoid_backward": "return dout * cache * (1 - cache)",
        "tanh_forward": "t = np.tanh(x)\nreturn t, t",
        "tanh_backward": "return dout * (1 - np.square(cache))",
    }, bugs={
        "leaky-slope-ignored": (("dx[x <= 0] *= negative_slope", "dx[x <= 0] = 0"),),
        "sigmoid-naive": (("z = np.exp(-np.abs(x))\n    out = np.where(x >= 0, 1 / (1 + z), z / (1 + z))",
                           "out = 1 / (1 + np.exp(-x))"),),
    }),
    "D": Variant({
        "relu_forward": "return np.where(x > 0, x, 0.0), x",
        "relu_backward": "return np.where(cache > 0, dout, 0.0)",
        "leaky_relu_forward": "out = np.where(x > 0, x, x * negative_slope)\nreturn out, (x, negative_slope)",
        "leaky_relu_backward": "x, slope = cache\nreturn np.where(x > 0, dout, dout * slope)",
        "sigmoid_forward": ("ez = np.exp(-np.abs(x))\nnum = np.where(x >= 0, 1.0, ez)\ns = num / (1.0 + ez)\n"
                            "return s, s"),
        "sigmoid_backward": "s = cache\nds = s * (1.0 - s)\nreturn dout * ds",
        "tanh_forward": "th = np.tanh(x)\nreturn th, th",
        "tanh_backward": "th = cache\nreturn dout - dout * th ** 2",
    }, bugs={
        "sigmoid-naive": (("ez = np.exp(-np.abs(x))\n    num = np.where(x >= 0, 1.0, ez)\n    s = num / (1.0 + ez)",
                           "s = 1.0 / (1.0 + np.exp(-x))"),),
    }),
}

MSE = {
    "A": Variant({"mse_loss": ("n = pred.size\nerr = pred - target\nloss = float(np.sum(err * err) / n)\n"
                               "grad = 2.0 * err / n\nreturn loss, grad")},
                 bugs={"mse-wrong-sign": (("err = pred - target", "err = target - pred"),)}),
    "B": Variant({"mse_loss": ("sq = (pred - target) ** 2\ncount = float(sq.size)\nloss = sq.sum() / count\n"
                               "dpred = (pred - target) * (2.0 / count)\nreturn float(loss), dpred")}),
    "C": Variant({"mse_loss": ("residual = target - pred\nloss = (residual ** 2).mean()\n"
                               "dpred = -2 * residual / np.prod(pred.shape)\nreturn float(loss), dpred")},
                 bugs={"mse-batch-mean": (("np.prod(pred.shape)", "len(pred)"),)}),
    "D": Variant({"mse_loss": ("d = np.subtract(pred, target)\ntotal = d.size\n"
                               "return float(np.square(d).sum() / total), np.multiply(d, 2 / total)")},
                 bugs={"mse-wrong-sign": (("np.subtract(pred, target)", "np.subtract(target, pred)"),)}),
}

CROSS_ENTROPY = {
    "A": Variant({"softmax_cross_entropy": (
        "n = logits.shape[0]\nz = logits - np.max(logits, axis=1, keepdims=True)\nexp_z = np.exp(z)\n"
        "probs = exp_z / exp_z.sum(axis=1, keepdims=True)\nonehot = np.zeros_like(probs)\n"
        "onehot[np.arange(n), labels] = 1.0\nloss = -np.mean(z[np.arange(n), labels] - np.log(exp_z.sum(axis=1)))\n"
        "grad = (probs - onehot) / n\nreturn float(loss), grad")},
        bugs={"ce-missing-1/N": (("grad = (probs - onehot) / n", "grad = probs - onehot"),),
              "ce-no-max-shift": (("z = logits - np.max(logits, axis=1, keepdims=True)", "z = logits"),)}),
    "B": Variant({"softmax_cross_entropy": (
        "lse = _logsumexp_rows(logits)\nlog_p = logits - lse[:, None]\npicked = log_p[np.arange(len(labels)), labels]\n"
        "p = np.exp(log_p)\np[np.arange(len(labels)), labels] -= 1.0\nreturn float(-picked.mean()), p / len(labels)")},
        prelude=("def _logsumexp_rows(a):\n    \"\"\"log(sum(exp(a), axis=1)) without overflow.\"\"\"\n"
                 "    top = a.max(axis=1)\n    return top + np.log(np.exp(a - top[:, None]).sum(axis=1))\n\n\n")),
    "C": Variant({"softmax_cross_entropy": (
        "N, C = logits.shape\nloss = 0.0\ndlogits = np.zeros_like(logits)\nfor i in range(N):\n"
        "    row = logits[i] - logits[i].max()\n    log_norm = np.log(np.exp(row).sum())\n"
        "    loss -= row[labels[i]] - log_norm\n    dlogits[i] = np.exp(row - log_norm)\n"
        "    dlogits[i, labels[i]] -= 1.0\nreturn float(loss / N), dlogits / N")},
        bugs={"ce-missing-1/N": (("return float(loss / N), dlogits / N", "return float(loss / N), dlogits"),)}),
    "D": Variant({"softmax_cross_entropy": (
        "m = logits.max(axis=-1, keepdims=True)\nlse = m + np.log(np.exp(logits - m).sum(axis=-1, keepdims=True))\n"
        "logp = logits - lse\nidx = (np.arange(len(labels)), labels)\nloss = -logp[idx].mean()\n"
        "d = np.exp(logp)\nd[idx] = d[idx] - 1\nreturn float(loss), d / len(labels)")},
        bugs={"ce-missing-1/N": (("return float(loss), d / len(labels)", "return float(loss), d"),)}),
}

MODEL_BUGS_03 = {
    "linear": {"dweight-transposed": (("dweight = dout.T @ x", "dweight = x.T @ dout"),)},
    "activations": {"sigmoid-backward-uses-input": (("return s, s", "return s, x"),),
                    "tanh-forgets-dout": (("return dout * (1 - t * t)", "return 1 - t * t"),)},
    "mse": {"mse-wrong-sign": (("diff = pred - target", "diff = target - pred"),)},
    "cross_entropy": {"ce-missing-1/N": (("    dlogits /= N\n", ""),)},
}

# Cells: linear, activations, mse, cross_entropy. Styles A, C and D are each used by three or more
# students (as a common way to write a cell is); B is fay's own, which gus copies.
CAST_03 = {
    "ada": "M M M M",
    "ben": "M+dweight-transposed M M M",
    "cyd": "blank",
    "dee": "cheat",
    "eli": "A A A A+ce-missing-1/N",
    "fay": "B B B B",
    "gus": "copy:fay",
    "hal": "reference",
    "ivy": "A+dweight-transposed A+sigmoid-naive D C",
    "jon": "D+dweight-transposed C C D+ce-missing-1/N",
    "kim": "C D A+mse-wrong-sign C+ce-missing-1/N",
    "lou": "M M+sigmoid-backward-uses-input M+mse-wrong-sign M+ce-missing-1/N",
    "max": "D D+sigmoid-naive D+mse-wrong-sign A",
    "ned": "C C+leaky-slope-ignored M D",
    "oli": "D D C D",
    "pam": "A A+sigmoid-backward-uses-input A A+ce-no-max-shift",
    "quin": "C+dbias-mean - - -",
    "ray": "A C C+mse-batch-mean M",
    "sue": "D C+sigmoid-naive D C",
    "tom": "M M+tanh-forgets-dout M -",
}

# ------------------------------------------------------------------------- 01_chain_rule

LOCAL_01 = {
    "A": Variant({"d_square": "return u + u", "d_mul": "da = b\ndb = a\nreturn da, db",
                  "d_sigmoid": "s = 0.5 * (1.0 + np.tanh(0.5 * z))\nreturn s - s * s",
                  "d_tanh": "c = np.cosh(z)\nreturn 1.0 / (c * c)"},
                 bugs={"sigmoid-derivative-is-sigmoid": (("return s - s * s", "return s"),)}),
}
TWO_LAYER_01 = {
    "A": Variant({"two_layer_grads": (
        "a = w1 * x + b1\nh = math.tanh(a)\nerr = (w2 * h + b2) - y\ndh = err * w2\nda = dh * (1.0 - h * h)\n"
        "return {\"w1\": da * x, \"b1\": da, \"w2\": err * h, \"b2\": err}")},
        bugs={"tanh-derivative-missing": (("da = dh * (1.0 - h * h)", "da = dh"),)}),
}
NUMERIC_01 = {
    "A": Variant({"numerical_gradient": (
        "g = np.zeros(x.shape)\nfor i in range(len(x)):\n    step = np.zeros(x.shape)\n    step[i] = eps\n"
        "    g[i] = (f(x + step) - f(x - step)) / (2.0 * eps)\nreturn g")},
        bugs={"missing-half": (("/ (2.0 * eps)", "/ eps"),)}),
}
MODEL_BUGS_01 = {
    "two_layer": {"wrong-sign": (("d_yhat = y_hat - y", "d_yhat = y - y_hat"),),
                  "tanh-derivative-missing": (("d_a = d_yhat * w2 * (1 - h ** 2)", "d_a = d_yhat * w2"),)},
    "numerical_gradient": {"missing-half": (("/ (2 * eps)", "/ eps"),)},
}
CAST_01 = {
    "ada": "M M M", "ben": "M M+wrong-sign M", "cyd": "blank", "dee": "cheat",
    "eli": "A A A", "fay": "A+sigmoid-derivative-is-sigmoid A+tanh-derivative-missing A+missing-half",
    "gus": "copy:fay", "hal": "reference", "ivy": "M M+tanh-derivative-missing M", "jon": "M M+wrong-sign -",
    "kim": "A M+wrong-sign M+missing-half", "lou": "M A M", "max": "M M -", "ned": "A A+tanh-derivative-missing A",
    "oli": "A A M+missing-half", "pam": "M M+wrong-sign A", "quin": "M - -", "ray": "A M A+missing-half",
    "sue": "M M M", "tom": "- - -",
}

SPECS = {
    "03_vectorized_layers": Spec({"linear": LINEAR, "activations": ACTIVATIONS, "mse": MSE,
                                  "cross_entropy": CROSS_ENTROPY}, MODEL_BUGS_03, CAST_03),
    "01_chain_rule": Spec({"local_derivatives": LOCAL_01, "two_layer": TWO_LAYER_01,
                           "numerical_gradient": NUMERIC_01}, MODEL_BUGS_01, CAST_01),
}
