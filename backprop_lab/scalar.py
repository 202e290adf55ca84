"""A scalar autograd engine: the chain rule, one number at a time.

Every `Value` remembers the Values it was computed from and a `_backward` closure that knows
one *local* derivative. `backward()` visits the graph in reverse topological order and lets each
node push its gradient to its children:

    child.grad += (d out / d child) * out.grad        # the chain rule, one edge at a time

Example (course notebook 01)::

    >>> w, x = Value(2.0, label="w"), Value(3.0, label="x")
    >>> loss = (w * x - 10) ** 2
    >>> loss.backward()
    >>> loss, w.grad, x.grad
    (Value(data=16.0, grad=1.0), -24.0, -16.0)

Everything here is plain Python floats; the vectorized numpy layers in `backprop_lab.functional`
apply the same rules to whole arrays at once. `draw_graph` (matplotlib, no graphviz) shows a graph
with its data and gradients.
"""
from __future__ import annotations

import math
import numbers

__all__ = ["Value", "draw_graph"]


class Value:
    """A scalar that records how it was computed, so that gradients can flow back to its inputs.

    Args:
        data: the number (stored as a Python float).
        label: a name shown by `draw_graph` (e.g. "w1", "loss").
        _children: the Values this one was computed from (set by the operations, not by you).
        _op: the operation that produced it, e.g. "+", "tanh" (set by the operations).

    Attributes:
        data: the forward value.
        grad: d(root)/d(self) after `root.backward()`; starts at 0.0.
    """

    def __init__(self, data, label="", _children=(), _op=""):
        self.data = float(data)
        self.grad = 0.0
        self.label = label
        # A tuple, not a set: `a * a` really has the same child twice, and the drawing shows both edges.
        self._prev = tuple(_children)
        self._op = _op
        self._backward = lambda: None  # leaves have nothing to pass on

    def __repr__(self):
        return f"Value(data={self.data!r}, grad={self.grad!r})"

    # --- binary operations ---------------------------------------------------------------
    # Each one computes `out`, then defines `_backward` right beside it. Every rule ADDS to
    # `child.grad` (never assigns): a Value used by several nodes (fan-out, or `a * a`) must
    # receive the SUM of the gradients along all its paths -- the multivariable chain rule.

    def __add__(self, other):
        other = _as_value(other)
        if other is NotImplemented:
            return other
        out = Value(self.data + other.data, _children=(self, other), _op="+")

        def _backward():
            self.grad += 1.0 * out.grad  # d(a+b)/da = 1: addition hands the gradient through
            other.grad += 1.0 * out.grad

        out._backward = _backward
        return out

    def __sub__(self, other):
        other = _as_value(other)
        if other is NotImplemented:
            return other
        out = Value(self.data - other.data, _children=(self, other), _op="-")

        def _backward():
            self.grad += 1.0 * out.grad
            other.grad += -1.0 * out.grad

        out._backward = _backward
        return out

    def __mul__(self, other):
        other = _as_value(other)
        if other is NotImplemented:
            return other
        out = Value(self.data * other.data, _children=(self, other), _op="*")

        def _backward():
            self.grad += other.data * out.grad  # d(ab)/da = b: each factor gets the *other* one
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __truediv__(self, other):
        other = _as_value(other)
        if other is NotImplemented:
            return other
        out = Value(self.data / other.data, _children=(self, other), _op="/")

        def _backward():
            self.grad += (1.0 / other.data) * out.grad
            other.grad += (-self.data / other.data**2) * out.grad

        out._backward = _backward
        return out

    def __pow__(self, exponent):
        if isinstance(exponent, Value):
            raise TypeError(
                "Value ** Value is not supported: the exponent must be a constant number "
                "(write exp(b * log(a)) if you really need a variable exponent)"
            )
        if not isinstance(exponent, numbers.Real):
            return NotImplemented
        k = float(exponent)
        if self.data < 0 and not k.is_integer():
            raise ValueError(f"a negative number ({self.data!r}) to a fractional power ({k!r}) is not real")
        out = Value(self.data**k, _children=(self,), _op=f"**{exponent:g}")

        def _backward():
            self.grad += k * self.data ** (k - 1.0) * out.grad  # power rule

        out._backward = _backward
        return out

    # Python numbers on the left (2 + v, 2 - v, 2 * v, 2 / v, 2 ** v) end up here.
    def __radd__(self, other):
        other = _as_value(other)
        return other if other is NotImplemented else other + self

    def __rsub__(self, other):
        other = _as_value(other)
        return other if other is NotImplemented else other - self

    def __rmul__(self, other):
        other = _as_value(other)
        return other if other is NotImplemented else other * self

    def __rtruediv__(self, other):
        other = _as_value(other)
        return other if other is NotImplemented else other / self

    def __rpow__(self, base):
        # c ** v with a constant positive base c: d/dv c**v = log(c) * c**v.
        if not isinstance(base, numbers.Real):
            return NotImplemented
        if base <= 0:
            raise ValueError(f"c ** Value needs a positive base c, got {base}")
        out = Value(float(base) ** self.data, _children=(self,), _op=f"{base:g}**")

        def _backward():
            self.grad += math.log(base) * out.data * out.grad

        out._backward = _backward
        return out

    # --- unary operations ----------------------------------------------------------------

    def __neg__(self):
        out = Value(-self.data, _children=(self,), _op="neg")

        def _backward():
            self.grad += -1.0 * out.grad

        out._backward = _backward
        return out

    def exp(self):
        """e ** self; the derivative is the output itself."""
        try:
            e = math.exp(self.data)
        except OverflowError:  # above ~709.78; numpy and torch give inf too
            e = math.inf
        out = Value(e, _children=(self,), _op="exp")

        def _backward():
            self.grad += out.data * out.grad

        out._backward = _backward
        return out

    def log(self):
        """Natural logarithm (needs data > 0); the derivative is 1 / self."""
        if self.data <= 0:
            raise ValueError(f"log of a non-positive number: {self.data!r}")
        out = Value(math.log(self.data), _children=(self,), _op="log")

        def _backward():
            self.grad += (1.0 / self.data) * out.grad

        out._backward = _backward
        return out

    def tanh(self):
        """Hyperbolic tangent; the derivative 1 - tanh**2 is at most 1."""
        t = math.tanh(self.data)
        out = Value(t, _children=(self,), _op="tanh")

        def _backward():
            self.grad += (1.0 - t * t) * out.grad

        out._backward = _backward
        return out

    def sigmoid(self):
        """Logistic sigmoid 1 / (1 + e**-x), stable for any x; the derivative s(1 - s) is at most 1/4."""
        x = self.data
        # Only ever exponentiate a non-positive number, so exp cannot overflow (sigmoid(-800) = 0.0, not an error).
        if x >= 0:
            s = 1.0 / (1.0 + math.exp(-x))
        else:
            e = math.exp(x)
            s = e / (1.0 + e)
        out = Value(s, _children=(self,), _op="sigmoid")

        def _backward():
            self.grad += s * (1.0 - s) * out.grad

        out._backward = _backward
        return out

    def relu(self):
        """max(0, x). At the kink x = 0 we use the derivative 0, as torch does."""
        out = Value(self.data if self.data > 0 else 0.0, _children=(self,), _op="relu")

        def _backward():
            self.grad += (1.0 if self.data > 0 else 0.0) * out.grad

        out._backward = _backward
        return out

    # --- the backward pass ---------------------------------------------------------------

    def topological_order(self):
        """All Values this one depends on (itself included), each once, every node after its children.

        Iterative depth-first search, so a long chain (thousands of nodes) cannot hit Python's
        recursion limit. A node is emitted only when all of its children have been emitted.

        Returns:
            list[Value]: leaves first, `self` last.
        """
        order, visited = [], set()
        stack = [(self, False)]  # (node, are its children already emitted?)
        while stack:
            node, children_done = stack.pop()
            if children_done:
                order.append(node)
                continue
            if node in visited:  # reached again through another path: already emitted
                continue
            visited.add(node)
            stack.append((node, True))  # comes back to `node` after all the children below
            for child in node._prev:
                if child not in visited:
                    stack.append((child, False))
        return order

    def backward(self):
        """Fill `.grad` of every Value in the graph with d(self)/d(value).

        Seeds `self.grad = 1.0` (d self / d self) and runs every node's `_backward` from the
        output to the inputs, so a node has received all of its gradient before passing it on.
        Like torch, the gradients of *leaves* accumulate over several `backward()` calls (call
        `zero_grad()` between steps); those of intermediate nodes are recomputed each time.
        """
        order = self.topological_order()
        for node in order:
            if node._prev:  # intermediate: start from 0 so a second call is not counted twice
                node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):
            node._backward()

    def zero_grad(self):
        """Set the grad of every Value in this graph (leaves included) back to 0.0."""
        for node in self.topological_order():
            node.grad = 0.0


def _as_value(x):
    """Wrap a Python/numpy number as a constant leaf Value; anything else is NotImplemented."""
    if isinstance(x, Value):
        return x
    if isinstance(x, numbers.Real):
        return Value(x)
    return NotImplemented


def draw_graph(root, ax=None, **kwargs):
    """Draw the graph that produced `root` with matplotlib (boxes: label/data/grad, circles: ops).

    See `backprop_lab.scalar_draw.draw_graph` for the arguments. Returns the matplotlib Axes.
    """
    from backprop_lab.scalar_draw import draw_graph as _draw  # matplotlib only when drawing

    return _draw(root, ax=ax, **kwargs)
