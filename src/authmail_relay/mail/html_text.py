"""Turn an HTML mail body into readable plain text for the ``text/plain`` alternative.

The result is meant for people, not for round-tripping: block elements become line
breaks, list items get a dash, links are kept as ``text (url)`` so they still work in a
text-only client, entities are decoded, and scripts, styles and the document head are
dropped. Whitespace is collapsed the way a browser would, except inside ``<pre>``.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

__all__ = ["html_to_text"]

_BLOCK = frozenset(
    {
        "address", "article", "aside", "blockquote", "center", "dd", "div", "dl", "dt",
        "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4",
        "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section",
        "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
    }
)  # fmt: skip
# Cells of one row stay on one line, separated by a space; rows and blocks do not.
_INLINE_CELLS = frozenset({"td", "th"})
_SKIP = frozenset({"script", "style", "head", "title", "template", "noscript"})
_VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "wbr", "col", "area", "base"})
_LINK_SCHEMES = ("http://", "https://", "mailto:")
_PARAGRAPH_TAGS = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "pre", "ul", "ol"}
)


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._out: list[str] = []
        self._skip_depth = 0
        self._pre_depth = 0
        self._links: list[tuple[str | None, int]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip_depth += 1
            return
        if self._skip_depth:
            return
        if tag == "br":
            self._out.append("\n")
        elif tag in _INLINE_CELLS:
            self._out.append(" ")
        elif tag in _BLOCK:
            self._break(tag)
            if tag == "li":
                self._out.append("- ")
            elif tag == "hr":
                self._out.append("----\n")
        if tag == "pre":
            self._pre_depth += 1
        elif tag == "a":
            href = dict(attrs).get("href")
            self._links.append((href, len(self._out)))
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self._out.append(alt)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip_depth = max(0, self._skip_depth - 1)
            return
        if self._skip_depth:
            return
        if tag == "pre":
            self._pre_depth = max(0, self._pre_depth - 1)
        if tag == "a" and self._links:
            href, start = self._links.pop()
            self._close_link(href, start)
        if tag in _BLOCK and tag not in _INLINE_CELLS:
            self._break(tag)

    def _break(self, tag: str) -> None:
        """End the current line (or paragraph) unless it already is ended."""
        wanted = 2 if tag in _PARAGRAPH_TAGS else 1
        tail = "".join(self._out[-4:]).rstrip(" ")
        have = len(tail) - len(tail.rstrip("\n"))
        if self._out:
            self._out.append("\n" * max(0, wanted - have))

    def _close_link(self, href: str | None, start: int) -> None:
        if not href or not href.strip().lower().startswith(_LINK_SCHEMES):
            return
        url = href.strip()
        label = " ".join("".join(self._out[start:]).split())
        shown = url[len("mailto:") :] if url.lower().startswith("mailto:") else url
        if not label:
            self._out.append(url)
        elif label not in (url, shown):
            self._out.append(f" ({shown})")

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        if self._pre_depth:
            # Marked so the whitespace collapsing below leaves it alone.
            self._out.append("\x00" + data.replace("\n", "\x01") + "\x00")
        else:
            self._out.append(re.sub(r"\s+", " ", data))

    def text(self) -> str:
        return "".join(self._out)


def html_to_text(html: str) -> str:
    """Return a plain-text rendering of ``html`` (always ends without trailing blanks)."""
    parser = _TextExtractor()
    parser.feed(html.replace("\x00", "").replace("\x01", ""))
    parser.close()
    pieces = parser.text().split("\x00")
    # Even pieces are ordinary text, odd ones the preformatted runs.
    for index in range(0, len(pieces), 2):
        pieces[index] = _tidy_flow(pieces[index])
    text = "".join(piece.replace("\x01", "\n") for piece in pieces)
    lines = [line.rstrip() for line in text.split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _tidy_flow(text: str) -> str:
    """Collapse runs of spaces and trim spaces around line breaks."""
    text = re.sub(r"[ \t\f\v]+", " ", text)
    return re.sub(r" ?\n ?", "\n", text)
