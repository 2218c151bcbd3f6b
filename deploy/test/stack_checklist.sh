#!/usr/bin/env bash
# The seeds' verification checklist, run against a RUNNING stack (deploy_test.sh runs it; usable by
# hand on any running deployment):
#
#   POSTGRES_PASSWORD=... deploy/test/stack_checklist.sh -f deploy/docker-compose.yml -f deploy/local.yml
#
# Arguments are the compose file options of the running stack (COMPOSE_PROJECT_NAME as when it was
# started). Prints one line per check, `ok   NAME: detail` or `FAIL NAME: detail`, writes the same as
# JSON to $CHECKLIST_JSON when set, and exits 1 when any check failed (2 on bad usage).
#
# Checks:
#   network     every service of the configuration (all profiles) joins exactly the network
#               NETWORK (default sparkjobs_net, the seeds' uni_net), and so does every running container
#   services    the configuration's services are the documented set (docs/deployment.md, "Seed names")
#   running     the local stack's long-running services (postgres, api, scheduler) run and are healthy
#   scripts     inside the scheduler container: every deploy/**/*.sh exists, is executable, starts with
#               a #! line and passes `bash -n`; every script a compose command or healthcheck names is there
#   cron        inside the scheduler container: the scheduler's effective cron expression
#               (`sparkjobs schedule --print-crontab`) is EXPECTED_CRON (default: the configured one,
#               checked valid by croniter) and deploy/scheduler/crontab's entry parses and names an
#               executable run_daily_pipeline.sh
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
py=${PYTHON:-$repo/.venv/bin/python}
compose_bin=${COMPOSE_BIN:-$("$py" -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")')}
network=${NETWORK:-sparkjobs_net}
expected_services="api datanode1 datanode2 datanode3 ingestion loader namenode pipeline postgres processing scheduler"
long_running="api postgres scheduler"

(($# > 0)) || { echo "usage: $(basename "$0") -f COMPOSE_FILE [-f ...]" >&2; exit 2; }
dc=("$compose_bin" "$@")
results=()
failed=0

check() {  # check NAME STATUS DETAIL
  local mark=ok
  [[ $2 == ok ]] || { mark=FAIL; failed=1; }
  printf '%-4s %s: %s\n' "$mark" "$1" "$3"
  results+=("$("$py" -c 'import json, sys; print(json.dumps({"check": sys.argv[1], "ok": sys.argv[2] == "ok", "detail": sys.argv[3]}))' "$1" "$2" "$3")")
}

config=$("${dc[@]}" --profile '*' config --format json 2>&1) || { echo "compose config failed: $config" >&2; exit 2; }

# network: every configured service joins exactly $network
bad=$("$py" -c '
import json, sys
cfg, want = json.loads(sys.argv[1]), sys.argv[2]
names = {key: net.get("name", key) for key, net in (cfg.get("networks") or {}).items()}
bad = []
for svc, spec in sorted(cfg["services"].items()):
    joined = sorted(names.get(n, n) for n in (spec.get("networks") or {"default": None}))
    if joined != [want]:
        bad.append(svc + ": " + ", ".join(joined))
print("; ".join(bad))' "$config" "$network")
running_cids=$("${dc[@]}" ps -q)
for cid in $running_cids; do
  nets=$(docker inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' "$cid" | xargs)
  [[ $nets == "$network" ]] || bad+="${bad:+; }container $(docker inspect -f '{{.Name}}' "$cid"): $nets"
done
if [[ -z $bad ]]; then
  check network ok "every configured service and all $(wc -w <<<"$running_cids") running containers join only $network"
else
  check network fail "not only $network: $bad"
fi

# services: the documented set
services=$("$py" -c 'import json, sys; print(" ".join(sorted(json.loads(sys.argv[1])["services"])))' "$config")
if [[ $services == "$expected_services" ]]; then
  check services ok "$services"
else
  check services fail "configured: $services; documented: $expected_services"
fi

# running: the long-running services are up and healthy
bad=""
for svc in $long_running; do
  cid=$("${dc[@]}" ps -q "$svc" 2>/dev/null || true)
  if [[ -z $cid ]]; then
    bad+="${bad:+; }$svc not running"
    continue
  fi
  health=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}no healthcheck{{end}}' "$cid")
  [[ $health == healthy ]] || bad+="${bad:+; }$svc $health"
done
if [[ -z $bad ]]; then check running ok "$long_running healthy"; else check running fail "$bad"; fi

# scripts: inside the scheduler container (the sparkjobs image)
read -r -a named <<<"$("$py" -c '
import json, sys
cfg = json.loads(sys.argv[1])
words = set()
for s in cfg["services"].values():
    for key in ("entrypoint", "command"):
        v = s.get(key) or []
        words.update(v if isinstance(v, list) else v.split())
    words.update((s.get("healthcheck") or {}).get("test") or [])
print(" ".join(sorted(w for w in words if w.startswith("/opt/sparkjobs/") and w.endswith(".sh"))))' "$config")"
# shellcheck disable=SC2016  # the script runs inside the container
if out=$("${dc[@]}" exec -T scheduler bash -c '
  status=0
  mapfile -t files < <(find /opt/sparkjobs/deploy -name "*.sh" -type f | sort)
  ((${#files[@]} > 0)) || { echo "no *.sh under /opt/sparkjobs/deploy"; exit 1; }
  for f in "${files[@]}"; do
    [[ -x $f ]] || { echo "not executable: $f"; status=1; }
    [[ $(head -c 2 "$f") == "#!" ]] || { echo "no #! line: $f"; status=1; }
    bash -n "$f" 2>/dev/null || { echo "bash -n fails: $f"; status=1; }
  done
  for f in "$@"; do [[ -x $f ]] || { echo "named by compose, missing or not executable: $f"; status=1; }; done
  ((status == 0)) && echo "${#files[@]} scripts executable and parse; $# named by compose present"
  exit $status' _ "${named[@]}" 2>&1); then
  check scripts ok "$out"
else
  check scripts fail "$(tr '\n' ';' <<<"$out")"
fi

# cron: the scheduler's effective expression and the shipped crontab, inside the container
# shellcheck disable=SC2016  # the script runs inside the container
if out=$("${dc[@]}" exec -T -e "EXPECTED_CRON=${EXPECTED_CRON:-}" scheduler bash -c '
  set -o pipefail
  line=$(sparkjobs schedule recommendations_daily --print-crontab | grep -v "^#" | grep -v "^[A-Z_]*=" | head -n 1) \
    || { echo "--print-crontab failed"; exit 1; }
  expr=$(awk "{print \$1, \$2, \$3, \$4, \$5}" <<<"$line")
  python - "$expr" /opt/sparkjobs/deploy/scheduler/crontab <<"PY"
import os, sys
from croniter import croniter
expr, crontab = sys.argv[1], sys.argv[2]
want = os.environ.get("EXPECTED_CRON") or expr
if expr != want:
    sys.exit(f"scheduler fires on {expr!r}, expected {want!r}")
if not croniter.is_valid(expr):
    sys.exit(f"scheduler expression {expr!r} is not a valid cron expression")
entries = [l.split() for l in open(crontab) if l.strip() and not l.startswith("#") and "=" not in l.split()[0]]
if len(entries) != 1:
    sys.exit(f"{crontab}: expected one entry, found {len(entries)}")
entry = " ".join(entries[0][:5])
if not croniter.is_valid(entry):
    sys.exit(f"{crontab}: {entry!r} is not a valid cron expression")
script = entries[0][5]
if not (script.endswith("run_daily_pipeline.sh") and os.access(script, os.X_OK)):
    sys.exit(f"{crontab}: runs {script!r}, not an executable run_daily_pipeline.sh")
print(f"scheduler fires on {expr!r}; {crontab} runs {script} on {entry!r}")
PY' 2>&1); then
  check cron ok "$out"
else
  check cron fail "$(tr '\n' ';' <<<"$out")"
fi

if [[ -n ${CHECKLIST_JSON:-} ]]; then
  printf '%s\n' "${results[@]}" | "$py" -c 'import json, sys; print(json.dumps([json.loads(l) for l in sys.stdin], indent=2))' >"$CHECKLIST_JSON"
fi
exit "$failed"
