"""``authmail-relay test``: one synchronous send with the library sender (stdlib only)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping

from ..sender import SendResult, SmtpConfig, SmtpSender


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Send one mail using the ``SMTP_*`` settings; 0 when the server accepted it, else 1."""
    sender = SmtpSender(SmtpConfig.from_env(env))
    result = sender.send(args.to, args.subject, args.html, text_body=args.text)
    print(describe(result))
    return 0 if result else 1


def describe(result: SendResult) -> str:
    """A short human summary of a send result (no secrets: none are in a SendResult)."""
    if result.sent:
        line = f"sent: message_id={result.message_id} attempts={result.attempts}"
        if result.refused:
            line += f" refused={len(result.refused)} ({result.error_code})"
        return line
    detail = f" ({result.error_message})" if result.error_message else ""
    return f"failed: error_code={result.error_code}{detail}"
