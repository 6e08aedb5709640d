#!/usr/bin/env bash
# Takes a node out of the Swarm without losing work or quorum. Runs on a manager
# other than the node being removed.
#
# The safe order is split in two steps around swarm-leave.sh, which runs on the node:
#   REMOVE_STEP=prepare  drain the node, wait until no task runs on it, demote it if it is a manager
#   (then swarm-leave.sh on the node)
#   REMOVE_STEP=remove   wait until the node is Down, then 'docker node rm'; after
#                        DOWN_TIMEOUT_S it warns and uses 'docker node rm --force'
#   REMOVE_STEP=all      both, in order (the node then goes Down when it leaves or is deleted)
#
# Environment:
#   NODE_NAME        required  hostname of the node as 'docker node ls' shows it
#   SERVER_ID        optional  id of the server whose node entry is removed: only the entries with
#                              hostname NODE_NAME whose label swarm-platform.server-id is SERVER_ID, or,
#                              when none has it, those without that label (node-config.sh never ran
#                              for them). A newer server of the same hostname carries another id and
#                              is never touched. Unset: every entry with hostname NODE_NAME
#   REMOVE_STEP      optional  prepare | remove | all (default all)
#   DRAIN_TIMEOUT_S  optional  seconds to wait for the node's tasks to stop (default 300)
#   DOWN_TIMEOUT_S   optional  seconds to wait for the node to be Down before forcing (default 120)
#   DOCKER_HOST      optional  passed through to the docker CLI
#
# No such node: nothing to do, exit 0. Progress goes to stderr; stdout stays empty.
set -euo pipefail

# Named here: over SSH the script arrives on stdin ('bash -s') and $0 is only 'bash'.
script=node-remove.sh

die() {
  printf '%s: error: %s\n' "${NODE_NAME:-$script}" "$*" >&2
  exit 1
}

log() {
  printf '%s: %s\n' "${NODE_NAME:-$script}" "$*" >&2
}

[ -n "${NODE_NAME:-}" ] || die "NODE_NAME is required (the node's hostname in 'docker node ls')"
SERVER_ID=${SERVER_ID:-}
[[ $SERVER_ID =~ ^[0-9A-Za-z._-]*$ ]] || die "SERVER_ID must be a server id (letters, digits, '.', '_', '-'), got '$SERVER_ID'"
REMOVE_STEP=${REMOVE_STEP:-all}
case $REMOVE_STEP in
  prepare | remove | all) ;;
  *) die "REMOVE_STEP must be prepare, remove or all, got '$REMOVE_STEP'" ;;
esac
DRAIN_TIMEOUT_S=${DRAIN_TIMEOUT_S:-300}
[[ $DRAIN_TIMEOUT_S =~ ^[1-9][0-9]*$ ]] ||
  die "DRAIN_TIMEOUT_S must be a positive number of seconds, got '$DRAIN_TIMEOUT_S'"
DOWN_TIMEOUT_S=${DOWN_TIMEOUT_S:-120}
[[ $DOWN_TIMEOUT_S =~ ^[1-9][0-9]*$ ]] ||
  die "DOWN_TIMEOUT_S must be a positive number of seconds, got '$DOWN_TIMEOUT_S'"

info=$(docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}} {{.Swarm.NodeID}}') ||
  die "the Docker daemon does not answer 'docker info' on the manager removing $NODE_NAME"
read -r state is_manager self_id <<<"$info"
if [ "$state" != active ] || [ "$is_manager" != true ]; then
  die "node-remove.sh must run on an active swarm manager (this daemon's swarm state is '$state', manager: $is_manager)"
fi

server_id_label=swarm-platform.server-id
by_name=$(docker node ls --format '{{.ID}} {{.Hostname}}' | awk -v host="$NODE_NAME" '$2 == host { print $1 }')
node_ids=$by_name
if [ -n "$SERVER_ID" ] && [ -n "$by_name" ]; then
  owned=""
  unowned=""
  while read -r id; do
    owner=$(docker node inspect --format "{{index .Spec.Labels \"$server_id_label\"}}" "$id")
    if [ "$owner" = "$SERVER_ID" ]; then
      owned+="$id "
    elif [ -z "$owner" ]; then
      unowned+="$id "
    else
      log "leaving node $id alone: it belongs to server $owner, not $SERVER_ID"
    fi
  done <<<"$by_name"
  node_ids=${owned:-$unowned}
fi
if [ -z "$node_ids" ]; then
  log "no node with hostname $NODE_NAME${SERVER_ID:+ of server $SERVER_ID} in the swarm, nothing to do"
  exit 0
fi

field() {
  docker node inspect --format "$2" "$1"
}

# Tasks that still hold, or are about to hold, resources on the node.
live_tasks() {
  docker node ps "$1" --format '{{.Name}} {{.CurrentState}}' |
    awk '$2 ~ /^(New|Pending|Assigned|Accepted|Preparing|Ready|Starting|Running)$/ { print $1 }'
}

prepare() {
  local id=$1 deadline tasks waited=false
  if [ "$id" = "$self_id" ]; then
    die "node $NODE_NAME is the manager running this script; run node-remove.sh on another manager"
  fi
  if [ "$(field "$id" '{{.Spec.Availability}}')" = drain ]; then
    log "already drained ($id)"
  else
    docker node update --availability drain "$id" >/dev/null
    log "drained ($id)"
  fi

  if [ "$(field "$id" '{{.Status.State}}')" = down ]; then
    log "node is Down: its tasks cannot report stopping, Swarm reschedules them elsewhere"
  else
    deadline=$((SECONDS + DRAIN_TIMEOUT_S))
    while :; do
      tasks=$(live_tasks "$id") || die "could not list the tasks of node $NODE_NAME ($id)"
      [ -n "$tasks" ] || break
      if [ "$SECONDS" -ge "$deadline" ]; then
        die "timed out after ${DRAIN_TIMEOUT_S}s waiting for the tasks on node $NODE_NAME to stop (DRAIN_TIMEOUT_S); still running: $(paste -sd' ' <<<"$tasks")"
      fi
      if [ "$waited" = false ]; then
        log "waiting for tasks to stop (timeout ${DRAIN_TIMEOUT_S}s): $(paste -sd' ' <<<"$tasks")"
        waited=true
      fi
      sleep 2
    done
    log "no task runs on the node"
  fi

  if [ "$(field "$id" '{{.Spec.Role}}')" = manager ]; then
    docker node demote "$id" >/dev/null
    log "demoted to worker ($id)"
  else
    log "not a manager, no demotion needed ($id)"
  fi
}

remove() {
  local id=$1 deadline waited=false node_state
  if [ "$id" = "$self_id" ]; then
    die "node $NODE_NAME is the manager running this script; run node-remove.sh on another manager"
  fi
  if [ "$(field "$id" '{{.Spec.Role}}')" = manager ]; then
    die "node $NODE_NAME ($id) is still a manager; run REMOVE_STEP=prepare first"
  fi
  deadline=$((SECONDS + DOWN_TIMEOUT_S))
  while :; do
    node_state=$(field "$id" '{{.Status.State}}') || die "could not inspect node $NODE_NAME ($id)"
    [ "$node_state" != down ] || break
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "warning: node is still '$node_state' after ${DOWN_TIMEOUT_S}s (DOWN_TIMEOUT_S; did swarm-leave.sh run on it?); removing it with --force"
      docker node rm --force "$id" >/dev/null
      log "removed from the swarm by force ($id)"
      return
    fi
    if [ "$waited" = false ]; then
      log "waiting for the node to be Down (state '$node_state', timeout ${DOWN_TIMEOUT_S}s)"
      waited=true
    fi
    sleep 2
  done
  docker node rm "$id" >/dev/null
  log "removed from the swarm ($id)"
}

for id in $node_ids; do
  case $REMOVE_STEP in
    prepare) prepare "$id" ;;
    remove) remove "$id" ;;
    all)
      prepare "$id"
      remove "$id"
      ;;
  esac
done
