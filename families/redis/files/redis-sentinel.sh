#!/bin/sh
# Entrypoint of one Redis Sentinel.
#
# Sentinel rewrites its own config file, so it runs from a runtime copy on a
# tmpfs: a head written here (port, announced hostname, stable id, the master to
# monitor), the shared Swarm config body (timeouts, hostname resolution), its ACL
# users rendered from a template with password hashes, and the Sentinel user's
# password (to log in to the data members and the other Sentinels), read from
# its Docker secret file.
#
# The master to monitor is the one the other Sentinels name; failing that, the
# data member that reports role:master; failing that (first boot), the
# designated first member.
#
# Environment (plain settings, no secrets):
#   REDIS_ACL_LIB            the shared render_acl function (redis-acl.sh)
#   SENTINEL_ACL_TEMPLATE    the Sentinel's users, without passwords (Swarm config, read-only)
#   REDIS_ACL_USER_FILES     "user=/run/secrets/file ..." : the password file of each user
#   SENTINEL_USER, SENTINEL_PASSWORD_FILE  the user Sentinels log in to members and each other with
#   REDIS_HEALTH_USER        the members' password-less user that may PING and ROLE
#   SENTINEL_CONFIG          shared sentinel.conf body (Swarm config, read-only)
#   SENTINEL_RUNTIME_DIR     tmpfs directory for the runtime config
#   SENTINEL_ANNOUNCE_HOST   this Sentinel's stable hostname
#   SENTINEL_PORT            port to listen on and announce
#   SENTINEL_BIND            addresses to bind
#   SENTINEL_MYID            stable 40-hex-digit id, so a restart is the same Sentinel, not a new one
#   REDIS_SENTINELS          space-separated host:port of every Sentinel (this one included)
#   REDIS_MEMBERS            space-separated host:port of every data member
#   REDIS_MASTER_NAME        name of the monitored master
#   REDIS_QUORUM             Sentinels that must agree the master is down
#   REDIS_FIRST_MASTER       host:port of the designated first member
set -eu

: "${REDIS_ACL_LIB:?}" "${SENTINEL_ACL_TEMPLATE:?}" "${SENTINEL_USER:?}" "${SENTINEL_PASSWORD_FILE:?}" "${REDIS_HEALTH_USER:?}" "${SENTINEL_CONFIG:?}" "${SENTINEL_RUNTIME_DIR:?}" "${SENTINEL_ANNOUNCE_HOST:?}"
: "${SENTINEL_PORT:?}" "${SENTINEL_MYID:?}" "${REDIS_SENTINELS:?}" "${REDIS_MEMBERS:?}" "${REDIS_MASTER_NAME:?}"
: "${REDIS_QUORUM:?}" "${REDIS_FIRST_MASTER:?}"
SENTINEL_BIND="${SENTINEL_BIND:-* -::*}"

log() { printf '%s redis-sentinel %s: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$SENTINEL_ANNOUNCE_HOST" "$*" >&2; }

# shellcheck source=/dev/null
. "$REDIS_ACL_LIB"

password="$(head -n 1 "$SENTINEL_PASSWORD_FILE")"
if [ -z "$password" ]; then
  log "the password file $SENTINEL_PASSWORD_FILE is empty"
  exit 1
fi

quoted() { printf '"%s"' "$(printf '%s' "$1" | sed 's/[\\"]/\\&/g')"; }

from_sentinels() {
  for sentinel in $REDIS_SENTINELS; do
    [ "$sentinel" = "$SENTINEL_ANNOUNCE_HOST:$SENTINEL_PORT" ] && continue
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

from_members() {
  for member in $REDIS_MEMBERS; do
    role="$(timeout 3 redis-cli -h "${member%:*}" -p "${member##*:}" --user "$REDIS_HEALTH_USER" --pass "$REDIS_HEALTH_USER" --no-auth-warning --raw ROLE 2>/dev/null | sed -n 1p)" || continue
    if [ "$role" = master ]; then
      printf '%s %s\n' "${member%:*}" "${member##*:}"
      return 0
    fi
  done
  return 1
}

if master="$(from_sentinels)"; then
  log "the other Sentinels name $master as master"
elif master="$(from_members)"; then
  log "no other Sentinel answers; data member $master reports role:master"
else
  master="${REDIS_FIRST_MASTER%:*} ${REDIS_FIRST_MASTER##*:}"
  log "no Sentinel and no master answers: monitoring the designated first member $master"
fi

# Sentinel refuses to start on a monitor line whose host does not resolve; in the Swarm a
# member's name resolves only once its task runs (first deploy, rescheduling).
waited=0
until getent hosts "${master% *}" >/dev/null 2>&1; do
  if [ "$waited" -ge 60 ]; then
    log "${master% *} does not resolve after 60s; starting anyway (Sentinel will say why it cannot)"
    break
  fi
  sleep 1
  waited=$((waited + 1))
done

umask 077
mkdir -p "$SENTINEL_RUNTIME_DIR"
runtime="$SENTINEL_RUNTIME_DIR/sentinel.conf"
render_acl "$SENTINEL_ACL_TEMPLATE" "$SENTINEL_RUNTIME_DIR/users.conf"
{
  printf 'bind %s\n' "$SENTINEL_BIND"
  printf 'port %s\n' "$SENTINEL_PORT"
  printf 'dir %s\n' "$SENTINEL_RUNTIME_DIR"
  printf 'sentinel myid %s\n' "$SENTINEL_MYID"
  printf 'sentinel announce-ip %s\n' "$SENTINEL_ANNOUNCE_HOST"
  printf 'sentinel announce-port %s\n' "$SENTINEL_PORT"
  # Hostname resolution must be on before the monitor line names a host.
  printf 'sentinel resolve-hostnames yes\n'
  printf 'sentinel announce-hostnames yes\n'
  printf 'sentinel monitor %s %s %s %s\n' "$REDIS_MASTER_NAME" "${master% *}" "${master#* }" "$REDIS_QUORUM"
  cat "$SENTINEL_CONFIG"
  printf 'sentinel auth-user %s %s\n' "$REDIS_MASTER_NAME" "$SENTINEL_USER"
  printf 'sentinel auth-pass %s %s\n' "$REDIS_MASTER_NAME" "$(quoted "$password")"
  printf 'sentinel sentinel-user %s\n' "$SENTINEL_USER"
  printf 'sentinel sentinel-pass %s\n' "$(quoted "$password")"
  cat "$SENTINEL_RUNTIME_DIR/users.conf"
} > "$runtime"

exec redis-server "$runtime" --sentinel
