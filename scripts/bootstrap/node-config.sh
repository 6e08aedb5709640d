#!/usr/bin/env bash
# Makes a Swarm node's role, labels and availability exactly what the configuration
# says. Runs on a manager, for the node whose hostname is NODE_NAME.
#
# Environment:
#   NODE_NAME             required  hostname of the node as 'docker node ls' shows it
#   SERVER_ID             required  id of the server the node runs on; kept in the node label
#                                   swarm-platform.server-id, so that node-remove.sh acts on this
#                                   server's entry only, never on a newer server of the same hostname
#   NODE_ROLE             required  manager | worker; a different role is changed with
#                                   'docker node update --role' (promote/demote), nothing else
#   NODE_LABELS           required  desired labels, 'key=value' entries separated by newlines or
#                                   commas (so values cannot hold commas); set but empty = no labels
#   NODE_AVAILABILITY     required  active | drain | pause
#   NODE_READY_TIMEOUT_S  optional  seconds to wait for the node to be Ready, and for a promotion or
#                                   demotion to take effect (default 300)
#   DOCKER_HOST           optional  passed through to the docker CLI
#
# Labels have replace semantics: labels on the node that NODE_LABELS does not name are
# removed, so NODE_LABELS must always carry the full set (plus the server-id label). All
# differences are applied in one 'docker node update'; nothing is updated when nothing differs,
# so a second run leaves the node's version untouched. Never drains a node that the
# configuration does not drain. Progress goes to stderr; stdout stays empty.
set -euo pipefail

# Named here: over SSH the script arrives on stdin ('bash -s') and $0 is only 'bash'.
script=node-config.sh

die() {
  printf '%s: error: %s\n' "${NODE_NAME:-$script}" "$*" >&2
  exit 1
}

log() {
  printf '%s: %s\n' "${NODE_NAME:-$script}" "$*" >&2
}

trim() {
  local text=$1
  text=${text#"${text%%[![:space:]]*}"}
  text=${text%"${text##*[![:space:]]}"}
  printf '%s' "$text"
}

[ -n "${NODE_NAME:-}" ] || die "NODE_NAME is required (the node's hostname in 'docker node ls')"
[ -n "${SERVER_ID:-}" ] || die "SERVER_ID is required (the id of the server the node runs on)"
[[ $SERVER_ID =~ ^[0-9A-Za-z._-]+$ ]] || die "SERVER_ID must be a server id (letters, digits, '.', '_', '-'), got '$SERVER_ID'"
[ -n "${NODE_ROLE:-}" ] || die "NODE_ROLE is required (manager or worker)"
case $NODE_ROLE in
  manager | worker) ;;
  *) die "NODE_ROLE must be manager or worker, got '$NODE_ROLE'" ;;
esac
[ -n "${NODE_LABELS+set}" ] ||
  die "NODE_LABELS is required (key=value list; set it to an empty string for a node without labels)"
[ -n "${NODE_AVAILABILITY:-}" ] || die "NODE_AVAILABILITY is required (active, drain or pause)"
case $NODE_AVAILABILITY in
  active | drain | pause) ;;
  *) die "NODE_AVAILABILITY must be active, drain or pause, got '$NODE_AVAILABILITY'" ;;
esac
NODE_READY_TIMEOUT_S=${NODE_READY_TIMEOUT_S:-300}
[[ $NODE_READY_TIMEOUT_S =~ ^[1-9][0-9]*$ ]] ||
  die "NODE_READY_TIMEOUT_S must be a positive number of seconds, got '$NODE_READY_TIMEOUT_S'"

server_id_label=swarm-platform.server-id
declare -A desired=()
while IFS= read -r entry; do
  entry=$(trim "$entry")
  [ -n "$entry" ] || continue
  [[ $entry == *=* ]] || die "NODE_LABELS entry '$entry' is not key=value"
  key=$(trim "${entry%%=*}")
  value=$(trim "${entry#*=}")
  [[ $key =~ ^[^[:space:]=]+$ ]] || die "NODE_LABELS entry '$entry' has an empty or invalid key"
  if [ -n "${desired[$key]+set}" ] && [ "${desired[$key]}" != "$value" ]; then
    die "NODE_LABELS sets label '$key' twice with different values ('${desired[$key]}' and '$value')"
  fi
  [ "$key" != "$server_id_label" ] ||
    die "NODE_LABELS sets '$server_id_label', which this script keeps for SERVER_ID; remove it from NODE_LABELS"
  desired[$key]=$value
done < <(printf '%s\n' "$NODE_LABELS" | tr ',' '\n')
desired[$server_id_label]=$SERVER_ID

info=$(docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}} {{.Swarm.NodeID}}') ||
  die "the Docker daemon does not answer 'docker info' on the manager configuring $NODE_NAME"
read -r state is_manager self_id <<<"$info"
if [ "$state" != active ] || [ "$is_manager" != true ]; then
  die "node-config.sh must run on an active swarm manager (this daemon's swarm state is '$state', manager: $is_manager)"
fi

# Several nodes can share a hostname: a replaced server leaves its old entry behind. The node
# to configure is the Ready one of this server: labelled with SERVER_ID, or not labelled yet.
deadline=$((SECONDS + NODE_READY_TIMEOUT_S))
waited=false
while :; do
  listing=$(docker node ls --format '{{.ID}} {{.Hostname}} {{.Status}}')
  ready_ids=""
  while read -r id; do
    [ -n "$id" ] || continue
    owner=$(docker node inspect --format "{{index .Spec.Labels \"$server_id_label\"}}" "$id")
    if [ -z "$owner" ] || [ "$owner" = "$SERVER_ID" ]; then ready_ids+="$id"$'\n'; fi
  done < <(awk -v host="$NODE_NAME" '$2 == host && $3 == "Ready" { print $1 }' <<<"$listing")
  seen=$(awk -v host="$NODE_NAME" '$2 == host { printf "%s%s(%s)", sep, $1, $3; sep=", " }' <<<"$listing")
  count=$(grep -c . <<<"$ready_ids" || true)
  if [ "$count" -gt 1 ]; then
    die "more than one Ready node with hostname $NODE_NAME belongs to server $SERVER_ID or to none: ${seen}; remove the stale one"
  fi
  [ "$count" -eq 1 ] && break
  if [ "$SECONDS" -ge "$deadline" ]; then
    die "timed out after ${NODE_READY_TIMEOUT_S}s waiting for node $NODE_NAME to be Ready in the swarm (NODE_READY_TIMEOUT_S); found: ${seen:-no node with that hostname}"
  fi
  if [ "$waited" = false ]; then
    log "waiting for the node to be Ready in the swarm (timeout ${NODE_READY_TIMEOUT_S}s; found: ${seen:-nothing yet})"
    waited=true
  fi
  sleep 2
done
node_id=${ready_ids%$'\n'}
log "node is Ready (id $node_id)"

read_labels() {
  docker node inspect --format '{{range $k, $v := .Spec.Labels}}{{$k}}={{$v}}{{"\n"}}{{end}}' "$node_id"
}

declare -A current=()
while IFS= read -r line; do
  [ -n "$line" ] || continue
  current[${line%%=*}]=${line#*=}
done < <(read_labels)

update_args=()
changes=()
while IFS= read -r key; do
  [ -n "$key" ] || continue
  if [ -z "${desired[$key]+set}" ]; then
    update_args+=(--label-rm "$key")
    changes+=("-$key")
  fi
done < <(printf '%s\n' "${!current[@]}" | sort)
while IFS= read -r key; do
  [ -n "$key" ] || continue
  if [ -z "${current[$key]+set}" ] || [ "${current[$key]}" != "${desired[$key]}" ]; then
    update_args+=(--label-add "$key=${desired[$key]}")
    changes+=("+$key=${desired[$key]}")
  fi
done < <(printf '%s\n' "${!desired[@]}" | sort)

desired_list=$(for key in "${!desired[@]}"; do printf '%s=%s\n' "$key" "${desired[$key]}"; done | sort | paste -sd, -)
if [ "${#changes[@]}" -eq 0 ]; then
  log "labels unchanged (${desired_list:-none})"
else
  log "labels to change: ${changes[*]}"
fi

availability=$(docker node inspect --format '{{.Spec.Availability}}' "$node_id")
if [ "$availability" = "$NODE_AVAILABILITY" ]; then
  log "availability unchanged ($availability)"
else
  update_args+=(--availability "$NODE_AVAILABILITY")
  log "availability to change: $availability -> $NODE_AVAILABILITY"
fi

role=$(docker node inspect --format '{{.Spec.Role}}' "$node_id")
if [ "$role" = "$NODE_ROLE" ]; then
  log "role unchanged ($role)"
else
  if [ "$NODE_ROLE" = worker ] && [ "$node_id" = "$self_id" ]; then
    die "node $NODE_NAME is the manager running this script and cannot demote itself; run node-config.sh on another manager"
  fi
  update_args+=(--role "$NODE_ROLE")
  log "role to change: $role -> $NODE_ROLE ($([ "$NODE_ROLE" = manager ] && echo promote || echo demote))"
fi

if [ "${#update_args[@]}" -eq 0 ]; then
  log "nothing to update"
  exit 0
fi

err=$(docker node update "${update_args[@]}" "$node_id" 2>&1 >/dev/null) ||
  die "docker node update failed for node $NODE_NAME: $err"

# A promotion is done when the new manager is a reachable Raft member, a demotion when it has
# left Raft: only then is the quorum what the configuration counts on.
if [ "$role" != "$NODE_ROLE" ]; then
  deadline=$((SECONDS + NODE_READY_TIMEOUT_S))
  while :; do
    reachability=$(docker node inspect --format '{{if .ManagerStatus}}{{.ManagerStatus.Reachability}}{{else}}none{{end}}' "$node_id")
    if [ "$NODE_ROLE" = manager ] && [ "$reachability" = reachable ]; then break; fi
    if [ "$NODE_ROLE" = worker ] && [ "$reachability" = none ]; then break; fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      die "timed out after ${NODE_READY_TIMEOUT_S}s waiting for node $NODE_NAME to become a $NODE_ROLE (manager status '$reachability'; NODE_READY_TIMEOUT_S)"
    fi
    sleep 1
  done
  log "role is now $NODE_ROLE"
fi

actual_list=$(read_labels | sed '/^$/d' | sort | paste -sd, -)
actual_availability=$(docker node inspect --format '{{.Spec.Availability}}' "$node_id")
actual_role=$(docker node inspect --format '{{.Spec.Role}}' "$node_id")
[ "$actual_role" = "$NODE_ROLE" ] ||
  die "role of node $NODE_NAME is $actual_role after the update, expected $NODE_ROLE"
[ "$actual_list" = "$desired_list" ] ||
  die "labels of node $NODE_NAME are [${actual_list}] after the update, expected [${desired_list}]"
[ "$actual_availability" = "$NODE_AVAILABILITY" ] ||
  die "availability of node $NODE_NAME is $actual_availability after the update, expected $NODE_AVAILABILITY"
log "updated: role $NODE_ROLE, labels [${desired_list:-none}], availability $NODE_AVAILABILITY"
