"""``/v1/domains/{domain}``: is a sending domain's DNS ready (DKIM, SPF, DMARC)?

The same check as ``authmail-relay domains check``: DKIM records compared with the keys
in ``DKIM_KEYS_DIR``, SPF and DMARC parsed, advice for each. DNS trouble is part of the
answer (``lookup_failed``), never an error status.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from ..dkim.domain_check import check_with_settings
from ..mail.validation import MAX_DOMAIN_OCTETS
from .deps import CallerDep, SettingsDep
from .fields import HOST_PATTERN
from .responses import AUTHENTICATED, problems
from .routing import CountedRoute

router = APIRouter(prefix="/v1/domains", tags=["domains"], route_class=CountedRoute)


class DkimSelectorView(BaseModel):
    """One local key and what DNS publishes at its selector."""

    selector: str
    algorithm: str
    name: str = Field(description="The TXT record's name, e.g. s1._domainkey.example.com.")
    status: str = Field(description="match, mismatch, revoked, missing, invalid or lookup_failed")
    published: str | None
    expected: str = Field(description="The record value to publish for this key.")
    advice: list[str]


class SpfView(BaseModel):
    status: str = Field(description="present, missing, invalid or lookup_failed")
    record: str | None
    all: str | None = Field(description="The final all term: -all, ~all, ?all or +all.")
    mechanisms: list[str]
    advice: list[str]


class DmarcView(BaseModel):
    """The DMARC record that applies: the domain's own, else the nearest parent's."""

    status: str = Field(
        description="present, missing (no record at the domain or a parent), invalid or "
        "lookup_failed (the applicable policy is unknown)"
    )
    record: str | None
    found_at: str | None = Field(
        description="The name the record was found at, e.g. _dmarc.example.com."
    )
    inherited: bool = Field(description="True when the record is a parent domain's.")
    effective_policy: str | None = Field(
        description="What receivers apply to this domain: p= of its own record, or sp= "
        "(else p=) of a parent's."
    )
    checked: list[str] = Field(description="The names queried, nearest first.")
    policy: str | None
    subdomain_policy: str | None
    pct: int | None
    rua: list[str]
    ruf: list[str]
    adkim: str | None
    aspf: str | None
    advice: list[str]


class DomainReportView(BaseModel):
    """``ok`` when every local key is published, SPF exists and DMARC enforces."""

    domain: str
    ok: bool
    dkim: list[DkimSelectorView]
    spf: SpfView
    dmarc: DmarcView
    advice: list[str]


@router.get(
    "/{domain}",
    response_model=DomainReportView,
    responses=problems(*AUTHENTICATED, 422),
    summary="Check a sending domain's DKIM, SPF and DMARC records",
)
async def check_domain_route(
    domain: Annotated[
        str,
        Path(
            max_length=MAX_DOMAIN_OCTETS,
            description="e.g. example.com",
            json_schema_extra={"pattern": HOST_PATTERN},
        ),
    ],
    caller: CallerDep,
    settings: SettingsDep,
) -> DomainReportView:
    report = await check_with_settings(domain, settings)
    return DomainReportView.model_validate({**dataclasses.asdict(report), "ok": report.ok})
