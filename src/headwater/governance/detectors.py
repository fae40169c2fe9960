"""Detectors of personal data in one text value, and how to show such a value masked.

Each detector says whether a value, alone and whole, looks like one kind of personal data
(`email`, `phone`, `iban`, `card_number`, `ip`). They are strict on purpose: `governance scan`
suggests a kind for a column only when most of its sampled values match, so a detector missing
an odd spelling costs little, while one matching ids, dates or amounts would flag innocent
columns. Where a format carries a check (an IBAN's mod-97, a card's Luhn digit) it is verified.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

_ATEXT = r"[\w!#$%&'*+/=?^`{|}~-]"
"""A character of an unquoted local part (RFC 5322 atext; `\\w` admits the letters of RFC 6531
addresses too)."""
_LABEL = r"[^\W_](?:(?:[^\W_]|-){0,61}[^\W_])?"
"""A domain label: letters and digits, inner hyphens, at most 63 characters."""
_EMAIL = re.compile(
    rf"""
    (?P<local>
        {_ATEXT}+(?:\.{_ATEXT}+)*           # dot-atom: no leading, trailing or double dot
      | "(?:[^"\\\r\n]|\\.)+"                  # or a quoted local part
    )
    @
    (?P<domain>
        (?:{_LABEL}\.)+                        # at least one label before the top level
        (?:[^\W\d_]{{2,63}}|xn--[a-z0-9-]{{1,59}})  # a top level of letters, or punycode
    )
    """,
    re.VERBOSE | re.IGNORECASE,
)

_PHONE = re.compile(
    r"""
    (?P<plus>\+\d{1,3}[ -]?)?                  # a country code
    (?:\(\d{1,5}\)[ -]?)?                      # an area code in parentheses
    \d+(?:(?:[ -]|\ -\ )\d+)*                  # groups of digits, one separator between
    """,
    re.VERBOSE | re.ASCII,
)
_DATE_SHAPES = {
    (4, 1, 1),
    (4, 1, 2),
    (4, 2, 1),
    (4, 2, 2),
    (1, 1, 4),
    (1, 2, 4),
    (2, 1, 4),
    (2, 2, 4),
}
"""Lengths of the digit groups of a date written with dashes or spaces (2024-01-15, 15-01-2024)."""

_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}")
_CARD = re.compile(r"\d+(?:[ -]\d+)*", re.ASCII)


def is_email(value: str) -> bool:
    """Whether `value` is one e-mail address (`local@domain.tld`), per RFC 5322's dot-atom or
    quoted local part and a domain of at least two labels whose last is letters (or punycode).

    Returns:
        False for `a@b` (no top-level domain), a leading, trailing or double dot in the local
        part, a label starting or ending with a hyphen, a domain literal (`user@[10.0.0.1]`), an
        address inside other text (`Ann <ann@example.com>`), or over the RFC's lengths (64
        characters before the `@`, 254 in all).
    """
    value = value.strip()
    if len(value) > 254:
        return False
    match = _EMAIL.fullmatch(value)
    return match is not None and len(match["local"]) <= 64


def is_phone(value: str) -> bool:
    """Whether `value` is a phone number: E.164 (`+` and 7 to 15 digits, the first not 0) or a
    national number written with spaces, dashes or an area code in parentheses.

    Returns:
        False for bare digits without `+` (ids and counts look the same), a value with other
        characters (letters, `.`, `,`, `/`, `:`), dates (`2024-01-15`, `15 01 2024`), year
        ranges (`2023-2024`), amounts grouped by thousands (`1 250 000`) and one digit repeated
        (`000-000-0000`). National numbers written `612 345 678` (groups of three) are taken
        for amounts and missed; with their country code they match.
    """
    value = value.strip()
    match = _PHONE.fullmatch(value)
    if match is None:
        return False
    digits = re.sub(r"\D", "", value)
    if not 7 <= len(digits) <= 15 or len(set(digits)) == 1:
        return False
    if match["plus"] is not None:
        return digits[0] != "0"  # no country code starts with 0
    if value.isdigit():
        # bare digits are as often an id, a count or a timestamp as a phone number
        return False
    if "(" in value:
        return True  # an area code in parentheses is written for phone numbers only
    numbers = re.findall(r"\d+", value)
    groups = tuple(len(n) for n in numbers)
    if groups in _DATE_SHAPES:
        return False
    if groups == (4, 4) and all(1900 <= int(n) <= 2099 for n in numbers):
        return False
    # amounts group digits by three after the first group, and never with dashes
    thousands = len(groups) >= 3 and groups[0] <= 3 and set(groups[1:]) == {3}
    return not (thousands and "-" not in value)


def is_iban(value: str) -> bool:
    """Whether `value` is an IBAN (ISO 13616): a two-letter country code, two check digits and
    11 to 30 letters or digits, 15 to 34 characters in all, single spaces allowed between
    them, whose check digits pass the mod-97 check.

    Returns:
        False when the mod-97 check fails or the check digits are 00, 01 or 99 (which no valid
        IBAN has). The per-country lengths of the IBAN registry are not checked (the registry
        grows every year); the mod-97 check rejects 96 in 97 strings of the right shape.
    """
    value = value.strip().upper()
    if _IBAN.fullmatch(value) is None:
        return False
    compact = value.replace(" ", "")
    if compact[2:4] in ("00", "01", "99"):
        return False
    return iban_checksum_valid(compact)


def iban_checksum_valid(iban: str) -> bool:
    """Whether the compact, upper-case `iban` passes ISO 13616's mod-97 check: its first four
    characters moved to the end and each letter read as a number (A = 10 ... Z = 35), the
    number leaves 1 when divided by 97."""
    rearranged = iban[4:] + iban[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


def is_card_number(value: str) -> bool:
    """Whether `value` is a payment card number: 13 to 19 digits, in groups separated by
    single spaces or dashes (or none), passing the Luhn check.

    Returns:
        False when the Luhn check fails or the number is one digit repeated (`0000 0000 0000
        0000` passes Luhn but is a placeholder).
    """
    value = value.strip()
    if _CARD.fullmatch(value) is None:
        return False
    digits = re.sub(r"\D", "", value)
    return 13 <= len(digits) <= 19 and len(set(digits)) > 1 and luhn_valid(digits)


def luhn_valid(digits: str) -> bool:
    """Whether the string of digits `digits` passes the Luhn (mod-10) check: every second
    digit from the right doubled (less 9 when over 9), the sum a multiple of 10."""
    total = 0
    for position, ch in enumerate(reversed(digits)):
        digit = int(ch)
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def is_ip(value: str) -> bool:
    """Whether `value` is one IPv4 or IPv6 address, as the stdlib's `ipaddress` reads it.

    Returns:
        False for a network (`10.0.0.0/8`), an IPv4 address with leading zeros (`01.2.3.4`,
        ambiguous: octal to some readers) or a number alone (`3232235777`).
    """
    value = value.strip()
    if not (":" in value or "." in value):
        return False  # spares most values the cost of an exception
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


DETECTORS: dict[str, Callable[[str], bool]] = {
    "card_number": is_card_number,
    "iban": is_iban,
    "email": is_email,
    "ip": is_ip,
    "phone": is_phone,
}
"""Each kind of personal data a value can be recognised as (`pii:` kinds), with its detector.
When a column matches several equally well the first wins: a card number of 15 digits can
also be written like a phone number, but passing Luhn is the stronger evidence."""


def mask(kind: str, value: str) -> str:
    """`value`, a value of `kind`, with most of it hidden: an e-mail's first character and
    domain (`a***@example.com`), a card's last four digits, an IBAN's country and last four
    characters, a phone's last two digits, an IP address's first part (`192.*.*.*`). A value
    of another kind is hidden whole.

    Returns:
        Text that never holds the whole value; separators are kept so the format shows.
    """
    value = value.strip()
    if kind == "email":
        local, _, domain = value.rpartition("@")
        shown = local[0] if len(local) > 2 else ""
        return f"{shown}***@{domain}"
    if kind == "card_number":
        return _keep_last(value, 4, str.isdigit)
    if kind == "phone":
        return _keep_last(value, 2, str.isdigit)
    if kind == "iban":
        return value[:2] + _keep_last(value[2:], 4, str.isalnum)
    if kind == "ip":
        if ":" in value:
            return value.split(":", 1)[0] + ":*"
        return value.split(".", 1)[0] + ".*.*.*"
    return "***"


def _keep_last(value: str, keep: int, hidden: Callable[[str], bool]) -> str:
    """`value` with every character `hidden` selects replaced by `*`, but the last `keep`."""
    chars = list(value)
    left = keep
    for index in range(len(chars) - 1, -1, -1):
        if hidden(chars[index]):
            if left > 0:
                left -= 1
            else:
                chars[index] = "*"
    return "".join(chars)
