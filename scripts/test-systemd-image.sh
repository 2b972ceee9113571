#!/usr/bin/env bash
# Builds the local Docker image luna-test/debian-systemd:12, idempotently: Debian 12 with systemd
# as PID 1, in which the installer test (tests/integration/installer.rs) runs install/install.sh
# and the unit it installs, as on a real server.
#
# Docker Hub is out of reach, so the image is made from Debian's own archive: debootstrap a
# minimal bookworm (with systemd and the packages the installer would otherwise apt-get) and
# `docker import` it. Needs a running dockerd (scripts/test-docker.sh starts one). Logs go to
# stderr; nothing is printed on stdout.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools=$root/target/test-tools
rootfs=$tools/debian-systemd-root
image=luna-test/debian-systemd:12
mirror=http://deb.debian.org/debian
# What the installer needs (so the test never reaches apt), plus ps and ip for the test itself.
include=systemd,systemd-sysv,dbus,ca-certificates,python3,python3-venv,curl,procps,iproute2

exec 1>&2
log() { echo "test-systemd-image: $*"; }
die() { echo "test-systemd-image: error: $*"; exit 1; }

if docker image inspect "$image" >/dev/null 2>&1; then
  log "$image already exists"
  exit 0
fi
timeout 10 docker version >/dev/null 2>&1 || die "no Docker daemon answers (scripts/test-docker.sh starts one)"

if [[ $EUID -eq 0 ]]; then as_root=(); else as_root=(sudo); fi

if ! dpkg-query -W -f='${Status}' debootstrap 2>/dev/null | grep -q 'install ok installed'; then
  log "installing debootstrap"
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

# A root left by an interrupted run may be half made: start from nothing, and leave nothing.
cleanup() { "${as_root[@]}" rm -rf "$rootfs"; }
trap cleanup EXIT
cleanup
mkdir -p "$tools"

log "debootstrap bookworm into $rootfs (about a minute)"
if ! "${as_root[@]}" debootstrap --variant=minbase --include="$include" \
  bookworm "$rootfs" "$mirror" >"$tools/debootstrap.log" 2>&1; then
  tail -n 30 "$tools/debootstrap.log"
  die "debootstrap failed; see $tools/debootstrap.log"
fi
# Downloaded .debs are not needed in the image.
"${as_root[@]}" rm -rf "$rootfs"/var/cache/apt/archives/*.deb

log "importing it as $image"
# systemd as PID 1, and `container=docker` tells it where it runs. (`docker import` cannot set
# STOPSIGNAL, and systemd does not halt on docker stop's SIGTERM: remove its containers with
# `docker rm -f`, or stop them with `docker stop -s SIGRTMIN+3`.) Imported untagged and tagged
# only once the whole tar went through: a half-imported root must never pass the check above.
id=$("${as_root[@]}" tar -C "$rootfs" --numeric-owner -c . |
  docker import \
    --change 'ENV container=docker' \
    --change 'CMD ["/lib/systemd/systemd"]' \
    -) || die "docker import failed"
docker tag "$id" "$image"
log "built $image"
