#!/usr/bin/env bash
# The deployment test (`make deploy-test`; tests/app/e2e/test_deploy_stack.py runs it and checks what it
# leaves in the work directory): a private dockerd, the images, the local stack, the pipeline inside
# the containers on a MovieLens slice, the API from the host, a killed API restarted by compose, a
# per-minute scheduler fire seen in the run ledger — then `down -v` and dockerd stopped, always.
#
#   deploy/test/deploy_test.sh                 # the whole test; exit 0 when every check passed
#   deploy/test/deploy_test.sh sample DIR      # only write the sliced sample (and _slice.json) into DIR
#
# Environment:
#   PYTHON                 the venv python with sparkjobs installed (default <repo>/.venv/bin/python)
#   DEPLOY_TEST_WORKDIR    where logs and answers go (default: a new temp directory, printed)
#   DEPLOY_TEST_SAMPLE     a sample written by `sample DIR` to use instead of writing one
#   DEPLOY_TEST_TIMEOUT    budget of the whole run in seconds (default 1500); cleanup comes on top
#   SPARKJOBS_API_PORT     host port of the API (default 18000, 127.0.0.1 only)
#
# Work directory afterwards: result.json (timings, /health, restart count, scheduler run, container
# health), api/recommendations/<user>.json (answers from the host), ledger.json, *.log, compose.log.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
py=${PYTHON:-$repo/.venv/bin/python}

# the sample: MovieLens (+1% re-sent, 10 malformed lines) from SLICE_FROM to its last day; the
# first days go in the initial load, the last day is the daily run
SLICE_FROM=2016-07-17
WINDOW_DAYS=92
INITIAL_DATE=2016-10-15
DAILY_DATE=2016-10-16
MAX_REJECTED_RATIO=0.25  # also in deploy/test/deploy-test.yml

log() { printf '%s [%4ss] %s\n' "$(date -u +%H:%M:%S)" "$((SECONDS))" "$*"; }

write_sample() {
  local out=$1 full
  full=$(mktemp -d)
  "$py" -m recommendations.sample_data --out "$full" --resend-fraction 0.01 --malformed 10 >/dev/null
  mkdir -p "$out/events"
  cp -a "$full/catalog" "$out/"
  local dir day
  for dir in "$full"/events/event_date=*; do
    day=${dir##*=}
    [[ $day < $SLICE_FROM ]] || cp -a "$dir" "$out/events/"
  done
  rm -rf "$full"
  cat >"$out/_slice.json" <<EOF
{"from": "$SLICE_FROM", "window_days": $WINDOW_DAYS, "initial_date": "$INITIAL_DATE",
 "daily_date": "$DAILY_DATE", "max_rejected_ratio": $MAX_REJECTED_RATIO}
EOF
}

if [[ ${1:-} == sample ]]; then
  [[ -n ${2:-} ]] || { echo "usage: $(basename "$0") sample DIR" >&2; exit 2; }
  write_sample "$2"
  exit 0
fi
[[ $# -eq 0 ]] || { echo "usage: $(basename "$0") [sample DIR]" >&2; exit 2; }

budget=${DEPLOY_TEST_TIMEOUT:-1500}
# the whole run is bounded: re-run this script under timeout; the EXIT trap below cleans up
if [[ -z ${_DEPLOY_TEST_BOUNDED:-} ]]; then
  _DEPLOY_TEST_BOUNDED=1 exec timeout -k 180 "$budget" "$0" "$@"
fi

work=${DEPLOY_TEST_WORKDIR:-$(mktemp -d -t sparkjobs-deploy-test.XXXXXX)}
mkdir -p "$work/api/recommendations"
compose_bin=${COMPOSE_BIN:-$("$py" -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")')}
export COMPOSE_PROJECT_NAME=sparkjobs-deploytest
export POSTGRES_PASSWORD=${POSTGRES_PASSWORD:-deploy-test-$RANDOM$RANDOM}
export SPARKJOBS_API_PORT=${SPARKJOBS_API_PORT:-18000}
export PROCESSING_WINDOW_DAYS=$WINDOW_DAYS
# the scheduler maps each per-minute fire to DAILY_DATE (deploy/test/deploy-test.yml); set before the stack starts
export DEPLOY_TEST_DATE_OFFSET=0
api=http://127.0.0.1:$SPARKJOBS_API_PORT
dc=("$compose_bin" -f "$repo/deploy/docker-compose.yml" -f "$repo/deploy/local.yml" -f "$here/deploy-test.yml")
timings=()

step() {  # step NAME SECONDS COMMAND...: one bounded step, its time recorded
  local name=$1 limit=$2 t0=$SECONDS
  shift 2
  log "== $name"
  timeout -k 10 "$limit" "$@"
  timings+=("\"$name\": $((SECONDS - t0))")
  log "   $name: $((SECONDS - t0))s"
}
cleanup() {
  local code=$?
  trap - EXIT TERM INT
  set +e
  log "cleanup (exit code $code)"
  if docker info >/dev/null 2>&1; then
    timeout 60 "${dc[@]}" --profile batch ps -a >"$work/ps.txt" 2>&1
    timeout 60 "${dc[@]}" --profile batch logs --no-color --timestamps >"$work/compose.log" 2>&1
    local t0=$SECONDS
    timeout -k 10 120 "${dc[@]}" --profile batch down -v --remove-orphans -t 20 >"$work/down.log" 2>&1
    log "down -v: exit $? in $((SECONDS - t0))s"
  fi
  timeout -k 10 90 "$here/dockerd.sh" stop
  if ((code == 0)); then
    log "DEPLOY TEST PASSED in ${SECONDS}s (work dir $work)"
  else
    log "DEPLOY TEST FAILED (exit $code) after ${SECONDS}s; logs in $work"
  fi
  exit "$code"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

fail() { log "FAIL: $*"; exit 1; }
health_of() { docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$1"; }
wait_healthy() {  # wait_healthy CONTAINER SECONDS
  local deadline=$((SECONDS + $2))
  until [[ $(health_of "$1" 2>/dev/null) == healthy ]]; do
    ((SECONDS < deadline)) || return 1
    sleep 2
  done
}

log "work dir $work; API on $api; window $WINDOW_DAYS days"

sample=${DEPLOY_TEST_SAMPLE:-}
if [[ -z $sample ]]; then
  sample=$work/sample
  step sample 180 "$0" sample "$sample"
fi
[[ -f $sample/_slice.json ]] || fail "$sample is not a sample written by '$0 sample DIR'"

# the scheduler maps a fire to today - DEPLOY_TEST_DATE_OFFSET: a fire after midnight UTC would run
# 2016-10-17 (no data). Up to its fire takes well under 20 minutes: that close to midnight, wait for
# the new day first, so the offset computed here holds until the fire.
to_midnight=$((86400 - $(date -u +%s) % 86400))
if ((to_midnight < 1200)); then
  log "== waiting ${to_midnight}s for midnight UTC (the scheduler's date offset must hold until its fire)"
  sleep $((to_midnight + 5))
fi
DEPLOY_TEST_DATE_OFFSET=$((($(date -u +%s) - $(date -u -d "$DAILY_DATE" +%s)) / 86400))
log "scheduler date offset $DEPLOY_TEST_DATE_OFFSET (a fire today runs $DAILY_DATE)"

# the stack as `make deploy-up` brings it up (deploy/local_stack.sh): dockerd, images, postgres, the
# slice into the lake volume, the initial load and the daily run inside the pipeline container,
# then the API and the scheduler
: >"$work/timings.txt"
RAW_DIR=$sample INITIAL_DATE=$INITIAL_DATE DAILY_DATE=$DAILY_DATE COMPOSE_FILES="-f $here/deploy-test.yml" \
  TIMINGS_FILE=$work/timings.txt LOG_DIR=$work PYTHON="$py" COMPOSE_BIN="$compose_bin" \
  "$repo/deploy/local_stack.sh" up || fail "deploy/local_stack.sh up failed"
mapfile -t -O "${#timings[@]}" timings <"$work/timings.txt"
api_cid=$("${dc[@]}" ps -q api)
scheduler_cid=$("${dc[@]}" ps -q scheduler)
curl -sS -o "$work/health.json" -w '%{http_code}' "$api/health" >"$work/health.code"
log "GET /health from the host: $(<"$work/health.code") $(<"$work/health.json")"
[[ $(<"$work/health.code") == 200 ]] || fail "/health answered $(<"$work/health.code")"

# kill the API's main process from the host (docker kill/stop would count as a manual stop)
restarts_before=$(docker inspect -f '{{.RestartCount}}' "$api_cid")
api_pid=$(docker inspect -f '{{.State.Pid}}' "$api_cid")
log "== api_restart: kill -9 $api_pid (host PID of the API container's PID 1)"
t0=$SECONDS
kill -9 "$api_pid"
deadline=$((SECONDS + 180))
until [[ $(docker inspect -f '{{.RestartCount}}' "$api_cid") -gt $restarts_before ]]; do
  ((SECONDS < deadline)) || fail "compose did not restart the API within 180s"
  sleep 1
done
wait_healthy "$api_cid" 180 || fail "the restarted API did not become healthy within 180s"
restarts_after=$(docker inspect -f '{{.RestartCount}}' "$api_cid")
timings+=("\"api_restart\": $((SECONDS - t0))")
log "   api_restart: restart count $restarts_before -> $restarts_after, healthy again after $((SECONDS - t0))s"

# the per-minute schedule: wait for a fire that ran the pipeline, recorded in the PostgreSQL ledger
log "== scheduler_fire: waiting for a run with trigger=schedule in the ledger"
t0=$SECONDS
deadline=$((SECONDS + 360))
while true; do
  if "${dc[@]}" exec -T scheduler sparkjobs pipeline status recommendations_daily --format json --limit 10 \
    >"$work/ledger.json" 2>"$work/ledger.err"; then
    fire=$("$py" -c '
import json, sys
runs = [r for r in json.load(open(sys.argv[1]))["runs"] if r["trigger"] == "schedule"]
done = [r for r in runs if r["status"] != "running"]
print(json.dumps(done[-1]) if done else "")' "$work/ledger.json")
    [[ -z $fire ]] || break
  fi
  ((SECONDS < deadline)) || fail "no finished scheduler fire in the ledger within 360s"
  sleep 5
done
echo "$fire" >"$work/scheduler_fire.json"
timings+=("\"scheduler_fire\": $((SECONDS - t0))")
log "   scheduler_fire: $(cut -c1-200 <<<"$fire")"

# the API's answers from the host, for every user of the sample and one it never saw
users=$(cat "$sample"/events/*/part-*.csv | awk -F, 'NR > 1 && $1 ~ /^[0-9]+$/ {print $1}' | sort -un)
for user in $users 999999; do
  curl -fsS "$api/recommendations/$user?limit=10" >"$work/api/recommendations/$user.json" \
    || fail "GET /recommendations/$user failed"
done
curl -sS -o "$work/health_after.json" -w '%{http_code}' "$api/health" >"$work/health_after.code"
log "fetched /recommendations for $(wc -w <<<"$users") users + 1 unknown"

# every container of the stack reports healthy
: >"$work/containers.txt"
unhealthy=0
for cid in $("${dc[@]}" ps -q); do
  line="$(docker inspect -f '{{.Name}}' "$cid") $(health_of "$cid")"
  echo "$line" >>"$work/containers.txt"
  [[ $line == *" healthy" ]] || unhealthy=1
done
log "containers: $(tr '\n' ';' <"$work/containers.txt")"
((unhealthy == 0)) || fail "not every container is healthy"

# the seeds' verification checklist against the running stack (network, services, scripts, cron)
log "== checklist: deploy/test/stack_checklist.sh against the running stack"
checklist_rc=0
EXPECTED_CRON='* * * * *' CHECKLIST_JSON="$work/checklist.json" PYTHON="$py" COMPOSE_BIN="$compose_bin" \
  timeout -k 10 180 "$here/stack_checklist.sh" "${dc[@]:1}" >"$work/checklist.txt" 2>&1 || checklist_rc=$?
sed 's/^/   /' "$work/checklist.txt"
((checklist_rc == 0)) || fail "the checklist failed (exit $checklist_rc)"

"$py" - "$work" "$restarts_before" "$restarts_after" "$scheduler_cid" "${timings[@]}" <<'PY'
import json, pathlib, sys
work = pathlib.Path(sys.argv[1])
timings = json.loads("{" + ", ".join(sys.argv[5:]) + "}")
result = {
    "health": {"status": int((work / "health.code").read_text()), "body": json.loads((work / "health.json").read_text())},
    "health_after": {"status": int((work / "health_after.code").read_text()),
                     "body": json.loads((work / "health_after.json").read_text())},
    "api_restarts": {"before": int(sys.argv[2]), "after": int(sys.argv[3])},
    "scheduler_fire": json.loads((work / "scheduler_fire.json").read_text()),
    "scheduler_container": sys.argv[4],
    "containers": dict(line.rsplit(" ", 1) for line in (work / "containers.txt").read_text().splitlines()),
    "checklist": json.loads((work / "checklist.json").read_text()),
    "timings_s": timings,
}
(work / "result.json").write_text(json.dumps(result, indent=2))
PY
log "result: $work/result.json; timings: ${timings[*]}"
