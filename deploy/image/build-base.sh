#!/usr/bin/env bash
# Build the hermetic base image (no registry, no network inside any docker build):
# a Debian bookworm rootfs made by mmdebstrap from this machine's own apt sources, imported as
# $BASE_IMAGE. It holds everything the services need from the OS: Python 3.11 (+venv), a Java 17
# runtime, tini, procps, curl, the PostgreSQL 15 client and server (the local stack's database).
#
#   deploy/image/build-base.sh            # skips the build when $BASE_IMAGE already exists
#   FORCE=1 deploy/image/build-base.sh    # rebuild
#
# Environment: BASE_IMAGE (default sparkjobs-base:bookworm), BUILD_DIR (default deploy/build),
# APT_SOURCES (default /etc/apt/sources.list.d/debian.sources, else /etc/apt/sources.list).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
base_image=${BASE_IMAGE:-sparkjobs-base:bookworm}
build_dir=${BUILD_DIR:-$here/../build}
packages=ca-certificates,python3,python3-venv,default-jre-headless,tini,procps,curl,postgresql-client,postgresql

if [[ -z ${FORCE:-} ]] && docker image inspect "$base_image" >/dev/null 2>&1; then
  echo "base image $base_image exists (FORCE=1 rebuilds it)"
  exit 0
fi
command -v mmdebstrap >/dev/null || {
  echo "error: mmdebstrap not found (apt-get install -y --no-install-recommends mmdebstrap)" >&2
  exit 2
}
sources=${APT_SOURCES:-}
if [[ -z $sources ]]; then
  if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
    sources=/etc/apt/sources.list.d/debian.sources
  else
    sources=/etc/apt/sources.list
  fi
fi
mkdir -p "$build_dir"
rootfs=$build_dir/rootfs.tar
started=$(date +%s)
echo "mmdebstrap: bookworm minbase + $packages (apt sources: $sources)"
# docs, man pages, locales and apt lists are dropped after the install (nothing installs later;
# excluding man pages at unpack time breaks the JRE's update-alternatives)
# shellcheck disable=SC2016  # $1 is the rootfs, expanded by mmdebstrap's hook shell
mmdebstrap --variant=minbase --include="$packages" \
  --customize-hook='rm -rf "$1"/usr/share/doc/* "$1"/usr/share/man/* "$1"/usr/share/locale/* "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
  bookworm "$rootfs" "$sources"
echo "rootfs $(du -h "$rootfs" | cut -f1) in $(($(date +%s) - started))s; importing as $base_image"
docker import "$rootfs" "$base_image"
rm -f "$rootfs"
echo "base image $base_image ready after $(($(date +%s) - started))s"
