# syntax=docker/dockerfile:1.7
# LoRA Studio production image.
#   build:   docker build -t lorastudio .          (or: docker compose build)
#   run:     docker compose up                     (app + PostgreSQL + Redis + MinIO)
#
# Three stages: bun from the npm registry; a build stage that installs the pinned Python
# packages and builds the pages once (`reflex export`); a slim runtime without bun, Node or
# node_modules that runs as a non-root user and serves the built pages and the backend on one
# port (`python -m app.serve`). Configuration comes only from the environment (README,
# "Configuration"); nothing secret is baked in.
#
# Base images are pinned by version tag. Pin them by digest too where you build
# (`docker buildx imagetools inspect python:3.11.7-slim-bookworm`): the development machines
# cannot reach a registry to look the digests up, and this image has not been built on them.

ARG PYTHON_IMAGE=python:3.11.7-slim-bookworm
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

FROM ${NODE_IMAGE} AS bun
ARG TARGETARCH
# The baseline x64 build runs on CPUs without AVX2 too.
RUN case "${TARGETARCH:-amd64}" in \
      arm64) pkg=@oven/bun-linux-aarch64 ;; \
      *) pkg=@oven/bun-linux-x64-baseline ;; \
    esac \
    && npm install --no-audit --no-fund --prefix /opt/tools --ignore-scripts "${pkg}@1.4.4" \
    && ln -s "/opt/tools/node_modules/${pkg}/bin/bun" /opt/tools/bun \
    && /opt/tools/bun --version

FROM ${PYTHON_IMAGE} AS build
# Where browsers reach the backend, baked into the pages at build time. A localhost URL means
# "the host the page came from" (Reflex keeps the port, and drops it on https), which suits one
# origin behind any TLS proxy; set the real origin for a separate API host (static export).
ARG PUBLIC_API_URL=http://localhost:3000
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1 \
    REFLEX_TELEMETRY_ENABLED=false REFLEX_CHECK_LATEST_VERSION=0 \
    REFLEX_BUN_PATH=/opt/tools/bun
COPY --from=bun /opt/tools /opt/tools
WORKDIR /app
COPY requirements.txt ./
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir -r requirements.txt
ENV PATH=/opt/venv/bin:$PATH
COPY . .
# Build the pages once; keep the MediaPipe wasm runtime (served by the backend's /runtime routes)
# and drop everything else the build needed.
RUN REFLEX_API_URL="${PUBLIC_API_URL}" DATA_DIR=/tmp/build-data reflex export --frontend-only --no-zip \
    && cp -r .web/node_modules/@mediapipe/tasks-genai/wasm /opt/mediapipe-wasm \
    && cp .web/node_modules/@mediapipe/tasks-genai/genai_bundle.mjs /opt/mediapipe-wasm/ \
    && mkdir -p /opt/site/.web/build \
    && mv .web/build/client /opt/site/.web/build/client \
    && mv .web/backend /opt/site/.web/backend \
    && cp -r alembic alembic.ini app assets components state rxconfig.py requirements.txt /opt/site/ \
    && python -m compileall -q /opt/site/app /opt/site/components /opt/site/state

FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PATH=/opt/venv/bin:$PATH \
    REFLEX_TELEMETRY_ENABLED=false REFLEX_CHECK_LATEST_VERSION=0 \
    REFLEX_STATES_WORKDIR=/tmp/reflex-states REFLEX_UPLOADED_FILES_DIR=/tmp/reflex-uploads \
    MEDIAPIPE_WASM_DIR=/opt/mediapipe-wasm \
    DATA_DIR=/data PORT=3000 HOST=0.0.0.0 LOG_FORMAT=json
RUN useradd --create-home --uid 10001 --user-group lorastudio \
    && mkdir -p /data && chown lorastudio:lorastudio /data
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/mediapipe-wasm /opt/mediapipe-wasm
# The code stays owned by root: the app user can read it, not change it. The one exception is
# Reflex's marker directory, which every worker rewrites at start.
COPY --from=build /opt/site /app
COPY --from=build --chown=10001:10001 /opt/site/.web/backend /app/.web/backend
WORKDIR /app
USER 10001:10001
VOLUME ["/data"]
EXPOSE 3000
# Liveness only: a database outage must not get healthy containers restarted (readiness is
# /healthz/ready, for load balancers).
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz/live' % os.environ.get('PORT', '3000'), timeout=4)"]
# Wait for the database and migrate (safe to run in every replica: Alembic takes a lock on
# PostgreSQL; Kubernetes runs it once as a Job instead), then serve.
CMD ["sh", "-c", "python -m app.prestart && exec python -m app.serve"]
