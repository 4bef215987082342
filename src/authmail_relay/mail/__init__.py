"""Mail content: what a caller asks for, the auth-mail templates, rendering, checks and the
exact bytes of a message.

Documented in docs/templates.md and docs/library.md. Standard library only, the whole room
(library mode uses it on Python 3.10); ``idna`` is used by :mod:`.domains` when it is
installed.

Code map:

- ``auth_mail``: the content of auth mails (magic link, one-time code, password reset),
  pure.
- ``branding``: the operator's branding of auth mails, and the trusted HTML pieces built
  from it.
- ``composing``: build the exact bytes that go after SMTP ``DATA``.
- ``config``: what the service's settings mean for auth mails: branding, default locale,
  overrides.
- ``domains``: host names to lower-case IDNA A-labels, the one way every part of the relay
  does it.
- ``header_text``: is a piece of text safe inside a message header? A linear-time check
  (pure).
- ``html_text``: turn an HTML mail body into readable plain text for the ``text/plain``
  alternative.
- ``link_origins``: link origins, strictly (pure).
- ``locales``: which language a mail is written in: language tags, the fallback chain,
  lifetimes.
- ``message_content``: from a :class:`MessageRequest` to a validated :class:`Draft` (pure).
- ``message_request``: what a caller asks the relay to send, and its validation (pure).
- ``overrides``: operator template overrides: a directory laid out like the built-in
  templates.
- ``phrases``: the short per-locale phrases the package itself puts into auth mails.
- ``previews``: sample renderings of the auth mails, for operators checking templates and
  branding.
- ``rendering``: logic-less templates for the built-in auth mails.
- ``scheduling``: when a message may be sent: the rules of ``send_at`` and its RFC 3339
  wire form (pure).
- ``template_catalog``: what templates the relay has, and previews of them (pure; shared by
  the API and CLI).
- ``validation``: checks for every value that ends up in a message header or the SMTP
  envelope.
- ``wrapper``: the branded frame around raw mail: ``wrapper.html`` with the caller's body
  inside.
"""
