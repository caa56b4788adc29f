"""The shipped datasets: shapes, ranges, splits, and tamper detection."""

from __future__ import annotations

import pytest
import torch

from labkit.data import clinic_info, digits_arrays, load_clinic, load_digits
from labkit.integrity import IntegrityError, read_manifest, sha256_file
from labkit.paths import DatasetsNotFoundError, datasets_dir
from tests.helpers import copy_datasets


def test_digits_shapes_ranges_and_split():
    x, y = load_digits("train")
    xt, yt = load_digits("test")
    assert x.shape == (4000, 1, 28, 28) and xt.shape == (1000, 1, 28, 28)
    assert x.dtype == torch.float32 and y.dtype == torch.int64
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0 and float(x.max()) == 1.0
    assert torch.equal(y.bincount(), torch.full((10,), 400))
    assert torch.equal(yt.bincount(), torch.full((10,), 100))
    # any prefix holds every class (the stored order is shuffled)
    assert len(set(yt[:100].tolist())) == 10
    all_images, _ = digits_arrays("all")
    assert all_images.shape == (5000, 28, 28)


def test_splits_are_disjoint():
    images, _ = digits_arrays("all")
    train, _ = digits_arrays("train")
    test, _ = digits_arrays("test")
    train_rows = {r.tobytes() for r in train}
    assert sum(r.tobytes() in train_rows for r in test) <= 5  # MNIST has a few exact duplicates
    assert len(train) + len(test) == len(images)


def test_clinic_standardised_on_train_only():
    x, y = load_clinic("train")
    xt, yt = load_clinic("test")
    assert x.shape == (285, 30) and xt.shape == (284, 30)
    assert torch.allclose(x.mean(0), torch.zeros(30), atol=1e-4)
    assert not torch.allclose(xt.mean(0), torch.zeros(30), atol=1e-3)
    assert set(y.tolist()) == {0, 1} and 0.3 < float(y.float().mean()) < 0.45
    assert len(clinic_info().feature_names) == 30


def test_bad_split_is_a_clear_error():
    with pytest.raises(ValueError, match="split must be 'train', 'test' or 'all'"):
        load_digits("validation")


def test_manifest_matches_every_shipped_file():
    root = datasets_dir()
    manifest = read_manifest()
    shipped = {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and not p.name.startswith("MANIFEST.") and p.suffix not in (".md", ".lock")
    }
    assert shipped == set(manifest), "every data/model file is pinned, and nothing else"
    for name, digest in manifest.items():
        assert sha256_file(root / name) == digest, name


def test_altered_copy_is_refused_with_a_clear_error(tmp_path, monkeypatch):
    target = copy_datasets(tmp_path, "digits/digits.npz")
    monkeypatch.setenv("LABKIT_DATASETS", str(target))
    load_digits("test")  # the intact copy loads
    blob = bytearray((target / "digits/digits.npz").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (target / "digits/digits.npz").write_bytes(bytes(blob))
    with pytest.raises(IntegrityError) as info:
        load_digits("test")
    message = str(info.value)
    expected = read_manifest(target)["digits/digits.npz"]
    assert "digits/digits.npz" in message and expected in message
    assert sha256_file(target / "digits/digits.npz") in message
    assert "git checkout -- datasets/digits/digits.npz" in message


def test_missing_file_and_missing_datasets_dir(tmp_path, monkeypatch):
    target = copy_datasets(tmp_path)
    monkeypatch.setenv("LABKIT_DATASETS", str(target))
    with pytest.raises(IntegrityError, match="clinic/clinic.npz is missing"):
        load_clinic("train")
    monkeypatch.setenv("LABKIT_DATASETS", str(tmp_path / "nowhere"))
    with pytest.raises(DatasetsNotFoundError, match="LABKIT_DATASETS"):
        load_clinic("train")
