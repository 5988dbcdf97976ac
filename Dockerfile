# syntax=docker/dockerfile:1
# signal-relay: `docker build -t signal-relay .`, then `docker run --env-file relay.env signal-relay`.
# Two stages: the first installs the project into a venv; the second copies only that venv onto
# a clean slim image (no compiler, no pip in the venv, no sources) and runs it as a non-root user.
# The venv holds the base install (the relay and its libraries) plus uvloop (the `fast` extra):
# no local broker, no reference receiver, no test tooling; `demo` and `receiver` say so.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
RUN python -m venv --without-pip /opt/venv
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY signing ./signing
COPY consumer ./consumer
RUN pip --python=/opt/venv/bin/python install --no-cache-dir './[fast]'

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="signal-relay" \
      org.opencontainers.image.description="Kafka to signal server relay, HMAC-SHA256 signed" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="python:3.11-slim"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    RELAY_METRICS_PORT=9400
RUN groupadd --system --gid 10001 relay \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin relay
COPY --from=build /opt/venv /opt/venv
# Numeric, so that Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
EXPOSE 9400
STOPSIGNAL SIGTERM
# Liveness only (the process answers); readiness is /readyz, for the orchestrator to probe.
# RELAY_METRICS_PORT=0 turns the endpoint off, and with it this check.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os,sys,urllib.request as u;p=os.environ.get('RELAY_METRICS_PORT','9400');sys.exit(0) if p=='0' else u.urlopen(f'http://127.0.0.1:{p}/healthz',timeout=2)"]
ENTRYPOINT ["signal-relay"]
CMD ["run"]
