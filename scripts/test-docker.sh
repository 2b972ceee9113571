#!/usr/bin/env bash
# Sets up what the Docker-backed tests need, idempotently:
#   - Debian packages docker.io, docker-registry, busybox-static (and curl);
#   - a Docker daemon on /var/run/docker.sock (started in the background if none answers,
#     log in target/test-tools/dockerd.log);
#   - a local registry on 127.0.0.1:5000 (Debian's docker-registry, storage and config under
#     target/test-tools/registry);
#   - a tiny test image built from busybox-static, pushed as 127.0.0.1:5000/luna-test/busybox:1.
# Prints only the shell exports on stdout, so callers can:  eval "$(scripts/test-docker.sh)"
# `scripts/test-docker.sh stop` stops the registry and, if this script started it, dockerd.
# LUNA_TEST_DOCKERD_FLAGS="..." forces the dockerd flags instead of trying the fallbacks.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools=$root/target/test-tools
regdir=$tools/registry
registry=127.0.0.1:5000
repo=luna-test/busybox
tag=1
image=$registry/$repo:$tag

exec 3>&1 1>&2 # everything but the final exports goes to stderr
log() { echo "test-docker: $*"; }
die() { echo "test-docker: error: $*"; exit 1; }
mkdir -p "$tools" "$regdir"

if [[ $EUID -eq 0 ]]; then as_root=(); else as_root=(sudo); fi

docker_ok() { timeout 10 docker version >/dev/null 2>&1; }
registry_ok() { curl -fsS -o /dev/null --max-time 3 "http://$registry/v2/" 2>/dev/null; }

if [[ "${1:-start}" == "stop" ]]; then
  if [[ -f $regdir/registry.pid ]]; then
    kill "$(cat "$regdir/registry.pid")" 2>/dev/null || true
    rm -f "$regdir/registry.pid"
  fi
  if [[ -f $tools/dockerd.pid ]]; then
    "${as_root[@]}" kill "$(cat "$tools/dockerd.pid")" 2>/dev/null || true
    rm -f "$tools/dockerd.pid"
  fi
  exit 0
fi

# --- packages ---------------------------------------------------------------------------------
missing=()
for pkg in docker.io docker-registry busybox-static curl; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- dockerd ----------------------------------------------------------------------------------
# Starts dockerd with the given flags; succeeds once `docker version` answers (60 s at most).
start_dockerd() {
  log "starting dockerd ${*:+$* }(log: $tools/dockerd.log)"
  echo "=== $(date -u +%FT%TZ) dockerd $*" >>"$tools/dockerd.log"
  # setsid + closed stdio (and fd 3, the caller's stdout): the daemon outlives this script
  # and never holds the caller's pipe open.
  "${as_root[@]}" setsid dockerd "$@" </dev/null >>"$tools/dockerd.log" 2>&1 3>&- &
  local pid=$! deadline=$((SECONDS + 60))
  echo "$pid" >"$tools/dockerd.pid"
  while ((SECONDS < deadline)); do
    if docker_ok; then return 0; fi
    kill -0 "$pid" 2>/dev/null || break # exited: these flags don't work here
    sleep 0.5
  done
  "${as_root[@]}" kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  rm -f "$tools/dockerd.pid"
  return 1
}

if docker_ok; then
  log "dockerd already answers"
else
  if [[ -n ${LUNA_TEST_DOCKERD_FLAGS:-} ]]; then
    # shellcheck disable=SC2206 # word splitting is wanted here
    forced=($LUNA_TEST_DOCKERD_FLAGS)
    start_dockerd "${forced[@]}" || die "dockerd did not come up; see $tools/dockerd.log"
  # Plain first; sandboxes without netfilter need --iptables=false, ones without overlayfs vfs.
  elif ! start_dockerd &&
    ! start_dockerd --iptables=false &&
    ! start_dockerd --iptables=false --storage-driver=vfs; then
    tail -n 30 "$tools/dockerd.log"
    die "dockerd did not come up with any flags tried; see $tools/dockerd.log"
  fi
fi

# --- registry ---------------------------------------------------------------------------------
if registry_ok; then
  log "a registry already answers at http://$registry/v2/"
else
  mkdir -p "$regdir/data"
  cat >"$regdir/config.yml" <<EOF
version: 0.1
log:
  level: warn
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: $regdir/data
  delete:
    enabled: true
http:
  addr: $registry
  headers:
    X-Content-Type-Options: [nosniff]
EOF
  log "starting docker-registry on $registry (log: $regdir/registry.log)"
  setsid /usr/bin/docker-registry serve "$regdir/config.yml" </dev/null >>"$regdir/registry.log" 2>&1 3>&- &
  pid=$!
  echo "$pid" >"$regdir/registry.pid"
  deadline=$((SECONDS + 30))
  until registry_ok; do
    if ! kill -0 "$pid" 2>/dev/null || ((SECONDS >= deadline)); then
      tail -n 20 "$regdir/registry.log"
      die "registry did not come up on $registry; see $regdir/registry.log"
    fi
    sleep 0.25
  done
fi

# --- test image -------------------------------------------------------------------------------
manifest_url="http://$registry/v2/$repo/manifests/$tag"
if curl -fsS -o /dev/null --max-time 5 -I \
  -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "$manifest_url" 2>/dev/null; then
  log "$image already in the registry"
else
  log "building $image from busybox-static"
  rootfs=$(mktemp -d "$tools/rootfs.XXXXXX")
  trap 'rm -rf "$rootfs" "$rootfs.tar"' EXIT
  mkdir -p "$rootfs"/{bin,etc,tmp,root,var/www}
  chmod 1777 "$rootfs/tmp"
  cp /bin/busybox "$rootfs/bin/busybox"
  # every applet (sh, httpd, echo, sleep, cat, nc, wget, ...) as a symlink in /bin
  for applet in $(/bin/busybox --list); do
    [[ $applet == busybox || -e $rootfs/bin/$applet ]] || ln -s busybox "$rootfs/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
    >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
  # reproducible tar: the same layer digest every time
  tar -C "$rootfs" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$rootfs.tar" .
  docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'WORKDIR /' \
    --change 'LABEL org.opencontainers.image.title=luna-test-busybox' \
    --change 'CMD ["/bin/sh"]' \
    "$rootfs.tar" "$image" >/dev/null
  docker push "$image" >/dev/null
  log "pushed $image"
fi

# smoke test: pulls from the registry if the daemon lacks the image
if ! out=$(docker run --rm --network host "$image" /bin/busybox echo ok) || [[ $out != ok ]]; then
  die "cannot run $image; see $tools/dockerd.log"
fi

echo "export LUNA_TEST_DOCKER_REGISTRY=$registry" >&3
echo "export LUNA_TEST_DOCKER_IMAGE=$image" >&3
