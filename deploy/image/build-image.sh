#!/usr/bin/env bash
# `make image`: the base image (mmdebstrap, unless BASE_IMAGE names another one), the wheelhouse, then
# sparkjobs:latest from deploy/Dockerfile and, for the local stack, sparkjobs-postgres:local from
# deploy/postgres/Dockerfile. Needs a running Docker engine (deploy/test/dockerd.sh start).
#
#   deploy/image/build-image.sh                  # reuses images built from the same files
#   FORCE=1 deploy/image/build-image.sh          # rebuild all
#   BASE_IMAGE=python:3.11-slim-bookworm WITH_LIBHDFS=true deploy/image/build-image.sh   # with a registry
#
# The build context is staged (deploy/build/context/) with only the files the image needs, so the
# legacy builder (no buildx here) sends a small context; each image is labelled with a hash of its
# inputs and skipped when an image with that hash exists.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
base_image=${BASE_IMAGE:-sparkjobs-base:bookworm}
image=${IMAGE:-sparkjobs:latest}
pg_image=${PG_IMAGE:-sparkjobs-postgres:local}
with_libhdfs=${WITH_LIBHDFS:-false}
build_dir=$repo/deploy/build
log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*"; }
t0=$(date +%s)

if [[ $base_image == sparkjobs-base:* ]]; then
  BASE_IMAGE=$base_image BUILD_DIR=$build_dir "$here/build-base.sh"
fi

# the inputs of the sparkjobs image; the wheelhouse is rebuilt only when they change
inputs=(pyproject.toml README.md src apps/recommendations conf/base conf/compose deploy/Dockerfile deploy/bin deploy/conf
  deploy/healthchecks deploy/scheduler)
hash=$(cd "$repo" && find "${inputs[@]}" -type f ! -name '*.pyc' ! -path '*/__pycache__/*' ! -path '*.egg-info/*' ! -path '*/build/*' -print0 | sort -z \
  | xargs -0 sha256sum | sha256sum | cut -c1-16)
hash=$hash-$(docker image inspect --format '{{.Id}}' "$base_image" 2>/dev/null | cut -c8-19)-$with_libhdfs
labelled() { docker image inspect --format '{{index .Config.Labels "sparkjobs.inputs"}}' "$1" 2>/dev/null || true; }

if [[ -z ${FORCE:-} && $(labelled "$image") == "$hash" ]]; then
  log "$image is up to date (inputs $hash)"
else
  "$here/build-wheels.sh"
  context=$build_dir/context
  rm -rf "$context"
  mkdir -p "$context/deploy/build" "$context/conf"
  cp -a "$repo/pyproject.toml" "$repo/README.md" "$context/"
  cp -a "$repo/conf/base" "$repo/conf/compose" "$context/conf/"
  cp -a "$repo/deploy/Dockerfile" "$repo/deploy/bin" "$repo/deploy/conf" "$repo/deploy/healthchecks" \
    "$repo/deploy/scheduler" "$context/deploy/"
  for dir in wheels project; do
    cp -al "$build_dir/$dir" "$context/deploy/build/$dir" 2>/dev/null || cp -a "$build_dir/$dir" "$context/deploy/build/"
  done
  find "$context" -name __pycache__ -prune -exec rm -rf {} +
  log "building $image from $base_image (WITH_LIBHDFS=$with_libhdfs)"
  t1=$(date +%s)
  DOCKER_BUILDKIT=0 docker build -q -f "$context/deploy/Dockerfile" -t "$image" \
    --build-arg "BASE_IMAGE=$base_image" --build-arg "WITH_LIBHDFS=$with_libhdfs" \
    --label "sparkjobs.inputs=$hash" "$context" >/dev/null
  rm -rf "$context"
  log "$image built in $(($(date +%s) - t1))s ($(docker image inspect --format '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}'))"
fi

if [[ $base_image == sparkjobs-base:* ]]; then
  pg_hash=$(cat "$repo/deploy/postgres/Dockerfile" "$repo/deploy/postgres/entrypoint.sh" | sha256sum | cut -c1-16)
  pg_hash=$pg_hash-$(docker image inspect --format '{{.Id}}' "$base_image" | cut -c8-19)
  if [[ -z ${FORCE:-} && $(labelled "$pg_image") == "$pg_hash" ]]; then
    log "$pg_image is up to date"
  else
    DOCKER_BUILDKIT=0 docker build -q -t "$pg_image" --build-arg "BASE_IMAGE=$base_image" \
      --label "sparkjobs.inputs=$pg_hash" "$repo/deploy/postgres" >/dev/null
    log "$pg_image built"
  fi
fi
docker image prune -f >/dev/null  # the throw-away venv stages
log "images ready after $(($(date +%s) - t0))s"
