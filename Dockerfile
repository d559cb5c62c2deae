# syntax=docker/dockerfile:1
#
# lab-results-producer: two stages on the same slim Python base.
#   build   - builds the project's wheel and a wheel of every dependency
#   runtime - installs those wheels offline (no compilers, no index), runs as
#             a non-root user and writes nothing outside /tmp, so the pod can
#             run with a read-only root file system.
#
#   docker build -t lab-results-producer:0.1.0 \
#     --build-arg VERSION=0.1.0 --build-arg REVISION="$(git rev-parse HEAD)" .

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
# producer/schemas is a symlink to ../avro: both go in, so the Avro schemas
# are packaged inside the wheel.
COPY pyproject.toml README.md ./
COPY avro/ avro/
COPY producer/ producer/

# Binary wheels preferred for the dependencies. The slim base has no compiler,
# so a dependency that would need one fails the build here, not at run time.
RUN pip wheel --no-cache-dir --wheel-dir /wheels --prefer-binary . \
 && ls -l /wheels

FROM ${PYTHON_IMAGE} AS runtime

ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown

LABEL org.opencontainers.image.title="lab-results-producer" \
      org.opencontainers.image.description="Streams Skillable Lab on Demand results into Kafka as Avro change events" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="python:3.11-slim-bookworm"

# Nothing may be written outside /tmp (an emptyDir in Kubernetes): no
# bytecode caches, no pip cache, HOME and TMPDIR on /tmp.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONFAULTHANDLER=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOME=/tmp \
    TMPDIR=/tmp \
    METRICS_PORT=8000

# The wheels come in through a bind mount, so they leave no layer behind.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels /wheels/*.whl \
 && groupadd --system --gid 10001 producer \
 && useradd --system --uid 10001 --gid producer --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin producer

# A numeric user, so that Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
WORKDIR /tmp

# Prometheus metrics, /healthz and /readyz.
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('METRICS_PORT', '8000'), timeout=4)"]

ENTRYPOINT ["lab-results-producer"]
CMD ["run"]
