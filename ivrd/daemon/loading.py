"""Reading the configuration: `config.yaml`, then `IVRD_...` environment variables over it.

The file is read with the flow loader's YAML reader (every scalar a string, every value with its
line and column) and validated by the pydantic models in `ivrd.daemon.config`, so an error reads
exactly like a flow error: `config.yaml:12:3: limits.max_calls: must be at least 1`.

Every key can also be set from the environment as `IVRD_<SECTION>_<KEY>`, upper-case
(`IVRD_LISTEN_PORT=8085`, `IVRD_LIMITS_MAX_CALLS=200`, `IVRD_FREESWITCH_PASSWORD=...`); a variable
wins over the file. Section names hold no `_`, so the first `_` after the section ends it.
Lists are written comma-separated (`IVRD_LISTEN_ALLOWED_PEERS=10.0.0.5,10.1.0.0/16`) or, like
`routing.routes`, in YAML flow style (`[{destination: '^1000$', flow: hello}]`); an empty value
brings back the default. An error in a variable names the variable:
`environment IVRD_LIMITS_MAX_CALLS: limits.max_calls: must be at least 1`. Variables starting
with the secrets prefix (`IVRD_SECRET_` by default) are secrets, not settings.

Relative paths in the file are relative to the file's directory; from the environment (or with
no file at all), relative to the working directory.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, get_origin

from pydantic import ValidationError

from ivrd.daemon.config import SECTIONS, Config
from ivrd.flow.errors import Diagnostic, Severity, did_you_mean, sort_diagnostics
from ivrd.flow.validation import diagnostics_from_validation_error
from ivrd.flow.yamlpos import SourceMap, format_path, load_yaml

__all__ = [
    "CONFIG_VARIABLE",
    "ENV_PREFIX",
    "ConfigError",
    "ConfigResult",
    "SettingDiagnostic",
    "config_diagnostic",
    "env_variable",
    "load_config",
    "missing_paths",
    "read_secrets",
]

ENV_PREFIX = "IVRD_"
CONFIG_VARIABLE = "IVRD_CONFIG"
"""Names the config file for `ivrd serve` (the command reads it); not a setting."""
_DEFAULT_SECRET_PREFIX = "IVRD_SECRET_"
_PASSWORD_SECTION = "freeswitch"
_QUOTED = re.compile(r"'([^']*)'")
_UNDEFINED_NAME = re.compile(r"found undefined (alias|tag handle) '[^']*'")


@dataclass(frozen=True, slots=True)
class SettingDiagnostic(Diagnostic):
    """A problem with a setting that is not in a file: from the environment, or a default."""

    origin: str = ""
    """`environment IVRD_LIMITS_MAX_CALLS`, or `default setting`."""

    def __str__(self) -> str:
        where = f"{self.origin}: "
        if self.path:
            where += f"{self.path}: "
        if self.severity is Severity.WARNING:
            where += "warning: "
        return where + self.message


@dataclass(frozen=True, slots=True)
class ConfigResult:
    """The configuration (None when there were errors) and everything found wrong with it."""

    file: str | None
    config: Config | None
    diagnostics: tuple[Diagnostic, ...]

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.is_error)

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if not d.is_error)

    def require(self) -> Config:
        if self.config is None:
            raise ConfigError(self.diagnostics)
        return self.config


class ConfigError(Exception):
    """The configuration cannot be used; `diagnostics` says why, every problem at once."""

    def __init__(self, diagnostics: tuple[Diagnostic, ...] | list[Diagnostic]) -> None:
        self.diagnostics = tuple(diagnostics)
        errors = [str(d) for d in self.diagnostics if d.is_error]
        super().__init__("the configuration has errors:\n" + "\n".join(errors))


def env_variable(section: str, key: str) -> str:
    """`("limits", "max_calls")` -> `IVRD_LIMITS_MAX_CALLS`."""
    return f"{ENV_PREFIX}{section.upper()}_{key.upper()}"


def _all_variables() -> list[str]:
    return [env_variable(s, k) for s, model in SECTIONS.items() for k in model.model_fields]


def load_config(
    path: str | os.PathLike[str] | None,
    environ: Mapping[str, str],
    *,
    check_paths: bool = False,
) -> ConfigResult:
    """Read `path` (None: defaults only), apply the `IVRD_...` variables of `environ`, validate.

    `check_paths` also requires the flows directory to exist on this machine, as serving does;
    without it a configuration meant for another machine (a container's) can be validated.
    """
    shown = None if path is None else os.fspath(path)
    if shown is None:
        data: Any = {}
        source = SourceMap("<environment>", [], data)
        diagnostics: list[Diagnostic] = []
        base = Path()
    else:
        try:
            text = Path(shown).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            message = f"cannot read the configuration file: {reason}"
            return ConfigResult(shown, None, (Diagnostic(shown, 1, 1, "", message),))
        document = load_yaml(text, shown)
        source, data = document.source, document.data
        diagnostics = [d for d in document.diagnostics if d.message != "the file is empty"]
        if data is None and not diagnostics:
            data = source.data = {}
        base = Path(shown).parent
    if data is None:
        return _result(shown, None, diagnostics)
    if not isinstance(data, dict):
        message = f"the configuration is a mapping of sections ({', '.join(SECTIONS)})"
        diagnostics.append(Diagnostic(source.file, 1, 1, "", message))
        return _result(shown, None, diagnostics)
    env = _apply_environment(data, environ, diagnostics)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        found = diagnostics_from_validation_error(exc, source)
        diagnostics.extend(_attribute(d, env) for d in found)
        return _result(shown, None, diagnostics)
    config._file = shown
    config._source = source if shown is not None else None
    config._env = env
    config._flows_directory = _resolve(config.flows.directory, ("flows", "directory"), env, base)
    if config.logging.file:
        config._log_file = _resolve(config.logging.file, ("logging", "file"), env, base)
    if check_paths:
        diagnostics.extend(missing_paths(config))
    return _result(shown, config, diagnostics)


def missing_paths(config: Config) -> list[Diagnostic]:
    """The flows directory, if it is not a directory on this machine."""
    directory = config.flows_directory
    if directory.is_dir():
        return []
    what = "is not a directory" if directory.exists() else "no such directory"
    return [config_diagnostic(config, ("flows", "directory"), f"{what}: {directory}")]


def _result(file: str | None, config: Config | None, found: list[Diagnostic]) -> ConfigResult:
    ordered = tuple(sort_diagnostics(_hide_password(d) for d in found))
    failed = any(d.is_error for d in ordered)
    return ConfigResult(file, None if failed else config, ordered)


def _hide_password(diagnostic: Diagnostic) -> Diagnostic:
    """A problem in the section that holds FreeSWITCH's password says where, never what was
    written there: a line typed without its colon (`password s3cret`) would otherwise quote
    the password in the log. Likewise a YAML alias or tag name (an unquoted `*s3cret`)."""
    message = _UNDEFINED_NAME.sub(r"found an undefined \1", diagnostic.message)
    path = diagnostic.path
    if path == _PASSWORD_SECTION or path.startswith(_PASSWORD_SECTION + "."):
        known = SECTIONS[_PASSWORD_SECTION].model_fields
        key = path.split(".")[1] if "." in path else None
        path = _PASSWORD_SECTION if key not in known else f"{_PASSWORD_SECTION}.{key}"
        message = _QUOTED.sub(lambda m: m[0] if m[1] in known else "'...'", message)
    if (path, message) == (diagnostic.path, diagnostic.message):
        return diagnostic
    return replace(diagnostic, path=path, message=message)


def _resolve(value: str, key: tuple[str, str], env: dict[tuple[str, str], str], base: Path) -> Path:
    path = Path(value).expanduser()
    if path.is_absolute() or key in env:
        return path
    return base / path


def config_diagnostic(
    config: Config,
    path: tuple[str | int, ...],
    message: str,
    severity: Severity = Severity.ERROR,
) -> Diagnostic:
    """A problem found with a valid setting (a missing directory, an unknown flow), located
    where the setting was made: the file's line, the variable, or the default."""
    shown = format_path(path)
    variable = config.env_settings.get((str(path[0]), str(path[1]))) if len(path) > 1 else None
    if variable is not None:
        return SettingDiagnostic(
            variable, 0, 0, shown, message, severity, origin=f"environment {variable}"
        )
    source = config.source
    if source is not None:
        found, _ = source.resolve(path)
        if found == path:
            where = source.value_position(path)
            return Diagnostic(source.file, where.line, where.column, shown, message, severity)
    return SettingDiagnostic(
        "default", 0, 0, shown, f"{message} (the default)", severity, origin="default setting"
    )


def _apply_environment(
    data: dict[str, Any], environ: Mapping[str, str], diagnostics: list[Diagnostic]
) -> dict[tuple[str, str], str]:
    """Put the `IVRD_...` settings into `data`; which (section, key) came from which variable."""
    secret_prefix = _secret_prefix(data, environ)
    applied: dict[tuple[str, str], str] = {}
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or name == CONFIG_VARIABLE:
            continue
        if secret_prefix and name.startswith(secret_prefix):
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("_")
        model = SECTIONS.get(section)
        if model is None or key not in model.model_fields:
            hint = did_you_mean(name, _all_variables())
            kind = Severity.WARNING if model is None else Severity.ERROR
            problem = "not an ivrd setting; ignored" if model is None else "not an ivrd setting"
            diagnostics.append(
                SettingDiagnostic(
                    name, 0, 0, "", problem + hint, kind, origin=f"environment {name}"
                )
            )
            continue
        raw = environ[name]
        current = data.get(section)
        if current is None:
            current = data[section] = {}
        elif not isinstance(current, dict):
            continue  # the file's own error about this section is reported by validation
        if raw == "":
            current.pop(key, None)
            continue
        value: Any = raw
        if get_origin(model.model_fields[key].annotation) in (tuple, list):
            value = _collection(name, raw, diagnostics)
            if value is None:
                continue
        current[key] = value
        applied[(section, key)] = name
    return applied


def _secret_prefix(data: dict[str, Any], environ: Mapping[str, str]) -> str:
    name = env_variable("secrets", "env_prefix")
    if name in environ:
        return environ[name]
    section = data.get("secrets")
    if isinstance(section, dict) and "env_prefix" in section:
        value = section["env_prefix"]
        return value if isinstance(value, str) else ""
    return _DEFAULT_SECRET_PREFIX


def _collection(name: str, raw: str, diagnostics: list[Diagnostic]) -> Any:
    text = raw.strip()
    if not text.startswith(("[", "{")):
        return [part.strip() for part in text.split(",") if part.strip()]
    document = load_yaml(text, name)
    for problem in document.diagnostics:
        diagnostics.append(
            SettingDiagnostic(name, 0, 0, "", problem.message, origin=f"environment {name}")
        )
    return document.data


def _attribute(diagnostic: Diagnostic, env: dict[tuple[str, str], str]) -> Diagnostic:
    """A validation error about a setting that came from the environment names the variable."""
    for (section, key), variable in env.items():
        prefix = f"{section}.{key}"
        if diagnostic.path == prefix or diagnostic.path.startswith(prefix + "."):
            return SettingDiagnostic(
                variable,
                0,
                0,
                diagnostic.path,
                diagnostic.message,
                diagnostic.severity,
                origin=f"environment {variable}",
            )
    return diagnostic


def read_secrets(config: Config, environ: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """The values flows see as `secrets.NAME`, and the listed names that are not set."""
    secrets: dict[str, str] = {}
    prefix = config.secrets.env_prefix
    if prefix:
        for name, value in environ.items():
            if name.startswith(prefix) and len(name) > len(prefix):
                secrets[name[len(prefix) :]] = value
    missing: list[str] = []
    for name in config.secrets.names:
        if name in environ:
            secrets[name] = environ[name]
        else:
            missing.append(name)
    return secrets, missing
