#!/usr/bin/env bash
# Build the wheelhouse the image installs from, on the host, from the package index pip is
# configured with: deploy/build/wheels/ holds every dependency of the framework's spark, postgres and
# api extras and of the reference app with its sample-data extra (reused when present),
# deploy/build/project/ the two wheels of this repository — sparkjobs (pyproject.toml, src/) and
# sparkjobs-recommendations (apps/recommendations/) — rebuilt when their sources changed. The image
# installs both with --no-index.
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
extras=spark,postgres,api
app_extras=spark,serving,sample-data
py=${PYTHON:-}
if [[ -z $py ]]; then
  if [[ -x $repo/.venv/bin/python ]]; then py=$repo/.venv/bin/python; else py=$(command -v python3); fi
fi
mkdir -p "$wheels" "$project"
started=$(date +%s)
stamp=$(cd "$repo" && find pyproject.toml README.md src apps/recommendations -type f ! -name '*.pyc' \
  ! -path '*/__pycache__/*' ! -path '*.egg-info/*' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
stamp=$stamp-$extras-$app_extras
if [[ -f $project/.inputs && $(<"$project/.inputs") == "$stamp" ]] && ls "$project"/sparkjobs-*.whl \
  "$project"/sparkjobs_recommendations-*.whl >/dev/null 2>&1; then
  echo "wheelhouse: the project wheel is up to date ($stamp)"
  exit 0
fi
rm -f "$project"/sparkjobs-*.whl "$project"/sparkjobs_recommendations-*.whl "$wheels"/sparkjobs-*.whl \
  "$wheels"/sparkjobs_recommendations-*.whl
# pip's own notes on this host's extra index folders and setuptools' licence warnings are noise here
# both on one command line, so that the app's `sparkjobs[...]` requirement is met by this checkout
"$py" -m pip wheel -q --find-links "$wheels" -w "$wheels" "${repo}[$extras]" \
  "${repo}/apps/recommendations[$app_extras]" 2>&1 \
  | grep -v -E 'is ignored: it is neither a file nor a directory|BuildBackendWarning|project.license|SPDX|\*\*\*\*|^ *!!|^ *$|By 20|See https|Please use|or your builds' \
  || true
for name in sparkjobs sparkjobs_recommendations; do
  if ! mv "$wheels"/"$name"-*.whl "$project/" 2>/dev/null; then
    echo "error: pip wheel did not produce the $name wheel" >&2
    exit 1
  fi
done
echo "$stamp" >"$project/.inputs"
echo "wheelhouse: $(find "$wheels" -name '*.whl' | wc -l) dependency wheels ($(du -sh "$wheels" | cut -f1))" \
  "+ $(cd "$project" && echo *.whl), $(($(date +%s) - started))s"
