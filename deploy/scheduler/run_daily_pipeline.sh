#!/usr/bin/env bash
# The daily run: recommendations_daily in incremental mode (MODE) for EVENT_DATE (default: yesterday, UTC).
#
#   run_daily_pipeline.sh [extra `sparkjobs pipeline run` flags, e.g. --env prod]
#
#   EVENT_DATE=2024-03-01 run_daily_pipeline.sh          # one past date
#   BACKFILL_FROM=2024-03-01 BACKFILL_TO=2024-03-07 ...  # a range, one run per date, in order
#
# A thin wrapper: retries (per step, transient errors only), the run ledger, the one-run-per-date
# lock (exit 2 when that date is already running) and resume hints all come from the runner.
# Environment: PIPELINE (default recommendations_daily), SPARKJOBS_BIN (default sparkjobs),
# SPARKJOBS_WORKDIR (default: the directory holding conf/, two levels above this script).
# MODE (the seeds' name): incremental (default) or initial_load, which makes this run the one-time
# initial load (as run_initial_load.sh does). PROCESSING_WINDOW_DAYS: see deploy/bin/seed-env.sh.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../bin/seed-env.sh
source "$here/../bin/seed-env.sh"
mode=${MODE:-incremental}
if [[ $mode != incremental && $mode != initial_load ]]; then
  echo "error: MODE must be initial_load or incremental, got '$mode'" >&2
  exit 2
fi
apply_seed_env || exit $?
workdir=${SPARKJOBS_WORKDIR:-$(cd "$here/../.." && pwd)}
pipeline=${PIPELINE:-recommendations_daily}
sparkjobs=${SPARKJOBS_BIN:-sparkjobs}

if [[ -n "${BACKFILL_FROM:-}" || -n "${BACKFILL_TO:-}" ]]; then
  dates=(--from "${BACKFILL_FROM:?BACKFILL_FROM and BACKFILL_TO go together}" --to "${BACKFILL_TO:?BACKFILL_FROM and BACKFILL_TO go together}")
else
  event_date=${EVENT_DATE:-$(date -u -d yesterday +%F)}
  dates=(--date "$event_date")
fi

started=$(date -u +%s)
echo "$(date -u +%FT%TZ) run_daily_pipeline: $pipeline ${dates[*]} ($mode) starting in $workdir"
cd "$workdir"
code=0
"$sparkjobs" pipeline run "$pipeline" --mode "$mode" "${dates[@]}" "$@" || code=$?
echo "$(date -u +%FT%TZ) run_daily_pipeline: $pipeline ${dates[*]} finished with exit code $code" \
  "after $(( $(date -u +%s) - started ))s"
exit "$code"
