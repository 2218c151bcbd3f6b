#!/usr/bin/env bash
# PostgreSQL health: the server accepts connections (pg_isready) and answers a query (psql).
# Exit 0 healthy, 1 unhealthy. PGHOST (default postgres), PGPORT (5432), PGUSER (postgres),
# PGDATABASE (defaults to PGUSER); the password, if any, from PGPASSWORD or ~/.pgpass.
set -euo pipefail

export PGHOST=${PGHOST:-postgres}
export PGPORT=${PGPORT:-5432}
export PGUSER=${PGUSER:-postgres}
export PGDATABASE=${PGDATABASE:-$PGUSER}
export PGCONNECT_TIMEOUT=${PGCONNECT_TIMEOUT:-5}

if ! pg_isready -q -t "$PGCONNECT_TIMEOUT"; then
  echo "unhealthy: PostgreSQL at $PGHOST:$PGPORT does not accept connections" >&2
  exit 1
fi
if command -v psql >/dev/null 2>&1; then
  if ! answer=$(psql -XAtqc 'select 1' 2>&1) || [[ "$answer" != "1" ]]; then
    echo "unhealthy: PostgreSQL at $PGHOST:$PGPORT accepts connections but 'select 1' failed: $answer" >&2
    exit 1
  fi
fi
echo "healthy: PostgreSQL at $PGHOST:$PGPORT database $PGDATABASE"
exit 0
