"""Tests for backprop_lab.data: the digits, splits, toy sets, minibatches and augmentations."""
from importlib import resources

import numpy as np
import pytest

from backprop_lab import data
from backprop_lab.data import (
    add_noise,
    digits_split,
    load_digits,
    make_circles,
    make_moons,
    make_regression_curve,
    make_spirals,
    make_xor,
    minibatches,
    random_flip,
    random_shift,
    shift,
    train_test_split,
    xor_truth_table,
)

# --- digits --------------------------------------------------------------------------------

def test_digits_shapes_dtypes_ranges():
    X, y = load_digits()
    assert X.shape == (1797, 1, 8, 8) and X.dtype == np.float64
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    assert set(np.unique(y)) == set(range(10))
    assert np.allclose(X * 16, np.round(X * 16))  # pixel counts / 16

    Xf, yf = load_digits(flatten=True, dtype=np.float32)
    assert Xf.shape == (1797, 64) and Xf.dtype == np.float32
    np.testing.assert_array_equal(Xf, X.reshape(1797, 64).astype(np.float32))
    np.testing.assert_array_equal(yf, y)

    raw, _ = load_digits(normalize=False, dtype=np.uint8)
    assert raw.dtype == np.uint8 and raw.max() == 16
    with pytest.raises(ValueError, match="floating"):
        load_digits(dtype=np.int32)


def test_load_digits_returns_fresh_arrays():
    X1, y1 = load_digits()
    X1[:] = -1.0
    y1[:] = -1
    X2, y2 = load_digits()
    assert X2.min() == 0.0 and y2.min() == 0


def test_licence_file_ships_with_the_data():
    text = resources.files(data).joinpath("DIGITS_LICENSE.txt").read_text()
    assert "CC BY 4.0" in text and "Alpaydin" in text and "Kaynak" in text


def test_digits_split_default_is_1437_360_stratified():
    X_tr, X_te, y_tr, y_te = digits_split()
    assert X_tr.shape == (1437, 1, 8, 8) and X_te.shape == (360, 1, 8, 8)
    assert y_tr.dtype == y_te.dtype == np.int64
    _, y = load_digits()
    # every class within one sample of its exact share
    expected = np.bincount(y) * 360 / 1797
    assert np.all(np.abs(np.bincount(y_te, minlength=10) - expected) < 1)
    np.testing.assert_array_equal(np.bincount(y_tr) + np.bincount(y_te), np.bincount(y))

    X_tr_f, *_ = digits_split(flatten=True)
    assert X_tr_f.shape == (1437, 64)
    np.testing.assert_array_equal(X_tr_f, X_tr.reshape(1437, 64))


# --- train_test_split ----------------------------------------------------------------------

def test_split_partitions_the_samples_and_keeps_pairs():
    X = np.arange(100, dtype=float)[:, None] * np.ones((1, 3))
    y = np.arange(100) % 4
    for stratify in (True, False):
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, seed=3, stratify=stratify)
        assert len(X_te) == 25 and len(X_tr) == 75
        ids = np.concatenate([X_tr[:, 0], X_te[:, 0]]).astype(int)
        assert sorted(ids) == list(range(100))  # every sample exactly once
        np.testing.assert_array_equal(X_tr[:, 0].astype(int) % 4, y_tr)  # rows still match labels
        np.testing.assert_array_equal(X_te[:, 0].astype(int) % 4, y_te)


@pytest.mark.parametrize("test_size", [0.1, 0.2, 0.33, 0.5])
def test_stratified_split_keeps_class_proportions(test_size):
    rng = np.random.default_rng(1)
    y = rng.choice(5, size=503, p=[0.4, 0.3, 0.15, 0.1, 0.05])
    X = rng.normal(size=(503, 2))
    _, _, y_tr, y_te = train_test_split(X, y, test_size=test_size, seed=0)
    counts = np.bincount(y, minlength=5)
    assert len(y_te) == int(np.ceil(test_size * 503))
    assert np.all(np.abs(np.bincount(y_te, minlength=5) - counts * len(y_te) / 503) < 1)


def test_split_is_deterministic_by_seed():
    X, y = load_digits(flatten=True)
    a = train_test_split(X, y, seed=5)
    b = train_test_split(X, y, seed=5)
    c = train_test_split(X, y, seed=6)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[1], c[1])


@pytest.mark.parametrize("bad", [0, 0.0, 1, 1.0, -0.2, 1.5, True, "0.2", None])
def test_split_rejects_bad_test_size(bad):
    X, y = np.zeros((10, 2)), np.arange(10) % 2
    with pytest.raises(ValueError, match="test_size"):
        train_test_split(X, y, test_size=bad)


def test_split_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="shape"):
        train_test_split(np.zeros((10, 2)), np.zeros(9))


# --- toy sets ------------------------------------------------------------------------------

TOYS = {
    "spirals": lambda seed: make_spirals(n_per_class=50, n_classes=4, seed=seed),
    "moons": lambda seed: make_moons(n=201, seed=seed),
    "xor": lambda seed: make_xor(n=202, seed=seed),
    "circles": lambda seed: make_circles(n=101, seed=seed),
}


@pytest.mark.parametrize("name", TOYS)
def test_toy_sets_shapes_dtypes_determinism(name):
    X, y = TOYS[name](0)
    n = {"spirals": 200, "moons": 201, "xor": 202, "circles": 101}[name]
    assert X.shape == (n, 2) and X.dtype == np.float64 and np.all(np.isfinite(X))
    assert y.shape == (n,) and y.dtype == np.int64
    counts = np.bincount(y)
    assert counts.max() - counts.min() <= 1  # balanced classes
    X2, y2 = TOYS[name](0)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(X, TOYS[name](1)[0])


def test_toy_defaults_and_dtype():
    assert make_spirals()[0].shape == (300, 2) and set(make_spirals()[1]) == {0, 1, 2}
    assert make_moons()[0].shape == (200, 2)
    assert make_xor()[0].shape == (200, 2)
    assert make_moons(dtype=np.float32)[0].dtype == np.float32


def test_xor_truth_table_and_noise_free_xor():
    X, y = xor_truth_table()
    np.testing.assert_array_equal(X, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(y, [0, 1, 1, 0])
    Xn, yn = make_xor(n=8, noise=0.0)
    np.testing.assert_array_equal(yn, np.logical_xor(Xn[:, 0], Xn[:, 1]).astype(np.int64))


def test_spirals_are_in_the_unit_disc_without_noise():
    X, _ = make_spirals(noise=0.0)
    assert np.all(np.linalg.norm(X, axis=1) <= 1.0 + 1e-12)


@pytest.mark.parametrize("kind", ["sine", "cubic", "abs"])
def test_regression_curve(kind):
    X, y = make_regression_curve(n=50, kind=kind, seed=2)
    assert X.shape == (50, 1) and y.shape == (50, 1)  # y is a column, like an (N, 1) output
    assert X.dtype == y.dtype == np.float64
    assert np.all(np.diff(X[:, 0]) >= 0) and X.min() >= -1 and X.max() <= 1
    X0, y0 = make_regression_curve(n=50, kind=kind, seed=2, noise=0.0)
    f = {"sine": np.sin(np.pi * X0), "cubic": 2 * X0**3 - X0, "abs": np.abs(X0)}[kind]
    np.testing.assert_allclose(y0, f)


def test_toy_sets_reject_bad_args():
    with pytest.raises(ValueError, match="kind"):
        make_regression_curve(kind="tan")
    with pytest.raises(ValueError, match="noise"):
        make_moons(noise=-0.1)
    with pytest.raises(ValueError):
        make_spirals(n_per_class=0)


# --- minibatches ---------------------------------------------------------------------------

@pytest.mark.parametrize("n, batch_size", [(100, 10), (103, 10), (7, 64), (64, 1)])
def test_minibatches_cover_every_sample_once(n, batch_size):
    X = np.arange(n, dtype=float)[:, None] * np.ones((1, 2))
    y = np.arange(n)
    seen = []
    batches = list(minibatches(X, y, batch_size, seed=0))
    for xb, yb in batches:
        assert len(xb) == len(yb) <= batch_size
        np.testing.assert_array_equal(xb[:, 0], yb)  # rows stay paired with their labels
        seen.extend(yb.tolist())
    assert sorted(seen) == list(range(n))
    assert len(batches) == -(-n // batch_size)
    assert seen != list(range(n)) or n < 3  # shuffled


def test_minibatches_drop_last_and_no_shuffle():
    X, y = np.arange(23.0), np.arange(23)
    batches = list(minibatches(X, y, 5, shuffle=False, drop_last=True))
    assert len(batches) == 4 and all(len(xb) == 5 for xb, _ in batches)
    np.testing.assert_array_equal(np.concatenate([yb for _, yb in batches]), np.arange(20))
    assert [len(xb) for xb, _ in minibatches(X, y, 5, shuffle=False)] == [5, 5, 5, 5, 3]


def test_minibatches_seed_and_rng_are_reproducible():
    X, y = np.arange(50.0), np.arange(50)
    order = lambda it: np.concatenate([yb for _, yb in it])
    np.testing.assert_array_equal(order(minibatches(X, y, 8, seed=4)), order(minibatches(X, y, 8, seed=4)))
    rng_a, rng_b = np.random.default_rng(9), np.random.default_rng(9)
    epoch1 = order(minibatches(X, y, 8, rng=rng_a))
    epoch2 = order(minibatches(X, y, 8, rng=rng_a))
    assert not np.array_equal(epoch1, epoch2)  # a new order each epoch...
    np.testing.assert_array_equal(epoch1, order(minibatches(X, y, 8, rng=rng_b)))  # ...reproducibly
    np.testing.assert_array_equal(epoch2, order(minibatches(X, y, 8, rng=rng_b)))


def test_minibatches_without_labels():
    xs = [xb for xb, yb in minibatches(np.arange(10.0), None, 4, shuffle=False) if yb is None]
    assert [len(xb) for xb in xs] == [4, 4, 2]


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, None])
def test_minibatches_reject_bad_batch_size_at_call_time(bad):
    with pytest.raises(ValueError, match="batch_size"):
        minibatches(np.zeros((4, 2)), np.zeros(4), bad)  # before the first next()


def test_minibatches_reject_mismatch_and_seed_with_rng():
    with pytest.raises(ValueError, match="same length"):
        minibatches(np.zeros((4, 2)), np.zeros(3), 2)
    with pytest.raises(ValueError, match="not both"):
        minibatches(np.zeros(4), np.zeros(4), 2, seed=0, rng=np.random.default_rng(0))


# --- augmentations -------------------------------------------------------------------------

def test_shift_is_a_true_shift_with_zero_fill():
    X = np.arange(1, 2 * 3 * 5 * 4 + 1, dtype=float).reshape(2, 3, 5, 4)
    for dy in range(-5, 6):
        for dx in range(-4, 5):
            out = shift(X, dy, dx)
            assert out.shape == X.shape and out.dtype == X.dtype
            for i in range(5):
                for j in range(4):
                    si, sj = i - dy, j - dx
                    expected = X[..., si, sj] if 0 <= si < 5 and 0 <= sj < 4 else 0.0
                    np.testing.assert_array_equal(out[..., i, j], expected)


def test_random_shift_shifts_each_image_by_its_own_offset():
    X, _ = load_digits()
    X = X[:200]
    out, shifts = random_shift(X, max_shift=1, rng=0, return_shifts=True)
    assert out.shape == X.shape and out.dtype == X.dtype
    assert shifts.shape == (200, 2) and np.abs(shifts).max() == 1
    assert len(np.unique(shifts, axis=0)) == 9  # all nine offsets occur
    for k in range(len(X)):
        np.testing.assert_array_equal(out[k], shift(X[k], *shifts[k]))
    np.testing.assert_array_equal(random_shift(X, rng=0), out)  # deterministic by seed
    np.testing.assert_array_equal(random_shift(X, max_shift=0, rng=0), X)
    assert not np.shares_memory(out, X)


def test_random_shift_rejects_flat_input_and_bad_shift():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        random_shift(np.zeros((4, 64)))
    with pytest.raises(ValueError, match="max_shift"):
        random_shift(np.zeros((4, 1, 8, 8)), max_shift=-1)


def test_add_noise():
    X = np.zeros((2000, 1, 8, 8), dtype=np.float32)
    out = add_noise(X, 0.5, rng=0)
    assert out.shape == X.shape and out.dtype == np.float32
    assert abs(out.std() - 0.5) < 0.01 and abs(out.mean()) < 0.01
    np.testing.assert_array_equal(out, add_noise(X, 0.5, rng=0))
    np.testing.assert_array_equal(add_noise(X, 0.0, rng=0), X)
    with pytest.raises(ValueError, match="std"):
        add_noise(X, -1.0)


def test_random_flip_images_and_points():
    X, _ = load_digits()
    X = X[:100]
    always = random_flip(X, rng=0, p=1.0)
    np.testing.assert_array_equal(always, X[..., ::-1])
    np.testing.assert_array_equal(random_flip(X, rng=0, p=0.0), X)
    some = random_flip(X, rng=0)
    flipped = np.array([np.array_equal(a, b[..., ::-1]) and not np.array_equal(a, b) for a, b in zip(some, X)])
    assert 20 < flipped.sum() < 80
    P, y = make_circles()
    Pf = random_flip(P, rng=0, p=1.0)
    np.testing.assert_array_equal(Pf, P * [-1, 1])
    with pytest.raises(ValueError):
        random_flip(np.zeros((4, 64)))
    with pytest.raises(ValueError, match="p must"):
        random_flip(X, p=1.5)
