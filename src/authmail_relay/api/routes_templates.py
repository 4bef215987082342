"""``/v1/templates``: which auth-mail templates exist, and previews with sample data."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from pydantic import BaseModel

from ..mail.config import mail_settings
from ..mail.locales import MAX_TAG as MAX_LOCALE
from ..mail.locales import list_locales
from ..mail.template_catalog import catalog, render_preview
from .deps import ReadCaller, SettingsDep
from .fields import LOCALE_PATTERN
from .responses import AUTHENTICATED, problems
from .routing import CountedRoute

router = APIRouter(prefix="/v1/templates", tags=["templates"], route_class=CountedRoute)


class KindView(BaseModel):
    kind: str
    locales: list[str]
    overridden: dict[str, list[str]]


class TemplateCatalog(BaseModel):
    """Kinds, locales, and which parts the operator's TEMPLATES_DIR overrides."""

    default_locale: str
    locales: list[str]
    kinds: list[KindView]


class Preview(BaseModel):
    kind: str
    locale: str | None
    subject: str
    html: str | None
    text: str | None


@router.get(
    "", response_model=TemplateCatalog, responses=problems(*AUTHENTICATED), summary="Templates"
)
async def list_templates(caller: ReadCaller, settings: SettingsDep) -> TemplateCatalog:
    mail = mail_settings(settings)
    kinds = [
        KindView(kind=k.kind, locales=k.locales, overridden=k.overridden) for k in catalog(mail)
    ]
    return TemplateCatalog(default_locale=mail.default_locale, locales=list_locales(), kinds=kinds)


@router.get(
    "/{kind}/preview",
    response_model=Preview,
    responses={
        200: {
            "description": "JSON by default; the HTML or text part alone with format=html|text.",
            "content": {"text/html": {}, "text/plain": {}},
        },
        **problems(*AUTHENTICATED, 422),
    },
    summary="A kind's mail rendered with sample data",
)
async def preview_template(
    kind: Literal["magic_link", "otp", "password_reset"],
    caller: ReadCaller,
    settings: SettingsDep,
    locale: Annotated[
        str | None,
        Query(
            max_length=MAX_LOCALE,
            description="e.g. de, pt-BR",
            json_schema_extra={"pattern": LOCALE_PATTERN},
        ),
    ] = None,
    format: Annotated[Literal["json", "html", "text"], Query()] = "json",
) -> Response:
    mail = mail_settings(settings)
    rendered = render_preview(kind, locale, mail, product_name=settings.product_name)
    if format == "html":
        return HTMLResponse(rendered.html or "")
    if format == "text":
        return PlainTextResponse(rendered.text or "")
    body = Preview(
        kind=kind, locale=locale, subject=rendered.subject, html=rendered.html, text=rendered.text
    )
    return Response(body.model_dump_json(), media_type="application/json")
