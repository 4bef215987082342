"""Service settings: one typed object, built once at the entry point and passed down.

Every setting the relay reads is declared exactly once in :data:`SETTINGS` (name,
default, meaning); ``docs/configuration.md`` documents the same table and a test keeps
the two in step. Values come from the process environment, overlaid on a ``.env`` file
in the working directory (see :mod:`authmail_relay.envfile`). Parsing uses only the
standard library, so the base install (``authmail-relay test``) and the service read
the environment the same way.

The module stays over 500 lines on purpose: most of it is the one :data:`SETTINGS` table,
data read top to bottom in the order of ``docs/configuration.md`` (a comment heads each of
its sections), and splitting it would scatter what must be kept in step with that page.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from ipaddress import ip_address, ip_network
from typing import Any
from urllib.parse import urlsplit

from .dkim.nameservers import check_nameservers
from .exceptions import ConfigurationError, ValidationError
from .mail.auth_mail import check_base_url
from .mail.link_origins import origin_of
from .smtp.config import SmtpConfig, parse_bool
from .trust.api_keys import normalise_sender_rules
from .vocabulary import OversightMode


@dataclass(frozen=True)
class Setting:
    """One environment variable: its name, default (as text) and meaning."""

    name: str
    default: str | None
    description: str
    attribute: str | None = None  # Settings field it fills; None for SMTP_* (see SmtpConfig)
    parse: Callable[[str, str], Any] = lambda _name, raw: raw


def _whole_number(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number, not {raw!r}") from None


def _number(name: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number, not {raw!r}") from None


def _oversight_mode(name: str, raw: str) -> OversightMode:
    try:
        return OversightMode(raw.strip().lower())
    except ValueError:
        known = ", ".join(mode.value for mode in OversightMode)
        raise ConfigurationError(f"{name} must be one of {known}, not {raw!r}") from None


def _positive_int(name: str, raw: str) -> int:
    value = _whole_number(name, raw)
    if value <= 0:
        raise ConfigurationError(f"{name} must be positive, not {value}")
    return value


def _positive_float(name: str, raw: str) -> float:
    value = _number(name, raw)
    if not value > 0:
        raise ConfigurationError(f"{name} must be positive, not {raw}")
    return value


def _count(name: str, raw: str) -> int:
    """A whole number, zero or more (0 turns a limit off)."""
    value = _whole_number(name, raw)
    if value < 0:
        raise ConfigurationError(f"{name} must not be negative, not {value}")
    return value


def _seconds_or_zero(name: str, raw: str) -> float:
    """Seconds, zero or more (0 turns the rule off)."""
    value = _number(name, raw)
    if not value >= 0 or value == float("inf"):
        raise ConfigurationError(f"{name} must be a finite number, not negative: {raw}")
    return value


def _port(name: str, raw: str) -> int:
    value = _positive_int(name, raw)
    if value > 65535:
        raise ConfigurationError(f"{name} must be 1-65535, not {value}")
    return value


def _api_key(name: str, raw: str) -> str:
    if raw and (len(raw) < 16 or not raw.isascii() or not raw.isprintable() or " " in raw):
        raise ConfigurationError(f"{name} must be at least 16 printable ASCII characters")
    return raw


def _optional_base_url(name: str, raw: str) -> str:
    if not raw:
        return ""
    try:
        return check_base_url(raw)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{name}: {exc.message}") from None


def _origins(name: str, raw: str) -> tuple[str, ...]:
    origins = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        try:
            origins.append(origin_of(item))
        except ConfigurationError as exc:
            raise ConfigurationError(f"{name}: {exc.message}") from None
    return tuple(origins)


def _sender_rules(name: str, raw: str) -> tuple[str, ...]:
    items = [part for part in raw.split(",") if part.strip()]
    try:
        return tuple(normalise_sender_rules(items, field=name))
    except ValidationError as exc:
        raise ConfigurationError(exc.message) from None


def _link_path(name: str, raw: str) -> str:
    if not raw.startswith("/") or any(ch in raw for ch in "?# ") or not raw.isprintable():
        raise ConfigurationError(f"{name} must start with / and contain no spaces, ? or #")
    return raw


def _host_list(name: str, raw: str) -> tuple[str, ...]:
    hosts = []
    for item in raw.split(","):
        host = item.strip().lower().rstrip(".")
        if not host:
            continue
        if any(char.isspace() or char in "/@*[]" for char in host):
            raise ConfigurationError(f"{name}: {host!r} is not a host name or IP address")
        hosts.append(host)
    return tuple(hosts)


def _relay_url(name: str, raw: str) -> str:
    url = raw.strip().rstrip("/")
    if not url:
        return ""
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        raise ConfigurationError(f"{name}: not a valid URL") from None
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise ConfigurationError(f"{name} must use https (http only for a loopback address)")
    if not parts.hostname or parts.query or parts.fragment or "@" in parts.netloc:
        raise ConfigurationError(f"{name}: give scheme://host[:port][/path] only")
    return url


def _mcp_hosts(name: str, raw: str) -> tuple[str, ...]:
    hosts = []
    for item in (part.strip().lower() for part in raw.split(",")):
        if not item:
            continue
        host, colon, port = item.rpartition(":") if item.count(":") == 1 else (item, "", "")
        if colon and not (port.isdigit() and 0 < int(port) < 65536):
            raise ConfigurationError(f"{name}: {item!r} has no valid port")
        if not host or any(char.isspace() or char in "/@*?#" for char in host):
            raise ConfigurationError(f"{name}: {item!r} is not a host or host:port")
        hosts.append(item)
    return tuple(hosts)


#: Bytes of one secrets key (SECRETS_KEY).
SECRETS_KEY_BYTES = 32


def decode_secrets_key(text: str) -> bytes:
    """One secrets key from its base64url text (padding optional); ConfigurationError
    unless it decodes to exactly :data:`SECRETS_KEY_BYTES` bytes."""
    candidate = text.strip()
    try:
        if len(candidate) > 64:
            raise ValueError("too long")
        key = base64.urlsafe_b64decode(candidate + "=" * (-len(candidate) % 4))
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != SECRETS_KEY_BYTES:
        raise ConfigurationError(
            f"a secrets key is {SECRETS_KEY_BYTES} random bytes in base64url "
            "(`authmail-relay webhooks new-key` makes one)"
        )
    return key


def _secrets_keys(name: str, raw: str) -> tuple[bytes, ...]:
    items = [part.strip() for part in raw.split(",") if part.strip()]
    if len(items) > 16:
        raise ConfigurationError(f"{name}: at most 16 keys")
    try:
        return tuple(decode_secrets_key(item) for item in items)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{name}: {exc.message}") from None


#: Shortest and longest AUDIT_CHECKPOINT_KEY item.
CHECKPOINT_KEY_MIN_CHARS, CHECKPOINT_KEY_MAX_CHARS = 32, 512


def _checkpoint_keys(name: str, raw: str) -> tuple[bytes, ...]:
    """Each comma-separated item's UTF-8 bytes are one key (base64 text is fine as it is)."""
    items = [part.strip() for part in raw.split(",") if part.strip()]
    if len(items) > 16:
        raise ConfigurationError(f"{name}: at most 16 keys")
    for item in items:
        if not CHECKPOINT_KEY_MIN_CHARS <= len(item) <= CHECKPOINT_KEY_MAX_CHARS:
            raise ConfigurationError(
                f"{name}: each key must be {CHECKPOINT_KEY_MIN_CHARS} to "
                f"{CHECKPOINT_KEY_MAX_CHARS} characters"
            )
    return tuple(item.encode("utf-8") for item in items)


def _proxy_addresses(name: str, raw: str) -> tuple[str, ...]:
    items = [item.strip() for item in raw.split(",") if item.strip()]
    if items == ["*"]:
        return ("*",)
    proxies = []
    for item in items:
        try:
            proxy = ip_network(item, strict=False) if "/" in item else ip_address(item)
            proxies.append(str(proxy))
        except ValueError:
            raise ConfigurationError(
                f"{name}: {item[:60]!r} is not an IP address or network (or a lone *)"
            ) from None
    return tuple(proxies)


def _share(name: str, raw: str) -> float:
    value = _number(name, raw)
    if not 0 <= value < 1:
        raise ConfigurationError(f"{name} must be at least 0 and below 1, not {raw}")
    return value


def _log_level(name: str, raw: str) -> str:
    level = raw.strip().upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigurationError(f"{name} must be DEBUG, INFO, WARNING or ERROR, not {raw!r}")
    return level


SETTINGS: tuple[Setting, ...] = (
    # SMTP upstream. The ones without a Settings field are read by SmtpConfig (SMTP2_ too).
    Setting("SMTP_HOST", None, "Upstream SMTP server host name. Required to send."),
    Setting("SMTP_PORT", "587", "Upstream SMTP port."),
    Setting(
        "SMTP_USER", "", "SMTP AUTH user name; AUTH is used only when user and password are set."
    ),
    Setting("SMTP_PASSWORD", "", "SMTP AUTH password. Never logged or shown."),
    Setting("SMTP_FROM", "", "Default sender address; defaults to SMTP_USER."),
    Setting(
        "SMTP_TLS",
        "",
        "starttls, implicit or none. Empty: implicit on port 465, starttls elsewhere.",
    ),
    Setting("SMTP_USE_TLS", "", "Older switch: false means SMTP_TLS=none. SMTP_TLS wins."),
    Setting("SMTP_TIMEOUT", "10", "Seconds allowed for each SMTP network step."),
    Setting("SMTP_CA_FILE", "", "Extra CA bundle (PEM) trusted for the upstream certificate."),
    Setting("SMTP_LOCAL_HOSTNAME", "", "Name sent in EHLO; empty uses the sender's domain."),
    Setting(
        "SMTP_ALLOW_PLAINTEXT_AUTH",
        "false",
        "Allow AUTH over a connection without TLS (only for a trusted local relay).",
    ),
    Setting(
        "SMTP2_HOST",
        "",
        "A second upstream, tried when the first fails (failover). SMTP2_PORT, SMTP2_USER, "
        "SMTP2_PASSWORD, SMTP2_TLS, SMTP2_CA_FILE and SMTP2_ALLOW_PLAINTEXT_AUTH work like "
        "their SMTP_ forms; timeout and EHLO name are shared. SMTP3_ to SMTP9_ add more.",
    ),
    Setting(
        "SMTP_POOL_SIZE",
        "4",
        "Connections kept open per upstream and reused across messages (at most "
        "WORKER_CONCURRENCY).",
        "smtp_pool_size",
        _positive_int,
    ),
    Setting(
        "SMTP_MAX_CONNECTION_AGE_SECONDS",
        "300",
        "A pooled connection older than this is closed and replaced before its next use.",
        "smtp_max_connection_age_seconds",
        _positive_float,
    ),
    Setting(
        "SMTP_MAX_IDLE_SECONDS",
        "30",
        "A pooled connection idle longer than this is replaced rather than reused.",
        "smtp_max_idle_seconds",
        _positive_float,
    ),
    Setting(
        "SMTP_BREAKER_FAILURES",
        "3",
        "Connection failures in a row after which an upstream is skipped for a cool-down.",
        "smtp_breaker_failures",
        _positive_int,
    ),
    Setting(
        "SMTP_BREAKER_COOLDOWN_SECONDS",
        "30",
        "How long a failing upstream is skipped before one message probes it (doubles while "
        "it keeps failing, up to 10 minutes).",
        "smtp_breaker_cooldown_seconds",
        _positive_float,
    ),
    # Storage (docs/storage.md). AUTO_MIGRATE, a storage setting too, follows the worker's.
    Setting(
        "DATABASE_URL",
        "sqlite:///./authmail.db",
        "Outbox database: sqlite:///PATH or postgresql://USER@HOST:PORT/DB.",
        "database_url",
    ),
    Setting(
        "DB_BUSY_TIMEOUT_MS",
        "5000",
        "SQLite only: how long a write waits for the database lock before failing.",
        "db_busy_timeout_ms",
        _positive_int,
    ),
    # Worker (docs/delivery.md).
    Setting(
        "WORKER_CONCURRENCY",
        "16",
        "Messages a worker process has in hand at once: claimed, sending or waiting for a "
        "pooled connection, with their results written together.",
        "worker_concurrency",
        _positive_int,
    ),
    Setting(
        "HIGH_PRIORITY_RESERVED",
        "1",
        "Worker slots (and connections per upstream) only high-priority mail may use, so a "
        "backlog never delays an auth mail. At most WORKER_CONCURRENCY - 1.",
        "high_priority_reserved",
        _count,
    ),
    Setting(
        "LOW_PRIORITY_SHARE",
        "0.2",
        "Share of the other slots kept for low-priority mail while it has a backlog, so a "
        "stream of normal mail never starves it (0 to below 1).",
        "low_priority_share",
        _share,
    ),
    Setting(
        "LEASE_SECONDS",
        "120",
        "How long a claimed message stays reserved for its worker before others may take it.",
        "lease_seconds",
        _positive_float,
    ),
    Setting(
        "POLL_INTERVAL_SECONDS",
        "1.0",
        "How often an idle worker looks for due messages queued by other processes.",
        "poll_interval_seconds",
        _positive_float,
    ),
    Setting(
        "RETRY_BASE_SECONDS",
        "5",
        "Delay before the first retry of a transient failure; doubles per attempt.",
        "retry_base_seconds",
        _positive_float,
    ),
    Setting(
        "RETRY_MAX_SECONDS",
        "900",
        "Upper bound of the delay between two attempts.",
        "retry_max_seconds",
        _positive_float,
    ),
    Setting(
        "MAX_MESSAGE_AGE_SECONDS",
        "86400",
        "A message still unsent this long after it was accepted (or after its send_at, "
        "when later) is failed.",
        "max_message_age_seconds",
        _positive_float,
    ),
    Setting(
        "SHUTDOWN_GRACE_SECONDS",
        "10",
        "On SIGTERM, how long in-flight sends may take before their leases are released.",
        "shutdown_grace_seconds",
        _positive_float,
    ),
    Setting(
        "AUTO_MIGRATE",
        "true",
        "Apply database migrations when the worker starts (SQLite only; run "
        "`authmail-relay db upgrade` for PostgreSQL).",
        "auto_migrate",
        parse_bool,
    ),
    # Logging.
    Setting("LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING or ERROR.", "log_level", _log_level),
    # HTTP service (docs/api.md).
    Setting(
        "API_KEY",
        "",
        "Bearer key for the HTTP API (at least 16 characters). Required by `serve`.",
        "api_key",
        _api_key,
    ),
    Setting("HOST", "127.0.0.1", "Address the HTTP service listens on.", "host"),
    Setting("PORT", "8000", "Port the HTTP service listens on.", "port", _port),
    Setting(
        "FORWARDED_ALLOW_IPS",
        "",
        "Comma-separated addresses or networks of the reverse proxies whose X-Forwarded-For "
        "and X-Forwarded-Proto are believed; empty: none (the peer address counts).",
        "forwarded_allow_ips",
        _proxy_addresses,
    ),
    Setting(
        "SEND_WAIT_SECONDS",
        "15",
        "How long a /send* request without webhook_url waits for the SMTP outcome before "
        "answering 202 queued.",
        "send_wait_seconds",
        _positive_float,
    ),
    Setting(
        "MAX_BODY_BYTES",
        "10485760",
        "Largest request body accepted; larger ones get 413 before being read.",
        "max_body_bytes",
        _positive_int,
    ),
    Setting(
        "DOCS_ENABLED",
        "true",
        "Serve the OpenAPI schema and the /docs page.",
        "docs_enabled",
        parse_bool,
    ),
    Setting(
        "AUTH_FAILURE_LIMIT",
        "10",
        "Failed authentications one client address may make per minute before getting 429.",
        "auth_failure_limit",
        _positive_int,
    ),
    Setting(
        "IDEMPOTENCY_TTL_SECONDS",
        "86400",
        "How long an Idempotency-Key and its response are kept.",
        "idempotency_ttl_seconds",
        _positive_float,
    ),
    Setting(
        "MAGIC_LINK_BASE_URL",
        "",
        "Origin (and optional path prefix) of magic links and password-reset links, e.g. "
        "https://app.example.com. A request's base_url must have the same origin.",
        "magic_link_base_url",
        _optional_base_url,
    ),
    Setting(
        "PRODUCT_NAME",
        "",
        "Product name shown in auth mails; empty uses the sender's domain.",
        "product_name",
    ),
    Setting(
        "OTP_EXPIRES_SECONDS",
        "600",
        "Default lifetime of a one-time code (expires_in when the request gives none).",
        "otp_expires_seconds",
        _positive_int,
    ),
    Setting(
        "LINK_EXPIRES_SECONDS",
        "900",
        "Default lifetime of magic links and password-reset links.",
        "link_expires_seconds",
        _positive_int,
    ),
    # Auth mails, links and branding (docs/templates.md).
    Setting(
        "ALLOWED_LINK_ORIGINS",
        "",
        "Comma-separated extra origins (https://host[:port]) a request's base_url may use "
        "besides MAGIC_LINK_BASE_URL's.",
        "allowed_link_origins",
        _origins,
    ),
    Setting(
        "MAGIC_LINK_PATH",
        "/set-password",
        "Path of magic links below the base URL.",
        "magic_link_path",
        _link_path,
    ),
    Setting(
        "PASSWORD_RESET_PATH",
        "/reset-password",
        "Path of password-reset links below the base URL.",
        "password_reset_path",
        _link_path,
    ),
    Setting(
        "DEFAULT_LOCALE",
        "en",
        "Language of auth mails when a request names none "
        "(en, ko, es, fr, de, ja, pt-BR, zh-Hans).",
        "default_locale",
    ),
    Setting(
        "SENDER_NAME",
        "",
        "Display name put before SMTP_FROM when a request gives no from.",
        "sender_name",
    ),
    Setting("LOGO_URL", "", "https URL of a logo shown at the top of auth mails.", "logo_url"),
    Setting("ACCENT_COLOR", "#2563eb", "Colour of buttons and accents (#rrggbb).", "accent_color"),
    Setting("SUPPORT_ADDRESS", "", "Address shown in auth mails for questions.", "support_address"),
    Setting("FOOTER_TEXT", "", "A short line at the bottom of every auth mail.", "footer_text"),
    Setting(
        "TEMPLATES_DIR",
        "",
        "Folder of operator template overrides (<locale>/<kind>.subject.txt|.html|.txt), "
        "checked at start-up.",
        "templates_dir",
    ),
    # Webhooks (docs/webhooks.md).
    Setting(
        "WEBHOOK_ALLOW_HOSTS",
        "",
        "Comma-separated host names (or IP literals) webhooks may reach although they "
        "resolve to private or loopback addresses, e.g. internal receivers.",
        "webhook_allow_hosts",
        _host_list,
    ),
    Setting(
        "WEBHOOK_CONCURRENCY",
        "8",
        "Webhook deliveries one worker process sends at the same time.",
        "webhook_concurrency",
        _positive_int,
    ),
    Setting(
        "WEBHOOK_CONCURRENCY_PER_TARGET",
        "2",
        "Webhook deliveries in flight at once for one target (a registered endpoint, or "
        "the host and port of per-request webhook URLs), across all workers.",
        "webhook_concurrency_per_target",
        _positive_int,
    ),
    Setting(
        "WEBHOOK_CONNECT_TIMEOUT_SECONDS",
        "5",
        "How long a webhook attempt may take to connect (per address).",
        "webhook_connect_timeout_seconds",
        _positive_float,
    ),
    Setting(
        "WEBHOOK_TIMEOUT_SECONDS",
        "15",
        "How long one webhook attempt may take in total: resolve, connect, send, answer.",
        "webhook_timeout_seconds",
        _positive_float,
    ),
    Setting(
        "WEBHOOK_RETRY_BASE_SECONDS",
        "5",
        "Delay before the first webhook retry; doubles per attempt.",
        "webhook_retry_base_seconds",
        _positive_float,
    ),
    Setting(
        "WEBHOOK_RETRY_MAX_SECONDS",
        "3600",
        "Upper bound of the delay between two webhook attempts.",
        "webhook_retry_max_seconds",
        _positive_float,
    ),
    Setting(
        "WEBHOOK_MAX_AGE_SECONDS",
        "86400",
        "How long a webhook delivery is retried (from the event, or from a replay).",
        "webhook_max_age_seconds",
        _positive_float,
    ),
    Setting(
        "WEBHOOK_CLIENT_ERROR_ATTEMPTS",
        "3",
        "Attempts a delivery gets when the receiver answers 3xx or 4xx (410 and 429 aside).",
        "webhook_client_error_attempts",
        _positive_int,
    ),
    Setting(
        "WEBHOOK_SECRET_GRACE_SECONDS",
        "86400",
        "After a secret rotation, how long the old secret keeps being signed with too.",
        "webhook_secret_grace_seconds",
        _positive_float,
    ),
    # Secrets at rest and retention (docs/storage.md).
    Setting(
        "SECRETS_KEY",
        "",
        "Keys that encrypt webhook secrets in the database and key the webhook to_hash: "
        "base64url, 32 bytes each, comma-separated, the current one first. Empty: "
        "SECRETS_KEY_FILE, else (SQLite only) the file <database>.keys, made on first start.",
        "secrets_key",
        _secrets_keys,
    ),
    Setting(
        "SECRETS_KEY_FILE",
        "",
        "A file holding the secrets keys instead, one per line, the current one first.",
        "secrets_key_file",
    ),
    Setting(
        "RAW_RETENTION_SECONDS_AUTH",
        "0",
        "How long the stored bytes of a finished auth mail (OTP, magic link, password "
        "reset) are kept before they are erased; 0: at the next sweep.",
        "raw_retention_seconds_auth",
        _seconds_or_zero,
    ),
    Setting(
        "RAW_RETENTION_SECONDS",
        "604800",
        "How long the stored bytes of any other finished message are kept.",
        "raw_retention_seconds",
        _seconds_or_zero,
    ),
    Setting(
        "RETENTION_SWEEP_SECONDS",
        "60",
        "How often a worker erases the stored bytes and webhook secrets that are due.",
        "retention_sweep_seconds",
        _positive_float,
    ),
    Setting(
        "AUDIT_CHECKPOINT_KEY",
        "",
        "Keys that sign the audit trail's checkpoints: at least 32 characters each, "
        "comma-separated, the current one first. Empty: derived from the secrets keys "
        "(docs/oversight.md#the-audit-trail). Never logged.",
        "audit_checkpoint_key",
        _checkpoint_keys,
    ),
    Setting(
        "AUDIT_CHECKPOINT_SECONDS",
        "300",
        "How often a worker signs a checkpoint of the audit trail's head; 0: off.",
        "audit_checkpoint_seconds",
        _seconds_or_zero,
    ),
    # DKIM and domains (docs/dkim.md).
    Setting(
        "DKIM_KEYS_DIR",
        "./dkim-keys",
        "Folder of DKIM private keys (<domain>/<selector>.<rsa|ed25519>.key); mail from a "
        "domain with keys there is signed.",
        "dkim_keys_dir",
    ),
    Setting(
        "DNS_RESOLVER",
        "",
        "Name servers `domains check` asks, IP[:PORT] comma-separated; empty: the system's.",
        "dns_resolver",
        check_nameservers,
    ),
    Setting(
        "DNS_TIMEOUT_SECONDS",
        "5",
        "How long one `domains check` lookup may take before it counts as failed.",
        "dns_timeout_seconds",
        _positive_float,
    ),
    # API keys and senders (docs/security.md).
    Setting(
        "ALLOWED_SENDERS",
        "",
        "Comma-separated From addresses and domains (*.example.com for subdomains) the "
        "API_KEY may send from besides SMTP_FROM; empty: SMTP_FROM only.",
        "allowed_senders",
        _sender_rules,
    ),
    Setting(
        "OVERSIGHT_DEFAULT",
        "autonomous",
        "The oversight mode of API_KEY and of new stored keys created without one: "
        "autonomous, monitored, gated or read_only (docs/oversight.md).",
        "oversight_default",
        _oversight_mode,
    ),
    Setting(
        "OVERSIGHT_SWEEP_SECONDS",
        "5",
        "How often a worker expires held messages past their expiry and reports sent auth "
        "mail nobody used (message.unused).",
        "oversight_sweep_seconds",
        _positive_float,
    ),
    # MCP (docs/mcp.md).
    Setting(
        "MCP_ENABLED",
        "false",
        "Serve the MCP endpoint /mcp in `serve` (needs the [mcp] extra); off unless asked "
        "for, so a relay exposes no agent door its operator did not open.",
        "mcp_enabled",
        parse_bool,
    ),
    Setting(
        "AUTHMAIL_URL",
        "",
        "The relay `authmail-relay mcp` talks to (https, or http on a loopback address); "
        "not needed with --local.",
        "authmail_url",
        _relay_url,
    ),
    Setting(
        "AUTHMAIL_API_KEY",
        "",
        "The API key `authmail-relay mcp` sends to AUTHMAIL_URL (with --local: instead of "
        "API_KEY). Give an agent its own scoped stored key.",
        "authmail_api_key",
    ),
    Setting(
        "MCP_ALLOWED_HOSTS",
        "",
        "Comma-separated Host header values (host or host:port) /mcp answers besides "
        "loopback names and HOST; anything else is 421 (DNS-rebinding protection).",
        "mcp_allowed_hosts",
        _mcp_hosts,
    ),
    Setting(
        "MCP_ALLOWED_ORIGINS",
        "",
        "Comma-separated origins (scheme://host[:port]) of web pages that may call /mcp "
        "besides loopback http ones; a request with any other Origin is 403.",
        "mcp_allowed_origins",
        _origins,
    ),
    # Rate limits (docs/security.md#rate-limits).
    Setting(
        "SEND_RATE_PER_MINUTE",
        "0",
        "Most messages the workers hand to SMTP per SEND_RATE_WINDOW_SECONDS, all "
        "together; more wait in the queue. 0: unlimited.",
        "send_rate_per_minute",
        _count,
    ),
    Setting(
        "SEND_RATE_WINDOW_SECONDS",
        "60",
        "The window of SEND_RATE_PER_MINUTE.",
        "send_rate_window_seconds",
        _positive_float,
    ),
    Setting(
        "KEY_REQUESTS_PER_MINUTE",
        "0",
        "Requests per minute the env API_KEY (and stored keys without their own limit) "
        "may make; 0: unlimited.",
        "key_requests_per_minute",
        _count,
    ),
    Setting(
        "RECIPIENT_MAX_PER_WINDOW",
        "5",
        "Auth mails of one kind one address may receive per RECIPIENT_WINDOW_SECONDS; 0: off.",
        "recipient_max_per_window",
        _count,
    ),
    Setting(
        "RECIPIENT_WINDOW_SECONDS",
        "900",
        "The window of RECIPIENT_MAX_PER_WINDOW.",
        "recipient_window_seconds",
        _positive_float,
    ),
    Setting(
        "RECIPIENT_MIN_INTERVAL_SECONDS",
        "30",
        "Least time between two auth mails of one kind to one address; 0: off.",
        "recipient_min_interval_seconds",
        _seconds_or_zero,
    ),
    Setting(
        "RECIPIENT_MAX_PER_WINDOW_ALL_KINDS",
        "6",
        "Auth mails of all kinds together one mailbox may receive per "
        "RECIPIENT_WINDOW_SECONDS; 0: off.",
        "recipient_max_per_window_all_kinds",
        _count,
    ),
    Setting(
        "DOMAIN_MAX_PER_WINDOW",
        "100",
        "Auth mails one requester (API key, and end-user IP when given) may send to one "
        "recipient domain per DOMAIN_WINDOW_SECONDS; 0: off.",
        "domain_max_per_window",
        _count,
    ),
    Setting(
        "DOMAIN_WINDOW_SECONDS",
        "900",
        "The window of DOMAIN_MAX_PER_WINDOW.",
        "domain_window_seconds",
        _positive_float,
    ),
)


@dataclass(frozen=True)
class Settings:
    """The relay's configuration. Build it with :meth:`from_env`; tests build it directly."""

    database_url: str = "sqlite:///./authmail.db"
    smtp: SmtpConfig | None = None
    db_busy_timeout_ms: int = 5000
    worker_concurrency: int = 16
    high_priority_reserved: int = 1
    low_priority_share: float = 0.2
    smtp_fallbacks: tuple[SmtpConfig, ...] = ()
    smtp_pool_size: int = 4
    smtp_max_connection_age_seconds: float = 300.0
    smtp_max_idle_seconds: float = 30.0
    smtp_breaker_failures: int = 3
    smtp_breaker_cooldown_seconds: float = 30.0
    lease_seconds: float = 120.0
    poll_interval_seconds: float = 1.0
    retry_base_seconds: float = 5.0
    retry_max_seconds: float = 900.0
    max_message_age_seconds: float = 86400.0
    shutdown_grace_seconds: float = 10.0
    auto_migrate: bool = True
    log_level: str = "INFO"
    api_key: str = field(default="", repr=False)
    host: str = "127.0.0.1"
    port: int = 8000
    forwarded_allow_ips: tuple[str, ...] = ()
    send_wait_seconds: float = 15.0
    max_body_bytes: int = 10 * 1024 * 1024
    docs_enabled: bool = True
    auth_failure_limit: int = 10
    idempotency_ttl_seconds: float = 86400.0
    magic_link_base_url: str = ""
    product_name: str = ""
    otp_expires_seconds: int = 600
    link_expires_seconds: int = 900
    allowed_link_origins: tuple[str, ...] = ()
    magic_link_path: str = "/set-password"
    password_reset_path: str = "/reset-password"  # noqa: S105 - a URL path, not a secret
    default_locale: str = "en"
    sender_name: str = ""
    logo_url: str = ""
    accent_color: str = "#2563eb"
    support_address: str = ""
    footer_text: str = ""
    templates_dir: str = ""
    webhook_allow_hosts: tuple[str, ...] = ()
    webhook_concurrency: int = 8
    webhook_concurrency_per_target: int = 2
    webhook_connect_timeout_seconds: float = 5.0
    webhook_timeout_seconds: float = 15.0
    webhook_retry_base_seconds: float = 5.0
    webhook_retry_max_seconds: float = 3600.0
    webhook_max_age_seconds: float = 86400.0
    webhook_client_error_attempts: int = 3
    webhook_secret_grace_seconds: float = 86400.0
    secrets_key: tuple[bytes, ...] = field(default=(), repr=False)
    secrets_key_file: str = ""
    raw_retention_seconds_auth: float = 0.0
    raw_retention_seconds: float = 604800.0
    retention_sweep_seconds: float = 60.0
    audit_checkpoint_key: tuple[bytes, ...] = field(default=(), repr=False)
    audit_checkpoint_seconds: float = 300.0
    dkim_keys_dir: str = "./dkim-keys"
    dns_resolver: str = ""
    dns_timeout_seconds: float = 5.0
    allowed_senders: tuple[str, ...] = ()
    oversight_default: OversightMode = OversightMode.AUTONOMOUS
    oversight_sweep_seconds: float = 5.0
    recipient_max_per_window: int = 5
    recipient_window_seconds: float = 900.0
    recipient_min_interval_seconds: float = 30.0
    recipient_max_per_window_all_kinds: int = 6
    domain_max_per_window: int = 100
    domain_window_seconds: float = 900.0
    key_requests_per_minute: int = 0
    authmail_url: str = ""
    authmail_api_key: str = field(default="", repr=False)
    mcp_enabled: bool = False
    mcp_allowed_hosts: tuple[str, ...] = ()
    mcp_allowed_origins: tuple[str, ...] = ()
    send_rate_per_minute: int = 0
    send_rate_window_seconds: float = 60.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Parse every setting; raises :class:`ConfigurationError` naming the bad one.

        ``smtp`` is ``None`` when ``SMTP_HOST`` is unset; commands that send call
        :meth:`require_smtp`, which turns that into a clear error.
        """
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            if setting.attribute is None:
                continue
            raw = env.get(setting.name, "").strip() or (setting.default or "")
            values[setting.attribute] = setting.parse(setting.name, raw)
        smtp = SmtpConfig.from_env(env) if env.get("SMTP_HOST", "").strip() else None
        fallbacks = _fallback_upstreams(env, smtp)
        return cls(smtp=smtp, smtp_fallbacks=fallbacks, **values)

    def require_smtp(self) -> SmtpConfig:
        """The SMTP settings, or a ConfigurationError saying what to set."""
        if self.smtp is None:
            raise ConfigurationError("SMTP_HOST is not set (see docs/configuration.md)")
        return self.smtp

    def require_relay_url(self) -> tuple[str, str]:
        """AUTHMAIL_URL and AUTHMAIL_API_KEY, or a ConfigurationError saying what to set."""
        if not self.authmail_url or not self.authmail_api_key:
            raise ConfigurationError(
                "set AUTHMAIL_URL and AUTHMAIL_API_KEY (or use --local; see docs/mcp.md)"
            )
        return self.authmail_url, self.authmail_api_key

    def require_api_key(self) -> str:
        """The API key, or a ConfigurationError saying what to set."""
        if not self.api_key:
            raise ConfigurationError("API_KEY is not set (see docs/configuration.md)")
        return self.api_key

    @property
    def upstreams(self) -> tuple[SmtpConfig, ...]:
        """Every upstream in failover order: SMTP_* first, then SMTP2_* to SMTP9_*."""
        return (self.require_smtp(), *self.smtp_fallbacks)

    @property
    def pool_size(self) -> int:
        """Connections per upstream: SMTP_POOL_SIZE, but never more than the worker can use."""
        return min(self.smtp_pool_size, self.worker_concurrency)

    @property
    def lease_ms(self) -> int:
        """The lease in milliseconds, never shorter than six SMTP timeouts.

        The worker re-checks (and if needed extends) its lease before MAIL FROM, so the
        lease must cover the rest of one transaction (MAIL, RCPT, DATA, the final dot)
        several times over; see docs/storage.md.
        """
        floor = 6 * (self.smtp.timeout if self.smtp else 10.0)
        return int(max(self.lease_seconds, floor) * 1000)

    @property
    def webhook_lease_ms(self) -> int:
        """How long a claimed webhook delivery stays reserved: two attempt timeouts and a
        margin for recording the result, so a live dispatcher never loses its lease."""
        return int((2 * self.webhook_timeout_seconds + 5) * 1000)


#: The per-upstream settings a numbered upstream (SMTP2_ to SMTP9_) may set.
_UPSTREAM_FIELDS = (
    *("HOST", "PORT", "USER", "PASSWORD", "TLS", "USE_TLS", "CA_FILE"),
    "ALLOW_PLAINTEXT_AUTH",
)
#: Shared by every upstream: they describe this relay, not the server.
_SHARED_FIELDS = ("TIMEOUT", "LOCAL_HOSTNAME", "FROM")


def _fallback_upstreams(
    env: Mapping[str, str], primary: SmtpConfig | None
) -> tuple[SmtpConfig, ...]:
    """Read SMTP2_* to SMTP9_*, in number order. A numbered upstream needs SMTPn_HOST and
    a primary SMTP_HOST; a stray SMTPn_ setting without its host is an error (a typo would
    otherwise silently leave the relay without its failover)."""
    fallbacks = []
    for number in range(2, 10):
        prefix = f"SMTP{number}_"
        given = {name for name in env if name.startswith(prefix) and env[name].strip()}
        if not given:
            continue
        if f"{prefix}HOST" not in given:
            raise ConfigurationError(f"{sorted(given)[0]} is set but {prefix}HOST is not")
        unknown = sorted(given - {prefix + field for field in _UPSTREAM_FIELDS})
        if unknown:
            raise ConfigurationError(f"{unknown[0]} is not a setting (see docs/configuration.md)")
        if primary is None:
            raise ConfigurationError(f"{prefix}HOST is set but SMTP_HOST is not")
        view = {f"SMTP_{field}": env.get(prefix + field, "") for field in _UPSTREAM_FIELDS}
        view.update({f"SMTP_{field}": env.get(f"SMTP_{field}", "") for field in _SHARED_FIELDS})
        try:
            fallbacks.append(SmtpConfig.from_env(view))
        except ConfigurationError as exc:
            raise ConfigurationError(f"{prefix}*: {exc.message}") from None
    return tuple(fallbacks)
