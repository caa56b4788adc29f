"""Input validation at the model boundary: good input comes out clean, bad input gets a clear error."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from labkit.service.validation import MAX_BATCH, InputValidationError, validate_digit_batch


def _assert_clean(batch: torch.Tensor, n: int) -> None:
    assert isinstance(batch, torch.Tensor) and batch.dtype == torch.float32
    assert tuple(batch.shape) == (n, 1, 28, 28)
    assert torch.isfinite(batch).all() and batch.min() >= 0 and batch.max() <= 1


@pytest.mark.parametrize("shape", [(28, 28), (1, 28, 28), (3, 28, 28), (3, 1, 28, 28)])
def test_accepted_layouts_become_n_x_1_x_28_x_28(shape):
    data = np.random.default_rng(0).random(shape)
    n = 1 if len(shape) == 2 else shape[0]
    out = validate_digit_batch(data)
    _assert_clean(out, n)
    assert np.allclose(out.numpy().reshape(-1), data.reshape(-1), atol=1e-6)


def test_lists_tensors_and_uint8_are_accepted_and_uint8_is_scaled():
    raw = np.arange(2 * 28 * 28, dtype=np.int64).reshape(2, 28, 28) % 256
    out = validate_digit_batch(raw.astype(np.uint8))
    _assert_clean(out, 2)
    assert out.max() == pytest.approx(1.0) and out[0, 0, 0, 1] == pytest.approx(1 / 255)
    _assert_clean(validate_digit_batch((raw / 255.0).tolist()), 2)
    _assert_clean(validate_digit_batch(torch.rand(4, 1, 28, 28, requires_grad=True)), 4)
    _assert_clean(validate_digit_batch(torch.rand(4, 28, 28, dtype=torch.bfloat16)), 4)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (np.zeros((2, 3, 28, 28)), "shape (2, 3, 28, 28)"),
        (np.zeros((32, 32)), "shape (32, 32)"),
        (np.zeros(784), "shape (784,)"),
        (np.float32(0.5), "got float32"),
        (np.array(0.5), "shape ()"),
        (np.zeros((1, 1, 1, 28, 28)), "shape (1, 1, 1, 28, 28)"),
        (np.zeros((0, 28, 28)), "empty"),
        (np.zeros((MAX_BATCH + 1, 28, 28)), "exceeds the limit"),
        (np.full((28, 28), np.nan), "NaN or infinite"),
        (np.full((28, 28), np.inf), "NaN or infinite"),
        (np.full((28, 28), 255.0), "divide by 255"),
        (np.full((28, 28), -0.5), "must lie in [0, 1]"),
        (np.zeros((28, 28), dtype=np.int64), "integer dtype int64"),
        (np.zeros((28, 28), dtype=bool), "bool dtype"),
        (np.zeros((28, 28), dtype=np.complex64), "complex dtype"),
        (np.array([["a"] * 28] * 28), "non-numeric"),
        ([[0.0] * 28] * 27 + [[0.0] * 27], "ragged"),
        ([["x"] * 28] * 28, "non-numbers"),
        ([[True] * 28] * 28, "booleans (true/false) are not numbers"),
        ([[0.5] * 27 + [False]] * 28, "booleans (true/false) are not numbers"),
        ([[10**400] * 28] * 28, "too large to be read as floats"),
        ([[[0.5] * 28] * 28, [[[0.5]]]], "ragged"),
        ("pixels", "got str"),
        ({"image": []}, "got dict"),
        (None, "got NoneType"),
    ],
    ids=lambda v: v if isinstance(v, str) and " " in v else None,
)
def test_bad_input_gets_a_clear_error(data, words):
    with pytest.raises(InputValidationError) as info:
        validate_digit_batch(data)
    assert words in str(info.value)


def test_batch_limit_is_a_keyword():
    _assert_clean(validate_digit_batch(np.zeros((3, 28, 28)), max_batch=3), 3)
    with pytest.raises(InputValidationError, match="limit of 2"):
        validate_digit_batch(np.zeros((3, 28, 28)), max_batch=2)


def test_validation_error_is_a_value_error():
    assert issubclass(InputValidationError, ValueError)


# --- fuzzing: whatever arrives, the answer is a clean batch or an InputValidationError ----------

_shapes = st.sampled_from(
    [
        (28, 28),
        (1, 28, 28),
        (2, 28, 28),
        (2, 1, 28, 28),
        (0, 28, 28),
        (28,),
        (2, 2, 28, 28),
        (1, 28, 27),
        (),
        (3, 1, 1, 28, 28),
        (MAX_BATCH + 1, 28, 28),
    ]
)
_dtypes = st.sampled_from([np.float16, np.float32, np.float64, np.uint8, np.int32, np.int64, np.bool_])
_arrays = st.tuples(_dtypes, _shapes).flatmap(
    lambda pair: hnp.arrays(pair[0], pair[1], elements=hnp.from_dtype(np.dtype(pair[0])))
)
_untrusted = st.one_of(
    _arrays,
    _arrays.map(torch.from_numpy),
    _arrays.map(lambda a: a.tolist()),
    st.lists(st.one_of(st.floats(), st.text(max_size=2), st.none()), max_size=5),
    st.text(max_size=5),
    st.none(),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_untrusted)
def test_fuzz_input_contract(raw):
    try:
        out = validate_digit_batch(raw)
    except InputValidationError as error:
        assert str(error)  # a message, never a bare exception
        return
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    assert out.ndim == 4 and tuple(out.shape[1:]) == (1, 28, 28) and 1 <= out.shape[0] <= MAX_BATCH
    assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


# --- targeted properties: each kind of bad pixel is named, good pixels pass through unchanged ----

_valid_images = st.sampled_from([(28, 28), (1, 28, 28), (3, 28, 28), (2, 1, 28, 28)]).flatmap(
    lambda shape: hnp.arrays(np.float32, shape, elements=st.floats(0.0, 1.0, width=32))
)


@settings(max_examples=60, deadline=None)
@given(_valid_images)
def test_fuzz_valid_pixels_pass_through_unchanged(image):
    out = validate_digit_batch(image)
    assert np.array_equal(out.numpy().reshape(-1), image.reshape(-1))


@settings(max_examples=60, deadline=None)
@given(_valid_images, st.data(), st.sampled_from([np.nan, np.inf, -np.inf]))
def test_fuzz_one_non_finite_pixel_anywhere_is_named(image, data, bad):
    index = data.draw(st.tuples(*(st.integers(0, size - 1) for size in image.shape)))
    image = image.copy()
    image[index] = bad
    with pytest.raises(InputValidationError, match=r"^1 pixel\(s\) are NaN or infinite"):
        validate_digit_batch(image)


@settings(max_examples=60, deadline=None)
@given(_valid_images, st.data(), st.one_of(st.floats(-1e6, -1e-3), st.floats(1.001, 1e6)))
def test_fuzz_one_out_of_range_pixel_anywhere_is_named(image, data, bad):
    index = data.draw(st.tuples(*(st.integers(0, size - 1) for size in image.shape)))
    image = image.astype(np.float64)
    image[index] = bad
    with pytest.raises(InputValidationError, match=r"must lie in \[0, 1\]"):
        validate_digit_batch(image)


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(np.uint8, st.sampled_from([(28, 28), (2, 28, 28), (1, 1, 28, 28)])))
def test_fuzz_any_uint8_image_is_scaled_to_unit_range(raw):
    out = validate_digit_batch(raw)
    assert np.allclose(out.numpy().reshape(-1), raw.reshape(-1) / 255.0)
