#!/usr/bin/env bash
# Build a local Debian base image where none can be pulled (CI, air-gapped hosts):
# debootstrap minbase bookworm with python3, imported into docker. Prints the image id.
#   images/make-local-base.sh [TAG]   (default loomctl/base:bookworm-python3; needs root)
set -euo pipefail
tag="${1:-loomctl/base:bookworm-python3}"
if docker image inspect "$tag" >/dev/null 2>&1; then
  docker image inspect --format '{{.Id}}' "$tag"
  exit 0
fi
root="$(mktemp -d /tmp/loomctl-base.XXXXXX)"
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$root" \
  http://deb.debian.org/debian >&2
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["/bin/bash"]' - "$tag" >&2
docker image inspect --format '{{.Id}}' "$tag"
