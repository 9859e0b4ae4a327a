#!/usr/bin/env bash
# Build dripr:local. With a Docker engine: docker build. Without one (these machines): buildah on
# a Debian bookworm base made with debootstrap, as ../shared/recipes/containers-without-docker.md
# describes; the base is made once (about 2 minutes) and kept.
set -euo pipefail
cd "$(dirname "$0")/../.."
IMAGE=${IMAGE:-localhost/dripr:local}

if docker info >/dev/null 2>&1; then
  exec docker build -t "$IMAGE" .
fi

STORAGE=(--storage-driver vfs)
BASE=localhost/debian-py311:bookworm
for tool in buildah podman debootstrap; do
  command -v "$tool" >/dev/null || { apt-get update -qq && apt-get install -y -qq buildah podman debootstrap runc; break; }
done
if ! podman "${STORAGE[@]}" image exists "$BASE"; then
  work=$(mktemp -d)
  debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
    bookworm "$work/rootfs" >/dev/null
  tar -C "$work/rootfs" -c . | podman "${STORAGE[@]}" import --change 'CMD ["/bin/bash"]' - "$BASE"
  rm -rf "$work"
fi
# This network reaches the package index through its own certificate authority, which a bare root
# file system lacks: both mounts are this machine's, not the image's.
pipconf=$(mktemp)
printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' > "$pipconf"
buildah "${STORAGE[@]}" bud --isolation chroot --layers --network host --format docker \
  --build-arg BASE="$BASE" \
  -v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro \
  -v "$pipconf:/etc/pip.conf:ro" \
  -t "$IMAGE" -f Dockerfile .
rm -f "$pipconf"
