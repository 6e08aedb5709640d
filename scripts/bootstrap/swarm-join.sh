#!/usr/bin/env bash
# Joins this node to the Swarm as ROLE, advertising and carrying overlay traffic
# on its private address. Retries with backoff while the manager is not reachable yet.
#
# Environment:
#   NODE_NAME       required  node name, prefixes every line this script prints
#   PRIVATE_IP      required  the node's private IPv4 address: advertise, listen (:2377) and
#                             data-path address
#   ROLE            required  manager | worker (which token JOIN_TOKEN is)
#   JOIN_TOKEN      required  the join token for ROLE; secret, never printed. Best a plain shell
#                             variable set before the script (see scriptInput): the script un-exports
#                             it either way, so no child process inherits it, and sends it to the
#                             Docker Engine API on curl's stdin, so it is in no process's argv
#   MANAGER_ADDR    required  address of a manager already in the swarm (port 2377 is appended)
#   JOIN_TIMEOUT_S  optional  seconds to keep trying (default 300)
#   DOCKER_HOST     optional  passed through to the docker CLI; the join itself goes to the Engine
#                             API on the daemon's unix socket (unix://PATH, default /var/run/docker.sock)
#
# Needs curl (core/cloudinit.ts installs it). Already active in a swarm: nothing is changed
# and the script exits 0 once it has checked what a non-manager node can check about its swarm:
#   - it advertises PRIVATE_IP,
#   - MANAGER_ADDR:2377 is one of the managers it knows (when MANAGER_ADDR is an IPv4 address),
#   - its role: ROLE only chooses the token of the first join. A node in another role is left
#     as it is and reported; node-config.sh promotes or demotes it from a manager, never by
#     leaving and rejoining.
# Progress goes to stderr; stdout stays empty.
set -euo pipefail
export -n JOIN_TOKEN

# Named here: over SSH the script arrives on stdin ('bash -s') and $0 is only 'bash'.
script=swarm-join.sh

die() {
  printf '%s: error: %s\n' "${NODE_NAME:-$script}" "$*" >&2
  exit 1
}

log() {
  printf '%s: %s\n' "${NODE_NAME:-$script}" "$*" >&2
}

is_ipv4() {
  [[ $1 =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$ ]] || return 1
  local octet
  for octet in "${BASH_REMATCH[@]:1}"; do
    [ "$octet" -le 255 ] || return 1
  done
}

[ -n "${NODE_NAME:-}" ] || die "NODE_NAME is required (the node name used in progress messages)"
[ -n "${PRIVATE_IP:-}" ] || die "PRIVATE_IP is required (the node's private IPv4 address)"
is_ipv4 "$PRIVATE_IP" || die "PRIVATE_IP must be an IPv4 address, got '$PRIVATE_IP'"
[ -n "${ROLE:-}" ] || die "ROLE is required (manager or worker)"
case $ROLE in
  manager | worker) ;;
  *) die "ROLE must be 'manager' or 'worker', got '$ROLE'" ;;
esac
[ -n "${JOIN_TOKEN:-}" ] || die "JOIN_TOKEN is required (the $ROLE join token from swarm-token.sh)"
[[ $JOIN_TOKEN =~ ^SWMTKN-[0-9A-Za-z-]+$ ]] ||
  die "JOIN_TOKEN does not look like a swarm join token (expected SWMTKN-...; value not shown)"
[ -n "${MANAGER_ADDR:-}" ] || die "MANAGER_ADDR is required (address of a manager already in the swarm)"
[[ $MANAGER_ADDR =~ ^[0-9A-Za-z.-]+$ ]] ||
  die "MANAGER_ADDR must be a host name or IPv4 address without port, got '$MANAGER_ADDR'"
JOIN_TIMEOUT_S=${JOIN_TIMEOUT_S:-300}
[[ $JOIN_TIMEOUT_S =~ ^[1-9][0-9]*$ ]] ||
  die "JOIN_TIMEOUT_S must be a positive number of seconds, got '$JOIN_TIMEOUT_S'"

manager_endpoint="$MANAGER_ADDR:2377"

docker_host=${DOCKER_HOST:-unix:///var/run/docker.sock}
[[ $docker_host == unix://* ]] ||
  die "DOCKER_HOST must be a unix socket (unix://PATH): the join goes to the local Docker Engine API, got '$docker_host'"
docker_socket=${docker_host#unix://}
command -v curl >/dev/null 2>&1 || die "curl is required on node $NODE_NAME (the join goes through the Docker Engine API)"

# POST /swarm/join with the token in the body, fed on stdin by the printf builtin: the token
# reaches no argv (ps, /proc/PID/cmdline) and no environment. Prints the daemon's error, if any.
api_join() {
  local body response code
  body=$(printf '{"ListenAddr":"%s:2377","AdvertiseAddr":"%s","DataPathAddr":"%s","RemoteAddrs":["%s"],"JoinToken":"%s"}' \
    "$PRIVATE_IP" "$PRIVATE_IP" "$PRIVATE_IP" "$manager_endpoint" "$JOIN_TOKEN")
  response=$(printf '%s' "$body" | curl --silent --show-error --max-time 90 --unix-socket "$docker_socket" \
    --request POST --header 'Content-Type: application/json' --data-binary @- \
    --write-out '\n%{http_code}' http://localhost/swarm/join 2>&1) || {
    printf '%s' "$response"
    return 1
  }
  code=${response##*$'\n'}
  [ "$code" = 200 ] && return 0
  response=${response%$'\n'*}
  if [[ $response =~ \"message\":\"(.*)\"\} ]]; then response=${BASH_REMATCH[1]}; fi
  printf 'HTTP %s: %s' "$code" "$response"
  return 1
}

redact() {
  local text=$1
  printf '%s' "${text//"$JOIN_TOKEN"/<redacted>}"
}

# Fails unless the active membership of this node is the one asked for.
check_membership() {
  local info is_manager node_addr managers
  info=$(docker info --format '{{.Swarm.ControlAvailable}} {{.Swarm.NodeAddr}}')
  read -r is_manager node_addr <<<"$info"
  managers=$(docker info --format '{{range .Swarm.RemoteManagers}}{{.Addr}} {{end}}')
  [ "$node_addr" = "$PRIVATE_IP" ] ||
    die "node $NODE_NAME is in a swarm but advertises $node_addr, not PRIVATE_IP=$PRIVATE_IP"
  if is_ipv4 "$MANAGER_ADDR" && [[ " $managers " != *" $manager_endpoint "* ]]; then
    die "node $NODE_NAME is in a swarm whose managers are [${managers% }], which does not include MANAGER_ADDR $manager_endpoint"
  fi
  if [ "$ROLE" = manager ] && [ "$is_manager" != true ]; then
    log "in the swarm as a worker, ROLE=manager: node-config.sh on a manager promotes it"
  fi
  if [ "$ROLE" = worker ] && [ "$is_manager" = true ]; then
    log "in the swarm as a manager, ROLE=worker: node-config.sh on a manager demotes it"
  fi
}

deadline=$((SECONDS + JOIN_TIMEOUT_S))
delay=2
attempt=0
last_error="none"
joined_now=false

while :; do
  state=$(docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null) || state=unreachable
  case $state in
    active)
      if [ "$ROLE" = manager ] && [ "$joined_now" = true ] &&
        [ "$(docker info --format '{{.Swarm.ControlAvailable}}')" != true ]; then
        log "joined, waiting for the manager role to become available"
      else
        break
      fi
      ;;
    inactive)
      attempt=$((attempt + 1))
      log "joining the swarm at $manager_endpoint as $ROLE (attempt $attempt)"
      if err=$(api_join); then
        joined_now=true
        continue
      fi
      last_error=$(redact "$err")
      # A rejected token stays rejected: retrying only burns the timeout.
      if [[ $err == *"join token"* ]]; then
        die "the swarm at $manager_endpoint rejected the JOIN_TOKEN of node $NODE_NAME: $last_error"
      fi
      if [[ $err == *"remote CA does not match fingerprint"* ]]; then
        die "the JOIN_TOKEN of node $NODE_NAME belongs to another swarm than the one at $manager_endpoint: $last_error"
      fi
      # The join may go on in the background after the CLI gave up waiting.
      if [[ $err == *"will continue in the background"* ]]; then
        joined_now=true
      fi
      log "join attempt $attempt failed: $last_error"
      ;;
    pending)
      joined_now=true
      log "join in progress, waiting"
      ;;
    unreachable)
      last_error="the Docker daemon does not answer 'docker info'"
      log "$last_error, waiting"
      ;;
    *)
      die "node $NODE_NAME has swarm state '$state'; expected 'inactive', 'pending' or 'active' (inspect with 'docker info')"
      ;;
  esac
  if [ "$SECONDS" -ge "$deadline" ]; then
    die "timed out after ${JOIN_TIMEOUT_S}s waiting for node $NODE_NAME to join the swarm at $manager_endpoint as $ROLE (JOIN_TIMEOUT_S); last error: $last_error"
  fi
  left=$((deadline - SECONDS))
  if [ "$delay" -gt "$left" ]; then delay=$left; fi
  sleep "$delay"
  delay=$((delay * 2))
  if [ "$delay" -gt 30 ]; then delay=30; fi
done

check_membership
if [ "$joined_now" = true ]; then
  log "joined the swarm at $manager_endpoint as $ROLE, advertising $PRIVATE_IP"
else
  current_role=worker
  if [ "$(docker info --format '{{.Swarm.ControlAvailable}}')" = true ]; then current_role=manager; fi
  log "already in the swarm as $current_role advertising $PRIVATE_IP (managers known: $(docker info --format '{{range .Swarm.RemoteManagers}}{{.Addr}} {{end}}')), nothing to do"
fi
