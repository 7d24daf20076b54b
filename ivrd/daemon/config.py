"""The daemon's configuration: what `config.yaml` (and `IVRD_...` variables) may say.

Every model is frozen and refuses unknown keys with a "did you mean" (the flow models' base
class), so a typo in `config.yaml` reads like a typo in a flow:
`config.yaml:12:3: limits.max_call: unknown field 'max_call'; did you mean 'max_calls'?`.
Durations are the flow language's (`30s`, `4h`); booleans are `true`/`false` only. Reading the
file and the environment is `ivrd.daemon.loading`'s job; these models only say what is valid.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, PlainValidator, PrivateAttr, SecretStr, WithJsonSchema
from pydantic_core import PydanticCustomError

from ivrd.flow.base import FlowModel
from ivrd.flow.durations import Duration
from ivrd.flow.fieldtypes import ChannelVar, Flag, Name, Regex
from ivrd.flow.yamlpos import SourceMap

__all__ = [
    "SECTIONS",
    "Config",
    "FlowsConfig",
    "FreeswitchConfig",
    "HttpConfig",
    "LimitsConfig",
    "ListenConfig",
    "LoggingConfig",
    "RouteRule",
    "RoutingConfig",
    "RuntimeConfig",
    "SecretsConfig",
]

_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


def _network(value: Any) -> str:
    text = str(value).strip() if isinstance(value, str | int) else None
    if text:
        try:
            ipaddress.ip_network(text, strict=False)
            return text
        except ValueError:
            pass
    raise PydanticCustomError(
        "network",
        "'{value}' is not an IP address or network such as 10.0.0.5 or 10.0.0.0/24",
        {"value": value},
    )


Network = Annotated[
    str, PlainValidator(_network), WithJsonSchema({"type": "string", "examples": ["10.0.0.0/24"]})
]


def _env_name(value: Any) -> str:
    if isinstance(value, str) and re.fullmatch(_ENV_NAME, value):
        return value
    raise PydanticCustomError(
        "env_name",
        "'{value}' is not an environment variable name (letters, digits and '_')",
        {"value": value},
    )


EnvName = Annotated[str, PlainValidator(_env_name), WithJsonSchema({"type": "string"})]


def _password(value: Any) -> SecretStr:
    if isinstance(value, SecretStr):
        return value
    if isinstance(value, str):
        return SecretStr(value)
    raise PydanticCustomError("password", "must be text (quote it in YAML)", {})


Password = Annotated[SecretStr, PlainValidator(_password), WithJsonSchema({"type": "string"})]


class ConfigModel(FlowModel):
    """Frozen, unknown keys refused with a did-you-mean (shared with the flow models)."""


class ListenConfig(ConfigModel):
    """Where FreeSWITCH's `socket` application connects (the outbound event socket)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8084, ge=0, le=65535)
    """0 picks a free port (the log says which); for tests."""
    backlog: int = Field(default=4096, ge=1)
    allowed_peers: tuple[Network, ...] = ()
    """Addresses or networks allowed to connect; empty allows every peer."""


class FlowsConfig(ConfigModel):
    """Where the flows are, and whether changed files are picked up without a SIGHUP."""

    directory: str = "flows"
    watch: Flag = False
    watch_interval: Duration = Field(default=timedelta(seconds=2), ge=timedelta(milliseconds=100))


class RouteRule(ConfigModel):
    """A call whose destination number matches `destination` (a regex search) runs `flow`."""

    destination: Regex
    flow: Name


class RoutingConfig(ConfigModel):
    """Which flow a call runs: the channel variable, else the first matching route, else default."""

    variable: ChannelVar | None = "ivr_flow"
    routes: tuple[RouteRule, ...] = ()
    default: Name | None = None


class FreeswitchConfig(ConfigModel):
    """FreeSWITCH's inbound event socket (mod_event_socket's port 8021)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8021, ge=1, le=65535)
    password: Password = SecretStr("ClueCon")


class LimitsConfig(ConfigModel):
    """Concurrent calls, steps per call, and how long calls and a drain may take."""

    max_calls: int = Field(default=100, ge=1)
    when_full: Literal["hangup", "resume"] = "hangup"
    max_steps: int = Field(default=1000, ge=1)
    drain_timeout: Duration = timedelta(seconds=30)
    call_timeout: Duration = Field(default=timedelta(hours=4), gt=timedelta(0))


class LoggingConfig(ConfigModel):
    """Log level, text or JSON lines, stderr or a file (reopened on SIGHUP)."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["text", "json"] = "text"
    file: str | None = None


class HttpConfig(ConfigModel):
    """The operations endpoint: `/metrics` (Prometheus), `/healthz`, `/readyz`."""

    enabled: Flag = True
    host: str = "127.0.0.1"
    port: int = Field(default=9090, ge=0, le=65535)
    """0 picks a free port (the log says which); for tests."""


class SecretsConfig(ConfigModel):
    """Which environment variables flows may read as `secrets.NAME` (never logged)."""

    env_prefix: str | None = "IVRD_SECRET_"
    """`IVRD_SECRET_CRM_TOKEN` becomes `secrets.CRM_TOKEN`; empty turns this off."""
    names: tuple[EnvName, ...] = ()
    """Variables exposed under their own name: `CRM_TOKEN` becomes `secrets.CRM_TOKEN`."""


class RuntimeConfig(ConfigModel):
    """How the daemon runs: its event loop. Read at start; a change needs a restart."""

    event_loop: Literal["auto", "asyncio", "uvloop"] = "auto"
    """`auto`: uvloop when it is installed (`pip install uvloop`: a faster loop, same
    behaviour), else Python's own asyncio loop; `uvloop`: refuse to start without it."""


SECTIONS: dict[str, type[ConfigModel]] = {
    "listen": ListenConfig,
    "flows": FlowsConfig,
    "routing": RoutingConfig,
    "freeswitch": FreeswitchConfig,
    "limits": LimitsConfig,
    "logging": LoggingConfig,
    "http": HttpConfig,
    "secrets": SecretsConfig,
    "runtime": RuntimeConfig,
}


class Config(ConfigModel):
    """The whole configuration; built once by `load_config`, replaced whole on reload."""

    listen: ListenConfig = ListenConfig()
    flows: FlowsConfig = FlowsConfig()
    routing: RoutingConfig = RoutingConfig()
    freeswitch: FreeswitchConfig = FreeswitchConfig()
    limits: LimitsConfig = LimitsConfig()
    logging: LoggingConfig = LoggingConfig()
    http: HttpConfig = HttpConfig()
    secrets: SecretsConfig = SecretsConfig()
    runtime: RuntimeConfig = RuntimeConfig()

    _file: str | None = PrivateAttr(default=None)
    _source: SourceMap | None = PrivateAttr(default=None)
    _env: dict[tuple[str, str], str] = PrivateAttr(default_factory=dict)
    _flows_directory: Path = PrivateAttr(default=Path("flows"))
    _log_file: Path | None = PrivateAttr(default=None)

    @property
    def file(self) -> str | None:
        """The config file as named on the command line; None when there was none."""
        return self._file

    @property
    def source(self) -> SourceMap | None:
        return self._source

    @property
    def env_settings(self) -> dict[tuple[str, str], str]:
        """Which settings came from the environment: (section, key) -> variable name."""
        return dict(self._env)

    @property
    def flows_directory(self) -> Path:
        """`flows.directory`, relative to the config file (or to the working directory when it
        came from the environment or there is no file)."""
        return self._flows_directory

    @property
    def log_file(self) -> Path | None:
        return self._log_file
