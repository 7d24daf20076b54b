"""The daemon behind `ivrd serve`: configuration, routing calls to flows, limits, signals,
reload and drain.

- `load_config(path, environ)`: `config.yaml` plus `IVRD_...` variables, validated.
- `Daemon(config).serve()`: serve until stopped; `reload()`, `stop()`, `ready`, `phase`.
- `run_daemon(path)`: all of it, with logging and exit codes; `check(path)`: `--check`.
"""

from ivrd.daemon.calls import FULL_CAUSE, SHUTDOWN_CAUSE, TIMEOUT_CAUSE, CallDesk, Snapshot
from ivrd.daemon.config import (
    Config,
    FlowsConfig,
    FreeswitchConfig,
    HttpConfig,
    LimitsConfig,
    ListenConfig,
    LoggingConfig,
    RouteRule,
    RoutingConfig,
    RuntimeConfig,
    SecretsConfig,
)
from ivrd.daemon.loading import (
    ConfigError,
    ConfigResult,
    SettingDiagnostic,
    env_variable,
    load_config,
    read_secrets,
)
from ivrd.daemon.main import (
    EXIT_CANNOT_START,
    EXIT_CRASHED,
    EXIT_OK,
    CheckReport,
    check,
    run_daemon,
)
from ivrd.daemon.registry import FlowRegistry, RegistryChange
from ivrd.daemon.reloading import Reloaded
from ivrd.daemon.routing import (
    NO_FLOW_CAUSE,
    NO_ROUTE_CAUSE,
    RouteDecision,
    check_routes,
    route_call,
)
from ivrd.daemon.server import CannotStart, Daemon, Phase

__all__ = [
    "EXIT_CANNOT_START",
    "EXIT_CRASHED",
    "EXIT_OK",
    "FULL_CAUSE",
    "NO_FLOW_CAUSE",
    "NO_ROUTE_CAUSE",
    "SHUTDOWN_CAUSE",
    "TIMEOUT_CAUSE",
    "CallDesk",
    "CannotStart",
    "CheckReport",
    "Config",
    "ConfigError",
    "ConfigResult",
    "Daemon",
    "FlowRegistry",
    "FlowsConfig",
    "FreeswitchConfig",
    "HttpConfig",
    "LimitsConfig",
    "ListenConfig",
    "LoggingConfig",
    "Phase",
    "RegistryChange",
    "Reloaded",
    "RouteDecision",
    "RouteRule",
    "RoutingConfig",
    "RuntimeConfig",
    "SecretsConfig",
    "SettingDiagnostic",
    "Snapshot",
    "check",
    "check_routes",
    "env_variable",
    "load_config",
    "read_secrets",
    "route_call",
    "run_daemon",
]
