#!/usr/bin/env bash
# Run a batch command and leave its state where healthchecks/batch.sh looks for it.
#
#   batch.sh NAME COMMAND [ARGS...]
#
# Writes $SPARKJOBS_STATUS_DIR/NAME.pid while COMMAND runs and NAME.exit (its exit code) when it
# ends; exits with COMMAND's exit code. SIGTERM/SIGINT are passed on to COMMAND (sparkjobs then
# finishes the running step and stops). The seeds' PROCESSING_WINDOW_DAYS is applied first
# (seed-env.sh); a bad value exits 2 like any other configuration error.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=seed-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/seed-env.sh"

if [[ $# -lt 2 ]]; then
  echo "usage: $(basename "$0") NAME COMMAND [ARGS...]" >&2
  exit 2
fi
name=$1
shift
status_dir=${SPARKJOBS_STATUS_DIR:-/var/run/sparkjobs}
mkdir -p "$status_dir"
rm -f "$status_dir/$name.exit"
if ! apply_seed_env; then
  echo 2 >"$status_dir/$name.exit"
  exit 2
fi

"$@" &
child=$!
echo "$child" >"$status_dir/$name.pid"
# shellcheck disable=SC2329  # invoked by the traps below
forward() { kill -s "$1" "$child" 2>/dev/null || true; }
trap 'forward TERM' TERM
trap 'forward INT' INT

code=0
# `wait` returns early when a trapped signal arrives: keep waiting until the child is gone
while true; do
  if wait "$child"; then
    code=0
  else
    code=$?
  fi
  kill -0 "$child" 2>/dev/null || break
done
echo "$code" >"$status_dir/$name.exit"
rm -f "$status_dir/$name.pid"
exit "$code"
