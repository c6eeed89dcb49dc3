"""The settings: every `COMPLIANCE_*` environment variable the tool reads, in one typed model.

Precedence (spec/cli.md): a value given (a command-line option, or an argument of `load`) wins over the
environment, which wins over the default. An empty variable counts as unset. Errors name the variable (or the
parameter given) and say how to fix it, in one line, and never repeat the value (a store URL may carry a
password).

| field | variable | default | what |
|---|---|---|---|
| store | COMPLIANCE_STORE | observations/observations.db | the store a command or `Store.open()` opens |
| agreement | COMPLIANCE_AGREEMENT | none: the store's tracked agreements | which agreements to evaluate or track |
| monitor | COMPLIANCE_MONITOR | the user name | who records (`recorded_by`) |
| sources | COMPLIANCE_SOURCES | sources.yaml beside the store | the monitor's source registry |
| declared_actors | COMPLIANCE_DECLARED_ACTORS | none | actor codes the command line accepts beyond the agreement's |
| today | COMPLIANCE_TODAY | the clock | a pinned today (tests; replaying a past run) |
| debug | COMPLIANCE_DEBUG | off | the command line shows a traceback for an internal error |
| no_progress | COMPLIANCE_NO_PROGRESS | off | no progress bar, even on a terminal |

Lists are comma-separated; a flag is on for any value but 0, false, no or off. The library reads the settings
where it has a default to give (`load()`, each time: a changed environment is seen at once).
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Mapping

from pydantic import BeforeValidator, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .dates import EARLIEST_YEAR, LATEST_YEAR
from .errors import InputError, SettingsError

ENV_PREFIX = "COMPLIANCE_"
DEFAULT_STORE = Path("observations") / "observations.db"

_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_OFF = frozenset({"", "0", "false", "no", "off"})

# How to fix each variable, after the reason it was refused.
_FIX = {
    "today": "set it to a date (YYYY-MM-DD), or unset it to use the clock",
    "monitor": "set it to a one-line name, or unset it to use the user name",
}


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in _OFF
    return bool(value)


def _names(value: Any) -> tuple[str, ...]:
    """Comma-separated text (or a list of such texts) as its non-empty parts."""
    if value is None:
        return ()
    values = [value] if isinstance(value, str) else list(value)
    return tuple(part.strip() for item in values for part in str(item).split(",") if part.strip())


def _day(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    found = _DAY.match(value.strip())
    if not found:
        raise ValueError("is not a date (YYYY-MM-DD)")
    try:
        day = dt.date(int(found[1]), int(found[2]), int(found[3]))
    except ValueError:
        raise ValueError("is not a day of the calendar") from None
    if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
        raise ValueError(f"is outside the years {EARLIEST_YEAR}-{LATEST_YEAR}")
    return day


Flag = Annotated[bool, BeforeValidator(_flag)]
Names = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_names)]


class Settings(BaseSettings):
    """Every setting, from the values given, then `COMPLIANCE_*` variables, then the defaults."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_ignore_empty=True, hide_input_in_errors=True,
                                      extra="ignore", frozen=True)

    store: str = str(DEFAULT_STORE)
    agreement: Names = ()
    monitor: str | None = None
    sources: Path | None = None
    declared_actors: Names = ()
    today: Annotated[dt.date | None, BeforeValidator(_day)] = None
    debug: Flag = False
    no_progress: Flag = False

    @field_validator("monitor")
    @classmethod
    def _one_line_name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from .observation import clean_name  # (observation imports the agreement models)

        try:
            return clean_name(value, "monitor")
        except InputError as error:  # its reason never repeats the name
            raise ValueError(error.reason) from None

    @field_validator("sources", mode="after")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    def recorded_by(self) -> str:
        """Who records: the monitor setting, else the user name (`unknown` where there is none)."""
        if self.monitor is not None:
            return self.monitor
        try:
            name = getpass.getuser()
        except Exception:  # no user name in this environment
            return "unknown"
        from .observation import clean_name

        return clean_name(name, f"the user name (set {variable('monitor')})")


def variable(field: str) -> str:
    """The environment variable of a setting (`store` -> `COMPLIANCE_STORE`)."""
    return ENV_PREFIX + field.upper()


def load(given: Mapping[str, Any] | None = None) -> Settings:
    """The settings: the values `given` (None or empty values count as not given), then the environment, then
    the defaults. SettingsError names the parameter given, or the variable, with how to fix it."""
    chosen = tuple((name, tuple(value) if isinstance(value, list) else value)
                   for name, value in (given or {}).items() if value not in (None, "", (), []))
    environment = tuple(sorted((key, value) for key, value in os.environ.items()
                               if key.upper().startswith(ENV_PREFIX)))
    return _load(chosen, environment)


@lru_cache(maxsize=64)
def _load(chosen: tuple[tuple[str, Any], ...], environment: tuple[tuple[str, str], ...]) -> Settings:
    """The settings for these given values and this environment (read again only when either changes)."""
    try:
        return Settings(**dict(chosen))
    except ValidationError as error:
        first = error.errors(include_input=False, include_url=False)[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        reason = str(first["msg"]).removeprefix("Value error, ")
        if field in dict(chosen):
            raise SettingsError(reason, param=field) from None
        fix = _FIX.get(field, "correct it, or unset it")
        raise SettingsError(f"{reason}; {fix}", variable(field)) from None
