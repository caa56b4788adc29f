"""labkit: helpers for the securing-ML course, layered by concern (see CONTRIBUTING.md).

Foundations at the top level (paths, runtime, integrity, policy, models, data, training, viz), then
`attacks`, `defenses`, `zoo`, `service` and `release`, `course` and `widgets`, `checks`, `cli`; each
layer imports only the layers below it. Importing labkit does nothing else.
"""
