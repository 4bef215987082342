"""Which mailbox an address reaches: the one key every per-recipient count uses (pure).

Many spellings reach one inbox: ``victim+1@gmail.com``, ``vic.tim@gmail.com`` and
``VICTIM@googlemail.com`` are all delivered to ``victim@gmail.com``. A limit that counts
spellings instead of mailboxes can be walked around, so :func:`mailbox_key` maps every
spelling to one key, using the rules in :data:`PROVIDER_RULES` (data, documented below).

The key is for counting (and for matching, e.g. a future suppression list) only; mail
always goes to the address exactly as the caller gave it. Merging two addresses that are
really different mailboxes makes a count stricter for both, never looser, so where a
rule is generous it errs on that side; a rule is only listed when the provider documents
it.

Rules, in order:

1. The address is parsed like any recipient (:func:`~authmail_relay.mail.validation.parse_mailbox`:
   display name dropped, domain lower-cased as an IDNA A-label, trailing dot removed);
   anything that is not one plain mailbox raises InvalidAddressError.
2. The local part is NFC-normalised and case-folded (case is significant in theory,
   never in practice).
3. A domain alias becomes its provider's domain (``googlemail.com`` → ``gmail.com``).
4. Subdomain addressing: ``tag@user.fastmail.com`` becomes ``user@fastmail.com``.
5. The sub-address tag is cut at the first separator: ``+`` for every domain (RFC 5233
   style; Gmail, Outlook/Hotmail/Live, iCloud, Proton and Fastmail all document it), and
   also ``-`` for Yahoo's disposable addresses (``basename-keyword@yahoo.com``). A local
   part that is all tag (``+news@…``) keeps an empty base, so all such spellings at one
   domain share one key.
6. Gmail ignores dots in the local part.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from ..mail.validation import parse_mailbox

__all__ = [
    "DEFAULT_RULE",
    "DOMAIN_ALIASES",
    "NOT_APPLIED",
    "PROVIDER_RULES",
    "MailboxRule",
    "mailbox_key",
]


@dataclass(frozen=True)
class MailboxRule:
    """How one provider's addresses map to mailboxes.

    ``separators``: characters that start a sub-address tag (the first one found cuts
    the local part). ``ignore_dots``: dots in the local part do not matter.
    ``subdomain_addressing``: ``tag@user.<domain>`` is ``user@<domain>``.
    """

    separators: str = "+"
    ignore_dots: bool = False
    subdomain_addressing: bool = False


#: Every domain: ``+`` starts a tag.
DEFAULT_RULE = MailboxRule()

#: Domains that are another name for a provider's domain (same mailbox for the same
#: local part).
DOMAIN_ALIASES: dict[str, str] = {
    "googlemail.com": "gmail.com",
}

#: Provider rules beyond the default, by (canonical) domain.
PROVIDER_RULES: dict[str, MailboxRule] = {
    # Gmail: dots never matter and + starts a tag (googlemail.com is an alias above).
    "gmail.com": MailboxRule(ignore_dots=True),
    # Yahoo disposable addresses: a chosen base name, "-", a keyword.
    "yahoo.com": MailboxRule(separators="+-"),
    # Fastmail: plus addressing, and tag@user.fastmail.com for user@fastmail.com.
    "fastmail.com": MailboxRule(subdomain_addressing=True),
    "fastmail.fm": MailboxRule(subdomain_addressing=True),
}

#: What was deliberately left out of the table, and why (documentation as data; the
#: unit tests check that none of it is applied by accident).
NOT_APPLIED: tuple[tuple[str, str], ...] = (
    (
        "dots for Outlook/Hotmail/Live, iCloud, Yahoo and every non-Gmail domain",
        "dots are significant there (a.b@outlook.com and ab@outlook.com are two accounts)",
    ),
    (
        "dots for Google Workspace (custom domains hosted by Google)",
        "the relay cannot tell from the address which domains Google hosts",
    ),
    (
        "hotmail.com = outlook.com = live.com",
        "the same local part at those domains can belong to different people",
    ),
    (
        "icloud.com = me.com = mac.com, protonmail.com = proton.me = pm.me",
        "often the same account, but not for every account (newer ones lack the old domains)",
    ),
    (
        "'-' as a separator for Yahoo's regional and other domains (ymail.com, yahoo.co.uk, …)",
        "the disposable-address form is documented for yahoo.com; the others are not sure",
    ),
    (
        "Fastmail's other domains (sent.com, …) and custom domains hosted by Fastmail",
        "the list changes and hosting cannot be seen in the address",
    ),
    (
        "Fastmail's '-' for '_' in subdomain addresses (joe-citizen.fastmail.com is joe_citizen)",
        "the key keeps the hyphen: at worst one mailbox gets two buckets for that form",
    ),
)


def mailbox_key(address: str) -> str:
    """The key of the mailbox *address* reaches, ``local@domain`` in canonical form.

    Used for every per-recipient count (the recipient rate limits) and the function a
    suppression list must use to match addresses, so that what is counted or blocked is
    the inbox, not a spelling of it. Counting only: mail goes to the address as given.
    Raises InvalidAddressError (field ``to``) for an address that is not one plain
    mailbox. See the module docstring for the rules.
    """
    mailbox = parse_mailbox(address, field="to")
    local = unicodedata.normalize("NFC", mailbox.local_part).casefold()
    domain = DOMAIN_ALIASES.get(mailbox.domain, mailbox.domain)
    owner = _subdomain_owner(domain)
    if owner is not None:
        local, domain = owner
    rule = PROVIDER_RULES.get(domain, DEFAULT_RULE)
    local = _without_tag(local, rule.separators)
    if rule.ignore_dots:
        local = local.replace(".", "")
    return f"{local}@{domain}"


def _subdomain_owner(domain: str) -> tuple[str, str] | None:
    """``(user, base)`` when *domain* is ``….user.base`` for a base with subdomain
    addressing (the label just left of the base names the user), else None."""
    for base, rule in PROVIDER_RULES.items():
        if rule.subdomain_addressing and domain.endswith("." + base):
            user = domain[: -len(base) - 1].rpartition(".")[2]
            return user, base
    return None


def _without_tag(local: str, separators: str) -> str:
    """*local* up to its first separator (all of it when there is none)."""
    cut = len(local)
    for separator in separators:
        index = local.find(separator)
        if index != -1:
            cut = min(cut, index)
    return local[:cut]
