"""How to reach the upstream SMTP server: :class:`SmtpConfig`.

Shared by the library-mode sender (stdlib ``smtplib``) and the service's worker
(``aiosmtplib``). Import it as ``from authmail_relay.sender import SmtpConfig`` (the
documented path) or from here.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from ..exceptions import ConfigurationError
from ..vocabulary import TlsMode

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def parse_bool(name: str, raw: str) -> bool:
    """Read a boolean setting; anything but a clear yes/no is a configuration error."""
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigurationError(f"{name} must be true or false, not {raw!r}")


@dataclass(frozen=True)
class SmtpConfig:
    """Connection settings for one upstream SMTP server.

    ``tls`` defaults to ``implicit`` on port 465 and ``starttls`` everywhere else; ``none``
    is only ever used when asked for. ``use_tls=False`` is accepted as the older spelling
    of ``tls="none"`` (``use_tls=True`` keeps the port's default). Credentials are sent
    only over TLS unless ``allow_plaintext_auth`` is set. ``from_addr`` defaults to
    ``user``. ``timeout`` (seconds) bounds every network step. ``ca_file`` adds a private
    CA bundle to the system trust store (``SSL_CERT_FILE`` works too).
    """

    host: str = "localhost"
    port: int = 587
    user: str = ""
    password: str = field(default="", repr=False)
    from_addr: str = ""
    tls: TlsMode | str | None = None
    timeout: float = 10.0
    ca_file: str | None = None
    local_hostname: str | None = None
    allow_plaintext_auth: bool = False
    use_tls: bool | None = None

    def __post_init__(self) -> None:
        if not self.host or any(ch.isspace() or not ch.isprintable() for ch in self.host):
            raise ConfigurationError("SMTP host must be a host name or address")
        if not 0 < int(self.port) < 65536:
            raise ConfigurationError(f"SMTP port must be 1-65535, not {self.port}")
        if self.timeout <= 0:
            raise ConfigurationError("SMTP timeout must be positive")
        object.__setattr__(self, "port", int(self.port))
        object.__setattr__(self, "tls", self._resolve_tls())
        if not self.from_addr:
            object.__setattr__(self, "from_addr", self.user)

    def _resolve_tls(self) -> TlsMode:
        if self.tls is not None and self.tls != "":
            try:
                mode = TlsMode(str(self.tls).strip().lower())
            except ValueError:
                choices = ", ".join(m.value for m in TlsMode)
                raise ConfigurationError(
                    f"SMTP TLS mode must be one of {choices}, not {self.tls!r}"
                ) from None
            if self.use_tls is False and mode is not TlsMode.NONE:
                raise ConfigurationError("use_tls=False contradicts tls=" + mode.value)
            return mode
        if self.use_tls is False:
            return TlsMode.NONE
        return TlsMode.IMPLICIT if self.port == 465 else TlsMode.STARTTLS

    @property
    def tls_mode(self) -> TlsMode:
        """The resolved TLS mode (``tls`` after defaults and the ``use_tls`` alias)."""
        assert isinstance(self.tls, TlsMode)  # guaranteed by __post_init__
        return self.tls

    @property
    def ehlo_name(self) -> str:
        """Name sent in EHLO: ``local_hostname``, else the sender's domain, else ``localhost``.

        Never looked up at send time (``socket.getfqdn()`` can stall for seconds).
        """
        if self.local_hostname:
            return self.local_hostname
        domain = self.from_addr.rpartition("@")[2].strip().rstrip(">").strip()
        if domain and all(ch.isalnum() or ch in "-." for ch in domain):
            return domain
        return "localhost"

    @property
    def upstream(self) -> str:
        """``host:port``, as recorded with every attempt."""
        return f"{self.host}:{self.port}"

    @property
    def has_credentials(self) -> bool:
        """True when AUTH will be attempted."""
        return bool(self.user and self.password)

    def ssl_context(self) -> ssl.SSLContext:
        """A verifying client context: system CAs (or ``SSL_CERT_FILE``) plus ``ca_file``."""
        context = ssl.create_default_context()
        if self.ca_file:
            try:
                context.load_verify_locations(cafile=self.ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigurationError(
                    f"cannot read SMTP CA file {self.ca_file!r}: {exc}"
                ) from exc
        return context

    def with_changes(self, **changes: object) -> SmtpConfig:
        """A copy with some fields replaced (and re-validated)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SmtpConfig:
        """Build from ``SMTP_*`` variables; raises :class:`ConfigurationError` when invalid.

        ``SMTP_HOST`` is required. ``SMTP_TLS`` (``starttls|implicit|none``) wins over the
        older ``SMTP_USE_TLS`` (where ``false`` means ``none``).
        """
        host = env.get("SMTP_HOST", "").strip()
        if not host:
            raise ConfigurationError("SMTP_HOST is not set")
        port_raw = env.get("SMTP_PORT", "").strip() or "587"
        try:
            port = int(port_raw)
        except ValueError:
            raise ConfigurationError(f"SMTP_PORT must be a number, not {port_raw!r}") from None
        timeout_raw = env.get("SMTP_TIMEOUT", "").strip() or "10"
        try:
            timeout = float(timeout_raw)
        except ValueError:
            raise ConfigurationError(
                f"SMTP_TIMEOUT must be a number of seconds, not {timeout_raw!r}"
            ) from None
        use_tls_raw = env.get("SMTP_USE_TLS", "").strip()
        use_tls = parse_bool("SMTP_USE_TLS", use_tls_raw) if use_tls_raw else None
        plain_raw = env.get("SMTP_ALLOW_PLAINTEXT_AUTH", "").strip()
        tls_raw = env.get("SMTP_TLS", "").strip()
        return cls(
            host=host,
            port=port,
            user=env.get("SMTP_USER", ""),
            password=env.get("SMTP_PASSWORD", ""),
            from_addr=env.get("SMTP_FROM", "").strip(),
            tls=tls_raw or None,
            use_tls=None if tls_raw else use_tls,
            timeout=timeout,
            ca_file=env.get("SMTP_CA_FILE", "").strip() or None,
            local_hostname=env.get("SMTP_LOCAL_HOSTNAME", "").strip() or None,
            allow_plaintext_auth=parse_bool("SMTP_ALLOW_PLAINTEXT_AUTH", plain_raw)
            if plain_raw
            else False,
        )
