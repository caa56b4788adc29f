"""Defences, each with the adaptive attack that evaluates it honestly: adversarial training,
input transformations with BPDA and EOT (`transforms`), poisoned-record filters (`poison_filters`),
backdoor detection (`backdoor_detection`) and differential privacy (`privacy`).
"""
