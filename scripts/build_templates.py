"""Write the built-in auth-mail templates from one layout and each locale's wording.

    python scripts/build_templates.py           # (re)write src/authmail_relay/mail/templates/
    python scripts/build_templates.py --check   # exit 1 when a shipped file differs

The shipped files stay ordinary, self-contained templates (an operator copies one to
override it); this script only keeps the 8 locales' layouts identical. Change the
wording or the layout here, run it, then refresh the golden files with
``pytest tests/unit/test_builtin_mails.py --update-golden``.
"""

# The layout below is HTML written one element per line, as it appears in the shipped
# files, so its lines are as long as the markup needs.
# ruff: noqa: E501

from __future__ import annotations

import html
import sys
from pathlib import Path

from template_wording import WORDING

TEMPLATES = Path(__file__).resolve().parent.parent / "src" / "authmail_relay" / "mail" / "templates"

# CJK fonts go before the generic family so each script gets a face made for it.
_CJK_FONTS = {
    "ja": "'Hiragino Sans','Hiragino Kaku Gothic ProN','Yu Gothic',Meiryo,",
    "ko": "'Apple SD Gothic Neo','Malgun Gothic','Noto Sans KR',",
    "zh-Hans": "'PingFang SC','Microsoft YaHei','Noto Sans SC',",
}
_MONO = "ui-monospace,SFMono-Regular,Menlo,Consolas,'Liberation Mono','Courier New',monospace"
_TABLE = 'role="presentation" cellpadding="0" cellspacing="0" border="0"'

# Inline styles carry the light design (clients without <style> support see it); the
# classes let clients that honour <style> switch to dark colours and narrow layouts.
_STYLE = """<style>
:root { color-scheme: light dark; supported-color-schemes: light dark; }
body { margin: 0; padding: 0; width: 100%; -webkit-text-size-adjust: 100%; }
table { border-collapse: collapse; mso-table-lspace: 0pt; mso-table-rspace: 0pt; }
a[x-apple-data-detectors] { color: inherit !important; text-decoration: none !important; }
@media only screen and (max-width: 600px) {
  .am-outer { padding: 16px 8px !important; }
  .am-pad { padding: 28px 20px !important; }
  .am-foot { padding: 16px 20px 0 !important; }
  .am-button { width: 100% !important; }
  .am-button a { display: block !important; text-align: center !important; }
  .am-code { font-size: 28px !important; letter-spacing: 0.2em !important; }
}
@media (prefers-color-scheme: dark) {
  .am-bg { background-color: #111827 !important; }
  .am-card { background-color: #1f2937 !important; }
  .am-text, .am-heading { color: #f3f4f6 !important; }
  .am-muted { color: #d1d5db !important; }
  .am-link { color: #f3f4f6 !important; }
  .am-codebox { background-color: #111827 !important; border-color: #4b5563 !important; }
  .am-code { color: #f9fafb !important; }
  .am-rule { border-top-color: #374151 !important; }
}
</style>"""
# The raw-mail frame declares light colours only: the caller's HTML picks its own
# colours, and a darkened card could make them unreadable.
_WRAPPER_STYLE = """<style>
:root { color-scheme: light; supported-color-schemes: light; }
body { margin: 0; padding: 0; width: 100%; -webkit-text-size-adjust: 100%; }
table { border-collapse: collapse; mso-table-lspace: 0pt; mso-table-rspace: 0pt; }
@media only screen and (max-width: 600px) {
  .am-outer { padding: 16px 8px !important; }
  .am-pad { padding: 28px 20px !important; }
  .am-foot { padding: 16px 20px 0 !important; }
}
</style>"""


def _font(locale: str) -> str:
    cjk = _CJK_FONTS.get(locale, "")
    return (
        f"-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,'Helvetica Neue',Arial,{cjk}sans-serif"
    )


def _text(value: str) -> str:
    """Wording is plain text with {{ placeholders }}: escape only what HTML needs."""
    return html.escape(value, quote=False)


def _page(locale: str, title: str, body: str, *, preheader: str = "", wrapper: bool = False) -> str:
    font = _font(locale)
    scheme = "light" if wrapper else "light dark"
    hidden = (
        '<div style="display:none;font-size:1px;line-height:1px;max-height:0;max-width:0;'
        f'opacity:0;overflow:hidden;mso-hide:all;">{_text(preheader)}</div>\n'
        if preheader
        else ""
    )
    muted = f"font-family:{font};font-size:13px;line-height:1.5;color:#4b5563;"
    support = "{{ support_html }}\n" if wrapper else ""
    return f"""<!DOCTYPE html>
<html lang="{{{{ locale }}}}" dir="{{{{ dir }}}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="x-apple-disable-message-reformatting">
<meta name="format-detection" content="telephone=no, date=no, address=no, email=no, url=no">
<meta name="color-scheme" content="{scheme}">
<meta name="supported-color-schemes" content="{scheme}">
<title>{title}</title>
{_WRAPPER_STYLE if wrapper else _STYLE}
</head>
<body class="am-bg" style="margin:0;padding:0;width:100%;background-color:#f3f4f6;">
{hidden}<table {_TABLE} class="am-bg" lang="{{{{ locale }}}}" dir="{{{{ dir }}}}" width="100%" style="background-color:#f3f4f6;">
<tr>
<td class="am-outer" align="center" style="padding:32px 16px;">
<!--[if mso]><table {_TABLE} align="center" width="560"><tr><td><![endif]-->
<table {_TABLE} class="am-card" width="100%" style="max-width:560px;background-color:#ffffff;border-top:4px solid {{{{ accent_color }}}};border-radius:8px;">
<tr>
<td class="am-pad am-text" style="padding:40px;font-family:{font};font-size:16px;line-height:1.6;color:#1f2937;">
{{{{ logo_html }}}}
{body}
</td>
</tr>
</table>
<table {_TABLE} width="100%" style="max-width:560px;">
<tr>
<td class="am-foot am-muted" style="padding:20px 40px 0;{muted}">
{support}{{{{ footer_html }}}}
</td>
</tr>
</table>
<!--[if mso]></td></tr></table><![endif]-->
</td>
</tr>
</table>
</body>
</html>
"""


def _p(text: str, *, muted: bool = False, bottom: int = 16) -> str:
    if muted:
        return (
            f'<p class="am-muted" style="margin:0 0 {bottom}px;font-size:14px;line-height:1.5;'
            f'color:#4b5563;">{_text(text)}</p>'
        )
    return f'<p class="am-text" style="margin:0 0 {bottom}px;color:#1f2937;">{_text(text)}</p>'


def _heading(locale: str, text: str) -> str:
    return (
        f'<h1 class="am-heading" style="margin:0 0 24px;font-family:{_font(locale)};'
        f'font-size:24px;line-height:1.3;font-weight:700;color:#111827;">{_text(text)}</h1>'
    )


def _closing(ignore: str) -> str:
    rule = (
        '<hr class="am-rule" style="margin:32px 0 24px;height:0;border:0;'
        'border-top:1px solid #e5e7eb;">'
    )
    return "\n".join([_p(ignore, muted=True, bottom=0), rule, "{{ support_html }}"])


def _button(locale: str, label: str) -> str:
    return f"""<table {_TABLE} class="am-button" style="margin:8px 0 24px;">
<tr>
<td align="center" bgcolor="{{{{ accent_color }}}}" style="border-radius:6px;background-color:{{{{ accent_color }}}};mso-padding-alt:14px 28px;">
<a href="{{{{ link }}}}" style="display:inline-block;padding:14px 28px;font-family:{_font(locale)};font-size:16px;line-height:1.25;font-weight:700;color:{{{{ button_text_color }}}};text-decoration:none;border-radius:6px;">{_text(label)}</a>
</td>
</tr>
</table>"""


def _link_mail(locale: str, words: dict[str, str], fallback: str) -> str:
    visible_link = (
        '<p class="am-text" style="margin:0 0 24px;font-size:14px;line-height:1.5;'
        'word-break:break-all;"><a href="{{ link }}" class="am-link" '
        'style="color:{{ link_color }};text-decoration:underline;word-break:break-all;">'
        "{{ link }}</a></p>"
    )
    body = [
        _heading(locale, words["heading"]),
        _p("{{ greeting }}"),
        _p(words["intro"], bottom=8),
        _button(locale, words["button"]),
        _p(fallback, muted=True, bottom=8),
        visible_link,
        _p(words["expiry"]),
        _closing(words["ignore"]),
    ]
    return _page(locale, words["heading"], "\n".join(body), preheader=words["preheader"])


def _otp_mail(locale: str, words: dict[str, str]) -> str:
    # The code is shown exactly as given: spacing is letter-spacing only, so selecting
    # and copying it yields the bare code. The left padding balances the spacing that
    # follows the last character, so the code looks centred.
    code = f"""<table {_TABLE} width="100%" style="margin:8px 0 24px;">
<tr>
<td class="am-codebox" align="center" style="padding:20px 12px;background-color:#f3f4f6;border:1px solid #d1d5db;border-radius:8px;">
<p class="am-code" style="margin:0;font-family:{_MONO};font-size:36px;line-height:1.2;font-weight:700;letter-spacing:0.3em;padding-left:0.3em;color:#111827;-webkit-user-select:all;user-select:all;">{{{{ code }}}}</p>
</td>
</tr>
</table>"""
    body = [
        _heading(locale, words["heading"]),
        _p("{{ greeting }}"),
        _p(words["intro"], bottom=8),
        code,
        _p(words["expiry"]),
        _closing(words["ignore"]),
    ]
    return _page(locale, words["heading"], "\n".join(body), preheader=words["preheader"])


def _text_mail(words: dict[str, str], secret: str, intro: str) -> str:
    paragraphs = ["{{ greeting }}", intro, secret, words["expiry"], words["ignore"]]
    return "\n\n".join(paragraphs) + "\n\n{{ support_text }}\n{{ footer_text }}\n"


def render_all() -> dict[str, str]:
    """Every shipped file, keyed by its path relative to the templates folder."""
    files: dict[str, str] = {}
    for locale, wording in WORDING.items():
        fallback = wording["fallback"]["button"]
        for kind in ("magic_link", "otp", "password_reset"):
            words = wording[kind]
            files[f"{locale}/{kind}.subject.txt"] = words["subject"] + "\n"
            if kind == "otp":
                files[f"{locale}/{kind}.html"] = _otp_mail(locale, words)
                files[f"{locale}/{kind}.txt"] = _text_mail(words, "{{ code }}", words["intro"])
            else:
                files[f"{locale}/{kind}.html"] = _link_mail(locale, words, fallback)
                files[f"{locale}/{kind}.txt"] = _text_mail(words, "{{ link }}", words["text_intro"])
        files[f"{locale}/wrapper.html"] = _page(
            locale, "{{ subject }}", "{{ content_html }}", wrapper=True
        )
    return files


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for relative, content in render_all().items():
        path = TEMPLATES / relative
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == content:
            continue
        stale.append(relative)
        if not check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8", newline="\n")
    for relative in stale:
        print(("differs: " if check else "wrote: ") + relative)  # noqa: T201
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
