#!/usr/bin/env bash
# The local stack in one command (`make deploy-up` / `make deploy-down`, docs/deployment.md): a private
# dockerd, the images, PostgreSQL, the raw deliveries in the lake volume, the initial load inside the
# `pipeline` container, then the API and the scheduler — healthy, the API answering on the host.
#
#   deploy/local_stack.sh up        # everything above; prints the API's URL
#   deploy/local_stack.sh down      # compose down (VOLUMES=1: also the lake and the database), dockerd stopped
#   deploy/local_stack.sh status    # compose ps
#
# Environment:
#   PYTHON              the venv python with sparkjobs installed (default <repo>/.venv/bin/python)
#   POSTGRES_PASSWORD   the database password (default: generated once into deploy/build/postgres-password,
#                       mode 600, never printed)
#   RAW_DIR             raw deliveries to load (events/event_date=D/*.csv + catalog/movies.csv); default:
#                       the MovieLens sample written by `python -m recommendations.sample_data`
#   INITIAL_DATE        the initial load's date (default: the last event_date= folder of RAW_DIR)
#   DAILY_DATE          when set, an incremental run for that date follows the initial load
#   COMPOSE_FILES       extra compose files (-f ...), e.g. the deployment test's overlay
#   TIMINGS_FILE        when set, each step appends `"name": seconds` to it
#   SPARKJOBS_API_PORT  host port of the API (default 8000, 127.0.0.1 only)
# The scheduler then runs recommendations_daily every day at 02:00 UTC for yesterday.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
py=${PYTHON:-$repo/.venv/bin/python}
[[ -x $py ]] || { echo "error: $py not found: run 'make install' first or set PYTHON" >&2; exit 2; }
compose_bin=${COMPOSE_BIN:-$("$py" -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")')}
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-sparkjobs}
export SPARKJOBS_API_PORT=${SPARKJOBS_API_PORT:-8000}
if [[ -z ${POSTGRES_PASSWORD:-} ]]; then
  secret=$repo/deploy/build/postgres-password
  if [[ ! -s $secret ]]; then
    mkdir -p "$(dirname "$secret")"
    (umask 077 && "$py" -c 'import secrets; print(secrets.token_urlsafe(24))' >"$secret")
  fi
  POSTGRES_PASSWORD=$(<"$secret")
fi
export POSTGRES_PASSWORD
read -r -a extra <<<"${COMPOSE_FILES:-}"
dc=("$compose_bin" -f "$repo/deploy/docker-compose.yml" -f "$repo/deploy/local.yml" "${extra[@]}")

log() { printf '%s [%4ss] %s\n' "$(date -u +%H:%M:%S)" "$((SECONDS))" "$*"; }
timed() {  # timed NAME COMMAND...: its time logged (and appended to TIMINGS_FILE)
  local name=$1 t0=$SECONDS
  shift
  log "== $name"
  "$@"
  log "   $name: $((SECONDS - t0))s"
  [[ -z ${TIMINGS_FILE:-} ]] || echo "\"$name\": $((SECONDS - t0))" >>"$TIMINGS_FILE"
}
step() {  # step NAME SECONDS COMMAND...: a command bounded by timeout, timed
  local name=$1 limit=$2
  shift 2
  timed "$name" timeout -k 10 "$limit" "$@"
}
pipeline_run() {  # pipeline_run NAME MODE DATE: run_daily_pipeline.sh in the pipeline container
  local log_file
  log_file=${LOG_DIR:-$(mktemp -d)}/$1.log
  log "   MODE=$2 EVENT_DATE=$3 run_daily_pipeline.sh in the pipeline container (log: $log_file)"
  if ! timeout -k 10 900 "${dc[@]}" --profile batch run --rm -T --pull never -e "MODE=$2" -e "EVENT_DATE=$3" pipeline \
    >"$log_file" 2>&1; then
    tail -n 30 "$log_file" >&2
    echo "error: the $1 run failed (MODE=$2 EVENT_DATE=$3); full log: $log_file" >&2
    return 1
  fi
  grep 'run_daily_pipeline:.*finished' "$log_file" | tail -n 1
}

up() {
  step dockerd 90 "$here/test/dockerd.sh" start
  step images 1200 env PYTHON="$py" "$here/image/build-image.sh"
  local raw=${RAW_DIR:-}
  if [[ -z $raw ]]; then
    raw=$repo/deploy/build/raw
    [[ -d $raw/events ]] || step sample 300 "$py" -m recommendations.sample_data --out "$raw"
  fi
  [[ -d $raw/events && -f $raw/catalog/movies.csv ]] \
    || { echo "error: RAW_DIR=$raw holds no events/ and catalog/movies.csv (see docs/deployment.md)" >&2; exit 2; }
  local initial=${INITIAL_DATE:-}
  if [[ -z $initial ]]; then
    initial=$(find "$raw/events" -maxdepth 1 -name 'event_date=*' -printf '%f\n' | sort | tail -n 1)
    initial=${initial#event_date=}
    [[ -n $initial ]] || { echo "error: no events/event_date=YYYY-MM-DD folder under $raw" >&2; exit 2; }
  fi
  step postgres_up 240 "${dc[@]}" up -d --wait --wait-timeout 200 --pull never --no-build postgres
  step raw_into_volume 300 "${dc[@]}" --profile batch run --rm -T --pull never --no-deps --entrypoint sh \
    pipeline -c 'mkdir -p data/raw && exec tar -x -C data/raw' < <(tar -C "$raw" -c events catalog)
  timed initial_load pipeline_run initial_load initial_load "$initial"
  [[ -z ${DAILY_DATE:-} ]] || timed daily_run pipeline_run daily_run incremental "$DAILY_DATE"
  step api_scheduler_up 300 "${dc[@]}" up -d --wait --wait-timeout 240 --pull never --no-build api scheduler
  log "the stack is up: API on http://127.0.0.1:$SPARKJOBS_API_PORT (try /health, /recommendations/15)"
  log "stop it with: deploy/local_stack.sh down   (VOLUMES=1 also removes the lake and the database)"
}

case ${1:-} in
  up) up ;;
  down)
    if docker info >/dev/null 2>&1; then
      volumes=()
      [[ -z ${VOLUMES:-} ]] || volumes=(-v)
      "${dc[@]}" --profile batch down --remove-orphans -t 20 "${volumes[@]}"
    fi
    "$here/test/dockerd.sh" stop
    ;;
  status) "${dc[@]}" --profile batch ps -a ;;
  *)
    echo "usage: $(basename "$0") up|down|status" >&2
    exit 2
    ;;
esac
