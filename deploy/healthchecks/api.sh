#!/usr/bin/env bash
# API health: GET /health answers 2xx (the API answers 503 while it has no servable snapshot).
# Exit 0 healthy, 1 unhealthy. API_HOST (default localhost), API_PORT (8000), API_TIMEOUT_S (5).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=_http.sh
source "$(dirname "${BASH_SOURCE[0]}")/_http.sh"

url="http://${API_HOST:-localhost}:${API_PORT:-8000}/health"
if ! body=$(http_get "$url" "${API_TIMEOUT_S:-5}"); then
  echo "unhealthy: $url did not answer 2xx" >&2
  exit 1
fi
echo "healthy: $url ${body:0:200}"
exit 0
