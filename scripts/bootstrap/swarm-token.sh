#!/usr/bin/env bash
# Prints the Swarm join token for ROLE, and nothing else, on stdout, for the
# caller to capture as a secret. Runs on a manager.
#
# Environment:
#   NODE_NAME    required  node name, prefixes every message on stderr
#   ROLE         required  manager | worker
#   DOCKER_HOST  optional  passed through to the docker CLI
#
# Read-only: never changes anything (it does not rotate tokens). Messages go to
# stderr and never contain the token.
set -euo pipefail

# Named here: over SSH the script arrives on stdin ('bash -s') and $0 is only 'bash'.
script=swarm-token.sh

die() {
  printf '%s: error: %s\n' "${NODE_NAME:-$script}" "$*" >&2
  exit 1
}

[ -n "${NODE_NAME:-}" ] || die "NODE_NAME is required (the node name used in messages)"
[ -n "${ROLE:-}" ] || die "ROLE is required (manager or worker)"
case $ROLE in
  manager | worker) ;;
  *) die "ROLE must be 'manager' or 'worker', got '$ROLE'" ;;
esac

info=$(docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}') ||
  die "the Docker daemon on node $NODE_NAME does not answer 'docker info' (run wait-ready.sh first)"
read -r state is_manager <<<"$info"
if [ "$state" != active ] || [ "$is_manager" != true ]; then
  die "node $NODE_NAME is not an active swarm manager (state '$state'); join tokens come from a manager"
fi

token=$(docker swarm join-token -q "$ROLE") ||
  die "docker swarm join-token failed on node $NODE_NAME"
[[ $token =~ ^SWMTKN-[0-9A-Za-z-]+$ ]] ||
  die "docker swarm join-token on node $NODE_NAME returned something that is not a join token"
printf '%s\n' "$token"
