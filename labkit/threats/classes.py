"""The keys of the course's attack catalogue (the seed paper's taxonomy), in teaching order.

Kept apart from the catalogue's text so that requirements and threat models can check a key without
loading the catalogue (`labkit.threats.catalogue` holds one entry per key; a test keeps them in step).
"""

from __future__ import annotations

ATTACK_CLASSES: tuple[str, ...] = (
    "poisoning",
    "model_stealing",
    "model_inversion",
    "backdoored_models",
    "membership_inference",
    "adversarial_examples",
    "reprogramming",
    "physical_adversarial_examples",
    "malicious_provider",
    "supply_chain",
    "software_dependencies",
)
