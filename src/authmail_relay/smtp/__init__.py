"""SMTP delivery: how to reach the upstream, one transaction, and what its end means.

Documented in docs/delivery.md. ``config``, ``outcome``, ``circuit_breaker`` and
``transaction`` are standard library only (library mode); ``session``, ``pool`` and
``upstreams`` need ``aiosmtplib`` (the ``[http]`` extra).

Code map:

- ``circuit_breaker``: pure upstream health: which failures are the upstream's fault, and
  its circuit breaker.
- ``config``: how to reach the upstream SMTP server: :class:`SmtpConfig`.
- ``outcome``: pure classification of how one SMTP transaction ended.
- ``pool``: A bounded pool of reusable SMTP connections to one upstream.
- ``session``: the worker's SMTP adapter: one reusable ``aiosmtplib`` connection.
- ``transaction``: one synchronous SMTP transaction over the standard library's ``smtplib``.
- ``upstreams``: the upstream SMTP servers a worker sends through, in failover order.
"""
