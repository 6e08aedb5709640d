#!/usr/bin/env bash
# Creates the Swarm on the first manager, advertising and carrying overlay
# traffic on the private network only (Hetzner Cloud Firewalls do not filter it).
#
# Environment:
#   NODE_NAME          required  node name, prefixes every line this script prints
#   PRIVATE_IP         required  the node's private IPv4 address: advertise, listen (:2377) and
#                                data-path address
#   DEFAULT_ADDR_POOL  optional  comma-separated CIDRs for overlay network subnets
#                                (docker's default is 10.0.0.0/8); fixed when the swarm is created
#   DEFAULT_ADDR_POOL_MASK_LEN  optional  subnet size carved from the pools (docker's default 24)
#   DOCKER_HOST        optional  passed through to the docker CLI
#
# Already an active manager: changes nothing and exits 0. Active but a worker, advertising
# another address, or created with other address pools than DEFAULT_ADDR_POOL asks for: fails,
# because Swarm cannot change them after 'swarm init' (fixing that means rebuilding the swarm).
# The output of 'docker swarm init' carries a join token and is never printed.
# Progress goes to stderr; stdout stays empty.
set -euo pipefail

# Named here: over SSH the script arrives on stdin ('bash -s') and $0 is only 'bash'.
script=swarm-init.sh

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

pool_args=()
asked_pools=()
if [ -n "${DEFAULT_ADDR_POOL:-}" ]; then
  IFS=',' read -r -a pools <<<"$DEFAULT_ADDR_POOL"
  for pool in "${pools[@]}"; do
    pool=${pool//[[:space:]]/}
    [ -n "$pool" ] || continue
    if ! [[ $pool =~ ^[0-9.]+/[0-9]{1,2}$ ]] || ! is_ipv4 "${pool%/*}" || [ "${pool#*/}" -gt 32 ]; then
      die "DEFAULT_ADDR_POOL must be comma-separated IPv4 CIDRs, got '$pool'"
    fi
    pool_args+=(--default-addr-pool "$pool")
    asked_pools+=("$pool")
  done
fi
if [ -n "${DEFAULT_ADDR_POOL_MASK_LEN:-}" ]; then
  if ! [[ $DEFAULT_ADDR_POOL_MASK_LEN =~ ^[0-9]{1,2}$ ]] || [ "$DEFAULT_ADDR_POOL_MASK_LEN" -gt 32 ]; then
    die "DEFAULT_ADDR_POOL_MASK_LEN must be a prefix length 0-32, got '$DEFAULT_ADDR_POOL_MASK_LEN'"
  fi
  [ "${#pool_args[@]}" -gt 0 ] || die "DEFAULT_ADDR_POOL_MASK_LEN needs DEFAULT_ADDR_POOL"
  pool_args+=(--default-addr-pool-mask-length "$DEFAULT_ADDR_POOL_MASK_LEN")
fi

state=$(docker info --format '{{.Swarm.LocalNodeState}}') ||
  die "the Docker daemon on node $NODE_NAME does not answer 'docker info' (run wait-ready.sh first)"

case $state in
  active)
    info=$(docker info --format '{{.Swarm.ControlAvailable}} {{.Swarm.NodeAddr}} {{.Swarm.Cluster.ID}}')
    read -r is_manager node_addr cluster_id <<<"$info"
    [ "$is_manager" = true ] ||
      die "node $NODE_NAME is already in a swarm as a worker; the first manager must be a manager (leave the swarm or promote it)"
    [ "$node_addr" = "$PRIVATE_IP" ] ||
      die "node $NODE_NAME is already a manager but advertises $node_addr, not PRIVATE_IP=$PRIVATE_IP"
    if [ "${#asked_pools[@]}" -gt 0 ]; then
      pools_now=$(docker info --format '{{range .Swarm.Cluster.DefaultAddrPool}}{{.}},{{end}}')
      pools_now=${pools_now%,}
      mask_now=$(docker info --format '{{.Swarm.Cluster.SubnetSize}}')
      pools_asked=$(IFS=,; printf '%s' "${asked_pools[*]}")
      [ "$pools_now" = "$pools_asked" ] ||
        die "swarm $cluster_id was created with default address pool '$pools_now', DEFAULT_ADDR_POOL asks for '$pools_asked': the pool is fixed at 'docker swarm init' and cannot change; set it back to '$pools_now' (setting swarmAddrPool) or rebuild the swarm"
      if [ -n "${DEFAULT_ADDR_POOL_MASK_LEN:-}" ] && [ "$mask_now" != "$DEFAULT_ADDR_POOL_MASK_LEN" ]; then
        die "swarm $cluster_id carves /$mask_now subnets, DEFAULT_ADDR_POOL_MASK_LEN asks for /$DEFAULT_ADDR_POOL_MASK_LEN: fixed at 'docker swarm init'; set it back to $mask_now or rebuild the swarm"
      fi
    fi
    log "already a manager of swarm $cluster_id advertising $node_addr${pools_now:+ with address pools $pools_now}, nothing to do"
    exit 0
    ;;
  inactive) ;;
  *) die "node $NODE_NAME has swarm state '$state'; expected 'inactive' or 'active' (inspect with 'docker info')" ;;
esac

log "initialising a new swarm advertising $PRIVATE_IP${DEFAULT_ADDR_POOL:+ with address pools $DEFAULT_ADDR_POOL}"
# stdout holds the join command and its token: discard it, keep stderr for errors.
if ! err=$(docker swarm init \
  --advertise-addr "$PRIVATE_IP" \
  --data-path-addr "$PRIVATE_IP" \
  --listen-addr "$PRIVATE_IP:2377" \
  "${pool_args[@]}" 2>&1 >/dev/null); then
  die "docker swarm init failed on node $NODE_NAME: $err"
fi

cluster_id=$(docker info --format '{{.Swarm.Cluster.ID}}')
log "initialised swarm $cluster_id; node $NODE_NAME is its first manager"
