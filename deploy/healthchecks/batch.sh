#!/usr/bin/env bash
# Batch service health (ingestion, processing, loader, pipeline): running, or exited cleanly.
#
#   batch.sh NAME
#
# Reads what deploy/bin/batch.sh leaves in $SPARKJOBS_STATUS_DIR (default /var/run/sparkjobs):
# NAME.exit holds the exit code once the command ended (healthy only if 0); otherwise NAME.pid
# names the running process (healthy while it is alive). Exit 0 healthy, 1 unhealthy.
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $(basename "$0") NAME" >&2
  exit 1
fi
name=$1
dir=${SPARKJOBS_STATUS_DIR:-/var/run/sparkjobs}

if [[ -f "$dir/$name.exit" ]]; then
  code=$(<"$dir/$name.exit")
  if [[ "$code" == "0" ]]; then
    echo "healthy: $name exited cleanly"
    exit 0
  fi
  echo "unhealthy: $name exited with code $code" >&2
  exit 1
fi
if [[ -f "$dir/$name.pid" ]]; then
  pid=$(<"$dir/$name.pid")
  if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
    echo "healthy: $name is running (pid $pid)"
    exit 0
  fi
  echo "unhealthy: $name (pid ${pid:-?}) is gone without an exit code" >&2
  exit 1
fi
echo "unhealthy: $name has not started (nothing in $dir)" >&2
exit 1
