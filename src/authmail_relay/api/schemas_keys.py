"""Wire models of ``/v1/keys`` and the record → view functions (pure).

Views never carry a key's secret, except :class:`KeyCreated` — the answer to create and
rotate, the only times the full key is shown.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ..db.api_keys_store import MAX_NAME_CHARS, ApiKey, CreatedKey
from ..trust.api_keys import MAX_RULES
from ..vocabulary import OversightMode, Scope
from .fields import AddressRule, Origin, RequestModel
from .views import iso, iso_or_none

_SCOPES = ", ".join(s.value for s in Scope)
_MODES = ", ".join(m.value for m in OversightMode)


class KeyCreate(RequestModel):
    """``POST /v1/keys``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        min_length=1, max_length=MAX_NAME_CHARS, json_schema_extra={"pattern": "^[ -~]+$"}
    )
    scopes: list[Scope] = Field(
        min_length=1,
        max_length=len(Scope),
        description=f"Any of {_SCOPES}; never both send and approve (422 conflicting_scopes).",
    )
    allowed_senders: list[AddressRule] = Field(
        default_factory=list,
        max_length=MAX_RULES,
        description="From addresses or domains (*.example.com: its subdomains) besides "
        "the default sender.",
    )
    allowed_origins: list[Origin] = Field(
        default_factory=list,
        max_length=MAX_RULES,
        description="Link origins (https://host[:port]) added to ALLOWED_LINK_ORIGINS.",
    )
    expires_in_days: float | None = Field(None, gt=0, le=3650)
    rate_limit_per_minute: int | None = Field(
        None, ge=1, le=1_000_000, description="Requests per minute; empty: KEY_REQUESTS_PER_MINUTE."
    )
    oversight: OversightMode | None = Field(
        None, description=f"Oversight mode ({_MODES}); empty: OVERSIGHT_DEFAULT."
    )


class KeyUpdate(RequestModel):
    """``PATCH /v1/keys/{id}``: the key's oversight mode (never the caller's own key)."""

    model_config = ConfigDict(extra="forbid")

    oversight: OversightMode = Field(description=f"One of {_MODES}.")


class KeyView(BaseModel):
    """A stored key (never its secret)."""

    id: str
    name: str
    scopes: list[str]
    allowed_senders: list[str]
    allowed_origins: list[str]
    rate_limit_per_minute: int | None
    created_at: str
    expires_at: str | None
    last_used_at: str | None = Field(description="Updated at most once a minute.")
    revoked_at: str | None
    rotated_from: str | None = Field(description="The key this one replaced.")
    oversight: str = Field(description=f"Oversight mode: {_MODES}.")


class KeyCreated(KeyView):
    """A key just created or rotated, with the full key: shown this once only."""

    key: str = Field(description="amr_<id>_<secret>; store it now, it is never shown again.")


class KeyList(BaseModel):
    """``GET /v1/keys``: every key, oldest first."""

    data: list[KeyView]


def key_view(key: ApiKey) -> KeyView:
    """The view of a stored key."""
    return KeyView(
        id=key.id,
        name=key.name,
        scopes=sorted(s.value for s in key.scopes),
        allowed_senders=list(key.allowed_senders),
        allowed_origins=list(key.allowed_origins),
        rate_limit_per_minute=key.rate_limit_per_minute,
        created_at=iso(key.created_at),
        expires_at=iso_or_none(key.expires_at),
        last_used_at=iso_or_none(key.last_used_at),
        revoked_at=iso_or_none(key.revoked_at),
        rotated_from=key.rotated_from,
        oversight=key.oversight.value,
    )


def key_created(created: CreatedKey) -> KeyCreated:
    """The view of a new key, with its secret."""
    return KeyCreated(**key_view(created.key).model_dump(), key=created.token)
