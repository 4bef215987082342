"""The command line: ``authmail-relay`` (also ``python -m authmail_relay``).

Documented in docs/cli.md. This module holds the whole argument parser and :func:`main`
and imports only the standard library, so ``--help``, ``test`` and ``templates`` work on
the base install. Every other command needs the ``[http]`` extra: :func:`_dispatch`
imports its module only when it runs, and each such module imports what it needs at its
top and exposes ``async def run(args, settings) -> int``. This module is the only place
that starts an event loop.

Exit codes: 0 success, 1 the operation failed (the test mail was not sent, an unknown
message id, the database unavailable), 2 usage, configuration or input error.

Code map:

- ``_format``: text the commands print (times, message rows and details), as pure
  functions; standard library only.
- ``audit``: ``audit list|verify|export|checkpoint``: the audit trail from the shell.
- ``approvals``: ``approvals list|show|approve|reject``: held messages (actor ``cli``).
- ``capture``: ``dev``'s capture SMTP server: accepts every message and keeps it on disk.
- ``db``: ``db upgrade``: apply pending schema migrations.
- ``dev``: ``dev``: the whole relay on embedded defaults, for trying it out.
- ``dkim``: ``dkim generate|list`` and ``domains check``.
- ``keys``: ``keys …``: stored API keys.
- ``mcp``: ``mcp``: the MCP server on stdio (needs the ``[mcp]`` extra).
- ``messages``: ``send`` (queue one message) and ``messages list|show``.
- ``rules``: ``rules …``: approval rules.
- ``serve``: ``serve``: the HTTP API, with the delivery worker unless ``--no-worker``.
- ``service_setup``: how a service process logs and configures uvicorn; standard library
  only.
- ``templates``: ``templates list|check|preview``; standard library only.
- ``testmail``: ``test``: one synchronous send with the library sender; standard library
  only.
- ``webhooks``: ``webhooks …``: registered endpoints, the delivery log, secrets keys.
- ``worker``: ``worker``: delivery and webhook work without the HTTP API, until SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

from .. import __version__
from ..envfile import load_environment
from ..exceptions import ConfigurationError, RelayError, ValidationError
from ..settings import Settings
from ..vocabulary import (
    WEBHOOK_EVENT_TYPES,
    AuditAction,
    DeliveryStatus,
    Kind,
    MessageStatus,
    OversightMode,
    Priority,
    RuleAction,
    Scope,
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

#: What a service command's module exposes: ``async def run(args, settings) -> int``.
_Runner = Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, int]]
_EVENTS = sorted(t.value for t in WEBHOOK_EVENT_TYPES)
_MODES = [m.value for m in OversightMode]


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (kept separate so the docs test can walk it)."""
    parser = argparse.ArgumentParser(
        prog="authmail-relay",
        description="Self-hosted auth-email relay. Settings come from the environment and ./.env.",
    )
    parser.add_argument("--version", action="version", version=f"authmail-relay {__version__}")
    parser.add_argument(
        "--env-file", default=".env", help="settings file to read (default: ./.env)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = commands.add_parser(
        "serve", help="run the HTTP API with an embedded worker (the default command)"
    )
    serve.add_argument("--host", default=None, help="override HOST (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="override PORT (default 8000)")
    serve.add_argument("--no-worker", action="store_true", help="API only; run `worker` elsewhere")

    test = commands.add_parser("test", help="send one test mail now with the SMTP_* settings")
    test.add_argument("--to", required=True, help="recipient address")
    test.add_argument("--subject", default="authmail-relay test")
    test.add_argument("--html", default="<p>Hello from <code>authmail-relay</code>.</p>")
    test.add_argument("--text", default=None, help="plain-text body (default: derived from --html)")

    templates = commands.add_parser("templates", help="list and preview the auth-mail templates")
    template_commands = templates.add_subparsers(
        dest="templates_command", metavar="ACTION", required=True
    )
    template_commands.add_parser("list", help="kinds, locales and TEMPLATES_DIR overrides")
    template_commands.add_parser("check", help="validate the settings and TEMPLATES_DIR")
    preview = template_commands.add_parser("preview", help="render a kind with sample data")
    preview.add_argument("kind", choices=["magic_link", "otp", "password_reset"])
    preview.add_argument("--locale", default=None, help="e.g. de or pt-BR (default DEFAULT_LOCALE)")
    preview.add_argument("--format", choices=["text", "html", "subject"], default="text")

    send = commands.add_parser("send", help="queue a message for the worker; prints its id")
    send.add_argument("--to", required=True, action="append", help="recipient (repeatable)")
    send.add_argument("--subject", required=True)
    send.add_argument("--html", default=None)
    send.add_argument("--text", default=None)
    send.add_argument("--from", dest="from_addr", default=None, help="sender (default: SMTP_FROM)")
    send.add_argument("--priority", choices=[p.value for p in Priority], default=None)
    send.add_argument("--expires-in", type=float, default=None, metavar="SECONDS")
    send.add_argument(
        "--send-at", default=None, metavar="TIME", help="RFC 3339 with an offset, e.g. …T09:00:00Z"
    )

    worker = commands.add_parser("worker", help="run delivery workers until SIGTERM")
    worker.add_argument("--concurrency", type=int, default=None, help="override WORKER_CONCURRENCY")
    worker.add_argument("--until-idle", action="store_true", help="exit when nothing is due")

    messages = commands.add_parser("messages", help="inspect stored messages")
    message_commands = messages.add_subparsers(
        dest="messages_command", metavar="ACTION", required=True
    )
    listing = message_commands.add_parser("list", help="newest messages first")
    listing.add_argument("--status", choices=[s.value for s in MessageStatus], default=None)
    listing.add_argument("--limit", type=int, default=20)
    show = message_commands.add_parser("show", help="one message with its attempts and events")
    show.add_argument("id")

    _add_approvals(commands)
    _add_webhooks(commands)
    _add_dkim(commands)
    _add_domains(commands)
    _add_keys(commands)
    _add_audit(commands)
    _add_rules(commands)

    mcp = commands.add_parser(
        "mcp", help="the MCP server on stdio, for agents (AUTHMAIL_URL and AUTHMAIL_API_KEY)"
    )
    mcp.add_argument(
        "--local", action="store_true", help="run the relay in this process (DATABASE_URL)"
    )

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_commands.add_parser("upgrade", help="apply pending migrations")

    dev = commands.add_parser(
        "dev",
        help="try the relay locally: SQLite, a capture inbox instead of real SMTP, a sample mail",
    )
    dev.add_argument(
        "--data-dir", default=".authmail-dev", help="where the database and inbox live"
    )
    dev.add_argument("--once", action="store_true", help="exit after the sample mail is captured")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=8000, help="taken? a free port is used instead")
    return parser


def _scope_list(raw: str) -> list[str]:
    """``--scopes send,read``: each name must be a scope."""
    names = [part.strip() for part in raw.split(",") if part.strip()]
    unknown = [name for name in names if name not in {s.value for s in Scope}]
    if unknown or not names:
        known = ", ".join(s.value for s in Scope)
        raise argparse.ArgumentTypeError(f"{','.join(unknown) or raw!r}: scopes are {known}")
    return names


def _add_approvals(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    approvals = commands.add_parser("approvals", help="held messages: list, approve, reject")
    actions = approvals.add_subparsers(dest="approvals_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="held messages, newest first")
    listing.add_argument("--key", default=None, help="only those sent with this key id")
    listing.add_argument("--kind", choices=["raw", "otp", "magic_link", "password_reset"])
    listing.add_argument("--tag", default=None, help="only those with this tag")
    listing.add_argument(
        "--older-than", type=int, default=None, metavar="SECONDS", help="held at least this long"
    )
    listing.add_argument("--limit", type=int, default=20)
    show = actions.add_parser("show", help="one message with its events")
    show.add_argument("id")
    approve = actions.add_parser("approve", help="approve a held message (it is then sent)")
    approve.add_argument("id")
    approve.add_argument("--reason", default=None, help="why (at most 500 characters)")
    reject = actions.add_parser("reject", help="reject a held message (never sent)")
    reject.add_argument("id")
    reject.add_argument("--reason", required=True, help="why (required, at most 500 characters)")


def _add_webhooks(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    webhooks = commands.add_parser("webhooks", help="registered webhook endpoints and deliveries")
    actions = webhooks.add_subparsers(dest="webhooks_command", metavar="ACTION", required=True)

    create = actions.add_parser("create", help="register an endpoint; prints its secret once")
    create.add_argument("--url", required=True, help="http(s) URL of the receiver")
    create.add_argument(
        "--event", action="append", choices=_EVENTS, default=None, help="repeatable; default all"
    )
    create.add_argument("--description", default="")
    create.add_argument("--disabled", action="store_true", help="register it switched off")

    actions.add_parser("list", help="every endpoint (never secrets)")

    update = actions.add_parser("update", help="change an endpoint")
    update.add_argument("id")
    update.add_argument("--url", default=None)
    events = update.add_mutually_exclusive_group()
    events.add_argument("--event", action="append", choices=_EVENTS, default=None)
    events.add_argument("--all-events", action="store_true", help="receive every event type")
    update.add_argument("--description", default=None)
    switch = update.add_mutually_exclusive_group()
    switch.add_argument("--enable", action="store_true")
    switch.add_argument("--disable", action="store_true")

    delete = actions.add_parser("delete", help="remove an endpoint and its deliveries")
    delete.add_argument("id")

    rotate = actions.add_parser("rotate", help="new secret (old one valid for the grace period)")
    rotate.add_argument("id")

    listing = actions.add_parser("deliveries", help="recent deliveries, newest first")
    listing.add_argument("--endpoint", default=None, metavar="ENDPOINT_ID")
    listing.add_argument("--message", default=None, metavar="MESSAGE_ID")
    listing.add_argument("--status", choices=[s.value for s in DeliveryStatus], default=None)
    listing.add_argument("--limit", type=int, default=20)

    replay = actions.add_parser("replay", help="send a delivery again, now")
    replay.add_argument("id", metavar="DELIVERY_ID")

    hashing = actions.add_parser("hash", help="the to_hash this relay's payloads show for ADDRESS")
    hashing.add_argument("address", metavar="ADDRESS")
    actions.add_parser("new-key", help="print a fresh secrets key (for SECRETS_KEY)")
    actions.add_parser(
        "reencrypt", help="seal every stored webhook secret with the current secrets key"
    )


def _add_dkim(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dkim = commands.add_parser("dkim", help="DKIM signing keys (DKIM_KEYS_DIR)")
    actions = dkim.add_subparsers(dest="dkim_command", metavar="ACTION", required=True)
    generate = actions.add_parser("generate", help="create a key and print its DNS record")
    generate.add_argument("--domain", required=True, help="the From domain, e.g. example.com")
    generate.add_argument(
        "--selector", default=None, help="DNS selector (default amYYYYMM, e.g. am202611)"
    )
    generate.add_argument(
        "--algorithm",
        choices=["rsa", "ed25519", "both"],
        default="rsa",
        help="rsa (2048 bits, the default), ed25519, or both: two selectors, SELECTOR-rsa "
        "and SELECTOR-ed25519, and every message signed twice",
    )
    generate.add_argument("--force", action="store_true", help="replace an existing selector")
    listing = actions.add_parser("list", help="the keys in DKIM_KEYS_DIR (never private parts)")
    listing.add_argument("--records", action="store_true", help="also print each DNS record")


def _add_domains(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    domains = commands.add_parser("domains", help="check a sending domain's DNS records")
    domain_actions = domains.add_subparsers(dest="domains_command", metavar="ACTION", required=True)
    check = domain_actions.add_parser(
        "check", help="DKIM (against local keys), SPF and DMARC; exit 1 if anything needs work"
    )
    check.add_argument("domain")
    check.add_argument("--json", action="store_true", help="print the report as JSON")


def _add_keys(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = commands.add_parser("keys", help="stored API keys (scopes, senders, rotation)")
    actions = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)

    create = actions.add_parser("create", help="make a key; prints it once")
    create.add_argument("--name", required=True)
    scopes = create.add_argument_group("scopes (at least one)")
    scopes.add_argument(
        "--scope", action="append", choices=[s.value for s in Scope], help="repeatable"
    )
    scopes.add_argument(
        "--scopes",
        action="extend",
        dest="scope",
        type=_scope_list,
        metavar="S[,S…]",
        help="comma-separated, e.g. send,read",
    )
    create.add_argument(
        "--sender",
        action="append",
        default=[],
        metavar="ADDRESS_OR_DOMAIN",
        help="repeatable; an address, a domain, or *.domain for its subdomains",
    )
    create.add_argument(
        "--origin", action="append", default=[], metavar="URL", help="repeatable link origin"
    )
    create.add_argument("--expires-in", type=float, default=None, metavar="DAYS")
    create.add_argument("--rate-limit", type=int, default=None, metavar="PER_MINUTE")
    create.add_argument(
        "--oversight", choices=_MODES, default=None, help="default: OVERSIGHT_DEFAULT"
    )

    actions.add_parser("list", help="every key (never secrets)")
    revoke = actions.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("id")
    rotate = actions.add_parser("rotate", help="new key, same settings; the old one stays valid")
    rotate.add_argument("id")
    mode = actions.add_parser("set-oversight", help="set a key's oversight mode")
    mode.add_argument("id")
    mode.add_argument("mode", choices=_MODES)


def _add_rules(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rules = commands.add_parser("rules", help="approval rules (first match wins)")
    actions = rules.add_subparsers(dest="rules_command", metavar="ACTION", required=True)
    actions.add_parser("list", help="every rule, in the order sends try them")
    show = actions.add_parser("show", help="one rule")
    show.add_argument("id")
    create = actions.add_parser("create", help="add a rule (at the end unless --position)")
    create.add_argument("--action", required=True, choices=[a.value for a in RuleAction])
    _add_rule_fields(create)
    update = actions.add_parser("update", help="change a rule; conditions given replace all")
    update.add_argument("id")
    update.add_argument("--action", default=None, choices=[a.value for a in RuleAction])
    _add_rule_fields(update)
    delete = actions.add_parser("delete", help="remove a rule (the rules after it move up)")
    delete.add_argument("id")


def _add_rule_fields(parser: argparse.ArgumentParser) -> None:
    kinds, priorities = [k.value for k in Kind], [p.value for p in Priority]
    parser.add_argument("--kind", action="append", dest="kinds", choices=kinds)
    parser.add_argument("--tag", action="append", dest="tags", help="any tag matches")
    parser.add_argument(
        "--recipient", action="append", dest="recipients", help="every recipient must match"
    )
    parser.add_argument(
        "--recipient-domain",
        action="append",
        dest="recipient_domains",
        metavar="DOMAIN",
        help="every recipient's domain must match",
    )
    parser.add_argument("--sender", action="append", dest="senders", metavar="ADDRESS")
    parser.add_argument("--api-key", action="append", dest="api_keys", metavar="KEY_ID")
    parser.add_argument("--priority", action="append", dest="priorities", choices=priorities)
    parser.add_argument("--description", default=None)
    parser.add_argument("--position", type=int, default=None, help="1 is tried first")


def _add_audit(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = commands.add_parser("audit", help="the tamper-evident audit trail")
    actions = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="newest entries first")
    listing.add_argument("--message", default=None, metavar="ID", help="entries about this id")
    listing.add_argument("--key", default=None, metavar="ACTOR", help="entries by this actor")
    listing.add_argument("--action", choices=[a.value for a in AuditAction], default=None)
    listing.add_argument("--limit", type=int, default=50, help="1-500 (default 50)")
    actions.add_parser("verify", help="check the chain and checkpoints; exit 1 if broken")
    export = actions.add_parser("export", help="every entry, oldest first, one JSON per line")
    export.add_argument("--format", choices=["jsonl"], default="jsonl")
    export.add_argument("--output", default=None, metavar="FILE", help="default: stdout")
    export.add_argument(
        "--checkpoints", action="store_true", help="append the signed checkpoints too"
    )
    actions.add_parser("checkpoint", help="sign a checkpoint of the trail's head now")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # `python -m authmail_relay` serves, as it always has
        args = parser.parse_args([*(argv or sys.argv[1:]), "serve"])
    try:
        return _dispatch(args, load_environment(args.env_file))
    except (ConfigurationError, ValidationError) as exc:
        _error(str(exc))
        return EXIT_USAGE
    except RelayError as exc:
        _error(str(exc))
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`… | head`): stop quietly, as command-line tools do, and
        # keep the interpreter's final flush from failing on the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _dispatch(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Import the module of the parsed command and run it; returns the exit code.

    The only imports inside a function in this room, and on purpose: ``test`` and
    ``templates`` run on the base install, every other command needs the ``[http]``
    extra, and importing this package must load no third-party module. A service
    command's module exposes ``async def run(args, settings) -> int``; the two
    standard-library commands read the environment themselves (``run(args, env)``).
    """
    command = args.command
    if command == "test":
        from . import testmail

        return testmail.run(args, env)
    if command == "templates":
        from . import templates

        return templates.run(args, env)
    run: _Runner
    try:
        # The storage layer first, so that on the base install the message names the same
        # missing module whichever service command was asked for.
        from ..db import engine as _storage  # noqa: F401
        from .service_setup import configure_logging

        if command == "serve":
            from .serve import run
        elif command in ("send", "messages"):
            from .messages import run
        elif command == "worker":
            from .worker import run
        elif command == "webhooks":
            from .webhooks import run
        elif command == "approvals":
            from .approvals import run
        elif command in ("dkim", "domains"):
            from .dkim import run
        elif command == "keys":
            from .keys import run
        elif command == "audit":
            from .audit import run
        elif command == "rules":
            from .rules import run
        elif command == "db":
            from .db import run
        elif command == "dev":
            from .dev import run
        elif command == "mcp":
            from .mcp import run
        else:
            raise AssertionError(f"unhandled command {command}")
    except ImportError as exc:
        missing = exc.name or "a dependency"
        extra = "mcp" if command == "mcp" else "http"
        _error(
            f"`{command}` needs the {extra} extra ({missing} is missing): "
            f"pip install 'authmail-relay[{extra}]'"
        )
        return EXIT_USAGE
    settings = Settings.from_env(env)
    configure_logging(settings.log_level)
    return asyncio.run(run(args, settings))


def _error(message: str) -> None:
    print(f"authmail-relay: error: {message}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
