"""The detectors `governance scan` judges sampled values with: each kind on values it must
recognise and on look-alikes it must not (ids, dates, amounts, bad check digits), and masking
that never shows a whole value."""

from __future__ import annotations

import pytest

from headwater.governance.detectors import (
    DETECTORS,
    iban_checksum_valid,
    is_card_number,
    is_email,
    is_iban,
    is_ip,
    is_phone,
    luhn_valid,
    mask,
)

EMAILS = [
    "john.doe@example.com",
    "A.B@EXAMPLE.COM",
    "o'brien@example.ie",
    "first+tag@sub.example.co.uk",
    "x_y-z@mail-server.example.org",
    '"john doe"@example.com',
    "josé@exemplo.com.br",
    "user@xn--bcher-kva.example",
    "  padded@example.com  ",
]
NOT_EMAILS = [
    "a@b",
    "x@y",
    "x@y.z",
    "user@localhost",
    "john..doe@example.com",
    ".john@example.com",
    "john.@example.com",
    "john@-example.com",
    "john@example-.com",
    "john@example..com",
    "john@exa_mple.com",
    "john doe@example.com",
    "@example.com",
    "john@",
    "a@b@example.com",
    "2@3.45",
    "user@[10.0.0.1]",
    "Ann <ann@example.com>",
    "mailto:ann@example.com",
    "x" * 65 + "@example.com",
    "@",
    "",
]


@pytest.mark.parametrize("value", EMAILS)
def test_an_email_address_is_recognised(value: str) -> None:
    assert is_email(value)


@pytest.mark.parametrize("value", NOT_EMAILS)
def test_what_only_resembles_an_email_address_is_not(value: str) -> None:
    assert not is_email(value)


PHONES = [
    "+44 20 7946 0958",
    "+44 (0)20 7946 0958",
    "+1 (555) 123-4567",
    "+1-555-123-4567",
    "+4915123456789",
    "+33 1 23 45 67 89",
    "(555) 123-4567",
    "555-123-4567",
    "555-1234",
    "030 1234567",
    "07911 123456",
    "06-12345678",
    "01 23 45 67 89",
]
NOT_PHONES = [
    # dates and year ranges
    "2024-01-15",
    "15-01-2024",
    "2024 01 15",
    "1-12-2024",
    "2023-2024",
    # plain integers, ids and timestamps
    "12345678",
    "1234567890",
    "1700000000000",
    # amounts
    "1 250 000",
    "12 345 678",
    "1,234.56",
    "12.50",
    "-1234567",
    "$1 234 567",
    # other shapes
    "555.123.4567",
    "+0123456789",
    "000-000-0000",
    "+1 555 123 4567 89012",
    "12-34",
    "v1-2-3",
    "ORD-2024-000123",
    "192.168.0.1",
    "",
]


@pytest.mark.parametrize("value", PHONES)
def test_a_phone_number_is_recognised(value: str) -> None:
    assert is_phone(value)


@pytest.mark.parametrize("value", NOT_PHONES)
def test_dates_amounts_and_ids_are_not_phone_numbers(value: str) -> None:
    assert not is_phone(value)


IBANS = [
    "GB82 WEST 1234 5698 7654 32",
    "DE89 3704 0044 0532 0130 00",
    "DE89370400440532013000",
    "gb82west12345698765432",
    "FR14 2004 1010 0505 0001 3M02 606",
    "NL91ABNA0417164300",
    "BE68539007547034",
    "NO9386011117947",
]
NOT_IBANS = [
    "GB83 WEST 1234 5698 7654 32",  # check digits changed
    "DE88 3704 0044 0532 0130 00",
    "GB82 WEST 1234 5698 7654 33",  # one account digit changed
    "DE89 3704 0044 0532 0130 01",
    "GB82-WEST-1234-5698-7654-32",  # dashes are no IBAN spelling
    "GB82  WEST 1234 5698 7654 32",  # two spaces
    "GB82WEST",  # too short
    "1234 5678 9012 3456",
    "GB00 WEST 1234 5698 7654 32",
    "",
]


@pytest.mark.parametrize("value", IBANS)
def test_an_iban_with_valid_check_digits_is_recognised(value: str) -> None:
    assert is_iban(value)


@pytest.mark.parametrize("value", NOT_IBANS)
def test_an_iban_failing_mod_97_or_misshapen_is_not(value: str) -> None:
    assert not is_iban(value)


def test_the_mod_97_check_itself() -> None:
    assert iban_checksum_valid("GB82WEST12345698765432")
    assert not iban_checksum_valid("GB82WEST12345698765423")


CARDS = [
    "4111 1111 1111 1111",
    "5500 0000 0000 0004",
    "4111-1111-1111-1111",
    "4111111111111111",
    "5555555555554444",
    "3782 822463 10005",  # American Express, 15 digits
    "6011 0009 9013 9424",
    "4222222222222",  # 13 digits
]
NOT_CARDS = [
    "4111 1111 1111 1112",  # Luhn fails
    "5500 0000 0000 0005",
    "4242 4242 4242 4241",
    "0000 0000 0000 0000",  # passes Luhn, a placeholder
    "1234",
    "411111111111",  # 12 digits
    "4111 1111 1111 1111 1111 1",  # 21 digits
    "4111  1111 1111 1111",  # two spaces
    "4111.1111.1111.1111",
    "",
]


@pytest.mark.parametrize("value", CARDS)
def test_a_card_number_passing_luhn_is_recognised(value: str) -> None:
    assert is_card_number(value)


@pytest.mark.parametrize("value", NOT_CARDS)
def test_a_card_number_failing_luhn_or_misshapen_is_not(value: str) -> None:
    assert not is_card_number(value)


def test_the_luhn_check_itself() -> None:
    assert luhn_valid("79927398713")
    assert not luhn_valid("79927398710")


IPS = ["192.168.0.1", "8.8.8.8", "2001:db8::1", "::1", "fe80::1%eth0", "::ffff:192.0.2.1"]
NOT_IPS = ["256.1.1.1", "10.0.0.0/8", "01.2.3.4", "3232235777", "1.2.3", "1.2.3.4.5", "abc", ""]


@pytest.mark.parametrize("value", IPS)
def test_an_ip_address_is_recognised(value: str) -> None:
    assert is_ip(value)


@pytest.mark.parametrize("value", NOT_IPS)
def test_a_network_a_number_or_a_bad_octet_is_not_an_ip_address(value: str) -> None:
    assert not is_ip(value)


@pytest.mark.parametrize(
    ("kind", "value", "masked"),
    [
        ("email", "john.doe@example.com", "j***@example.com"),
        ("email", "jo@example.com", "***@example.com"),
        ("card_number", "4111 1111 1111 1111", "**** **** **** 1111"),
        ("card_number", "5500000000000004", "************0004"),
        ("iban", "GB82 WEST 1234 5698 7654 32", "GB** **** **** **** **54 32"),
        ("phone", "+44 20 7946 0958", "+** ** **** **58"),
        ("ip", "192.168.0.1", "192.*.*.*"),
        ("ip", "2001:db8::1", "2001:*"),
        ("name", "Ann Smith", "***"),
    ],
)
def test_a_masked_value_keeps_only_a_little_of_it(kind: str, value: str, masked: str) -> None:
    assert mask(kind, value) == masked
    assert value not in mask(kind, value)


def test_every_detector_names_a_kind_a_column_can_declare() -> None:
    from headwater.project.personal_data import PII_KINDS

    assert set(DETECTORS) <= set(PII_KINDS)
