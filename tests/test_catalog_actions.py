"""Call Automation failures read by their action: the action's own table first (docs/catalog.md
"Lookup", rule 0), then the generic chain; and ``python -m catalog explain --action``."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog import get_catalog
from catalog.lookup import Catalog
from catalog.models import ACTIONS, Category, Domain
from tests.test_catalog_cli import explained, run

CA = Domain.CALL_AUTOMATION


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return get_catalog()


@pytest.mark.parametrize(
    ("action", "code", "subcode", "rule", "key", "words"),
    [
        ("play", 400, 8535, "action-exact", "action-play:400/8535", "format"),
        ("play", 400, 8536, "action-exact", "action-play:400/8536", "downloaded"),
        ("play", 408, 8565, "action-exact", "action-play:408/8565", "Azure AI services timed out"),
        ("play", 503, 8582, "action-subcode", "action-play:-/8582", "empty"),  # any code
        ("recognize", 408, 8565, "action-exact", "action-recognize:408/8565", "timed out"),
        ("recognize", 400, 8510, "action-exact", "action-recognize:400/8510", "silence"),
        ("recognize", 500, 8511, "action-exact", "action-recognize:500/8511", "prompt"),
        ("transcription", 400, 8523, "action-exact", "action-transcription:400/8523", "locale"),
        ("participants", 603, 8538, "action-subcode", "action-participants:-/8538", "declined"),
        ("transfer", 400, 8551, "action-subcode", "action-transfer:-/8551", "1:1"),
        ("call-setup", 403, 7507, "action-exact", "action-call-setup:403/7507", "connection"),
        ("dtmf", 412, 8583, "action-exact", "action-dtmf:412/8583", "DTMF"),
        ("hold", 412, 8583, "action-exact", "action-hold:412/8583", "hold"),
        (
            "media-streaming",
            500,
            8603,
            "action-subcode",
            "action-media-streaming:-/8603",
            "WebSocket",
        ),
    ],
)
def test_an_action_reads_its_own_table_first(
    catalog: Catalog, action: str, code: int, subcode: int, rule: str, key: str, words: str
) -> None:
    match = catalog.lookup(CA, code, subcode, action=action)
    assert (match.rule, match.entry.key if match.entry else None) == (rule, key)
    assert (match.action, match.table) == (action, f"action-{action}")
    assert words in (match.message or "")
    assert match.advice is not None


def test_play_400_8535_gets_advice_about_the_file(catalog: Catalog) -> None:
    without = catalog.lookup(CA, 400, 8535)
    assert (without.message, without.advice) == ("Invalid File Format", None)
    match = catalog.lookup(CA, 400, 8535, action="play")
    assert match.advice is not None
    assert "WAV" in match.advice
    assert "16 kHz" in match.advice
    assert match.category == Category.EXPECTED_ERROR  # a 4xx the application fixes, as before
    assert match.retry.verdict == "permanent"


def test_an_action_whose_table_has_no_row_falls_through_to_the_generic_tables(
    catalog: Catalog,
) -> None:
    """Play has no 409/8519 row: the generic chain answers, and the match still names the action."""
    with_action = catalog.lookup(CA, 409, 8519, action="play")
    without = catalog.lookup(CA, 409, 8519)
    assert (with_action.rule, with_action.entry) == ("exact", without.entry)
    assert with_action.action == "play"
    assert catalog.lookup(CA, 302, 1, action="play").rule == "none"


def test_an_action_row_for_a_subcode_does_not_take_subcode_0(catalog: Catalog) -> None:
    assert catalog.lookup(CA, 200, 0, action="play").rule == "code-class"


def test_an_action_tables_advice_is_its_own_not_borrowed(catalog: Catalog) -> None:
    for found in catalog.written:
        if found.source.startswith("action-"):
            assert found.advice, found.key
    match = catalog.lookup(CA, 500, 8512, action="recognize")
    assert match.advice_from == "action-recognize:500/8512"


def test_an_action_is_for_call_automation_events_and_must_be_known(catalog: Catalog) -> None:
    with pytest.raises(ValueError, match="is not a Call Automation action"):
        catalog.lookup(Domain.CALL_END, 408, 8565, action="play")
    with pytest.raises(ValueError, match="is not a Call Automation action"):
        catalog.lookup(CA, 408, 8565, action="fax")


@given(
    action=st.sampled_from(ACTIONS),
    code=st.none() | st.integers(min_value=0, max_value=1_000_000),
    subcode=st.none() | st.integers(min_value=0, max_value=1_000_000),
)
def test_with_an_action_only_the_actions_own_table_can_answer_before_the_generic_chain(
    action: str, code: int | None, subcode: int | None
) -> None:
    catalog = get_catalog()
    match = catalog.lookup(CA, code, subcode, action=action)
    if match.rule.startswith("action-"):
        assert match.table == f"action-{action}"
    else:
        generic = catalog.lookup(CA, code, subcode)
        assert (match.rule, match.entry, match.category) == (
            generic.rule,
            generic.entry,
            generic.category,
        )


def test_explain_with_an_action_answers_as_a_failed_event_of_that_action() -> None:
    payload = explained("--action", "play", "408", "8565")
    assert payload["query"]["action"] == "play"
    (meaning,) = payload["meanings"]
    assert (meaning["rule"], meaning["table"], meaning["action"]) == (
        "action-exact",
        "action-play",
        "play",
    )
    assert meaning["retry"]["verdict"] == "transient"


def test_explain_code_and_subcode_shows_the_actions_meanings_beside_the_generic_one() -> None:
    payload = explained("408", "8565")
    assert payload["ambiguous"] is True
    tables = [(m["table"], m["action"]) for m in payload["meanings"]]
    assert ("action-play", "play") in tables
    assert ("action-recognize", "recognize") in tables
    assert ("generic-subcodes", None) in tables


def test_a_person_sees_the_retry_verdict_the_source_page_and_the_action() -> None:
    result = run("explain", "--action", "recognize", "500", "8511")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "code 500, subcode 8511 for action recognize: 1 meaning"
    assert any(
        line.startswith("  retry     unknown: a bad prompt fails every time") for line in lines
    )
    assert any(
        line.startswith(
            "  source    written for this catalog (catalog/written/action-recognize.json"
        )
        and line.endswith(") from the page below, read 2026-12-02")
        for line in lines
    )
    assert any(
        line.startswith(
            "  match     action-exact, for call-automation events of action "
            "recognize (RecognizeFailed, RecognizeCanceled)"
        )
        for line in lines
    )


@pytest.mark.parametrize(
    "args",
    [
        ("explain", "--status", "Bounced", "--action", "play"),
        ("explain", "--action", "fax", "400"),
        ("explain", "--action", "play", "--source", "action-play", "400"),
    ],
)
def test_an_unknown_action_or_an_action_with_a_status_or_a_source_is_a_usage_error(
    args: tuple[str, ...],
) -> None:
    result = run(*args)
    assert (result.returncode, result.stdout) == (2, "")
    assert "usage: python -m catalog explain" in result.stderr


@pytest.mark.parametrize(
    ("args", "key"),
    [
        (("400", "8535"), "action-play:400/8535"),
        (("503", "8582"), "action-play:-/8582"),  # a row written for the subcode with any code
    ],
)
def test_source_reaches_an_action_table(args: tuple[str, ...], key: str) -> None:
    (meaning,) = explained("--source", "action-play", *args)["meanings"]
    assert meaning["entry"]["source"] == "action-play"
    assert (meaning["table"], meaning["action"]) == ("action-play", "play")
    subcode = meaning["entry"]["subcode"]
    code = meaning["entry"]["code"]
    assert f"action-play:{'-' if code is None else code}/{subcode}" == key


def test_tables_names_each_action_tables_action_and_events() -> None:
    text = run("tables").stdout
    assert "action-play: Play action failures (PlayFailed, PlayCanceled)" in text
    assert "  action    play: PlayFailed, PlayCanceled" in text
    assert "  action    call-setup: CreateCallFailed, AnswerFailed, ConnectFailed" in text
