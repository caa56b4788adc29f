"""The served cheque reader: a real HTTP prediction API on loopback.

`lifecycle.serve` starts and stops it; `app` holds the routes; `requests` and `validation` read
untrusted input; `limits` holds rate limits and budgets; `audit` writes the JSONL audit log;
`client` is what a caller (honest or not) uses. The output policy lives in `labkit.policy`.
"""
