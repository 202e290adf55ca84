"""Learner bugs of notebook 02 (the computational graph: a micrograd-style `Value`), each with the
diagnosis code the self-check must give.

Cells: value_class (2.1 local rules, 2.2 topological order and backward), xor_solution (2.3).
"""
from bugs import Bug

LR, BW, XOR = "02.local_rules", "02.backward", "02.xor"
V = "value_class"
MUL = "self.grad += other.data * out.grad  # each factor receives the other one"
POW = "self.grad += k * self.data ** (k - 1) * out.grad"
EXP = "self.grad += out.data * out.grad  # e^x is its own derivative"
LOG = "self.grad += out.grad / self.data"
TANH = "self.grad += (1.0 - out.data ** 2) * out.grad  # written with the output t = tanh(x)"
VISIT = """            if node in visited:
                return
            visited.add(node)
            for child in node._prev:
                visit(child)
            order.append(node)  # post-order: only after all of its children"""
BACKWARD = """        self.grad = 1.0  # d self / d self
        for node in reversed(self.topological_order()):
            node._backward()"""

BUGS = [
    # ------------------------------------------------------------------ 2.1 local rules
    Bug("mul_assigns", LR, V, [(MUL, "self.grad = other.data * out.grad"),
                               ("other.grad += self.data * out.grad", "other.grad = self.data * out.grad")],
        code="02.overwrite-instead-of-accumulate", category="micrograd"),
    Bug("mul_assigns_one_side", LR, V, [("other.grad += self.data * out.grad", "other.grad = self.data * out.grad")],
        code="02.overwrite-instead-of-accumulate", category="micrograd"),
    Bug("mul_own_factor", LR, V, [(MUL, "self.grad += self.data * out.grad"),
                                  ("other.grad += self.data * out.grad", "other.grad += other.data * out.grad")],
        code="02.mul-own-factor", category="micrograd"),
    Bug("mul_no_chain", LR, V, [(MUL, "self.grad += other.data"), ("other.grad += self.data * out.grad",
                                                                   "other.grad += self.data")],
        code="02.rule-missing-out-grad", category="chain"),
    Bug("mul_uses_grad", LR, V, [(MUL, "self.grad += other.grad * out.grad"),
                                 ("other.grad += self.data * out.grad", "other.grad += self.grad * out.grad")],
        code="02.mul-uses-grad", category="micrograd"),
    Bug("pow_exponent_not_lowered", LR, V, [(POW, "self.grad += k * self.data ** k * out.grad")],
        code="02.pow-exponent-not-lowered", category="classic"),
    Bug("pow_missing_k", LR, V, [(POW, "self.grad += self.data ** (k - 1) * out.grad")],
        code="02.pow-missing-k", category="classic"),
    Bug("pow_assigns", LR, V, [(POW, "self.grad = k * self.data ** (k - 1) * out.grad")],
        code="02.overwrite-instead-of-accumulate", category="micrograd"),
    Bug("exp_uses_input", LR, V, [(EXP, "self.grad += self.data * out.grad")],
        code="02.exp-uses-input", category="input-vs-output"),
    Bug("log_gives_log", LR, V, [(LOG, "self.grad += math.log(self.data) * out.grad")],
        code="02.log-wrong-derivative", category="classic"),
    Bug("log_divides_by_output", LR, V, [(LOG, "self.grad += out.grad / out.data")],
        code="02.log-divides-by-output", category="input-vs-output"),
    Bug("log_no_chain", LR, V, [(LOG, "self.grad += 1.0 / self.data")],
        code="02.rule-missing-out-grad", category="chain"),
    Bug("log_times_input", LR, V, [(LOG, "self.grad += self.data * out.grad")],
        code="02.log-multiplies", category="classic"),
    Bug("tanh_difference_squared", LR, V, [(TANH, "self.grad += (1.0 - out.data) ** 2 * out.grad")],
        code="02.tanh-square-misplaced", category="parenthesis"),
    Bug("tanh_uses_input", LR, V, [(TANH, "self.grad += (1.0 - self.data ** 2) * out.grad")],
        code="02.tanh-uses-input", category="input-vs-output"),
    Bug("tanh_not_squared", LR, V, [(TANH, "self.grad += (1.0 - out.data) * out.grad")],
        code="02.tanh-not-squared", category="classic"),
    Bug("tanh_assigns", LR, V, [(TANH, "self.grad = (1.0 - out.data ** 2) * out.grad")],
        code="02.overwrite-instead-of-accumulate", category="micrograd"),
    # ------------------------------------------------------------------ 2.2 order and backward
    Bug("topo_no_visited", BW, V, [("            if node in visited:\n                return\n", "")],
        code="02.topo-duplicates", category="micrograd"),
    Bug("topo_preorder", BW, V, [(VISIT, """            if node in visited:
                return
            visited.add(node)
            order.append(node)
            for child in node._prev:
                visit(child)""")],
        code="02.topo-preorder", category="micrograd"),
    Bug("topo_root_children_only", BW, V, [(VISIT, """            for child in node._prev:
                order.append(child)
            order.append(node)""")],
        code="02.topo-missing-nodes", category="micrograd"),
    Bug("backward_not_reversed", BW, V, [("reversed(self.topological_order())", "self.topological_order()")],
        code="02.backward-wrong-order", category="micrograd"),
    Bug("backward_no_seed", BW, V, [("self.grad = 1.0  # d self / d self", "pass")],
        code="02.backward-no-seed", category="micrograd"),
    Bug("backward_root_only", BW, V, [(BACKWARD, "        self.grad = 1.0\n        self._backward()")],
        code="02.backward-wrong-order", category="micrograd"),
    Bug("backward_breadth_first", BW, V, [(BACKWARD, """        self.grad, queue, seen = 1.0, [self], {self}
        for node in queue:
            node._backward()
            fresh = [c for c in dict.fromkeys(node._prev) if c not in seen]
            seen.update(fresh)
            queue += fresh""")],
        code="02.backward-breadth-first", category="micrograd"),
    # ------------------------------------------------------------------ 2.3 XOR
    Bug("xor_sum_not_mean", XOR, "xor_solution", [("mse = total / len(X)", "mse = total")],
        code="factor-of-N", category="scale"),
    Bug("xor_no_backward", XOR, "xor_solution", [("    mse.backward()\n", "")],
        code="02.xor-no-backward", category="micrograd"),
    Bug("xor_no_tanh", XOR, "xor_solution", [(", V[\"b1\"][j]).tanh() for j", ", V[\"b1\"][j]) for j")],
        code="02.xor-missing-tanh", category="forward"),
    Bug("xor_returns_value", XOR, "xor_solution", [("return mse.data, grads", "return mse, grads")],
        code="malformed", category="form"),
    Bug("xor_hidden_size_from_inputs", XOR, "xor_solution", [('H = len(V["b1"])', "H = X.shape[1]")],
        code="02.xor-wrong-hidden-size", category="shape"),
    Bug("xor_w1_columns", XOR, "xor_solution", [('zip(V["W1"][j], x_n)', 'zip(V["W1"][:, j], x_n)')],
        code="02.xor-weight-transposed", category="transpose"),
    Bug("xor_tanh_on_output", XOR, "xor_solution", [('V["b2"][0])\n', 'V["b2"][0]).tanh()\n')],
        code="02.xor-tanh-on-output", category="forward"),
    Bug("xor_no_b1", XOR, "xor_solution", [(', V["b1"][j]).tanh()', ', Value(0.0)).tanh()')],
        code="02.xor-missing-bias", category="forward"),
    Bug("xor_b2_as_float", XOR, "xor_solution", [(', V["b2"][0])', ') + float(params["b2"][0])')],
        code="02.xor-param-not-in-graph", category="micrograd"),
    Bug("xor_b1_as_float", XOR, "xor_solution", [(', V["b1"][j]).tanh()', ', float(params["b1"][j])).tanh()')],
        code="02.xor-param-not-in-graph", category="micrograd"),
]
