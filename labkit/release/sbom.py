"""A software bill of materials (CycloneDX) of the Python environment the course runs in.

Why: when the next advisory names a package and a version range ("pickle deserialisation in X < 1.2"),
the question "do we ship it, and where?" must be answered from a file, not from memory. The SBOM lists
every installed distribution with its version, package URL, licence and, where the installer recorded
one, the hash of the archive it came from.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from importlib import metadata
from typing import Any

from labkit import validate as v

SPEC_VERSIONS = ("1.6", "1.7")


def _licence(meta: Any) -> tuple[str, str] | None:  # noqa: ANN401 - importlib.metadata's PackageMetadata
    """("expression" | "name", text) from a distribution's metadata, or None if it declares none."""
    expression = meta.get("License-Expression")
    if expression and expression.strip():
        return "expression", expression.strip()
    declared = (meta.get("License") or "").strip()
    if (
        declared
        and declared.upper() not in ("UNKNOWN", "NONE")
        and "\n" not in declared
        and len(declared) < 80
    ):
        return "name", declared
    classifiers = [
        c.split(" :: ")[-1] for c in meta.get_all("Classifier") or [] if c.startswith("License ::")
    ]
    classifiers = [c for c in classifiers if c not in ("OSI Approved", "Other/Proprietary License")]
    if classifiers:
        return "name", " OR ".join(dict.fromkeys(classifiers))
    return None


def _archive_hashes(dist: metadata.Distribution) -> dict[str, str]:
    """The archive hash pip recorded in direct_url.json (PEP 610), e.g. {"sha256": "..."}; often none."""
    text = dist.read_text("direct_url.json")
    if not text:
        return {}
    try:
        info = json.loads(text).get("archive_info", {})
    except (ValueError, AttributeError):
        return {}
    found = dict(info.get("hashes") or {})
    if "hash" in info and "=" in str(info["hash"]):
        algorithm, value = str(info["hash"]).split("=", 1)
        found.setdefault(algorithm, value)
    return {k: val for k, val in found.items() if k == "sha256"}


def _record_hash(dist: metadata.Distribution) -> str:
    """SHA-256 of the distribution's RECORD (the list of its installed files and their hashes)."""
    import hashlib

    return hashlib.sha256((dist.read_text("RECORD") or "").encode("utf-8")).hexdigest()


def environment_components(distributions: Iterable[metadata.Distribution] | None = None) -> list[Any]:
    """One CycloneDX library component per installed distribution (default: this environment's)."""
    from cyclonedx.model import HashAlgorithm, HashType, Property
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.license import DisjunctiveLicense, LicenseExpression
    from packageurl import PackageURL

    if distributions is None:
        distributions = metadata.distributions()
    elif isinstance(distributions, (str, bytes)) or not isinstance(distributions, Iterable):
        raise TypeError(f"distributions must be importlib.metadata distributions, not {distributions!r:.60}.")
    components: dict[str, Any] = {}
    for dist in distributions:
        if not isinstance(dist, metadata.Distribution):
            raise TypeError(f"distributions must hold importlib.metadata.Distribution, not {dist!r:.60}.")
        meta: Any = dist.metadata
        name, version = meta.get("Name"), meta.get("Version") or "0"
        if not name or name.lower() in components:
            continue
        licence = _licence(meta)
        licences: list[Any] = []
        if licence is not None:
            kind, text = licence
            licences = [LicenseExpression(text) if kind == "expression" else DisjunctiveLicense(name=text)]
        hashes = [HashType(alg=HashAlgorithm.SHA_256, content=h) for h in _archive_hashes(dist).values()]
        components[name.lower()] = Component(
            name=name,
            version=version,
            type=ComponentType.LIBRARY,
            bom_ref=f"pypi:{name.lower()}@{version}",
            purl=PackageURL(type="pypi", name=name.lower(), version=version),
            licenses=licences,
            hashes=hashes,
            properties=[
                Property(name="labkit:installer", value=(dist.read_text("INSTALLER") or "?").strip()),
                Property(name="labkit:record-sha256", value=_record_hash(dist)),
            ],
        )
    return [components[key] for key in sorted(components)]


def validate_bom_json(text: str, *, spec_version: str = "1.6") -> None:
    """Raise ValueError with the first schema error if `text` is not a valid CycloneDX JSON document."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    v.text("text", text)
    v.choice("spec_version", spec_version, SPEC_VERSIONS)
    schema = SchemaVersion.from_version(spec_version)
    error = JsonStrictValidator(schema).validate_str(text)
    if error is not None:
        raise ValueError(f"text is not valid CycloneDX {spec_version}: {str(error)[:400]}")


def bom_json(components: list[Any], *, name: str, version: str, spec_version: str = "1.6") -> str:
    """A CycloneDX JSON document for `components` describing application `name` `version`, validated."""
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.output import make_outputter
    from cyclonedx.schema import OutputFormat, SchemaVersion

    v.text("name", name)
    v.text("version", version)
    v.choice("spec_version", spec_version, SPEC_VERSIONS)
    if not isinstance(components, list) or not all(isinstance(c, Component) for c in components):
        raise TypeError("components must be a list of cyclonedx Component (from environment_components).")
    root = Component(name=name, version=version, type=ComponentType.APPLICATION, bom_ref=f"app:{name}")
    bom = Bom(components=components)
    bom.metadata.component = root
    bom.register_dependency(root, components)
    outputter = make_outputter(bom, OutputFormat.JSON, SchemaVersion.from_version(spec_version))
    text = outputter.output_as_string(indent=1)
    validate_bom_json(text, spec_version=spec_version)
    return text


def environment_sbom(*, name: str = "secure-ml-course", version: str = "0", spec_version: str = "1.6") -> str:
    """The CycloneDX SBOM of this Python environment as validated JSON text."""
    return bom_json(environment_components(), name=name, version=version, spec_version=spec_version)
