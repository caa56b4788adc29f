"""Per-area tables for tests/test_bad_inputs.py (merged by tests/bad_inputs_cases.py)."""
