"""Typed settings, read once from app settings / environment variables.

Every field's environment variable is its name upper-cased (``alert_file`` → ``ALERT_FILE``).
The Bicep in ``infra/`` sets exactly these names; ``tests/test_infra.py`` checks that the two
lists agree, so add a field here and its app setting there together.

Every rule a setting must follow lives here, so a bad value stops the app at cold start with a
message naming the variable, never later at the first delivery that needs it. Rules between two
settings (a webhook URL needs its secret, the JWT check needs an audience) are checked on the
later field with the earlier ones in hand (``info.data``), so pydantic reports them together with
every other problem: one start-up shows every mistake. The factories in ``handlers.runtime``
trust these values and check nothing.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Literal, NamedTuple
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)

ACS_CALLBACK_ISSUER = "https://acscallautomation.communication.azure.com"
ACS_CALLBACK_JWKS_URL = "https://acscallautomation.communication.azure.com/calling/keys"
DEFAULT_ALERT_CATEGORIES = ("UnexpectedClientError", "UnexpectedServerError")
# Event Grid's largest preferred batch is 1,024 KB; a little headroom above it.
DEFAULT_MAX_BODY_BYTES = 1_100_000

# A comma-separated list in the environment; split by ``_split_commas`` before validation.
CommaList = tuple[str, ...]
# The labels GROUP_BY may name: handlers.alerting.labels.LABEL_NAMES, copied because settings
# import nothing of the app (tests/test_settings.py holds the two together).
KNOWN_LABELS = (
    "channel", "event_type", "kind", "code", "subcode", "category", "origin", "country",
    "carrier", "sender",
)
# What a destination receives: per-event alerts, group notifications, or both.
Receives = Literal["alerts", "notifications", "both"]
# One carrier's outage is one group, another carrier's failures another; a failure whose
# carrier is unknown (every call, every North American number) groups by its code as before.
DEFAULT_GROUP_BY = ("channel", "kind", "code", "subcode", "carrier")
RESULT_CATEGORIES = ("Success", "ExpectedError", "UnexpectedClientError", "UnexpectedServerError")

# --- severity ----------------------------------------------------------------------------------
SeverityName = Literal["critical", "warning", "info"]
# The alert kinds (handlers.alerting.alert.AlertKind), which SEVERITY_BY_CATEGORY may name too:
# an unknown code has no category to go by.
ALERT_KINDS = ("error", "unknown-code", "failure", "invalid-event")
# Server and client errors and unknown codes are worth a look; anything else is for the record.
DEFAULT_SEVERITY_BY_CATEGORY: Mapping[str, SeverityName] = {
    "UnexpectedServerError": "warning",
    "UnexpectedClientError": "warning",
    "unknown-code": "warning",
}
# A warning group this large is an outage, whatever its category says alone.
DEFAULT_SEVERITY_CRITICAL_SIZE = 100


# --- rate alarms -------------------------------------------------------------------------------
# The channels (handlers.alerting.labels.channel_of) whose events are results, some failed and
# most not. Job Router's events are failures only (a job's ordinary steps are ignored) and chat
# events are not read, so a ratio of theirs would say nothing.
ALARM_CHANNELS = ("sms", "call", "email", "whatsapp")


class RateRule(NamedTuple):
    """One rate alarm: a channel's failed / all results, a warning and a critical ratio."""

    channel: str
    warning: float
    critical: float


# A call yields several results (connected, participants, play, ..., disconnected) of which
# one or two fail, so its per-result ratio understates the share of failed calls: its
# thresholds are lower. An SMS, e-mail or WhatsApp message has one delivery report.
DEFAULT_ALARM_RULES = (
    RateRule("sms", 0.1, 0.3),
    RateRule("call", 0.05, 0.2),
    RateRule("email", 0.1, 0.3),
    RateRule("whatsapp", 0.1, 0.3),
)


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the environment variable."""


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


def _refuse_unknown(items: Iterable[str], known: Sequence[str], what: str) -> None:
    unknown = [item for item in items if item not in known]
    if unknown:
        raise ValueError(f"unknown {what} {unknown}; use any of {', '.join(known)}")


def _name_value_pairs(value: object) -> object:
    """``a=x,b=y`` as ``{"a": "x", "b": "y"}``; a name given twice, or an item without ``=``,
    is refused (a typo must not silently win or vanish)."""
    if not isinstance(value, str):
        return value
    pairs: dict[str, str] = {}
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        name, sep, setting = (part.strip() for part in item.partition("="))
        if not sep or not name or not setting:
            raise ValueError(f"{item!r} is not name=value")
        if name in pairs:
            raise ValueError(f"{name!r} is given twice")
        pairs[name] = setting
    return pairs


def _rate_rules(value: object) -> object:
    """``sms=0.1/0.3,call=0.05/0.2`` as ``(channel, warning, critical)`` triples; the model
    reads the numbers and ``_alarm_rules_are_sound`` checks them."""
    pairs = _name_value_pairs(value)
    if not isinstance(pairs, dict):
        return value
    rules = []
    for channel, ratios in pairs.items():
        warning, sep, critical = ratios.partition("/")
        if not sep:
            raise ValueError(f"'{channel}={ratios}' is not channel=warning/critical (sms=0.1/0.3)")
        rules.append((channel, warning.strip(), critical.strip()))
    return tuple(rules)


# --- the rules ---------------------------------------------------------------------------------

# Azure Table Storage: 3 to 63 letters and digits, starting with a letter.
_TABLE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{2,62}")
WEBHOOK_SECRET_PREFIX = "whsec_"
# Standard Webhooks: a symmetric secret is between 24 and 64 random bytes.
WEBHOOK_SECRET_BYTES = (24, 64)


def is_loopback(host: str) -> bool:
    """This machine: ``localhost`` or any loopback address (127.0.0.0/8, ::1). The one rule."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_secure_url(url: str) -> str:
    """https to anywhere; plain http only to this machine (local runs and tests)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError:
        raise ValueError("not a valid URL") from None
    if not host or parts.scheme not in ("https", "http"):
        raise ValueError("must be an https URL with a host")
    if parts.scheme == "http" and not is_loopback(host):
        raise ValueError("must be https (plain http only to localhost / 127.0.0.1 / ::1)")
    return url


def webhook_secret_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret (``whsec_`` and base64), or ValueError.

    Strict base64, unlike the reference library's lenient decoding: a secret that is not base64
    would be read differently by different verifiers, so it is refused rather than guessed at.
    """
    encoded = secret.removeprefix(WEBHOOK_SECRET_PREFIX).rstrip("=")
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error:
        key = b""
    low, high = WEBHOOK_SECRET_BYTES
    if not low <= len(key) <= high:
        raise ValueError(
            f"must be a Standard Webhooks secret: 'whsec_' and the base64 of {low} to {high} "
            "random bytes (e.g. whsec_ + `openssl rand -base64 32`)"
        )
    return key


def check_connection_string(value: str) -> None:
    """The shape the Tables SDK needs, checked without importing it (and never quoted back)."""
    from azure.core.utils import parse_connection_string

    if value.strip().lower() == "usedevelopmentstorage=true":
        return
    try:
        parts = parse_connection_string(value)
    except ValueError:
        raise ValueError("not a storage connection string (key=value pairs, ';' between)") from None
    if "accountname" not in parts or not (
        "accountkey" in parts or "sharedaccesssignature" in parts
    ):
        raise ValueError("needs AccountName and AccountKey (or SharedAccessSignature)")
    if "tableendpoint" in parts:
        try:
            check_secure_url(parts["tableendpoint"])
        except ValueError as error:
            raise ValueError(f"its TableEndpoint {error}") from None


class Settings(BaseModel):
    """Everything acs-triage reads from its environment (see :func:`load_settings`)."""

    # validate_default: the cross-field rules must run for settings left unset, too.
    model_config = ConfigDict(
        extra="ignore", frozen=True, allow_inf_nan=False, validate_default=True
    )

    # Fields are checked in this order; a rule that needs another setting sits on the later one.

    # --- delivery protocol -------------------------------------------------------------
    allowed_topics: CommaList = Field(
        default=(),
        description="ACS resource ids allowed to deliver (Event Grid topic / CloudEvents source); "
        "empty allows any.",
    )
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1024, le=64_000_000)

    # --- Call Automation callbacks -----------------------------------------------------
    callback_jwt_required: bool = Field(
        default=True, description="Check the Call Automation JWT; turn off only for local use."
    )
    callback_audience: str = Field(
        default="", description="The Communication Services resource's immutable id."
    )
    callback_issuer: str = ACS_CALLBACK_ISSUER
    callback_jwks_url: str = ACS_CALLBACK_JWKS_URL
    callback_jwt_leeway_seconds: int = Field(default=30, ge=0, le=300)

    # --- alert policy ------------------------------------------------------------------
    alert_categories: CommaList = DEFAULT_ALERT_CATEGORIES
    alert_include_codes: CommaList = Field(
        default=(), description="'code' or 'code/subcode' entries that always alert."
    )
    alert_exclude_codes: CommaList = Field(
        default=(), description="'code' or 'code/subcode' entries that never alert."
    )

    # --- alert sinks -------------------------------------------------------------------
    alert_file: Path | None = None
    alert_topic_endpoint: str = ""
    alert_topic_key: SecretStr | None = None
    alert_webhook_url: str = ""
    alert_webhook_secret: SecretStr | None = None
    alert_source: str = "/acs-triage"
    # What each destination receives. The file and the topic keep the record (both); a webhook
    # is usually a person's channel, which wants the group, not every event (notifications).
    alert_file_receives: Receives = "both"
    alert_topic_receives: Receives = "both"
    alert_webhook_receives: Receives = "notifications"
    sink_max_attempts: int = Field(default=4, ge=1, le=10)
    sink_retry_budget_seconds: float = Field(default=20.0, gt=0, le=25.0)

    # --- on-call receivers and the status page -----------------------------------------
    status_page_url: str = Field(
        default="http://127.0.0.1:7071/api/status",
        description="The status page's public address, linked from every notification.",
    )
    pagerduty_routing_key: SecretStr | None = Field(
        default=None, description="Events API v2 integration key of a PagerDuty service."
    )
    pagerduty_events_url: str = "https://events.pagerduty.com/v2/enqueue"
    teams_workflow_url: SecretStr | None = Field(
        default=None, description="Teams Workflows webhook URL (it carries its signature)."
    )
    slack_webhook_url: SecretStr | None = Field(
        default=None, description="Slack incoming webhook URL (it carries its token)."
    )
    slack_min_interval_seconds: float = Field(default=1.0, ge=0.0, le=60.0)
    alertmanager_webhook_url: str = ""
    alertmanager_webhook_token: SecretStr | None = None
    alertmanager_receiver: str = "acs-triage"

    # --- notifications: groups of alerts and Alertmanager's timers -----------------------
    group_by: CommaList = Field(
        default=DEFAULT_GROUP_BY,
        description="The labels whose values make a group (channel, event_type, kind, code, "
        "subcode, category, origin, country, carrier, sender).",
    )
    group_wait_seconds: float = Field(default=30.0, ge=0, le=3600)
    group_interval_seconds: float = Field(default=300.0, gt=0, le=86_400)
    repeat_interval_seconds: float = Field(default=14_400.0, gt=0, le=7 * 86_400)
    resolve_timeout_seconds: float = Field(default=900.0, gt=0, le=86_400)

    # --- severity of a group's notifications -----------------------------------------------
    severity_by_category: dict[str, SeverityName] = Field(
        default_factory=lambda: dict(DEFAULT_SEVERITY_BY_CATEGORY),
        description="category or alert kind = critical | warning | info; a group takes the more "
        "severe of its category's and its kind's, info when neither is listed.",
    )
    severity_critical_size: int = Field(
        default=DEFAULT_SEVERITY_CRITICAL_SIZE,
        ge=0,
        le=1_000_000_000,
        description="A warning group of at least this many alerts is critical; 0 turns it off.",
    )

    # --- rate alarms: failed / all results of a channel over a sliding window ------------
    alarm_rules: tuple[RateRule, ...] = Field(
        default=DEFAULT_ALARM_RULES,
        description="channel=warning/critical failure ratios, comma-separated (sms=0.1/0.3); "
        "empty: no rate alarm.",
    )
    alarm_window_seconds: int = Field(default=300, ge=60, le=3600)
    alarm_min_volume: int = Field(
        default=30, ge=1, le=1_000_000, description="Fewer results in the window never fire."
    )
    alarm_clear_seconds: float = Field(
        default=300.0,
        ge=0,
        le=86_400,
        description="How long the ratio stays under its clear level before a level is left.",
    )
    alarm_clear_fraction: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="A level's clear level: its ratio times this fraction.",
    )

    # --- duplicates --------------------------------------------------------------------
    dedupe_store: Literal["memory", "table"] = "memory"
    dedupe_window_hours: float = Field(default=24.0, gt=0, le=24 * 30)
    dedupe_table_service_uri: str = ""
    dedupe_table_connection_string: SecretStr | None = None
    dedupe_table_name: str = "acstriagededupe"

    # --- identity ----------------------------------------------------------------------
    azure_client_id: str = Field(
        default="", description="Client id of the user-assigned managed identity in Azure."
    )

    _split = field_validator(
        "allowed_topics",
        "group_by",
        "alert_categories",
        "alert_include_codes",
        "alert_exclude_codes",
        mode="before",
    )(_split_commas)

    @field_validator(
        "alert_file_receives", "alert_topic_receives", "alert_webhook_receives", mode="before"
    )
    @classmethod
    def _receives_in_any_case(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value
    _pairs = field_validator("severity_by_category", mode="before")(_name_value_pairs)
    _rules = field_validator("alarm_rules", mode="before")(_rate_rules)

    @field_validator("alert_file", mode="before")
    @classmethod
    def _empty_path_is_none(cls, value: object) -> object:
        """An empty ALERT_FILE means no file sink, not the current folder."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("alert_categories")
    @classmethod
    def _categories_are_known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        _refuse_unknown(value, RESULT_CATEGORIES, "categories")
        return value

    @field_validator("severity_by_category")
    @classmethod
    def _severity_names_are_known(
        cls, value: dict[str, SeverityName]
    ) -> dict[str, SeverityName]:
        _refuse_unknown(value, (*RESULT_CATEGORIES, *ALERT_KINDS), "categories or alert kinds")
        return value

    @field_validator("alarm_rules")
    @classmethod
    def _alarm_rules_are_sound(cls, value: tuple[RateRule, ...]) -> tuple[RateRule, ...]:
        channels = [rule.channel for rule in value]
        _refuse_unknown(channels, ALARM_CHANNELS, "channels")
        if len(set(channels)) < len(channels):
            raise ValueError(f"a channel has two rules: {', '.join(channels)}")
        for rule in value:
            if not 0 < rule.warning <= rule.critical <= 1:
                raise ValueError(
                    f"{rule.channel}={rule.warning:g}/{rule.critical:g}: the ratios must be "
                    "0 < warning <= critical <= 1"
                )
        return value

    @field_validator("alarm_window_seconds")
    @classmethod
    def _window_is_whole_minutes(cls, value: int) -> int:
        if value % 60:
            raise ValueError("must be a whole number of minutes (results are counted per minute)")
        return value

    @field_validator("group_by")
    @classmethod
    def _labels_are_known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [item for item in value if item not in KNOWN_LABELS]
        if unknown or not value:
            raise ValueError(f"unknown labels {unknown}; use some of {', '.join(KNOWN_LABELS)}")
        return value

    @field_validator("alert_include_codes", "alert_exclude_codes")
    @classmethod
    def _codes_are_numeric(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            parts = item.split("/")
            if len(parts) > 2 or not all(p.strip().isdigit() for p in parts):
                raise ValueError(f"{item!r} is not 'code' or 'code/subcode'")
        return value

    @field_validator(
        "alert_topic_endpoint",
        "alert_webhook_url",
        "alertmanager_webhook_url",
        "dedupe_table_service_uri",
        mode="after",
    )
    @classmethod
    def _optional_url_is_secure(cls, value: str) -> str:
        return check_secure_url(value.strip()) if value.strip() else ""

    @field_validator("callback_jwks_url", mode="after")
    @classmethod
    def _jwks_url_is_secure(cls, value: str) -> str:
        # Keys fetched over plain HTTP could be swapped on the way.
        return check_secure_url(value.strip())

    @field_validator("status_page_url", "pagerduty_events_url", mode="after")
    @classmethod
    def _url_is_secure(cls, value: str) -> str:
        return check_secure_url(value.strip())

    @field_validator("teams_workflow_url", "slack_webhook_url", mode="after")
    @classmethod
    def _secret_url_is_secure(cls, value: SecretStr | None) -> SecretStr | None:
        # These URLs carry their own token: checked like any URL, never quoted in the error.
        url = value.get_secret_value().strip() if value is not None else ""
        return SecretStr(check_secure_url(url)) if url else None

    @field_validator("pagerduty_routing_key", "alertmanager_webhook_token", mode="after")
    @classmethod
    def _empty_secret_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        secret = value.get_secret_value().strip() if value is not None else ""
        return SecretStr(secret) if secret else None

    @field_validator("callback_audience", "callback_issuer", mode="after")
    @classmethod
    def _needed_by_the_jwt_check(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip()
        if not value and info.data.get("callback_jwt_required"):
            what = (
                " (the Communication Services resource's immutable id)"
                if info.field_name == "callback_audience"
                else ""
            )
            raise ValueError(f"required when CALLBACK_JWT_REQUIRED is true{what}")
        return value

    @field_validator("alert_webhook_secret", mode="after")
    @classmethod
    def _webhook_secret_is_usable(
        cls, value: SecretStr | None, info: ValidationInfo
    ) -> SecretStr | None:
        secret = value.get_secret_value().strip() if value is not None else ""
        if not secret:
            if info.data.get("alert_webhook_url"):
                raise ValueError("required when ALERT_WEBHOOK_URL is set (alerts are signed)")
            return None
        webhook_secret_key(secret)
        return SecretStr(secret)

    @field_validator("dedupe_table_connection_string", mode="after")
    @classmethod
    def _table_is_reachable(
        cls, value: SecretStr | None, info: ValidationInfo
    ) -> SecretStr | None:
        connection_string = value.get_secret_value().strip() if value is not None else ""
        if connection_string:
            check_connection_string(connection_string)
            return SecretStr(connection_string)
        if info.data.get("dedupe_store") == "table" and not info.data.get(
            "dedupe_table_service_uri", "(invalid)"
        ):
            raise ValueError(
                "required when DEDUPE_STORE is 'table' and DEDUPE_TABLE_SERVICE_URI is not set "
                "(the service URI with the managed identity in Azure, or this string for Azurite)"
            )
        return None

    @field_validator("dedupe_table_name", mode="after")
    @classmethod
    def _table_name_is_valid(cls, value: str) -> str:
        if not _TABLE_NAME.fullmatch(value):
            raise ValueError("3 to 63 letters and digits, starting with a letter")
        return value


def format_settings_error(error: ValidationError) -> str:
    """One line per bad variable, named as the operator sets it."""
    lines = []
    for issue in error.errors():
        name = str(issue["loc"][0]).upper() if issue["loc"] else "(settings)"
        lines.append(f"{name}: {issue['msg'].removeprefix('Value error, ')}")
    return "invalid settings: " + "; ".join(lines)


def environment_values(environ: Mapping[str, str]) -> dict[str, str]:
    """The settings' variables present in ``environ``, by field name, whatever their case.

    A plain model reads them (not pydantic-settings, which cost a quarter of a cold start more
    than ``azure.functions`` itself for what these few lines do); validation is the model's.
    """
    fields = {name.upper(): name for name in Settings.model_fields}
    return {fields[key.upper()]: value for key, value in environ.items() if key.upper() in fields}


def load_settings(**overrides: object) -> Settings:
    """Read and validate the settings (``overrides`` win over the environment), raising
    SettingsError that names the bad variable."""
    try:
        return Settings.model_validate({**environment_values(os.environ), **overrides})
    except ValidationError as error:
        raise SettingsError(format_settings_error(error)) from None


@lru_cache(maxsize=1)
def cached_settings() -> Settings:
    """The process's settings, validated once at cold start."""
    return load_settings()


def setting_names() -> list[str]:
    """The environment variable of every setting, as the Bicep must set them."""
    return sorted(name.upper() for name in Settings.model_fields)
