#!/usr/bin/env bash
# DataNode health: the NameNode's JMX reports at least MIN_LIVE_DATANODES (default 1) live DataNodes.
# Exit 0 healthy, 1 unhealthy. NAMENODE_HOST (default namenode), NAMENODE_HTTP_PORT (9870).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=_http.sh
source "$(dirname "${BASH_SOURCE[0]}")/_http.sh"

host=${NAMENODE_HOST:-namenode}
port=${NAMENODE_HTTP_PORT:-9870}
minimum=${MIN_LIVE_DATANODES:-1}
url="http://$host:$port/jmx?qry=Hadoop:service=NameNode,name=FSNamesystemState"

if ! body=$(http_get "$url"); then
  echo "unhealthy: cannot read NameNode JMX at $url" >&2
  exit 1
fi
live=$(printf '%s' "$body" | tr -d '\n' | sed -n 's/.*"NumLiveDataNodes"[[:space:]]*:[[:space:]]*\([0-9][0-9]*\).*/\1/p')
if [[ -z "$live" ]]; then
  echo "unhealthy: NumLiveDataNodes missing from $url" >&2
  exit 1
fi
if (( live < minimum )); then
  echo "unhealthy: $live live DataNode(s), need at least $minimum" >&2
  exit 1
fi
echo "healthy: $live live DataNode(s)"
exit 0
