#!/bin/sh
# Entrypoint of the stable `redis` endpoint (HAProxy) for clients that cannot
# speak Sentinel. The health check logs in with the password, which HAProxy
# reads from its own process environment ("${REDIS_PASSWORD}" in the config):
# it is read here from the Docker secret file, so it is neither in the Swarm
# config nor in the service's environment.
#
# Environment (plain settings, no secrets):
#   REDIS_PASSWORD_FILE   secret file with the password
#   HAPROXY_CONFIG        haproxy.cfg (Swarm config, read-only)
set -eu

: "${REDIS_PASSWORD_FILE:?}" "${HAPROXY_CONFIG:?}"

REDIS_PASSWORD="$(cat "$REDIS_PASSWORD_FILE")"
if [ -z "$REDIS_PASSWORD" ]; then
  echo "redis-endpoint: the password file $REDIS_PASSWORD_FILE is empty" >&2
  exit 1
fi
export REDIS_PASSWORD

# -W: master-worker (reloads without dropping the listener), -db: stay in the foreground.
exec haproxy -W -db -f "$HAPROXY_CONFIG"
