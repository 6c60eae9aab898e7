"""Phone numbers and e-mail addresses never leave unmasked; everything else is left alone."""

from __future__ import annotations

import pytest

from handlers.masking import mask_emails_in, mask_phone, mask_phones_in


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
    ("text", "masked"),
    [
        ("jane.doe@contoso.com", "j***@contoso.com"),
        ("ask jane.doe@contoso.com or bob+oncall@ops.example.org", "ask j***@contoso.com or "
         "b***@ops.example.org"),
        ("no address here, just @mentions and a.b", "no address here, just @mentions and a.b"),
    ],
)
def test_email_addresses_inside_text_keep_their_first_letter_and_domain(
    text: str, masked: str
) -> None:
    assert mask_emails_in(text) == masked
