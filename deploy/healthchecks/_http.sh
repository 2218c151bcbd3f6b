#!/usr/bin/env bash
# Shared by the healthcheck scripts: fetch a URL's body; fail (exit 1) on a network error or a
# non-2xx status. Uses curl, else wget, else python3 — whichever the container has.
set -euo pipefail

http_get() {
  local url=$1 timeout=${2:-5}
  if command -v curl >/dev/null 2>&1; then
    curl -fsS --max-time "$timeout" "$url"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -T "$timeout" -O - "$url"
  elif command -v python3 >/dev/null 2>&1; then
    python3 - "$url" "$timeout" <<'PY'
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=float(sys.argv[2])) as resp:
        sys.stdout.write(resp.read().decode("utf-8", "replace"))
except Exception as exc:  # HTTPError for 4xx/5xx, URLError, timeouts
    print(f"{sys.argv[1]}: {exc}", file=sys.stderr)
    sys.exit(1)
PY
  else
    echo "no curl, wget or python3 to run an HTTP check" >&2
    return 1
  fi
}
