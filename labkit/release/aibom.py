"""An AI bill of materials: a CycloneDX ML-BOM of the released models and the data they were trained on.

Models are `machine-learning-model` components and datasets `data` components, each with the SHA-256 of
its file and its licence; each model depends on its dataset. cyclonedx-python-lib 11.12 has no
`modelCard` field, so the card is added to the serialised JSON and the whole document is validated
against the CycloneDX JSON schema afterwards (an invalid card fails the build).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labkit import validate as v
from labkit.release.sbom import SPEC_VERSIONS, validate_bom_json


@dataclass(frozen=True)
class DatasetEntry:
    """A dataset to list: its name, file, SPDX licence id and a one-line description."""

    name: str
    path: Path
    licence: str
    description: str = ""


@dataclass(frozen=True)
class ModelEntry:
    """A released model: name, version, weights file, SPDX licence id, the dataset name it was trained
    on, and its model card (a CycloneDX modelCard object, or None)."""

    name: str
    version: str
    weights: Path
    licence: str
    dataset: str
    card: Mapping[str, Any] | None = field(default=None)


def _hash(path: Path) -> Any:  # noqa: ANN401 - a cyclonedx HashType
    from cyclonedx.model import HashAlgorithm, HashType

    from labkit.integrity import sha256_file

    return HashType(alg=HashAlgorithm.SHA_256, content=sha256_file(path))


def _licence(licence: str, where: str) -> Any:  # noqa: ANN401 - a cyclonedx license
    from cyclonedx.model.license import DisjunctiveLicense

    v.text(f"{where}.licence", licence)
    return DisjunctiveLicense(id=licence)


def _entries(name: str, items: Any, kind: type) -> list[Any]:  # noqa: ANN401
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence) or not items:
        raise TypeError(f"{name} must be a non-empty list of {kind.__name__}, not {items!r:.60}.")
    for index, item in enumerate(items):
        if not isinstance(item, kind):
            raise TypeError(f"{name}[{index}] must be a {kind.__name__}, not {type(item).__name__}.")
        path = item.path if isinstance(item, DatasetEntry) else getattr(item, "weights", None)
        v.path(f"{name}[{index}] file", path, exists="file")
    return list(items)


def ai_bom(
    models: Sequence[ModelEntry],
    datasets: Sequence[DatasetEntry],
    *,
    name: str,
    version: str,
    spec_version: str = "1.6",
) -> str:
    """The ML-BOM as validated CycloneDX JSON text, model cards included."""
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.output import make_outputter
    from cyclonedx.schema import OutputFormat, SchemaVersion

    models = _entries("models", models, ModelEntry)
    datasets = _entries("datasets", datasets, DatasetEntry)
    v.text("name", name)
    v.text("version", version)
    v.choice("spec_version", spec_version, SPEC_VERSIONS)
    data_components = {}
    for index, item in enumerate(datasets):
        data_components[item.name] = Component(
            name=item.name,
            type=ComponentType.DATA,
            bom_ref=f"data:{item.name}",
            description=item.description or None,
            hashes=[_hash(Path(item.path))],
            licenses=[_licence(item.licence, f"datasets[{index}]")],
        )
    root = Component(name=name, version=version, type=ComponentType.APPLICATION, bom_ref=f"app:{name}")
    bom = Bom(components=list(data_components.values()))
    bom.metadata.component = root
    model_components = []
    for index, item in enumerate(models):
        if item.dataset not in data_components:
            raise ValueError(
                f"models: {item.name} names dataset {item.dataset!r}, which datasets does not list."
            )
        if item.card is not None and not isinstance(item.card, Mapping):
            raise TypeError(f"models: the card of {item.name} must be a mapping (a CycloneDX modelCard).")
        component = Component(
            name=item.name,
            version=item.version,
            type=ComponentType.MACHINE_LEARNING_MODEL,
            bom_ref=f"model:{item.name}",
            hashes=[_hash(Path(item.weights))],
            licenses=[_licence(item.licence, f"models[{index}]")],
        )
        bom.components.add(component)
        bom.register_dependency(component, [data_components[item.dataset]])
        model_components.append(component)
    bom.register_dependency(root, model_components)
    outputter = make_outputter(bom, OutputFormat.JSON, SchemaVersion.from_version(spec_version))
    document = json.loads(outputter.output_as_string())
    cards = {f"model:{item.name}": item.card for item in models if item.card is not None}
    for component in document.get("components", []):
        if component.get("bom-ref") in cards:
            component["modelCard"] = cards[component["bom-ref"]]
    text = json.dumps(document, indent=1, ensure_ascii=False)
    validate_bom_json(text, spec_version=spec_version)
    return text
