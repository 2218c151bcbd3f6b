#!/usr/bin/env bash
# The one-time initial load: recommendations_daily in initial_load mode for EVENT_DATE
# (default: yesterday, UTC) — every step whose job has a `mode` setting gets `initial_load`.
#
#   run_initial_load.sh [extra `sparkjobs pipeline run` flags, e.g. --env prod]
#   EVENT_DATE=2024-03-01 run_initial_load.sh
#
# A thin wrapper: retries, the run ledger, the one-run-per-date lock (exit 2 when that date is
# already running) and resume hints come from `sparkjobs pipeline run`. A failed load exits 1 and
# prints the exact `--resume` command. Environment: PIPELINE, SPARKJOBS_BIN, SPARKJOBS_WORKDIR as
# in run_daily_pipeline.sh. MODE (the seeds' name) may be unset or initial_load; anything else exits 2.
# PROCESSING_WINDOW_DAYS: see deploy/bin/seed-env.sh.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../bin/seed-env.sh
source "$here/../bin/seed-env.sh"
if [[ -n ${MODE:-} && $MODE != initial_load ]]; then
  echo "error: MODE=$MODE, but run_initial_load.sh always runs initial_load (use run_daily_pipeline.sh for incremental)" >&2
  exit 2
fi
apply_seed_env || exit $?
workdir=${SPARKJOBS_WORKDIR:-$(cd "$here/../.." && pwd)}
pipeline=${PIPELINE:-recommendations_daily}
sparkjobs=${SPARKJOBS_BIN:-sparkjobs}
event_date=${EVENT_DATE:-$(date -u -d yesterday +%F)}

started=$(date -u +%s)
echo "$(date -u +%FT%TZ) run_initial_load: $pipeline --date $event_date (initial_load) starting in $workdir"
cd "$workdir"
code=0
"$sparkjobs" pipeline run "$pipeline" --mode initial_load --date "$event_date" "$@" || code=$?
echo "$(date -u +%FT%TZ) run_initial_load: $pipeline --date $event_date finished with exit code $code" \
  "after $(( $(date -u +%s) - started ))s"
exit "$code"
