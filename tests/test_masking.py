"""Phone numbers never leave an event unmasked; everything else is left alone."""

from __future__ import annotations

import pytest

from handlers.masking import mask_email, mask_personal_in, mask_phone, mask_phones_in


@pytest.mark.parametrize(
    ("number", "masked"),
    [("+15555550123", "+*******0123"), ("15555550123", "*******0123"), ("123", "***")],
)
def test_a_phone_number_keeps_its_plus_and_last_four_digits(number: str, masked: str) -> None:
    assert mask_phone(number) == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("/phonenumber/15555555555", "/phonenumber/*******5555"),
        ("sent to +442071234567 and +15555550123", "sent to +********4567 and +*******0123"),
        ("4007: opted out", "4007: opted out"),
        ("Outgoing_202009180022138813a09b-0cbf", "Outgoing_202009180022138813a09b-0cbf"),
        (
            "8:acs:d9ff4983-39e7-4420-8d54-f6354ed06ccd",
            "8:acs:d9ff4983-39e7-4420-8d54-f6354ed06ccd",
        ),
    ],
)
def test_phone_numbers_inside_text_are_masked_and_ids_are_not(text: str, masked: str) -> None:
    assert mask_phones_in(text) == masked


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("jane.doe@contoso.com", "j*******@contoso.com"),
        ("a@b.io", "a@b.io"),
        ("15555550123@example.com", "1**********@example.com"),
    ],
)
def test_an_email_address_keeps_its_first_character_and_its_domain(
    address: str, masked: str
) -> None:
    assert mask_email(address) == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (
            "sender/test2@contoso.org/message/950850f5-bcdf-4315-b77a-6447cf56fac9",
            "sender/t****@contoso.org/message/950850f5-bcdf-4315-b77a-6447cf56fac9",
        ),
        ("bounced: Jane.Doe+news@mail.contoso.co.uk", "bounced: J************@mail.contoso.co.uk"),
        ("to +15555550123 or bob@contoso.com", "to +*******0123 or b**@contoso.com"),
        ("15555550123@example.com", "1**********@example.com"),  # an address, not a number
        (
            "8:acs:d9ff4983-39e7-4420-8d54-f6354ed06ccd",
            "8:acs:d9ff4983-39e7-4420-8d54-f6354ed06ccd",
        ),
        ("DestinationMailboxFull", "DestinationMailboxFull"),
        ("user@localhost", "user@localhost"),  # no domain a mail system routes
    ],
)
def test_addresses_and_numbers_inside_text_are_masked_and_ids_are_not(
    text: str, masked: str
) -> None:
    assert mask_personal_in(text) == masked
