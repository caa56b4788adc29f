"""Shipping securely: data provenance (`provenance`) and security gates (`gates`); signing, model
cards, AI bills of materials and supply-chain scanning belong here too.
"""
