"""Course machinery: the course map (`coursemap`), lab generation (`labgen`), per-learner progress
(`progress`) and the environment check (`doctor`).
"""
