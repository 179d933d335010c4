"""Block devices: discovery, identity, read-only state, write-block verdict.

Knows nothing of cases, ledgers or HTTP.
"""
