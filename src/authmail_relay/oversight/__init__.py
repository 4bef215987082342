"""Oversight: who approves a send, and the tamper-evident record of what happened.

Documented in docs/oversight.md. Pure and standard library only; the storage side lives in
``db/`` (``rules_store``, ``approvals``, ``audit_store``) and the flow in the core.

Code map:

- ``rules``: approval rules (conditions, validation, first match wins) and the intake
  decision for one send: queued, held, or approved by a rule.
- ``chain``: audit entries, their canonical encoding, the hash chain and its verification.
"""
