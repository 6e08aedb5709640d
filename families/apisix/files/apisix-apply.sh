#!/bin/sh
# Applies the gateway's declared routes, upstreams and global rules through the
# APISIX Admin API, then re-applies them every APPLY_INTERVAL seconds (which
# also restores them if the configuration store was rebuilt).
#
# Every object has a fixed id and is written with PUT, so applying twice changes
# nothing. A changed manifest arrives as a new Swarm config (content-hashed
# name), which updates this service and applies the new objects at once.
#
# Environment (plain settings, no secrets):
#   ADMIN_URL            Admin API base URL, e.g. http://apisix:9180
#   ADMIN_KEY_FILE       Docker secret file with the admin key
#   MANIFEST             one request per line: <METHOD> <path> <compact JSON body>
#   REDIS_PASSWORD_FILE  Docker secret file substituted for __REDIS_PASSWORD__ (optional)
#   APPLY_INTERVAL       seconds between re-applies (default 600)
#   RETRY_DELAY          seconds between attempts until the first apply succeeds (default 5)
#   READY_FILE           created after the first complete apply; the healthcheck tests it
set -eu

: "${ADMIN_URL:?}" "${ADMIN_KEY_FILE:?}" "${MANIFEST:?}"
APPLY_INTERVAL="${APPLY_INTERVAL:-600}"
RETRY_DELAY="${RETRY_DELAY:-5}"
READY_FILE="${READY_FILE:-/tmp/apisix-routes.applied}"
REDIS_PASSWORD_FILE="${REDIS_PASSWORD_FILE:-}"

umask 077
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT INT TERM

log() { printf '%s apisix-routes: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }

# Secrets reach curl through files (-H @file, --data-binary @file), never its command line.
admin_key="$(head -n 1 "$ADMIN_KEY_FILE")"
printf 'X-API-KEY: %s\nContent-Type: application/json\n' "$admin_key" > "$work/headers"
unset admin_key

# Prints a body with the Redis password substituted literally (JSON-escaped);
# awk reads the password from its file, so it never appears in a process list.
render_body() {
  printf '%s\n' "$1" | awk -v file="$REDIS_PASSWORD_FILE" '
    function replace_all(s, find, repl,    out, i) {
      out = ""
      while ((i = index(s, find)) > 0) {
        out = out substr(s, 1, i - 1) repl
        s = substr(s, i + length(find))
      }
      return out s
    }
    BEGIN {
      pw = ""
      if (file != "") getline pw < file
      pw = replace_all(pw, "\\", "\\\\")
      pw = replace_all(pw, "\"", "\\\"")
    }
    { print replace_all($0, "__REDIS_PASSWORD__", pw) }'
}

apply_all() {
  count=0
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in ''|'#'*) continue ;; esac
    method="${line%% *}"
    rest="${line#* }"
    path="${rest%% *}"
    body="${rest#* }"
    if [ "$method" = DELETE ]; then
      set -- -X DELETE
    else
      render_body "$body" > "$work/body"
      set -- -X "$method" --data-binary "@$work/body"
    fi
    if ! code="$(curl -sS --max-time 10 -o "$work/response" -w '%{http_code}' -H "@$work/headers" "$@" "$ADMIN_URL$path")"; then
      log "$method $path: no answer from $ADMIN_URL"
      return 1
    fi
    case "$code" in
      200|201) ;;
      404) if [ "$method" != DELETE ]; then log "$method $path: HTTP 404"; return 1; fi ;;
      *) log "$method $path: HTTP $code: $(head -c 400 "$work/response")"; return 1 ;;
    esac
    count=$((count + 1))
  done < "$MANIFEST"
  log "applied $count object(s) from $MANIFEST"
}

rm -f "$READY_FILE"
until apply_all; do
  log "not applied yet; retrying in ${RETRY_DELAY}s"
  sleep "$RETRY_DELAY"
done
: > "$READY_FILE"

while :; do
  sleep "$APPLY_INTERVAL" &
  wait $!
  apply_all || log "re-apply failed; next attempt in ${APPLY_INTERVAL}s"
done
