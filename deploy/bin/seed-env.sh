#!/usr/bin/env bash
# The seeds' environment variable names, translated into sparkjobs configuration:
#
#   PROCESSING_WINDOW_DAYS=N  ->  SPARKJOBS__JOBS__BUILD_RECOMMENDATIONS__WINDOW_DAYS=N
#                                 (jobs.build_recommendations.window_days; the env layer, so a
#                                 --config file or --param that sets window_days still wins)
#
# An empty value means unset (compose passes `${PROCESSING_WINDOW_DAYS:-}` as ""). A value that is
# not a whole number >= 1, or one that disagrees with an explicit SPARKJOBS__ variable, exits 2.
#
#   source seed-env.sh && apply_seed_env      # batch.sh and the scheduler wrappers
#   seed-env.sh COMMAND [ARGS...]             # apply, then exec COMMAND (the scheduler service)
set -euo pipefail

apply_seed_env() {
  local days=${PROCESSING_WINDOW_DAYS:-}
  local target=SPARKJOBS__JOBS__BUILD_RECOMMENDATIONS__WINDOW_DAYS
  [[ -n $days ]] || return 0
  if ! [[ $days =~ ^[1-9][0-9]*$ ]]; then
    echo "error: PROCESSING_WINDOW_DAYS must be a whole number of days >= 1, got '$days'" >&2
    return 2
  fi
  if [[ -n ${!target:-} && ${!target} != "$days" ]]; then
    echo "error: PROCESSING_WINDOW_DAYS=$days and $target=${!target} disagree; set one of them" >&2
    return 2
  fi
  export "$target=$days"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  if [[ $# -eq 0 ]]; then
    echo "usage: $(basename "$0") COMMAND [ARGS...]" >&2
    exit 2
  fi
  apply_seed_env || exit $?
  exec "$@"
fi
