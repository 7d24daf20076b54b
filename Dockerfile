# syntax=docker/dockerfile:1
#
# ivrd: the IVR daemon, next to FreeSWITCH.
#
#   docker build -t ivrd .
#   docker run --rm -p 8084:8084 -p 9090:9090 \
#       -v "$PWD/flows:/etc/ivrd/flows:ro" -v "$PWD/deploy/config.yaml:/etc/ivrd/config.yaml:ro" \
#       -e IVRD_FREESWITCH_PASSWORD=... ivrd
#
# Flows live in /etc/ivrd/flows and the configuration in /etc/ivrd/config.yaml; the image ships
# the example flows and deploy/config.yaml there, so mount your own over them.
# tests/deploy/test_container.py installs what this file installs into a fresh virtual
# environment and runs the ENTRYPOINT + CMD and the HEALTHCHECK below exactly as written.

ARG PYTHON_IMAGE=python:3.11-slim

# --- build: the wheel, and a virtual environment with it and its dependencies --------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY ivrd ./ivrd
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

# tzdata: zoneinfo's database for flows' `timezone:` and calendars, whether or not the base
# image carries Debian's. dumb-init: a minimal PID 1 (see ENTRYPOINT). uvloop: the faster event
# loop `ivrd serve` takes when it is installed (runtime.event_loop: auto).
ARG TZDATA_VERSION=2026.6
ARG DUMB_INIT_VERSION=1.2.5.post1
ARG UVLOOP_VERSION=0.23.0
RUN python -m venv /opt/ivrd \
    && /opt/ivrd/bin/pip install --no-cache-dir /dist/*.whl \
        "tzdata==${TZDATA_VERSION}" "dumb-init==${DUMB_INIT_VERSION}" \
        "uvloop==${UVLOOP_VERSION}"

# --- runtime: the slim base, the virtual environment, nothing else --------------------------
FROM ${PYTHON_IMAGE} AS runtime

ENV PATH=/opt/ivrd/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

# A fixed numeric uid, so Kubernetes' runAsNonRoot can verify it and volumes can be chowned.
RUN groupadd --system --gid 10001 ivrd \
    && useradd --system --uid 10001 --gid ivrd --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin ivrd

# Owned by root and read-only for ivrd: the daemon never writes to its code or config.
COPY --from=build /opt/ivrd /opt/ivrd
COPY deploy/config.yaml /etc/ivrd/config.yaml
COPY flows /etc/ivrd/flows

WORKDIR /etc/ivrd
USER 10001:10001

# 8084: FreeSWITCH's `socket` application (outbound event socket).
# 9090: /metrics, /healthz, /readyz (`http.port` in config.yaml).
EXPOSE 8084 9090

# SIGTERM starts a drain: no new calls, running calls get `limits.drain_timeout` to end.
STOPSIGNAL SIGTERM

# Python's standard library, since the slim image has no curl. A proxy from the environment
# must not carry the probe away, hence the empty ProxyHandler. If `http.port` is not 9090,
# set IVRD_HTTP_PORT (the daemon reads it too, so both agree).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as r; r.build_opener(r.ProxyHandler({})).open('http://127.0.0.1:%s/healthz' % os.environ.get('IVRD_HTTP_PORT', '9090'), timeout=4)"]

# Exec form: no shell in between. dumb-init is PID 1: it forwards SIGTERM/SIGHUP/SIGINT to
# ivrd, reaps orphaned children and exits with ivrd's exit code; ivrd handles the signals
# itself (drain on SIGTERM, reload on SIGHUP). `docker run --init` would do the same, but
# Kubernetes has no such option, so the image brings its own init.
ENTRYPOINT ["dumb-init", "--", "ivrd", "serve"]
CMD ["--config", "/etc/ivrd/config.yaml"]
