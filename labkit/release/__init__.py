"""Shipping securely: data provenance (`provenance`), CI security gates (`gates`), untrusted model files
(`scanning`, `scanners`), hash pins (`pins`), bills of materials (`sbom`, `aibom`), model signatures
(`model_signature`), release evidence (`evidence`), the release gate (`release_gate`) and model cards
(`modelcard`).
"""
