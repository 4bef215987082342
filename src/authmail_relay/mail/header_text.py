"""Is a piece of text safe inside a message header? A linear-time check (pure).

Nothing here trusts the :mod:`email` package to refuse dangerous input: some CPython
releases fold an RFC 2047 encoded-word whose decoded text holds a newline straight into
the output, which turns ``=?UTF-8?Q?=0A?=Bcc: x@evil.example`` into a second header. So
the text is checked for control characters, and so is the decoded text of anything a
lenient reader might decode as an encoded-word.

What counts as an encoded-word is deliberately wider than RFC 2047: every ``=?`` that
starts ``=?charset?q?`` or ``=?charset?b?`` (overlapping starts included), ended by
*any* ``?=`` after that head, not only the first. The cost stays linear because an
encoded-word is at most 75 characters (RFC 2047 §2):

* only the ends within 75 characters of the ``=?`` are considered; a head whose first
  possible end lies further away is refused as malformed, since a reader that ignores
  the limit (CPython's does) would decode it;
* of the ends in that window only the last one is decoded: Q and B decoding of a
  shorter payload give a prefix of the longer one's bytes, and the charsets accepted
  here decode a prefix of bytes to a prefix of the text, so whatever a shorter end
  would reveal the longest one reveals too. Charsets without that property
  (``punycode``, ``idna``, and Python's ``unicode_escape`` and ``raw_unicode_escape``,
  which are no mail charsets at all) are refused;
* decoded text is checked again, nested up to :data:`MAX_DECODE_DEPTH` levels, and at
  most :data:`MAX_ENCODED_WORDS` heads are examined per value (all levels together), so
  the work per value is bounded by a constant times its length.

Callers cap the length of the text before calling (see :mod:`authmail_relay.mail.validation`).
Errors name the field but never echo its value.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from itertools import accumulate

from ..exceptions import HeaderInjectionError

#: Longest encoded-word, ``=?`` to ``?=`` inclusive (RFC 2047 §2).
MAX_ENCODED_WORD = 75
#: Levels of encoded-words inside decoded encoded-words that are examined; deeper is refused.
MAX_DECODE_DEPTH = 3
#: Most encoded-word heads examined in one value (every level together); more is
#: refused. Words close together are examined again inside each other's decoded text,
#: so this admits five short words side by side, or 13 full-length ones (998 characters).
MAX_ENCODED_WORDS = 16
#: Most encoded-word heads examined across one message's values (see :class:`WordBudget`):
#: room for a pre-encoded display name on each of 50 recipients and more, while a
#: message with every field at its cap costs a few milliseconds at most.
MAX_ENCODED_WORDS_PER_MESSAGE = 256

# C0 (TAB, CR and LF included), DEL, C1 (NEL included), the Unicode line and paragraph
# separators, and the bidi controls that can make a header read differently than it parses.
FORBIDDEN = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
# Only the byte values that are controls in every ASCII-compatible charset.
_FORBIDDEN_BYTES = re.compile(b"[\x00-\x1f\x7f]")
# The head of anything a lenient reader might decode as an encoded-word. The charset
# runs to the next "?", so the heads of all starts together span the text about once.
# Overlapping heads are all found: the match itself is empty, its group is the head.
_HEADS = re.compile(r"(?=(=\?([^?]*)\?([qQbB])\?))")
_END = re.compile(r"\?=")
_NON_B64 = re.compile(r"[^A-Za-z0-9+/]")
_B64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_Q_LITERAL_EQUALS = re.compile(rb"=(?![0-9A-Fa-f]{2})")
# Codecs whose decoding of a prefix is not a prefix of the decoding (see above). The
# escape codecs: "\\x4" decodes to U+FFFD, "\\x41" to "A"; and an unknown escape such as
# "\\q" makes unicode_escape warn (an error under -W error) instead of decoding.
_NOT_PREFIX_STABLE = frozenset({"punycode", "idna", "unicode-escape", "raw-unicode-escape"})


class WordBudget:
    """Encoded-word heads left to examine across several values (one message's)."""

    def __init__(self, limit: int = MAX_ENCODED_WORDS_PER_MESSAGE) -> None:
        self.left = limit


def check_header_text(text: str, *, field: str, budget: WordBudget | None = None) -> None:
    """Raise :class:`HeaderInjectionError` if ``text`` is unsafe in a header.

    Unsafe: a C0 control (TAB, CR, LF and NUL included), DEL, a C1 control,
    U+2028/U+2029, a bidi control or a lone surrogate; or an encoded-word (as described
    in the module docstring) whose decoded text is unsafe, that cannot be decoded, that
    is over-long, nested too deep, or one too many for the value (or for ``budget``,
    shared by the values of one message).
    """
    _Scan(field, budget).check(text, depth=0)


class _Scan:
    """One value's check; counts the encoded-word heads examined across all levels."""

    def __init__(self, field: str, budget: WordBudget | None) -> None:
        self.field = field
        self.words = 0
        self.budget = budget

    def refuse(self, what: str) -> HeaderInjectionError:
        return HeaderInjectionError(f"{self.field} contains {what}", field=self.field)

    def check(self, text: str, *, depth: int) -> None:
        if FORBIDDEN.search(text):
            raise self.refuse("a control character")
        if "=?" not in text:
            return
        if depth >= MAX_DECODE_DEPTH:
            raise self.refuse("nested encoded-words")
        b64_counts: list[int] | None = None
        # The next "?=" at or after a position; heads come in increasing order, so one
        # cached answer is reused until the scan passes it (amortised linear).
        next_end = -1
        for head in _HEADS.finditer(text):
            payload = head.end(1)
            if next_end < payload:
                next_end = text.find("?=", payload)
                if next_end == -1:
                    return  # no later head can end either
            self.words += 1
            if self.words > MAX_ENCODED_WORDS:
                raise self.refuse("too many encoded-words")
            if self.budget is not None:
                self.budget.left -= 1
                if self.budget.left < 0:
                    raise self.refuse("one encoded-word too many for one message")
            # The "?" of the closing "?=" may sit at most here for a 75-character word.
            last_end = head.start() + MAX_ENCODED_WORD - 2
            if next_end > last_end:
                raise self.refuse("an over-long encoded-word")
            final_end = text.rfind("?=", next_end, last_end + 2)
            encoding = head.group(3).lower()
            if encoding == "b":
                if b64_counts is None:
                    b64_counts = list(accumulate(map(_B64_CHARS.__contains__, text), initial=0))
                base = b64_counts[payload]
                # A lenient reader pads the base64 text; 4k+1 characters cannot be padded.
                for end in _END.finditer(text, next_end, final_end + 2):
                    if (b64_counts[end.start()] - base) % 4 == 1:
                        raise self.refuse("a malformed encoded-word")
            decoded = self.decode(head.group(2), encoding, text[payload:final_end])
            self.check(decoded, depth=depth + 1)

    def decode(self, charset: str, encoding: str, payload: str) -> str:
        """Decode an encoded-word's text the way a lenient reader might."""
        raw = payload.encode("utf-8")  # no lone surrogates: FORBIDDEN found them
        if encoding == "q":
            # "=XX" is a byte, "_" a space, any other "=" itself; spelling every other
            # "=" as "=3D" first lets binascii do the rest in one pass (it would read
            # "==" as one "=").
            data = binascii.a2b_qp(_Q_LITERAL_EQUALS.sub(b"=3D", raw), header=True)
        else:
            compact = _NON_B64.sub("", payload).encode("ascii")
            try:
                data = base64.b64decode(compact + b"=" * (-len(compact) % 4))
            except (binascii.Error, ValueError):  # pragma: no cover - counted above
                raise self.refuse("a malformed encoded-word") from None
        if _FORBIDDEN_BYTES.search(data):
            raise self.refuse("a control character")  # whatever the charset
        name = charset.split("*", 1)[0].strip()
        try:
            codec = codecs.lookup(name).name
        except (LookupError, ValueError):
            codec = "latin-1"  # unknown charsets: judge the bytes as Latin-1
        if codec in _NOT_PREFIX_STABLE:
            raise self.refuse("an encoded-word in an unsupported charset")
        try:
            return data.decode(codec, "replace")
        except (LookupError, UnicodeError, ValueError, TypeError):
            # Not a text codec (rot13, base64, ...): judge the bytes as Latin-1 instead.
            return data.decode("latin-1")
