#!/bin/sh
# Entrypoint of the stable `redis` endpoint (HAProxy) for clients that cannot
# speak Sentinel. Its health check logs in as the members' password-less health
# user, which may run PING and ROLE only: HAProxy holds no secret at all.
#
# Environment (plain settings, no secrets):
#   HAPROXY_CONFIG        haproxy.cfg (Swarm config, read-only)
set -eu

: "${HAPROXY_CONFIG:?}"

# -W: master-worker (reloads without dropping the listener), -db: stay in the foreground.
exec haproxy -W -db -f "$HAPROXY_CONFIG"
