"""Webhooks: endpoints and deliveries as values, payloads, signatures, retries, the SSRF
policy, and the dispatcher that sends them.

Documented in docs/webhooks.md. ``records``, ``payloads``, ``signing``, ``retry``, ``ssrf``
and ``targets`` are pure and standard library only; ``http`` and ``dispatcher`` need
``httpx``. The tables behind them live in :mod:`authmail_relay.db` (``webhook_store``,
``webhook_queue``).

Code map:

- ``dispatcher``: the webhook dispatcher: claim due deliveries under a lease, send them,
  record the result.
- ``http``: the HTTP side of webhook delivery: one POST to the addresses that were checked.
- ``payloads``: the body of a webhook delivery (pure): what happened to a message, without
  secrets.
- ``records``: the values of the webhook tables: endpoints, deliveries, attempts and claims.
- ``retry``: pure decisions for webhook deliveries: what one attempt's result means for the
  delivery.
- ``signing``: webhook signatures (pure): Standard Webhooks and the legacy ``X-Email-
  Service-*`` headers.
- ``ssrf``: which webhook URLs the relay will call: the address policy (pure) and name
  resolution.
- ``targets``: webhook targets and the fair share of the dispatcher's slots between them
  (pure).
"""
