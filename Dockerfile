# The user-code image of alt42_pipeline: the gRPC code server of the Dagster code location,
# and the image of every run pod the K8sRunLauncher starts (helm/README.md).
#
# Build:  docker build -t <registry>/alt42/alt42-pipeline:$(git rev-parse --short HEAD) .
# The base image is pinned to an exact Python patch release and Debian release; to pin the
# digest as well, replace the tag with `python:3.11.14-slim-bookworm@sha256:<digest>`.

FROM python:3.11.14-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# README.md is optional (pyproject's readme): the wildcard copies it only when it exists.
COPY pyproject.toml README.md* ./
COPY alt42_pipeline ./alt42_pipeline
# Runtime dependencies only (no dev extra), in a virtualenv copied whole into the final stage.
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install .

FROM python:3.11.14-slim-bookworm
# DAGSTER_HOME of Dagster's Helm chart must exist (the chart mounts or passes the instance).
RUN groupadd --system --gid 10001 alt42 \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin alt42 \
 && mkdir -p /opt/dagster/dagster_home
COPY --from=build /opt/venv /opt/venv
# The root filesystem is read-only in Kubernetes: everything written goes to /tmp (an
# emptyDir there): scratch data, the matplotlib and numba caches. No .pyc is written at
# run time (pip compiled them at install).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ALT42_DATA_DIR=/tmp/alt42 \
    MPLCONFIGDIR=/tmp/matplotlib \
    NUMBA_CACHE_DIR=/tmp/numba
WORKDIR /opt/alt42
USER 10001:10001
EXPOSE 4000
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s \
  CMD ["dagster", "api", "grpc-health-check", "-p", "4000"]
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "alt42_pipeline.definitions"]
