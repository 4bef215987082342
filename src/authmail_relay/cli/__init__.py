"""The ``authmail-relay`` command line (also ``python -m authmail_relay``).

``test`` needs only the standard library; the other commands need the ``[http]`` extra
and are imported on demand. This module is the only place that starts an event loop.

Exit codes: 0 success, 1 the operation failed (the test mail was not sent, an unknown
message id, the database unavailable), 2 usage, configuration or input error.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from .. import __version__
from ..envfile import load_environment
from ..exceptions import ConfigurationError, RelayError, ValidationError
from ..vocabulary import MessageStatus, Priority
from . import dkim as cli_dkim
from . import keys as cli_keys
from . import webhooks as cli_webhooks

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


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

    cli_webhooks.add_parser(commands)
    cli_dkim.add_parser(commands)
    cli_keys.add_parser(commands)

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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # `python -m authmail_relay` serves, as it always has
        args = parser.parse_args([*(argv or sys.argv[1:]), "serve"])
    try:
        env = load_environment(args.env_file)
        if args.command == "test":
            from .testmail import run_test

            return run_test(env, to=args.to, subject=args.subject, html=args.html, text=args.text)
        if args.command == "templates":
            from .templates import run_templates

            return run_templates(args, env)
        try:
            from . import service as cli_service
        except ImportError as exc:
            missing = exc.name or "a dependency"
            _error(
                f"`{args.command}` needs the service extra ({missing} is missing): "
                "pip install 'authmail-relay[http]'"
            )
            return EXIT_USAGE
        return asyncio.run(cli_service.dispatch(args, env))
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


def _error(message: str) -> None:
    print(f"authmail-relay: error: {message}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
