"""Attacks on ML systems, one concern per module: white-box evasion (`evasion`, `pgd`, `robustness`),
black-box access (`blackbox`), transfer and surrogates (`transfer`, `surrogate`), physical-style
patches (`patches`), training-data attacks (`poisoning`, `backdoor`), model extraction
(`extraction`), membership inference (`membership`, `shadow`) and model inversion (`inversion`).

Each module's docstring states its threat model. Importing this package imports nothing else.
"""
