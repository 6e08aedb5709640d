#!/usr/bin/env bash
# Drills and the leak check of the real-cloud acceptance run
# (.github/workflows/acceptance.yml). Nothing here needs a local Swarm: the
# nodes are reached over SSH with the deploy key in ssh-agent, Hetzner through
# its API (hcloud.sh).
#
#   acceptance.sh reboot-drill   reboots a worker through the Hetzner API, waits until it has
#                                booted again (new boot id), is Ready in the Swarm, and every
#                                service runs all its replicas again; prints the times taken
#   acceptance.sh redis-drill    from a container on the platform network of the first manager:
#                                asks Sentinel for the master, checks it is one, writes a key
#                                through the `redis` endpoint and reads it back there and on
#                                the master Sentinel named
#   acceptance.sh leftovers      fails naming every Hetzner resource still labelled stack=$STACK
#                                (run after `pulumi destroy`: a leak costs money every hour)
#
# Environment:
#   STACK               required  the throwaway stack
#   HCLOUD_TOKEN        reboot-drill, leftovers: read/write API token of its Hetzner project
#   DRILL_TIMEOUT_S     optional  bound of each wait of a drill (default 600)
#   DRILL_POLL_S        optional  seconds between two looks at the Swarm (default 5)
#   SSH_AUTH_SOCK       the agent that holds the stack's deploy key
# and the Hetzner settings of hcloud.sh (HCLOUD_ENDPOINT, HC_*). Reads the stack's
# outputs and settings with the pulumi CLI. Progress goes to stderr, results to
# stdout (and to the job summary when GITHUB_STEP_SUMMARY is set).
set -euo pipefail
# Without it, a failure inside $(...) would not stop the script.
shopt -s inherit_errexit

HC_SCRIPT=acceptance
# shellcheck source=scripts/ci/hcloud.sh
. "$(dirname "${BASH_SOURCE[0]}")/hcloud.sh"

DRILL_TIMEOUT_S=${DRILL_TIMEOUT_S:-600}
DRILL_POLL_S=${DRILL_POLL_S:-5}
SSH_OPTS=()

output() {
  pulumi stack output --stack "$STACK" --json "$@"
}

setting() {
  pulumi config get --stack "$STACK" "$1"
}

summary() {
  printf '%s\n' "$*"
  if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then printf -- '- %s\n' "$*" >>"$GITHUB_STEP_SUMMARY"; fi
}

# Host keys: pinned when the stack publishes them (output sshKnownHosts);
# otherwise the first key seen is kept for this run, and the run says so.
ssh_setup() {
  local known error
  known=$(mktemp)
  SSH_OPTS=(-o BatchMode=yes -o ConnectTimeout=15 -o ServerAliveInterval=15 -o ServerAliveCountMax=4
    -o UserKnownHostsFile="$known" -p "$(setting sshPort)" -l "$(setting sshUser)")
  if error=$(output sshKnownHosts 2>&1 >/dev/null); then
    output sshKnownHosts | jq -r '.' >"$known"
    SSH_OPTS+=(-o StrictHostKeyChecking=yes)
  elif [[ $error == *"does not have output property"* ]]; then
    note "the stack publishes no sshKnownHosts: trusting the first host key each node shows in this run"
    SSH_OPTS+=(-o StrictHostKeyChecking=accept-new)
  else
    die "pulumi stack output sshKnownHosts failed: $error"
  fi
}

# on IP COMMAND...: runs a command on a node (each argument quoted for the remote shell).
on() {
  local ip=$1
  shift
  timeout 120 ssh "${SSH_OPTS[@]}" "$ip" -- "$(printf '%q ' "$@")"
}

node_ip() {
  jq -r --arg n "$1" '.[$n] // empty' <<<"$PUBLIC_IPS"
}

load_nodes() {
  NODES=$(output nodes)
  PUBLIC_IPS=$(output nodePublicIps)
  LEADER=$(jq -r '[.[] | select(.role == "manager")][0].name // empty' <<<"$NODES")
  [ -n "$LEADER" ] || die "the stack output 'nodes' names no manager"
  LEADER_IP=$(node_ip "$LEADER")
  [ -n "$LEADER_IP" ] || die "the stack output 'nodePublicIps' has no address for $LEADER"
}

# until_true WHAT COMMAND...: polls COMMAND (quietly) until it succeeds, within DRILL_TIMEOUT_S.
until_true() {
  local what=$1 start=$SECONDS
  shift
  while ! "$@" >/dev/null 2>&1; do
    if [ $((SECONDS - start)) -ge "$DRILL_TIMEOUT_S" ]; then
      die "$what: not after ${DRILL_TIMEOUT_S} s (raise DRILL_TIMEOUT_S if the cloud is slow today)"
    fi
    sleep "$DRILL_POLL_S"
  done
  echo $((SECONDS - start))
}

boot_id_differs() {
  local id
  id=$(on "$1" cat /proc/sys/kernel/random/boot_id) && [ -n "$id" ] && [ "$id" != "$2" ]
}

node_ready() {
  [ "$(on "$LEADER_IP" docker node inspect --format '{{.Status.State}}' "$1")" = ready ]
}

# Every service runs as many tasks as it wants ("2/2"; global services count their nodes).
services_converged() {
  local lines
  lines=$(on "$LEADER_IP" docker service ls --format '{{.Name}} {{.Replicas}}') || return 1
  [ -n "$lines" ] || return 1
  ! awk '{ split($2, r, "/"); if (r[1] != r[2] || r[2] == "") bad = 1 } END { exit !bad }' <<<"$lines"
}

reboot_drill() {
  hc_init
  ssh_setup
  load_nodes
  local victim ip server id answer before ids booted ready converged
  victim=$(jq -r '[.[] | select(.role == "worker")] | last | .name // empty' <<<"$NODES")
  [ -n "$victim" ] || die "the stack has no worker to reboot (the drill keeps the managers up to watch)"
  ip=$(node_ip "$victim")
  [ -n "$ip" ] || die "the stack output 'nodePublicIps' has no address for $victim"
  server=$(hc_request GET "/servers?name=$victim")
  [ "$(jq '.servers | length' <<<"$server")" -eq 1 ] || die "Hetzner has no server named $victim in this project"
  id=$(jq -r '.servers[0].id' <<<"$server")
  before=$(on "$ip" cat /proc/sys/kernel/random/boot_id) || die "cannot read the boot id of $victim ($ip) over SSH"
  [ -n "$before" ] || die "$victim ($ip) returned an empty boot id"
  services_converged || die "the Swarm has not converged before the drill: $(on "$LEADER_IP" docker service ls --format '{{.Name}} {{.Replicas}}' | tr '\n' ' ')"
  note "rebooting $victim (server $id, $ip) through the Hetzner API"
  answer=$(hc_request POST "/servers/$id/actions/reboot")
  mapfile -t ids < <(hc_action_ids <<<"$answer")
  hc_wait_actions "${ids[@]}"
  booted=$(until_true "$victim booted again (new boot id)" boot_id_differs "$ip" "$before")
  ready=$(until_true "$victim Ready in the Swarm (docker node inspect on $LEADER)" node_ready "$victim")
  converged=$(until_true "every service back to all its replicas after the reboot of $victim" services_converged)
  summary "reboot drill: $victim booted again after ${booted} s, Ready in the Swarm ${ready} s later, every service converged ${converged} s after that"
}

# Runs inside a redis image on the platform network; the password arrives on stdin
# so it is on no command line, in no environment of the node and in no log.
# shellcheck disable=SC2016 # expanded by the container's shell, not here
REDIS_CLIENT='set -eu
IFS= read -r REDISCLI_AUTH
export REDISCLI_AUTH
endpoint=$1 sentinel=$2 master_name=$3 key=$4 value=$5
cli() { host=${1%:*} port=${1##*:}; shift; redis-cli -h "$host" -p "$port" --raw "$@"; }
fail() { echo "$*" >&2; exit 1; }
answer=$(cli "$sentinel" SENTINEL get-master-addr-by-name "$master_name") || fail "sentinel $sentinel does not answer: $answer"
master_host=$(echo "$answer" | sed -n 1p)
master_port=$(echo "$answer" | sed -n 2p)
[ -n "$master_port" ] || fail "sentinel $sentinel names no master $master_name: $answer"
role=$(cli "$master_host:$master_port" ROLE | head -n 1)
[ "$role" = master ] || fail "$master_host:$master_port, the master sentinel $sentinel names, says it is $role"
written=$(cli "$endpoint" SET "$key" "$value" EX 600)
[ "$written" = OK ] || fail "SET through $endpoint answered: $written"
read_back=$(cli "$endpoint" GET "$key")
[ "$read_back" = "$value" ] || fail "GET through $endpoint answered $read_back, not $value"
on_master=$(cli "$master_host:$master_port" GET "$key")
[ "$on_master" = "$value" ] || fail "the master $master_host:$master_port has $on_master for $key, not $value: $endpoint does not write to the master"
echo "$master_host:$master_port"'

redis_drill() {
  ssh_setup
  load_nodes
  local redis endpoint sentinel master_name network image key value master
  redis=$(output redis)
  endpoint=$(jq -r '.endpoint' <<<"$redis")
  sentinel=$(jq -r '.sentinels[0]' <<<"$redis")
  master_name=$(jq -r '.masterName' <<<"$redis")
  network="$(setting namePrefix)_platform"
  image=$(setting imageRedis)
  key="acceptance:${GITHUB_RUN_ID:-local}:$(date +%s)"
  value="written-by-$STACK"
  master=$(output --show-secrets redisPassword | jq -r '.' |
    on "$LEADER_IP" docker run --rm -i --network "$network" "$image" \
      sh -c "$REDIS_CLIENT" redis-drill "$endpoint" "$sentinel" "$master_name" "$key" "$value") ||
    die "the Redis drill failed on $LEADER (see the lines above)"
  summary "redis drill: Sentinel $sentinel names master $master; $key written and read through $endpoint and found on the master"
}

leftovers() {
  hc_init
  local kind found=() answer
  for kind in servers firewalls networks placement_groups floating_ips primary_ips volumes load_balancers ssh_keys; do
    answer=$(hc_request GET "/$kind?label_selector=$(jq -rn --arg s "stack=$STACK" '$s | @uri')&per_page=50")
    mapfile -t -O "${#found[@]}" found < <(jq -r --arg k "$kind" '.[$k][] | "\($k | rtrimstr("s")) \(.name) (id \(.id))"' <<<"$answer")
  done
  if [ "${#found[@]}" -gt 0 ]; then
    printf '%s\n' "${found[@]}" >&2
    die "${#found[@]} Hetzner resource(s) labelled stack=$STACK outlived 'pulumi destroy' (listed above): they cost money until deleted. Delete them in the Hetzner console, or run 'pulumi destroy --stack $STACK' again if the stack still exists"
  fi
  summary "leftovers: no Hetzner resource is labelled stack=$STACK"
}

mode=${1:-}
case $mode in
  reboot-drill | redis-drill | leftovers) ;;
  *) die "usage: acceptance.sh reboot-drill|redis-drill|leftovers (got '$mode'); see the comment at the top of the script" ;;
esac
[ -n "${STACK:-}" ] || die "STACK is empty: name the throwaway stack"
hc_positive DRILL_TIMEOUT_S "$DRILL_TIMEOUT_S"
hc_positive DRILL_POLL_S "$DRILL_POLL_S"
case $mode in
  reboot-drill) reboot_drill ;;
  redis-drill) redis_drill ;;
  leftovers) leftovers ;;
esac
