"""Read-only calls of the HTTP client: the long poll on one message, the template
catalog and previews, and the domain check (no I/O here).

:class:`ReadCalls` is a base of :class:`~authmail_relay.client._calls.ClientCalls`, so the
twins expose these builders exactly like the others.
"""

from __future__ import annotations

import math
from urllib.parse import quote

from ..exceptions import ValidationError
from ..vocabulary import Kind
from . import _args as arg
from . import _decode as wire
from . import _decode_resources as resources
from ._base import Answer, Call, ClientBase
from ._models import Message
from ._resources import DomainReport, TemplateCatalog, TemplatePreview

#: The longest long poll the relay takes (``GET /v1/messages/{id}?wait=``), in seconds.
MAX_WAIT_SECONDS = 120
#: The longest domain name (RFC 1035), as the relay checks it.
MAX_DOMAIN = 253
#: The kinds that have templates (raw mail has none).
TEMPLATE_KINDS = frozenset({Kind.OTP, Kind.MAGIC_LINK, Kind.PASSWORD_RESET})


class ReadCalls(ClientBase):
    """Builders of the read-only calls above (scope ``read``)."""

    def _wait_for_message(self, id: str, *, timeout: float = 30.0) -> Call[Message]:
        """The message once its status is final (sent, failed, expired, cancelled,
        consumed, rejected) or ``held``, or as it is after ``timeout`` seconds
        (``GET /v1/messages/{id}?wait=timeout``; the relay holds the request meanwhile).
        ``timeout`` is more than 0 and at most 120; the HTTP request may take that plus
        the client's own ``timeout``. Raises NotFoundError at once for an unknown id."""
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not math.isfinite(timeout)
            or not 0 < timeout <= MAX_WAIT_SECONDS
        ):
            raise ValidationError(
                f"timeout must be more than 0 and at most {MAX_WAIT_SECONDS} seconds",
                field="timeout",
            )
        return Call(
            "GET",
            arg.message_path(id),
            message_answer,
            params=(("wait", repr(float(timeout))),),
            timeout=float(timeout) + self.timeout,
        )

    def _list_templates(self) -> Call[TemplateCatalog]:
        """The auth-mail templates the relay has (``GET /v1/templates``): every kind, in
        which locales, and which parts the operator's ``TEMPLATES_DIR`` overrides."""
        return Call("GET", "/v1/templates", _catalog)

    def _preview_template(self, kind: str, *, locale: str | None = None) -> Call[TemplatePreview]:
        """A kind's mail (``otp``, ``magic_link``, ``password_reset``, or the
        :class:`~authmail_relay.vocabulary.Kind` member) rendered with sample data in
        ``locale`` (None: the relay's default), as JSON
        (``GET /v1/templates/{kind}/preview``). Raises ValidationError for a malformed
        locale (the relay's 422) or another kind (before anything is sent)."""
        try:
            chosen = Kind(kind)
        except ValueError:
            chosen = Kind.RAW
        if chosen not in TEMPLATE_KINDS:
            allowed = ", ".join(sorted(k.value for k in TEMPLATE_KINDS))
            raise ValidationError(f"kind must be one of {allowed}", field="kind")
        params = () if locale is None else (("locale", arg.text(locale, "locale")),)
        path = f"/v1/templates/{chosen.value}/preview"
        return Call("GET", path, _preview, params=params)

    def _check_domain(self, domain: str) -> Call[DomainReport]:
        """Whether a sending domain's DNS is ready (``GET /v1/domains/{domain}``): DKIM
        records compared with the relay's keys, SPF and DMARC parsed, advice for each.
        DNS failures are part of the report; a malformed name is a ValidationError."""
        if (
            not isinstance(domain, str)
            or domain.strip(".") == ""
            or len(domain) > MAX_DOMAIN
            or "/" in domain
        ):
            raise ValidationError(
                f"domain must be a host name of at most {MAX_DOMAIN} characters",
                field="domain",
            )
        return Call("GET", f"/v1/domains/{quote(domain, safe='')}", _domain)


def message_answer(answer: Answer) -> Message:
    """Decode an answer that is one message (shared with :mod:`._calls`)."""
    return wire.message(answer.data)


def _catalog(answer: Answer) -> TemplateCatalog:
    return resources.template_catalog(answer.data)


def _preview(answer: Answer) -> TemplatePreview:
    return resources.template_preview(answer.data)


def _domain(answer: Answer) -> DomainReport:
    return resources.domain_report(answer.data)
