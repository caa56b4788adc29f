"""Provenance manifests: per-record hashes, signatures that catch edits, a diff that finds tampering."""

from __future__ import annotations

import pytest
import torch

from labkit.release.provenance import (
    Manifest,
    ManifestDiff,
    build_manifest,
    default_ids,
    diff_manifests,
    positions,
    record_hash,
    record_hashes,
    sign_manifest,
    verify_manifest,
)

KEY = b"0123456789abcdef-test-key"


@pytest.fixture()
def data():
    generator = torch.Generator().manual_seed(0)
    return torch.rand(50, 1, 28, 28, generator=generator), torch.arange(50) % 10


def test_record_hash_depends_on_pixels_and_label_only(data):
    x, y = data
    h = record_hash(x[0], y[0])
    assert len(h) == 64 and h == record_hash(x[0].clone(), int(y[0]))
    assert h == record_hash(x[0].double(), y[0]), "dtype of the tensor does not matter, the values do"
    assert h != record_hash(x[0], int(y[0]) + 1), "a flipped label changes the hash"
    nudged = x[0].clone()
    nudged[0, 14, 14] += 1e-3
    assert h != record_hash(nudged, y[0]), "one changed pixel changes the hash"
    assert record_hash(x[0].reshape(1, 784), y[0]) != h, "the shape is part of the record"
    assert record_hashes(x[:3], y[:3]) == [record_hash(x[i], y[i]) for i in range(3)]
    with pytest.raises(ValueError, match="matching"):
        record_hashes(x[:3], y)


def test_manifest_digest_and_json_round_trip(data, tmp_path):
    x, y = data
    manifest = build_manifest(x, y, description="fixture")
    assert len(manifest) == 50 and list(manifest.records)[:2] == default_ids(2)
    path = manifest.save(tmp_path / "train.manifest.json")
    loaded = Manifest.load(path)
    assert loaded.records == manifest.records and loaded.digest == manifest.digest
    reordered = Manifest(records=dict(reversed(list(manifest.records.items()))))
    assert reordered.digest == manifest.digest, "the digest does not depend on record order"
    text = path.read_text().replace(manifest.records["rec-00003"], "0" * 64)
    with pytest.raises(ValueError, match="edited"):
        Manifest.from_json(text)
    with pytest.raises(ValueError, match="format"):
        Manifest.from_json('{"records": {}}')


def test_build_manifest_rejects_bad_ids(data):
    x, y = data
    with pytest.raises(ValueError, match="one id per record"):
        build_manifest(x, y, ids=["a", "b"])
    with pytest.raises(ValueError, match="more than once"):
        build_manifest(x[:2], y[:2], ids=["a", "a"])


def test_signature_catches_any_change_and_a_wrong_key(data):
    x, y = data
    manifest = build_manifest(x, y)
    signature = sign_manifest(manifest, key=KEY)
    assert verify_manifest(manifest, signature, key=KEY)
    assert not verify_manifest(manifest, signature, key=b"another-key-of-16-bytes")
    y2 = y.clone()
    y2[7] = (y2[7] + 1) % 10
    forged = build_manifest(x, y2)
    assert not verify_manifest(forged, signature, key=KEY)
    with pytest.raises(ValueError, match="16 bytes"):
        sign_manifest(manifest, key=b"short")


def test_diff_finds_altered_injected_removed_in_any_order(data):
    x, y = data
    ids = default_ids(50)
    reference = build_manifest(x, y, ids=ids)
    x2, y2 = x.clone(), y.clone()
    y2[4] = (y2[4] + 1) % 10  # relabelled
    x2[9, 0, 0, 0] = 1.0  # one pixel
    keep = [i for i in range(50) if i not in (20, 21)]  # two removed
    ids_now = [ids[i] for i in keep] + ["new-1", "new-2"]
    x_now = torch.cat([x2[keep], x[:1], x[30:31]])  # injected: exact copies of existing records
    y_now = torch.cat([y2[keep], y[:1], y[30:31]])
    order = torch.randperm(len(ids_now), generator=torch.Generator().manual_seed(1))
    current = build_manifest(x_now[order], y_now[order], ids=[ids_now[i] for i in order])
    diff = diff_manifests(reference, current)
    assert diff.altered == ("rec-00004", "rec-00009")
    assert diff.injected == ("new-1", "new-2")
    assert diff.removed == ("rec-00020", "rec-00021")
    assert diff.unchanged == 46 and not diff.clean
    assert diff.suspect == ("new-1", "new-2", "rec-00004", "rec-00009")
    assert "2 altered, 2 injected, 2 removed" in str(diff)
    assert diff_manifests(reference.records, dict(reference.records)).clean


def test_positions_maps_ids_back_to_rows():
    ids = ["c", "a", "b"]
    assert positions(ids, ["b", "c"]).tolist() == [0, 2]
    assert positions(ids, []).tolist() == []
    with pytest.raises(KeyError, match="not in this dataset"):
        positions(ids, ["z"])


def test_clean_diff_is_clean():
    assert ManifestDiff((), (), (), 3).clean
