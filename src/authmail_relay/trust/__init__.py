"""Who may send what, and how much: API keys, sender rules, rate limits and the secrets kept at
rest.

Documented in docs/security.md. Pure and standard library only, except ``secrets_at_rest``
(``cryptography``).

Code map:

- ``api_keys``: stored API keys, pure logic: format, parsing, hashing, scopes and sender
  rules.
- ``auth_throttle``: the failed-authentication throttle, per client address *and* credential
  (pure).
- ``mailbox_key``: which mailbox an address reaches: the one key every per-recipient count
  uses (pure).
- ``rate_limits``: rate-limit decisions and their HTTP headers, with no I/O.
- ``requester``: who asked for an auth mail: the API key, and the end user's IP when the app
  passes it (pure).
- ``secrets_at_rest``: secrets at rest: webhook signing secrets sealed in the database, and
  the keyed address hash of webhook payloads (service only; needs ``cryptography``).
- ``sender_policy``: which ``From`` addresses a caller may use (pure).
"""
