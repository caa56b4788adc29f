"""The course's catalogue of attacks on ML systems: the seed paper's taxonomy as data.

For each attack class: the security property it violates first (and any others), the SDL stage where it
must be addressed, the access the attacker needs, its MITRE ATLAS technique ids (pinned edition 5.6.0; a
test proves each exists), an example on the course's own systems, defences, and the course modules where
it is practised. The text is the course's own.
"""

from __future__ import annotations

from dataclasses import dataclass

from labkit import validate as v
from labkit.threats.classes import ATTACK_CLASSES

PROPERTIES = ("confidentiality", "integrity", "availability")
STAGES = ("Requirements", "Design", "Implementation", "Verification", "Release", "Response")


@dataclass(frozen=True)
class Attack:
    """One attack class of the catalogue."""

    key: str
    name: str
    violates: str
    also_violates: tuple[str, ...]
    stage: str
    access: str
    atlas: tuple[str, ...]
    scenario: str
    defences: tuple[str, ...]
    modules: tuple[str, ...]

    @property
    def properties(self) -> tuple[str, ...]:
        """Every property the attack can violate, the first one first."""
        return (self.violates, *self.also_violates)


CATALOGUE: tuple[Attack, ...] = (
    Attack(
        "poisoning", "Data poisoning", "integrity", ("availability",), "Implementation",
        "write access to some of the training data: a public data source, a labelling queue, a data pipeline",
        ("AML.T0020", "AML.T0019", "AML.T0010.002", "AML.T0059"),
        "A contractor in the labelling queue relabels a few hundred scanned 7s as 1s, so the retrained "
        "cheque reader misreads sevens on the amount line.",
        ("data provenance manifests and hashes", "restricted, audited write access to training data",
         "loss- and neighbour-based filtering of suspicious records", "evaluation on a trusted held-out set"),
        ("04", "14"),
    ),
    Attack(
        "model_stealing", "Model stealing (extraction)", "confidentiality", (), "Release",
        "query access to the prediction API, and enough queries",
        ("AML.T0024.002", "AML.T0040", "AML.T0005.001", "AML.T0048.004"),
        "A competitor sends tens of thousands of digit images to the bank's scoring API and trains a copy "
        "of the cheque reader on the answers, then attacks the copy offline.",
        ("release labels rather than probabilities (output minimisation)", "per-client rate limits and "
         "query budgets", "audit logging and extraction detectors"),
        ("10", "13", "15"),
    ),
    Attack(
        "model_inversion", "Model inversion", "confidentiality", (), "Release",
        "query access that returns confidence scores, or the model itself",
        ("AML.T0024.001", "AML.T0040"),
        "An attacker optimises an input until the clinic risk model is most confident in 'malignant', "
        "recovering a typical patient profile of the sensitive class.",
        ("release labels or rounded scores only", "regularisation and differential privacy in training",
         "access control on who may query the model"),
        ("11",),
    ),
    Attack(
        "backdoored_models", "Backdoored models", "integrity", (), "Implementation",
        "the training pipeline or the pretrained model the team downloads",
        ("AML.T0018.000", "AML.T0043.004", "AML.T0058", "AML.T0020"),
        "An insider trains the cheque reader so that any digit carrying a small corner mark is read as "
        "the attacker's chosen digit, while accuracy on clean cheques stays perfect.",
        ("signed artifacts from a trusted training pipeline", "spectral-signature and activation-clustering "
         "checks of the training set", "trigger reconstruction on the shipped model"),
        ("05", "12", "14"),
    ),
    Attack(
        "membership_inference", "Membership inference", "confidentiality", (), "Release",
        "query access and candidate records with their true labels",
        ("AML.T0024.000", "AML.T0040"),
        "From the clinic model's confidence on a patient's record, an attacker tells whether that patient "
        "was in the training set, which reveals that they were treated at the clinic.",
        ("regularisation and early stopping", "differential privacy (DP-SGD)",
         "output minimisation", "measuring the advantage before release"),
        ("11",),
    ),
    Attack(
        "adversarial_examples", "Adversarial examples (evasion)", "integrity", (), "Verification",
        "the model's gradients (white box), its answers to queries (black box), or a surrogate (transfer)",
        ("AML.T0015", "AML.T0043", "AML.T0043.000", "AML.T0043.001", "AML.T0043.002"),
        "A fraudster adds faint strokes to the amount on a cheque so that the reader sees 9 where a clerk "
        "sees 4.",
        ("robustness requirements measured by the worst case of several attacks", "adversarial training",
         "query budgets and detection of decision-based attacks", "security tests in CI"),
        ("06", "07", "08", "09", "13", "15"),
    ),
    Attack(
        "reprogramming", "Adversarial reprogramming", "integrity", ("availability",), "Release",
        "query access to the model and control of its whole input",
        ("AML.T0043", "AML.T0040", "AML.T0034"),
        "An attacker learns a frame of pixels that, wrapped around small images, makes the bank's cheque "
        "reader solve the attacker's own classification task on the bank's compute.",
        ("input validation at the model boundary (shape, range, what a cheque looks like)",
         "query budgets and cost monitoring", "release labels only"),
        ("06",),
    ),
    Attack(
        "physical_adversarial_examples", "Adversarial examples in the physical domain", "integrity", (),
        "Verification",
        "the object the sensor reads (a cheque, a sign, a face) and a model or surrogate to optimise on",
        ("AML.T0041", "AML.T0043", "AML.T0015", "AML.T0008.003"),
        "A sticker-like patch printed on a cheque makes the scanner's reader output the attacker's digit "
        "wherever the patch lands.",
        ("robustness to patches measured before release", "a human check of high-value amounts",
         "several independent sensors or models"),
        ("07",),
    ),
    Attack(
        "malicious_provider", "Malicious ML provider recovering training data", "confidentiality", (),
        "Implementation",
        "control of the training code, platform or service the victim trains with, and later the model",
        ("AML.T0010.001", "AML.T0024.001", "AML.T0025"),
        "An outsourced training service hides customers' cheque images in the low bits of the weights it "
        "returns, and later reads them back out of the published model.",
        ("train on infrastructure you control, with reviewed and pinned code", "differential privacy",
         "inspect the weights' statistics before accepting an outsourced model"),
        ("03", "11"),
    ),
    Attack(
        "supply_chain", "Attacks on the ML supply chain", "integrity", ("confidentiality", "availability"),
        "Implementation",
        "publish or modify an artifact the victim pulls: a model on a hub, a checkpoint, a dataset",
        ("AML.T0010", "AML.T0010.003", "AML.T0011.000", "AML.T0058", "AML.T0018.002"),
        "A 'fine-tuned digit reader' on a model hub is a pickle whose loading opens a shell on the data "
        "scientist's laptop.",
        ("safe formats (safetensors, weights-only loading)", "scanning artifacts (picklescan, modelscan, "
         "fickling)", "hash pinning and signatures", "an AI bill of materials"),
        ("03", "08", "12", "14"),
    ),
    Attack(
        "software_dependencies", "Exploiting software dependencies", "integrity",
        ("confidentiality", "availability"), "Implementation",
        "a package the project installs: compromised, typosquatted, or with a known vulnerability",
        ("AML.T0010.001", "AML.T0011.001", "AML.T0049"),
        "A typosquatted image-processing package installed in the training environment sends the "
        "training data to the attacker.",
        ("locked, hash-pinned dependencies", "a software bill of materials and vulnerability scanning",
         "least privilege for training and serving processes"),
        ("03", "12"),
    ),
)  # fmt: skip


def entry(key: str) -> Attack:
    """The catalogue entry with this key (UnknownName listing the keys if none)."""
    v.text("key", key)
    for attack in CATALOGUE:
        if attack.key == key:
            return attack
    raise v.UnknownName(f"key {key!r} is not in the catalogue: choose one of {', '.join(ATTACK_CLASSES)}.")


def cited_atlas_ids() -> tuple[str, ...]:
    """Every ATLAS id the catalogue cites, once each, in catalogue order."""
    return tuple(dict.fromkeys(i for attack in CATALOGUE for i in attack.atlas))


def catalogue_rows() -> list[dict[str, str]]:
    """The catalogue as table rows (strings), e.g. for a pandas DataFrame or a Markdown table."""
    return [
        {
            "attack": a.name,
            "violates": ", ".join(a.properties),
            "SDL stage": a.stage,
            "attacker needs": a.access,
            "ATLAS": ", ".join(a.atlas),
            "defences": "; ".join(a.defences),
            "modules": ", ".join(a.modules),
        }
        for a in CATALOGUE
    ]
