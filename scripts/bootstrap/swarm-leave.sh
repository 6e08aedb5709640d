#!/usr/bin/env bash
# Makes this node leave its Swarm. Runs on the node being removed, after
# node-remove.sh REMOVE_STEP=prepare drained and demoted it on a manager.
#
# Environment:
#   NODE_NAME      required  node name, prefixes every line this script prints
#   LEAVE_FORCE    optional  "1" also leaves when the node is still a manager or its swarm
#                            state is locked (default 0: refuse, a manager leaving can break quorum)
#   DEMOTE_WAIT_S  optional  seconds to wait for a demotion just made on a manager to reach
#                            this node before refusing to leave as a manager (default 30)
#   DOCKER_HOST    optional  passed through to the docker CLI
#
# Not in a swarm: nothing to do, exit 0. Progress goes to stderr; stdout stays empty.
set -euo pipefail

# Named here: over SSH the script arrives on stdin ('bash -s') and $0 is only 'bash'.
script=swarm-leave.sh

die() {
  printf '%s: error: %s\n' "${NODE_NAME:-$script}" "$*" >&2
  exit 1
}

log() {
  printf '%s: %s\n' "${NODE_NAME:-$script}" "$*" >&2
}

[ -n "${NODE_NAME:-}" ] || die "NODE_NAME is required (the node name used in progress messages)"
LEAVE_FORCE=${LEAVE_FORCE:-0}
[[ $LEAVE_FORCE =~ ^[01]$ ]] || die "LEAVE_FORCE must be 0 or 1, got '$LEAVE_FORCE'"
DEMOTE_WAIT_S=${DEMOTE_WAIT_S:-30}
[[ $DEMOTE_WAIT_S =~ ^[0-9]+$ ]] ||
  die "DEMOTE_WAIT_S must be a number of seconds, got '$DEMOTE_WAIT_S'"

info=$(docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}') ||
  die "the Docker daemon on node $NODE_NAME does not answer 'docker info'"
read -r state is_manager <<<"$info"

leave_args=()
case $state in
  inactive)
    log "not in a swarm, nothing to do"
    exit 0
    ;;
  active)
    deadline=$((SECONDS + DEMOTE_WAIT_S))
    while [ "$is_manager" = true ] && [ "$LEAVE_FORCE" = 0 ] && [ "$SECONDS" -lt "$deadline" ]; do
      sleep 1
      is_manager=$(docker info --format '{{.Swarm.ControlAvailable}}')
    done
    if [ "$is_manager" = true ]; then
      [ "$LEAVE_FORCE" = 1 ] ||
        die "node $NODE_NAME is still a manager after waiting ${DEMOTE_WAIT_S}s (DEMOTE_WAIT_S); demote it first (node-remove.sh REMOVE_STEP=prepare on another manager) or set LEAVE_FORCE=1"
      log "warning: leaving while still a manager (LEAVE_FORCE=1)"
      leave_args+=(--force)
    fi
    ;;
  pending | error)
    log "swarm state is '$state', abandoning it"
    leave_args+=(--force)
    ;;
  *)
    [ "$LEAVE_FORCE" = 1 ] ||
      die "node $NODE_NAME has swarm state '$state'; set LEAVE_FORCE=1 to leave anyway"
    leave_args+=(--force)
    ;;
esac

err=$(docker swarm leave "${leave_args[@]}" 2>&1 >/dev/null) ||
  die "docker swarm leave failed on node $NODE_NAME: $err"
log "left the swarm"
