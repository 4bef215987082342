"""``/dev/inbox``: read the mail the dev-mode capture server received (dev mode only)."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request

from ..exceptions import NotFoundError
from .deps import ReadCaller
from .responses import AUTHENTICATED, problems
from .routing import CountedRoute

router = APIRouter(prefix="/dev/inbox", tags=["dev"], route_class=CountedRoute)


def _inbox(request: Request) -> Path:
    inbox: Path = request.app.state.dev_inbox
    return inbox


def _parse(path: Path) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert isinstance(message, EmailMessage)
    return message


def _summary(path: Path, message: EmailMessage) -> dict[str, Any]:
    return {
        "id": path.stem,
        "from": str(message.get("From", "")),
        "to": str(message.get("To", "")),
        "subject": str(message.get("Subject", "")),
        "date": str(message.get("Date", "")),
        "message_id": str(message.get("Message-ID", "")),
        "size": path.stat().st_size,
    }


@router.get("", responses=problems(*AUTHENTICATED), summary="Captured mail, newest first")
async def list_inbox(request: Request, caller: ReadCaller) -> dict[str, list[dict[str, Any]]]:
    paths = sorted(_inbox(request).glob("*.eml"), key=lambda p: int(p.stem), reverse=True)
    return {"data": [_summary(path, _parse(path)) for path in paths[:200]]}


@router.get("/{mail_id}", responses=problems(*AUTHENTICATED, 404), summary="One captured mail")
async def read_mail(mail_id: str, request: Request, caller: ReadCaller) -> dict[str, Any]:
    path = _inbox(request) / f"{mail_id}.eml"
    if not mail_id.isdigit() or not path.is_file():
        raise NotFoundError("no such captured mail")
    message = _parse(path)
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    return {
        **_summary(path, message),
        "headers": [[name, str(value)] for name, value in message.items()],
        "text": text.get_content() if text is not None else None,
        "html": html.get_content() if html is not None else None,
        "raw": path.read_bytes().decode("utf-8", "replace"),
    }
