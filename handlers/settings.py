"""Typed settings, read once from app settings / environment variables.

Every field's environment variable is its name upper-cased (``alert_file`` → ``ALERT_FILE``).
The Bicep in ``infra/`` sets exactly these names; ``tests/test_infra.py`` checks that the two
lists agree, so add a field here and its app setting there together.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ACS_CALLBACK_ISSUER = "https://acscallautomation.communication.azure.com"
ACS_CALLBACK_JWKS_URL = "https://acscallautomation.communication.azure.com/calling/keys"
DEFAULT_ALERT_CATEGORIES = ("UnexpectedClientError", "UnexpectedServerError")
# Event Grid's largest preferred batch is 1,024 KB; a little headroom above it.
DEFAULT_MAX_BODY_BYTES = 1_100_000

CommaList = Annotated[tuple[str, ...], NoDecode]


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the environment variable."""


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


class Settings(BaseSettings):
    """Everything acs-triage reads from its environment."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

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
    sink_max_attempts: int = Field(default=4, ge=1, le=10)
    sink_retry_budget_seconds: float = Field(default=20.0, gt=0, le=25.0)

    # --- notifications: groups of alerts and Alertmanager's timers -----------------------
    group_by: CommaList = Field(
        default=("channel", "kind", "code", "subcode"),
        description="The labels whose values make a group (channel, event_type, kind, code, "
        "subcode, category, origin).",
    )
    group_wait_seconds: float = Field(default=30.0, ge=0, le=3600)
    group_interval_seconds: float = Field(default=300.0, gt=0, le=86_400)
    repeat_interval_seconds: float = Field(default=14_400.0, gt=0, le=7 * 86_400)
    resolve_timeout_seconds: float = Field(default=900.0, gt=0, le=86_400)

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

    @field_validator("alert_file", mode="before")
    @classmethod
    def _empty_path_is_none(cls, value: object) -> object:
        """An empty ALERT_FILE means no file sink, not the current folder."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("alert_categories")
    @classmethod
    def _categories_are_known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        known = ("Success", "ExpectedError", "UnexpectedClientError", "UnexpectedServerError")
        unknown = [item for item in value if item not in known]
        if unknown:
            raise ValueError(f"unknown categories {unknown}; use any of {', '.join(known)}")
        return value

    @field_validator("group_by")
    @classmethod
    def _labels_are_known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        known = ("channel", "event_type", "kind", "code", "subcode", "category", "origin")
        unknown = [item for item in value if item not in known]
        if unknown or not value:
            raise ValueError(f"unknown labels {unknown}; use some of {', '.join(known)}")
        return value

    @field_validator("alert_include_codes", "alert_exclude_codes")
    @classmethod
    def _codes_are_numeric(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            parts = item.split("/")
            if len(parts) > 2 or not all(p.strip().isdigit() for p in parts):
                raise ValueError(f"{item!r} is not 'code' or 'code/subcode'")
        return value


def format_settings_error(error: ValidationError) -> str:
    """One line per bad variable, named as the operator sets it."""
    lines = []
    for issue in error.errors():
        name = str(issue["loc"][0]).upper() if issue["loc"] else "(settings)"
        lines.append(f"{name}: {issue['msg']}")
    return "invalid settings: " + "; ".join(lines)


def load_settings(**overrides: object) -> Settings:
    """Read and validate the settings, raising SettingsError that names the bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise SettingsError(format_settings_error(error)) from None


@lru_cache(maxsize=1)
def cached_settings() -> Settings:
    """The process's settings, validated once at cold start."""
    return load_settings()


def setting_names() -> list[str]:
    """The environment variable of every setting, as the Bicep must set them."""
    return sorted(name.upper() for name in Settings.model_fields)
