"""DKIM and sending domains: keys, signatures, and the DNS records a domain publishes.

Documented in docs/dkim.md. ``nameservers`` is standard library only (the settings parse
``DNS_RESOLVER`` with it); the rest needs ``cryptography``, ``dkimpy`` and ``dnspython``
(the ``[http]`` extra).

Code map:

- ``dns_txt``: TXT lookups with dnspython's async resolver; every failure becomes a result.
- ``domain_check``: ``domains check``: look up a domain's DKIM, SPF and DMARC records and
  judge them.
- ``domain_policy``: judging a domain's published DKIM, SPF and DMARC records: pure
  functions.
- ``fast_rsa``: A faster RSA signature for dkimpy, through ``cryptography``.
- ``keys``: DKIM keys and the DNS records that publish them.
- ``nameservers``: ``DNS_RESOLVER``: the name servers ``domains check`` asks, parsed with
  the standard library only (settings are read in the base install too).
- ``signing``: DKIM signatures over the exact bytes about to be sent.
- ``store``: DKIM keys on disk: ``<DKIM_KEYS_DIR>/<domain>/<selector>.<algorithm>.key``.
"""
