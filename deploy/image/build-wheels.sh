#!/usr/bin/env bash
# Build the wheelhouse the image installs from, on the host, from the package index pip is
# configured with: deploy/build/wheels/ holds every dependency of the spark, postgres, api and
# sample-data extras (reused when present), deploy/build/project/ the project's own wheel (rebuilt
# when pyproject.toml, README.md or src/ changed). The image installs both with --no-index.
#
#   deploy/image/build-wheels.sh
#
# Environment: PYTHON (default <repo>/.venv/bin/python, else python3), BUILD_DIR (deploy/build).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
build_dir=${BUILD_DIR:-$repo/deploy/build}
wheels=$build_dir/wheels
project=$build_dir/project
extras=spark,postgres,api,sample-data
py=${PYTHON:-}
if [[ -z $py ]]; then
  if [[ -x $repo/.venv/bin/python ]]; then py=$repo/.venv/bin/python; else py=$(command -v python3); fi
fi
mkdir -p "$wheels" "$project"
started=$(date +%s)
stamp=$(cd "$repo" && find pyproject.toml README.md src -type f ! -name '*.pyc' ! -path '*/__pycache__/*' -print0 \
  | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)-$extras
if [[ -f $project/.inputs && $(<"$project/.inputs") == "$stamp" ]] && ls "$project"/sparkjobs-*.whl >/dev/null 2>&1; then
  echo "wheelhouse: the project wheel is up to date ($stamp)"
  exit 0
fi
rm -f "$project"/sparkjobs-*.whl "$wheels"/sparkjobs-*.whl
# pip's own notes on this host's extra index folders and setuptools' licence warnings are noise here
"$py" -m pip wheel -q --find-links "$wheels" -w "$wheels" "${repo}[$extras]" 2>&1 \
  | grep -v -E 'is ignored: it is neither a file nor a directory|BuildBackendWarning|project.license|SPDX|\*\*\*\*|^ *!!|^ *$|By 20|See https|Please use|or your builds' \
  || true
if ! mv "$wheels"/sparkjobs-*.whl "$project/" 2>/dev/null; then
  echo "error: pip wheel did not produce the sparkjobs wheel" >&2
  exit 1
fi
echo "$stamp" >"$project/.inputs"
echo "wheelhouse: $(find "$wheels" -name '*.whl' | wc -l) dependency wheels ($(du -sh "$wheels" | cut -f1))" \
  "+ $(basename "$project"/sparkjobs-*.whl), $(($(date +%s) - started))s"
