"""The served cheque reader: a real HTTP prediction API on loopback.

`lifecycle.serve` starts and stops it (`arguments` checks its configuration); `app` holds the
routes and `state` what they share; `requests` and `validation` read
untrusted input; `limits` holds rate limits and budgets; `audit` writes the JSONL audit log;
`client` is what a caller (honest or not) uses. The output policy lives in `labkit.policy`.
"""
