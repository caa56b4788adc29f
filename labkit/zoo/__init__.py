"""The shipped models and data: the registry and loading (`registry`), every training recipe as a
callable (`recipes`), the incident behind the suspect model (`incident`) and data building
(`databuild`). `labkit zoo train NAME` rebuilds a model from its recipe and fixed seed.
"""
