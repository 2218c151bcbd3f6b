#!/usr/bin/env bash
# Stop the Spark standalone cluster start-cluster.sh started, by the PIDs in its run dir:
# workers first (with any executor they still run), then the master. SIGTERM, then SIGKILL after
# SPARKJOBS_CLUSTER_STOP_TIMEOUT seconds (default 15). A PID is only signalled while it still is a
# Spark daemon or executor (a recycled PID is left alone). Logs and work dirs are kept.
#
#   SPARKJOBS_CLUSTER_DIR   run dir (default ./runs/spark-standalone)
set -euo pipefail

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
  sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi

cluster_dir=${SPARKJOBS_CLUSTER_DIR:-$PWD/runs/spark-standalone}
stop_timeout=${SPARKJOBS_CLUSTER_STOP_TIMEOUT:-15}
pid_dir=$cluster_dir/pids

if [[ ! -d $pid_dir ]]; then
  echo "no cluster run dir at $cluster_dir (nothing to stop)"
  exit 0
fi

is_spark() {  # is_spark PID: alive and still a Spark JVM of ours
  local cmd
  cmd=$(ps -p "$1" -o args= 2>/dev/null) || return 1
  [[ $cmd == *org.apache.spark.deploy.* || $cmd == *org.apache.spark.executor.* ]]
}

children_of() {
  if command -v pgrep >/dev/null; then pgrep -P "$1" || true; fi
}

targets=()
pidfiles=()
for pidfile in "$pid_dir"/worker-*.pid "$pid_dir"/master.pid; do
  [[ -e $pidfile ]] || continue
  pidfiles+=("$pidfile")
  pid=$(<"$pidfile")
  if is_spark "$pid"; then
    for child in $(children_of "$pid"); do
      if is_spark "$child"; then targets+=("$child"); fi
    done
    targets+=("$pid")
    echo "stopping $(basename "$pidfile" .pid) (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
  fi
done

deadline=$((SECONDS + stop_timeout))
for pid in "${targets[@]}"; do
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
  if is_spark "$pid"; then
    echo "pid $pid did not stop in ${stop_timeout}s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
done

for pidfile in "${pidfiles[@]}"; do rm -f "$pidfile"; done
echo "stopped (logs kept in $cluster_dir/logs)"
