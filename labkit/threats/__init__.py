"""Threats as data: the pinned MITRE ATLAS edition, the course's attack catalogue, threat models and
machine-checkable security requirements (modules 01 and 02; module 12's gate reads the requirements)."""
