"""Learner bugs of notebook 01 (the chain rule), each with the diagnosis code the self-check must give.

Cells: local_derivatives (1.1), two_layer (1.2), numerical_gradient (1.3).
"""
from bugs import Bug

LD, TL, NG = "01.local_derivatives", "01.two_layer", "01.numerical_gradient"
SIG = "s = np.exp(-np.logaddexp(0.0, -z))  # 1 / (1 + e^-z) without overflow\n    return s * (1 - s)"
NG_LOOP = """        old = x[i]
        x[i] = old + eps
        f_plus = f(x)
        x[i] = old - eps
        f_minus = f(x)
        x[i] = old
"""

BUGS = [
    # ------------------------------------------------------------------ 1.1 local derivatives
    Bug("square_returns_square", LD, "local_derivatives", [("return 2 * u", "return u ** 2")],
        code="01.returns-function-not-derivative", category="classic"),
    Bug("square_missing_2", LD, "local_derivatives", [("return 2 * u", "return u")],
        code="missing-factor-2", category="scale"),
    Bug("mul_swapped", LD, "local_derivatives", [("return b, a", "return a, b")],
        code="01.mul-swapped", category="classic"),
    Bug("mul_product", LD, "local_derivatives", [("return b, a", "return a * b")],
        code="malformed", category="form"),
    Bug("sigmoid_of_input", LD, "local_derivatives", [(SIG, "return z * (1 - z)")],
        code="01.sigmoid-uses-input", category="input-vs-output"),
    Bug("sigmoid_returns_sigmoid", LD, "local_derivatives", [("return s * (1 - s)", "return s")],
        code="01.returns-function-not-derivative", category="classic"),
    Bug("sigmoid_tanh_rule", LD, "local_derivatives", [("return s * (1 - s)", "return 1 - s ** 2")],
        code="01.sigmoid-with-tanh-rule", category="classic"),
    Bug("sigmoid_one_plus", LD, "local_derivatives", [("return s * (1 - s)", "return s * (1 + s)")],
        code="01.sigmoid-wrong-formula", category="classic"),
    Bug("tanh_of_input", LD, "local_derivatives", [("return 1 - np.tanh(z) ** 2", "return 1 - z ** 2")],
        code="01.tanh-uses-input", category="input-vs-output"),
    Bug("tanh_not_squared", LD, "local_derivatives", [("return 1 - np.tanh(z) ** 2", "return 1 - np.tanh(z)")],
        code="01.tanh-not-squared", category="classic"),
    Bug("tanh_returns_tanh", LD, "local_derivatives", [("return 1 - np.tanh(z) ** 2", "return np.tanh(z)")],
        code="01.returns-function-not-derivative", category="classic"),
    Bug("tanh_sign", LD, "local_derivatives", [("return 1 - np.tanh(z) ** 2", "return np.tanh(z) ** 2 - 1")],
        code="wrong-sign", category="sign"),
    Bug("tanh_square_inside", LD, "local_derivatives", [("return 1 - np.tanh(z) ** 2", "return 1 - np.tanh(z * z)")],
        code="01.tanh-square-inside", category="parenthesis"),
    Bug("tanh_difference_squared", LD, "local_derivatives",
        [("return 1 - np.tanh(z) ** 2", "return (1 - np.tanh(z)) ** 2")],
        code="01.tanh-not-squared", category="classic"),
    # ------------------------------------------------------------------ 1.2 two-layer scalar net
    Bug("two_layer_no_tanh_derivative", TL, "two_layer",
        [("d_a = d_yhat * w2 * (1 - h ** 2)", "d_a = d_yhat * w2")],
        code="01.two-layer-missing-tanh-derivative", category="chain"),
    Bug("two_layer_tanh_of_preactivation", TL, "two_layer",
        [("d_a = d_yhat * w2 * (1 - h ** 2)", "d_a = d_yhat * w2 * (1 - (w1 * x + b1) ** 2)")],
        code="01.tanh-uses-input", category="input-vs-output"),
    Bug("two_layer_w2_uses_preactivation", TL, "two_layer",
        [('"w2": d_yhat * h', '"w2": d_yhat * (w1 * x + b1)')],
        code="01.two-layer-uses-preactivation", category="chain"),
    Bug("two_layer_no_half", TL, "two_layer", [("d_yhat = y_hat - y", "d_yhat = 2 * (y_hat - y)")],
        code="factor-of-2", category="scale"),
    Bug("two_layer_sign", TL, "two_layer", [("d_yhat = y_hat - y", "d_yhat = y - y_hat")],
        code="wrong-sign", category="sign"),
    Bug("two_layer_w1_forgets_x", TL, "two_layer", [('"w1": d_a * x', '"w1": d_a')],
        code="01.two-layer-missing-input", category="chain"),
    Bug("two_layer_w1_times_w1", TL, "two_layer", [('"w1": d_a * x', '"w1": d_a * w1')],
        code="01.two-layer-weight-for-input", category="chain"),
    Bug("two_layer_keys_uppercase", TL, "two_layer",
        [('{"w1": d_a * x, "b1": d_a, "w2": d_yhat * h, "b2": d_yhat}',
          '{"W1": d_a * x, "B1": d_a, "W2": d_yhat * h, "B2": d_yhat}')],
        code="malformed", category="form"),
    Bug("two_layer_tanh_not_squared", TL, "two_layer",
        [("d_a = d_yhat * w2 * (1 - h ** 2)", "d_a = d_yhat * w2 * (1 - h)")],
        code="01.tanh-not-squared", category="classic"),
    Bug("two_layer_no_w2", TL, "two_layer", [("d_a = d_yhat * w2 * (1 - h ** 2)", "d_a = d_yhat * (1 - h ** 2)")],
        code="01.two-layer-missing-w2", category="chain"),
    # ------------------------------------------------------------------ 1.3 numerical gradient
    Bug("numgrad_forward_difference", NG, "numerical_gradient",
        [(NG_LOOP, "        old = x[i]\n        f0 = f(x)\n        x[i] = old + eps\n        f_plus = f(x)\n"
                   "        x[i] = old\n"),
         ("grad[i] = (f_plus - f_minus) / (2 * eps)", "grad[i] = (f_plus - f0) / eps")],
        code="01.numgrad-one-sided", category="centered"),
    Bug("numgrad_not_restored", NG, "numerical_gradient",
        [("        x[i] = old\n", "")],
        code="01.numgrad-x-not-restored", category="restore"),
    Bug("numgrad_not_restored_relative", NG, "numerical_gradient",
        [(NG_LOOP, "        x[i] += eps\n        f_plus = f(x)\n        x[i] -= 2 * eps\n        f_minus = f(x)\n")],
        code="01.numgrad-x-not-restored", category="restore"),
    Bug("numgrad_divides_by_eps", NG, "numerical_gradient",
        [("grad[i] = (f_plus - f_minus) / (2 * eps)", "grad[i] = (f_plus - f_minus) / eps")],
        code="01.numgrad-divides-by-eps", category="scale"),
    Bug("numgrad_precedence", NG, "numerical_gradient",
        [("grad[i] = (f_plus - f_minus) / (2 * eps)", "grad[i] = (f_plus - f_minus) / 2 * eps")],
        code="01.numgrad-operator-precedence", category="classic"),
    Bug("numgrad_aliased_copies", NG, "numerical_gradient",
        [(NG_LOOP, "        x_plus = x\n        x_plus[i] += eps\n        x_minus = x\n        x_minus[i] -= eps\n"
                   "        f_plus, f_minus = f(x_plus), f(x_minus)\n")],
        code="01.numgrad-same-point", category="classic"),
    Bug("numgrad_all_coordinates", NG, "numerical_gradient",
        [(NG_LOOP, "        f_plus, f_minus = f(x + eps), f(x - eps)\n")],
        code="01.numgrad-all-coordinates", category="classic"),
    Bug("numgrad_loop_short", NG, "numerical_gradient", [("for i in range(x.size):", "for i in range(x.size - 1):")],
        code="01.numgrad-skips-entries", category="classic"),
]
