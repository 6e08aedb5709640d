#!/usr/bin/env bash
# Waits until a freshly created node can take Swarm commands: cloud-init has
# finished (it installs and configures Docker) and the Docker daemon answers.
#
# Environment:
#   NODE_NAME             required  node name, prefixes every line this script prints
#   READY_TIMEOUT_S       optional  seconds to wait for cloud-init and Docker together (default 600)
#   SKIP_CLOUD_INIT_WAIT  optional  "1" skips the cloud-init wait (nodes that are not cloud-init
#                                   provisioned, local test daemons)
#   PRIVATE_IP            optional  also wait until this address is configured on an interface
#                                   (Hetzner attaches the private network after the server boots)
#   DOCKER_HOST           optional  passed through to the docker CLI
#
# Progress goes to stderr; stdout stays empty. Safe to run any number of times.
set -euo pipefail

# Named here: over SSH the script arrives on stdin ('bash -s') and $0 is only 'bash'.
script=wait-ready.sh

die() {
  printf '%s: error: %s\n' "${NODE_NAME:-$script}" "$*" >&2
  exit 1
}

log() {
  printf '%s: %s\n' "${NODE_NAME:-$script}" "$*" >&2
}

[ -n "${NODE_NAME:-}" ] || die "NODE_NAME is required (the node name used in progress messages)"
READY_TIMEOUT_S=${READY_TIMEOUT_S:-600}
[[ $READY_TIMEOUT_S =~ ^[1-9][0-9]*$ ]] ||
  die "READY_TIMEOUT_S must be a positive number of seconds, got '$READY_TIMEOUT_S'"
SKIP_CLOUD_INIT_WAIT=${SKIP_CLOUD_INIT_WAIT:-0}
[[ $SKIP_CLOUD_INIT_WAIT =~ ^[01]$ ]] ||
  die "SKIP_CLOUD_INIT_WAIT must be 0 or 1, got '$SKIP_CLOUD_INIT_WAIT'"

deadline=$((SECONDS + READY_TIMEOUT_S))

remaining() {
  local left=$((deadline - SECONDS))
  if [ "$left" -lt 1 ]; then left=1; fi
  echo "$left"
}

if [ "$SKIP_CLOUD_INIT_WAIT" = 1 ]; then
  log "cloud-init wait skipped (SKIP_CLOUD_INIT_WAIT=1)"
elif ! command -v cloud-init >/dev/null 2>&1; then
  log "cloud-init not installed, not waiting for it"
else
  log "waiting for cloud-init to finish (timeout ${READY_TIMEOUT_S}s)"
  rc=0
  status=$(timeout "$(remaining)" cloud-init status --wait 2>&1 </dev/null) || rc=$?
  status=$(printf '%s\n' "$status" | tr -d '.' | grep -m1 'status:' || true)
  case $rc in
    0) log "cloud-init finished (${status:-status: done})" ;;
    # cloud-init >= 23.4 exits 2 when it finished with recoverable errors.
    2) log "warning: cloud-init finished with recoverable errors (${status:-status unknown}); see /var/log/cloud-init.log" ;;
    124) die "timed out after ${READY_TIMEOUT_S}s waiting on node $NODE_NAME for cloud-init to finish (READY_TIMEOUT_S)" ;;
    *) die "cloud-init failed on node $NODE_NAME (${status:-exit code $rc}); see /var/log/cloud-init-output.log" ;;
  esac
fi

attempts=0
while :; do
  attempts=$((attempts + 1))
  if command -v docker >/dev/null 2>&1 &&
    version=$(docker info --format '{{.ServerVersion}}' 2>/dev/null) && [ -n "$version" ]; then
    break
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    if ! command -v docker >/dev/null 2>&1; then
      die "timed out after ${READY_TIMEOUT_S}s on node $NODE_NAME: the docker command never appeared on PATH (READY_TIMEOUT_S)"
    fi
    die "timed out after ${READY_TIMEOUT_S}s waiting on node $NODE_NAME for the Docker daemon to answer 'docker info' (READY_TIMEOUT_S)"
  fi
  if [ "$attempts" -eq 1 ]; then
    log "waiting for the Docker daemon to answer (timeout ${READY_TIMEOUT_S}s)"
  fi
  sleep 2
done

if [ "$attempts" -eq 1 ]; then
  log "already ready: Docker $version answers, nothing to wait for"
else
  log "ready: Docker $version answers"
fi

if [ -n "${PRIVATE_IP:-}" ]; then
  [[ $PRIVATE_IP =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || die "PRIVATE_IP must be an IPv4 address, got '$PRIVATE_IP'"
  waited=0
  until ip -o -4 addr show 2>/dev/null | grep -q "inet $PRIVATE_IP/"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      die "timed out after ${READY_TIMEOUT_S}s waiting on node $NODE_NAME for private address $PRIVATE_IP on an interface (READY_TIMEOUT_S)"
    fi
    if [ "$waited" -eq 0 ]; then log "waiting for private address $PRIVATE_IP"; fi
    waited=1
    sleep 2
  done
  log "private address $PRIVATE_IP is up"
fi
