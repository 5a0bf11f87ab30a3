# syntax=docker/dockerfile:1.7
# LoRA Studio production image. Multi-stage: build the frontend with bun (from the npm
# registry), then a slim runtime that runs as a non-root user. Configuration comes only from
# the environment (see README "Configuration"). Not built on the development machines (no
# Docker engine there); kept in step with scripts/setup.sh.

ARG PYTHON_IMAGE=python:3.11.7-slim-bookworm
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

FROM ${NODE_IMAGE} AS bun
RUN npm install --no-audit --no-fund --prefix /opt/tools --ignore-scripts @oven/bun-linux-x64@1.4.4

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1 \
    REFLEX_TELEMETRY_ENABLED=false REFLEX_CHECK_LATEST_VERSION=0 \
    REFLEX_BUN_PATH=/opt/tools/node_modules/@oven/bun-linux-x64/bin/bun
COPY --from=bun /opt/tools /opt/tools
WORKDIR /app
COPY requirements.txt ./
RUN python -m venv /opt/venv && /opt/venv/bin/pip install -r requirements.txt
ENV PATH=/opt/venv/bin:$PATH
COPY . .
# Compile the frontend once (also installs @mediapipe/tasks-genai, whose wasm the app serves).
RUN DATA_DIR=/tmp/build-data reflex export --frontend-only --no-zip \
    && rm -rf /tmp/build-data .web/.cache

FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PATH=/opt/venv/bin:$PATH \
    REFLEX_TELEMETRY_ENABLED=false REFLEX_CHECK_LATEST_VERSION=0 \
    REFLEX_BUN_PATH=/opt/tools/node_modules/@oven/bun-linux-x64/bin/bun \
    DATA_DIR=/data PORT=3000
RUN apt-get update && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 lorastudio && mkdir -p /data && chown lorastudio /data
COPY --from=bun /opt/tools /opt/tools
COPY --from=build /opt/venv /opt/venv
COPY --from=build --chown=lorastudio /app /app
WORKDIR /app
USER lorastudio
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD curl -fsS "http://127.0.0.1:${PORT}/_health" || exit 1
# Migrations first (waits for the database), then the production server on one port.
CMD ["sh", "-c", "python -m app.prestart && exec reflex run --env prod --frontend-port $PORT --backend-port $PORT"]
