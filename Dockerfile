# The user-code image of alt42_pipeline: the gRPC code server of the Dagster code location,
# and the image of every run pod the K8sRunLauncher starts (helm/README.md).
#
# Build:  docker build -t <registry>/alt42/alt42-pipeline:$(git rev-parse --short HEAD) .
# The base image is pinned to an exact Python patch release and Debian release; to pin the
# digest as well, replace the tag with `python:3.11.14-slim-bookworm@sha256:<digest>`.
# Reproducible: every runtime dependency comes from requirements.lock, pinned with hashes
# (pip refuses anything else); regenerate it when pyproject.toml's dependencies change:
#   uv pip compile pyproject.toml --generate-hashes --python-version 3.11 \
#     --python-platform x86_64-manylinux_2_28 --no-header -o requirements.lock

FROM python:3.11.14-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# README.md is optional (pyproject's readme): the wildcard copies it only when it exists.
COPY pyproject.toml requirements.lock README.md* ./
COPY alt42_pipeline ./alt42_pipeline
# Runtime dependencies only (no dev extra), exactly the locked versions and files, in a
# virtualenv copied whole into the final stage; then the package itself without resolving.
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --require-hashes --no-deps -r requirements.lock \
 && /opt/venv/bin/pip install --no-deps .

FROM python:3.11.14-slim-bookworm
# DAGSTER_HOME of Dagster's Helm chart must exist (the chart mounts or passes the instance).
RUN groupadd --system --gid 10001 alt42 \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin alt42 \
 && mkdir -p /opt/dagster/dagster_home
COPY --from=build /opt/venv /opt/venv
# The root filesystem is read-only in Kubernetes: everything written goes to /tmp (an
# emptyDir there): scratch data, the matplotlib and numba caches. No .pyc is written at
# run time (pip compiled them at install). Weekly reports go to the warehouse, not to files
# that vanish with the pod. NUMBA_CPU_NAME=generic: the kernels compiled below run on any
# x86-64 node.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ALT42_DATA_DIR=/tmp/alt42 \
    ALT42_REPORT_FILES=false \
    MPLCONFIGDIR=/tmp/matplotlib \
    NUMBA_CACHE_DIR=/tmp/numba \
    NUMBA_CPU_NAME=generic
# The numba kernels, compiled now into the package (alt42_pipeline/irt/_compiled); each
# process copies them into its empty NUMBA_CACHE_DIR instead of compiling for 10 s.
RUN NUMBA_CACHE_DIR=/opt/venv/lib/python3.11/site-packages/alt42_pipeline/irt/_compiled \
      python -c "from alt42_pipeline.irt.precompile import main; main()" \
 && rm -rf /tmp/numba /tmp/matplotlib /tmp/alt42
WORKDIR /opt/alt42
USER 10001:10001
EXPOSE 4000
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s \
  CMD ["dagster", "api", "grpc-health-check", "-p", "4000"]
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "alt42_pipeline.definitions"]
