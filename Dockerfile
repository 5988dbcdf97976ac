# syntax=docker/dockerfile:1
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY signing ./signing
COPY consumer ./consumer
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --upgrade pip \
    && /opt/venv/bin/pip install --no-cache-dir '.[fast]'

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    RELAY_METRICS_PORT=9400
RUN useradd --system --uid 10001 --no-create-home relay
COPY --from=build /opt/venv /opt/venv
USER 10001
EXPOSE 9400
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os,urllib.request;urllib.request.urlopen('http://127.0.0.1:'+os.environ.get('RELAY_METRICS_PORT','9400')+'/healthz',timeout=2)"]
ENTRYPOINT ["signal-relay"]
CMD ["run"]
