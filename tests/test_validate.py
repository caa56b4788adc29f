"""labkit.validate: the shared argument checks behind every public function (issue 10)."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from labkit import validate as v


@given(st.integers(min_value=1, max_value=10**12))
def test_positive_int_accepts_counts(n):
    assert v.positive_int("epochs", n) == n


@given(st.one_of(st.integers(max_value=0), st.booleans(), st.floats(allow_nan=True), st.text(max_size=3)))
def test_positive_int_refuses_everything_else_naming_the_argument(bad):
    with pytest.raises((ValueError, TypeError), match="epochs must be an integer, at least 1, not"):
        v.positive_int("epochs", bad)


@given(st.floats(min_value=0.0, allow_infinity=False))
def test_nonnegative_float_accepts_finite_values_from_zero(x):
    assert v.nonnegative_float("epsilon", x) == x


@given(
    st.one_of(
        st.floats(max_value=-1e-300),
        st.sampled_from([math.nan, math.inf, -math.inf]),
        st.booleans(),
        st.text(max_size=3),
        st.none(),
    )
)
def test_nonnegative_float_refuses_nan_inf_negatives_and_non_numbers(bad):
    with pytest.raises((ValueError, TypeError), match=r"epsilon must be a finite number >= 0, not"):
        v.nonnegative_float("epsilon", bad)


@given(st.one_of(st.floats(min_value=1.0, exclude_min=True), st.floats(max_value=0.0, exclude_max=True)))
def test_probability_is_a_closed_unit_interval(bad):
    with pytest.raises(ValueError, match=r"rate must be a finite number in \[0, 1\]"):
        v.probability("rate", bad)
    assert v.probability("rate", 0) == 0.0 and v.probability("rate", 1) == 1.0


def test_images_refuse_nan_pixels_out_of_range_wrong_shape_and_non_tensors():
    x = torch.rand(3, 1, 4, 4)
    assert v.images("x", x) is x
    nan = x.clone()
    nan[1, 0, 2, 2] = math.nan
    with pytest.raises(ValueError, match="x contains NaN"):
        v.images("x", nan)
    with pytest.raises(
        ValueError, match=r"x must be images with pixels in \[0, 1\], got values from 0 to 255"
    ):
        v.images("x", torch.tensor([0.0, 255.0]).view(1, 1, 1, 2))
    with pytest.raises(ValueError, match="x must be images N x C x H x W, got shape"):
        v.images("x", x[0])
    with pytest.raises(ValueError, match="x is empty"):
        v.images("x", x[:0])
    with pytest.raises(ValueError, match="x must be a float tensor"):
        v.images("x", x.long())
    with pytest.raises(TypeError, match="x must be a torch tensor"):
        v.images("x", x.tolist())


def test_labels_refuse_floats_other_lengths_and_classes_out_of_range():
    y = torch.tensor([0, 3, 9])
    assert v.labels("y", y, n=3, num_classes=10) is y
    with pytest.raises(ValueError, match="y must be an integer tensor"):
        v.labels("y", y.float())
    with pytest.raises(ValueError, match="y must hold one label per input row .*: 4 rows, 3 labels"):
        v.labels("y", y, n=4)
    with pytest.raises(ValueError, match=r"y must be class indices in 0\.\.8, got values from 0 to 9"):
        v.labels("y", y, num_classes=9)
    with pytest.raises(ValueError, match=r"y must be class indices in >= 0"):
        v.labels("y", y - 1)


def test_model_labels_read_the_number_of_classes_off_the_model():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    x = torch.rand(2, 1, 2, 2)
    v.model_labels("y", torch.tensor([0, 2]), model=model, x=x)
    with pytest.raises(ValueError, match=r"y must be class indices in 0\.\.2"):
        v.model_labels("y", torch.tensor([0, 3]), model=model, x=x)
    with pytest.raises(ValueError, match=r"x of shape \(2, 1, 3, 3\) does not fit the model"):
        v.model_outputs(model, torch.rand(2, 1, 3, 3))
    assert model.training, "the model's mode is restored"


def test_same_length_names_every_argument():
    assert v.same_length(x=[1, 2], y=[3, 4]) == 2
    with pytest.raises(ValueError, match="x and y must have matching lengths .*x has 2 rows, y has 1 rows"):
        v.same_length(x=[1, 2], y=[3])


def test_choice_names_the_argument_the_value_and_the_options():
    assert v.choice("norm", "l2", ("l2", "linf")) == "l2"
    with pytest.raises(ValueError, match="norm 'l3' is not known: choose one of l2, linf"):
        v.choice("norm", "l3", ("l2", "linf"))


def test_unknown_names_are_both_key_and_value_errors_with_a_readable_message():
    error = v.UnknownName("exercise_id must be one of 00.integrity")
    assert isinstance(error, KeyError) and isinstance(error, ValueError)
    assert str(error) == "exercise_id must be one of 00.integrity"  # no KeyError quotes
    assert isinstance(v.OutOfRange("index"), IndexError) and isinstance(v.OutOfRange("i"), ValueError)
    with pytest.raises(IndexError, match="index 4 is out of range: choose 0 to 3"):
        v.position("index", 4, length=4)


def test_reading_the_number_of_classes_leaves_the_random_stream_alone():
    class Noisy(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(4, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.linear(x.flatten(1) + torch.rand_like(x.flatten(1)))

    model = Noisy()
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    assert v.model_outputs(model, torch.zeros(2, 1, 2, 2)) == 3
    assert torch.equal(torch.rand(3), expected), "a randomised model's draws do not move the global stream"


def test_path_names_the_argument_for_non_paths_and_missing_files(tmp_path):
    assert v.path("root", str(tmp_path), exists="dir") == tmp_path
    for bad in (3, None, b"x", "", True):
        with pytest.raises(TypeError, match=r"^root must be a path"):
            v.path("root", bad)
    with pytest.raises(FileNotFoundError, match="root .* is not a directory"):
        v.path("root", tmp_path / "missing", exists="dir")
    with pytest.raises(FileNotFoundError, match="path .* is not a file"):
        v.path("path", tmp_path, exists="file")
