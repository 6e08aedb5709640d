#!/bin/sh
# Turns etcd's authentication on and keeps its users as declared, through etcd's
# JSON gateway (/v3/auth/...): a root user, one role with read/write on APISIX's
# key range and nothing else, and one user per client holding that role. Applies
# again every APPLY_INTERVAL seconds, so a rotated password file takes effect and
# a rebuilt cluster gets its users back.
#
# Every step is idempotent: "already exists" answers are expected on the second run,
# passwords are set again each time.
#
# Environment (plain settings, no secrets):
#   ETCD_URLS           client URLs, space-separated; the first that answers is used
#   ROOT_PASSWORD_FILE  Docker secret file with root's password
#   ROLE                the clients' role, e.g. apisix
#   KEY_B64             base64 of the first key of the role's range (the prefix)
#   RANGE_END_B64       base64 of the key after the range (prefix with its last byte + 1)
#   USERS               "name=/run/secrets/file ..." : the clients and their password files
#   APPLY_INTERVAL      seconds between applies (default 600)
#   RETRY_DELAY         seconds between attempts until the first apply succeeds (default 5)
#   READY_FILE          created after the first complete apply; the healthcheck tests it
set -eu

: "${ETCD_URLS:?}" "${ROOT_PASSWORD_FILE:?}" "${ROLE:?}" "${KEY_B64:?}" "${RANGE_END_B64:?}" "${USERS:?}"
APPLY_INTERVAL="${APPLY_INTERVAL:-600}"
RETRY_DELAY="${RETRY_DELAY:-5}"
READY_FILE="${READY_FILE:-/tmp/etcd-auth.applied}"

umask 077
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT INT TERM

log() { printf '%s etcd-auth: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }

# Writes {"<field>":"<name>","password":"<content of file>"} to $work/body; awk reads
# the password from its file, so it never reaches a command line or the environment.
credentials_body() {
  awk -v field="$1" -v name="$2" -v file="$3" 'BEGIN {
    pw = ""
    if ((getline pw < file) <= 0 || pw == "") { print "etcd-auth: cannot read a password from " file > "/dev/stderr"; exit 1 }
    gsub(/\\/, "\\\\", pw); gsub(/"/, "\\\"", pw)
    printf "{\"%s\":\"%s\",\"password\":\"%s\"}", field, name, pw
  }' > "$work/body"
}

# POSTs $work/body to $url$1 with the token (if any) from $work/headers; prints the answer.
post() {
  curl -sS --max-time 10 -H "@$work/headers" -H "Content-Type: application/json" --data-binary "@$work/body" "$url$1"
}

# A call whose answer is fine when it carries no error, or an error in $2 (a fixed string).
call() {
  path="$1"; tolerated="${2:-}"
  if ! answer="$(post "$path")"; then log "$path: no answer from $url"; return 1; fi
  case "$answer" in
    *'"error"'*)
      if [ -n "$tolerated" ] && printf '%s' "$answer" | grep -qF "$tolerated"; then return 0; fi
      log "$path: $(printf '%s' "$answer" | head -c 300)"; return 1 ;;
  esac
}

pick_endpoint() {
  for candidate in $ETCD_URLS; do
    if curl -sS --max-time 5 -o /dev/null "$candidate/version" 2>/dev/null; then url="$candidate"; return 0; fi
  done
  log "no etcd endpoint answers: $ETCD_URLS"
  return 1
}

authenticate() {
  : > "$work/headers"
  credentials_body name root "$ROOT_PASSWORD_FILE"
  answer="$(post /v3/auth/authenticate)" || { log "authenticate: no answer from $url"; return 1; }
  case "$answer" in
    *'"token"'*)
      token="$(printf '%s' "$answer" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')"
      printf 'Authorization: %s\n' "$token" > "$work/headers" ;;
    *'authentication is not enabled'*) ;;
    *) log "authenticate as root: $(printf '%s' "$answer" | head -c 300)"; return 1 ;;
  esac
}

# True when name's password already is the file's: then nothing changes (a password change
# revokes the user's tokens, and clients would have to log in again every APPLY_INTERVAL).
password_current() {
  cp "$work/headers" "$work/headers.kept"; : > "$work/headers"
  credentials_body name "$1" "$2"
  answer="$(post /v3/auth/authenticate)" || answer=""
  mv "$work/headers.kept" "$work/headers"
  case "$answer" in *'"token"'*) return 0 ;; *) return 1 ;; esac
}

# Adds a user, or sets its password when the file's differs.
ensure_user() {
  if password_current "$1" "$2"; then return 0; fi
  credentials_body name "$1" "$2"
  call /v3/auth/user/add "user name already exists"
  call /v3/auth/user/changepw
}

apply_all() {
  pick_endpoint
  authenticate
  # Once authentication is on, root's password is what root logged in with just now.
  if [ ! -s "$work/headers" ]; then
    credentials_body name root "$ROOT_PASSWORD_FILE"
    call /v3/auth/user/add "user name already exists"
    call /v3/auth/user/changepw
  fi
  printf '{"name":"root"}' > "$work/body"
  call /v3/auth/role/add "role name already exists"
  printf '{"user":"root","role":"root"}' > "$work/body"
  call /v3/auth/user/grant
  printf '{"name":"%s"}' "$ROLE" > "$work/body"
  call /v3/auth/role/add "role name already exists"
  printf '{"name":"%s","perm":{"permType":"READWRITE","key":"%s","range_end":"%s"}}' "$ROLE" "$KEY_B64" "$RANGE_END_B64" > "$work/body"
  call /v3/auth/role/grant
  for pair in $USERS; do
    name="${pair%%=*}"; file="${pair#*=}"
    ensure_user "$name" "$file"
    printf '{"user":"%s","role":"%s"}' "$name" "$ROLE" > "$work/body"
    call /v3/auth/user/grant
  done
  printf '{}' > "$work/body"
  call /v3/auth/enable
}

until apply_all; do
  log "retrying in ${RETRY_DELAY}s"
  sleep "$RETRY_DELAY"
done
touch "$READY_FILE"
log "authentication on; users ${USERS%%=*}... hold role $ROLE"

while sleep "$APPLY_INTERVAL"; do
  apply_all || log "apply failed; next attempt in ${APPLY_INTERVAL}s"
done
