#!/usr/bin/env bash
# Start PostgreSQL the way the official image does: on first start (empty $PGDATA) create the cluster
# with superuser $POSTGRES_USER (password $POSTGRES_PASSWORD, required) and database $POSTGRES_DB;
# then run the server in the foreground, listening on every interface, password auth over TCP.
# Started as root, it prepares the directories and re-executes itself as the postgres user.
set -euo pipefail

data=${PGDATA:-/var/lib/postgresql/data}
if [[ $(id -u) -eq 0 ]]; then
  mkdir -p "$data" /var/run/postgresql
  chown -R postgres:postgres "$data" /var/run/postgresql
  chmod 0700 "$data"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}
if [[ ! -s $data/PG_VERSION ]]; then
  : "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  initdb -D "$data" -U "$user" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C >/dev/null
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >>"$data/pg_hba.conf"
  if [[ $db != postgres ]]; then
    pg_ctl -D "$data" -o "-c listen_addresses=''" -w start >/dev/null
    createdb -h /var/run/postgresql -U "$user" "$db"
    pg_ctl -D "$data" -m fast -w stop >/dev/null
  fi
  echo "postgres-entrypoint: initialised $data (user $user, database $db)"
fi
exec postgres -D "$data" -c listen_addresses='*' "$@"
