#!/bin/sh
# Entrypoint of one Redis data member.
#
# A member must never come back as a second master: before starting it asks the
# Sentinels who the master is and replicates it. Only on the very first boot of
# the designated first member (empty data directory, no Sentinel answering) does
# it start as master. Its ACL users (default off, one user per purpose) are
# rendered from a template and the Docker secret files into a tmpfs, as hashes;
# the replication password (masterauth) goes to the runtime file on the same
# tmpfs, never into the Swarm config, the environment or a command line.
#
# Environment (plain settings, no secrets):
#   REDIS_ACL_LIB         the shared render_acl function (redis-acl.sh)
#   REDIS_ACL_TEMPLATE    the users, without passwords (Swarm config, read-only)
#   REDIS_ACL_USER_FILES  "user=/run/secrets/file ..." : the password file of each user
#   REDIS_REPLICATION_USER, REDIS_REPLICATION_PASSWORD_FILE  the user replicas log in to the master with
#   REDIS_HEALTH_USER     the password-less user that may PING and ROLE
#   REDIS_CONFIG          shared redis.conf (Swarm config, read-only)
#   REDIS_RUNTIME_DIR     tmpfs directory for the runtime config
#   REDIS_DATA_DIR        data directory (the member's own volume)
#   REDIS_ANNOUNCE_HOST   this member's stable hostname, announced to Sentinel and replicas
#   REDIS_PORT            port to listen on and announce
#   REDIS_BIND            addresses to bind
#   REDIS_SENTINELS       space-separated host:port of every Sentinel
#   REDIS_MASTER_NAME     name the Sentinels monitor the master under
#   REDIS_FIRST_MASTER    host:port of the designated first member
#   REDIS_DISCOVERY_TIMEOUT  seconds to wait for a Sentinel answer before giving up (exit 1, Swarm restarts)
set -eu

: "${REDIS_ACL_LIB:?}" "${REDIS_ACL_TEMPLATE:?}" "${REDIS_REPLICATION_USER:?}" "${REDIS_REPLICATION_PASSWORD_FILE:?}" "${REDIS_HEALTH_USER:?}" "${REDIS_CONFIG:?}" "${REDIS_RUNTIME_DIR:?}" "${REDIS_DATA_DIR:?}"
: "${REDIS_ANNOUNCE_HOST:?}" "${REDIS_PORT:?}" "${REDIS_SENTINELS:?}" "${REDIS_MASTER_NAME:?}" "${REDIS_FIRST_MASTER:?}"
REDIS_BIND="${REDIS_BIND:-* -::*}"
REDIS_DISCOVERY_TIMEOUT="${REDIS_DISCOVERY_TIMEOUT:-120}"

log() { printf '%s redis-member %s: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$REDIS_ANNOUNCE_HOST" "$*" >&2; }

# shellcheck source=/dev/null
. "$REDIS_ACL_LIB"

replication_password="$(head -n 1 "$REDIS_REPLICATION_PASSWORD_FILE")"
if [ -z "$replication_password" ]; then
  log "the password file $REDIS_REPLICATION_PASSWORD_FILE is empty"
  exit 1
fi

# Redis config strings: backslash and double quote escaped inside double quotes.
quoted() { printf '"%s"' "$(printf '%s' "$1" | sed 's/[\\"]/\\&/g')"; }

# Prints "host port" of the master as the first Sentinel that answers reports it.
ask_sentinels() {
  for sentinel in $REDIS_SENTINELS; do
    # The Sentinels' default user may ask who the master is, without a password.
    answer="$(timeout 3 redis-cli -h "${sentinel%:*}" -p "${sentinel##*:}" --raw SENTINEL get-master-addr-by-name "$REDIS_MASTER_NAME" 2>/dev/null)" || continue
    host="$(printf '%s\n' "$answer" | sed -n 1p)"
    port="$(printf '%s\n' "$answer" | sed -n 2p)"
    case "$port" in
      '' | *[!0-9]*) continue ;;
    esac
    [ -n "$host" ] || continue
    printf '%s %s\n' "$host" "$port"
    return 0
  done
  return 1
}

first_boot() {
  [ ! -e "$REDIS_DATA_DIR/appendonlydir" ] && [ ! -e "$REDIS_DATA_DIR/dump.rdb" ]
}

role=""
deadline=$(($(date +%s) + REDIS_DISCOVERY_TIMEOUT))
while :; do
  if master="$(ask_sentinels)"; then
    master_host="${master% *}"
    master_port="${master#* }"
    if [ "$master_host:$master_port" = "$REDIS_ANNOUNCE_HOST:$REDIS_PORT" ]; then
      log "the Sentinels name this member as master: starting as master"
      role=master
    else
      log "the Sentinels name $master_host:$master_port as master: starting as its replica"
      role=replica
    fi
    break
  fi
  if [ "$REDIS_FIRST_MASTER" = "$REDIS_ANNOUNCE_HOST:$REDIS_PORT" ] && first_boot; then
    log "first boot of the designated first member and no Sentinel answers: starting as master"
    role=master
    break
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    log "no Sentinel answered within ${REDIS_DISCOVERY_TIMEOUT}s; refusing to guess the master (exit, Swarm restarts the task)"
    exit 1
  fi
  log "waiting for a Sentinel to name the master ($REDIS_SENTINELS)"
  sleep 2
done

umask 077
mkdir -p "$REDIS_RUNTIME_DIR"
runtime="$REDIS_RUNTIME_DIR/redis.conf"
render_acl "$REDIS_ACL_TEMPLATE" "$REDIS_RUNTIME_DIR/users.acl"
{
  printf 'include %s\n' "$REDIS_CONFIG"
  printf 'bind %s\n' "$REDIS_BIND"
  printf 'port %s\n' "$REDIS_PORT"
  printf 'dir %s\n' "$REDIS_DATA_DIR"
  printf 'replica-announce-ip %s\n' "$REDIS_ANNOUNCE_HOST"
  printf 'replica-announce-port %s\n' "$REDIS_PORT"
  printf 'aclfile %s\n' "$REDIS_RUNTIME_DIR/users.acl"
  printf 'masteruser %s\n' "$REDIS_REPLICATION_USER"
  printf 'masterauth %s\n' "$(quoted "$replication_password")"
  if [ "$role" = replica ]; then
    printf 'replicaof %s %s\n' "$master_host" "$master_port"
  fi
} > "$runtime"

exec redis-server "$runtime"
