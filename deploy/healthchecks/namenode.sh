#!/usr/bin/env bash
# NameNode health: its web endpoint answers and JMX says the NameNode is active (not in safe mode).
# Exit 0 healthy, 1 unhealthy. NAMENODE_HOST (default namenode), NAMENODE_HTTP_PORT (9870).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=_http.sh
source "$(dirname "${BASH_SOURCE[0]}")/_http.sh"

host=${NAMENODE_HOST:-namenode}
port=${NAMENODE_HTTP_PORT:-9870}
base="http://$host:$port"

if ! status=$(http_get "$base/jmx?qry=Hadoop:service=NameNode,name=NameNodeStatus"); then
  echo "unhealthy: NameNode at $base does not answer" >&2
  exit 1
fi
state=$(printf '%s' "$status" | tr -d '\n' | sed -n 's/.*"State"[[:space:]]*:[[:space:]]*"\([a-z]*\)".*/\1/p')
if [[ "$state" != "active" ]]; then
  echo "unhealthy: NameNode state is '${state:-unknown}', expected 'active'" >&2
  exit 1
fi
info=$(http_get "$base/jmx?qry=Hadoop:service=NameNode,name=NameNodeInfo" || true)
safemode=$(printf '%s' "$info" | tr -d '\n' | sed -n 's/.*"Safemode"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')
if [[ -n "$safemode" ]]; then
  echo "unhealthy: NameNode is in safe mode: $safemode" >&2
  exit 1
fi
echo "healthy: NameNode at $base is active"
exit 0
