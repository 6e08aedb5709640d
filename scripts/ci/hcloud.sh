# shellcheck shell=bash
# Hetzner Cloud API calls for the CI scripts (sourced, not run): one request
# helper that retries what Hetzner asks to be retried, with exponential backoff,
# and one bounded wait for actions. curl and jq only.
#
# Environment:
#   HCLOUD_TOKEN          required  API token of the Hetzner project (never on a command line:
#                                   curl reads the Authorization header from a 0600 file)
#   HCLOUD_ENDPOINT       optional  API base URL (default https://api.hetzner.cloud/v1), the same
#                                   variable the hcloud provider and CLI read
#   HC_MAX_ATTEMPTS       optional  attempts per request before giving up (default 6)
#   HC_BACKOFF_MS         optional  first wait after a 429, 409, 423 or 5xx; doubles each time
#                                   (default 1000)
#   HC_BACKOFF_CAP_MS     optional  longest single wait between attempts (default 60000)
#   HC_ACTION_TIMEOUT_S   optional  how long to wait for Hetzner actions to finish (default 180)
#   HC_POLL_MS            optional  first wait between action polls; doubles up to 5 s (default 1000)
#
# Hetzner allows 3600 requests an hour per project and answers 429
# rate_limit_exceeded beyond that: waiting longer after each refusal is what
# keeps a CI loop from being the reason the account gets blocked.
#
# Request and answer shapes, action states and what is worth retrying follow
# Hetzner's own Go client, hetznercloud/hcloud-go v2.47.0: hcloud/schema/*.go,
# hcloud/action.go, hcloud/client_handler_retry.go, hcloud/client.go (docs/ci.md
# lists the lines).

HCLOUD_ENDPOINT=${HCLOUD_ENDPOINT:-https://api.hetzner.cloud/v1}
HC_MAX_ATTEMPTS=${HC_MAX_ATTEMPTS:-6}
HC_BACKOFF_MS=${HC_BACKOFF_MS:-1000}
HC_BACKOFF_CAP_MS=${HC_BACKOFF_CAP_MS:-60000}
HC_ACTION_TIMEOUT_S=${HC_ACTION_TIMEOUT_S:-180}
HC_POLL_MS=${HC_POLL_MS:-1000}
HC_SCRIPT=${HC_SCRIPT:-hcloud}
HC_TMP=

die() {
  printf '%s: error: %s\n' "$HC_SCRIPT" "$*" >&2
  exit 1
}

note() {
  printf '%s: %s\n' "$HC_SCRIPT" "$*" >&2
}

hc_positive() {
  local name=$1 value=$2
  [[ $value =~ ^[1-9][0-9]*$ ]] || die "$name must be a positive whole number, got '$value'"
}

# Sleeps a number of milliseconds (GNU sleep takes fractions).
hc_sleep_ms() {
  local ms=$1
  sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
}

hc_cleanup() {
  if [ -n "$HC_TMP" ]; then rm -rf "$HC_TMP"; fi
}

# Checks the tools and the token, and writes the Authorization header where only
# this user can read it. Call once, before any request.
hc_init() {
  command -v curl >/dev/null || die "curl is not installed (the Hetzner API is reached with curl)"
  command -v jq >/dev/null || die "jq is not installed (Hetzner API answers are read with jq)"
  [ -n "${HCLOUD_TOKEN:-}" ] ||
    die "HCLOUD_TOKEN is empty: set it to a read/write API token of the Hetzner project (Security > API tokens)"
  [[ $HCLOUD_TOKEN =~ ^[A-Za-z0-9]+$ ]] ||
    die "HCLOUD_TOKEN does not look like a Hetzner API token (letters and digits only): check the secret's value for quotes, spaces or a line break"
  hc_positive HC_MAX_ATTEMPTS "$HC_MAX_ATTEMPTS"
  hc_positive HC_BACKOFF_MS "$HC_BACKOFF_MS"
  hc_positive HC_BACKOFF_CAP_MS "$HC_BACKOFF_CAP_MS"
  hc_positive HC_ACTION_TIMEOUT_S "$HC_ACTION_TIMEOUT_S"
  hc_positive HC_POLL_MS "$HC_POLL_MS"
  HC_TMP=$(mktemp -d)
  trap hc_cleanup EXIT
  (umask 077 && printf 'Authorization: Bearer %s\n' "$HCLOUD_TOKEN" >"$HC_TMP/headers")
}

# What to tell the user for a refusal that retrying cannot fix.
hc_hint() {
  local status=$1 code=$2
  case "$code:$status" in
    unauthorized:* | *:401) echo "HCLOUD_TOKEN is not a valid token (revoked, or of another project)" ;;
    token_readonly:* | forbidden:* | *:403) echo "HCLOUD_TOKEN may not do this: a read-only token can only read; use the read/write token of this project" ;;
    not_found:* | *:404) echo "no such resource in this Hetzner project" ;;
    *) echo "see the message above" ;;
  esac
}

# hc_request METHOD PATH [JSON BODY]: prints the response body of a 2xx answer.
# Retries 429 (rate limit), 409 (conflict), 423 (locked: another action runs on
# the resource), 500/502/503/504 and network errors with exponential backoff and
# jitter; anything else fails at once with what Hetzner said.
hc_request() {
  local method=$1 path=$2 body=${3-}
  local attempt=1 wait_ms=$HC_BACKOFF_MS status rc code message retry
  local args=(--silent --show-error --connect-timeout 10 --max-time 30 -X "$method"
    -H "@$HC_TMP/headers" -o "$HC_TMP/response" -w '%{http_code}')
  if [ -n "$body" ]; then
    printf '%s' "$body" >"$HC_TMP/body"
    args+=(-H 'Content-Type: application/json' --data-binary "@$HC_TMP/body")
  fi
  while :; do
    : >"$HC_TMP/response"
    rc=0
    status=$(curl "${args[@]}" "$HCLOUD_ENDPOINT$path" 2>"$HC_TMP/curl-error") || rc=$?
    if [ "$rc" -eq 0 ] && [[ $status =~ ^2[0-9][0-9]$ ]]; then
      cat "$HC_TMP/response"
      return 0
    fi
    code=$(jq -r '.error.code? // empty' "$HC_TMP/response" 2>/dev/null || true)
    message=$(jq -r '.error.message? // empty' "$HC_TMP/response" 2>/dev/null || true)
    retry=no
    if [ "$rc" -ne 0 ]; then
      # 6 resolve, 7 connect, 28 timeout, 35 TLS, 52 empty reply, 55/56 send/receive.
      case $rc in 6 | 7 | 28 | 35 | 52 | 55 | 56) retry=yes ;; esac
      status="network error (curl exit $rc: $(tr '\n' ' ' <"$HC_TMP/curl-error"))"
    else
      case $status in 409 | 423 | 429 | 500 | 502 | 503 | 504) retry=yes ;; esac
    fi
    if [ "$retry" = yes ] && [ "$attempt" -lt "$HC_MAX_ATTEMPTS" ]; then
      local jittered=$((wait_ms / 2 + RANDOM % (wait_ms / 2 + 1)))
      note "$method $path: $status${code:+ $code}; attempt $attempt of $HC_MAX_ATTEMPTS, retrying in ${jittered} ms"
      hc_sleep_ms "$jittered"
      attempt=$((attempt + 1))
      wait_ms=$((wait_ms * 2))
      if [ "$wait_ms" -gt "$HC_BACKOFF_CAP_MS" ]; then wait_ms=$HC_BACKOFF_CAP_MS; fi
      continue
    fi
    if [ "$retry" = yes ]; then
      die "Hetzner API $method $path failed $attempt times, last: $status${code:+ $code}${message:+: $message}"
    fi
    die "Hetzner API $method $path: $status${code:+ $code}${message:+: $message} ($(hc_hint "$status" "$code"))"
  done
}

# hc_wait_actions ID...: waits until every action has finished, within
# HC_ACTION_TIMEOUT_S for all of them together; fails naming the action that
# failed or is still running.
hc_wait_actions() {
  local deadline=$((SECONDS + HC_ACTION_TIMEOUT_S)) id poll answer status command
  for id in "$@"; do
    poll=$HC_POLL_MS
    while :; do
      answer=$(hc_request GET "/actions/$id")
      status=$(jq -r '.action.status' <<<"$answer")
      command=$(jq -r '.action.command' <<<"$answer")
      case $status in
        success) break ;;
        error)
          die "Hetzner action $id ($command) failed: $(jq -r '"\(.action.error.code // "no code"): \(.action.error.message // "no message")"' <<<"$answer")"
          ;;
        running) ;;
        *) die "Hetzner action $id ($command) has an unknown status '$status'" ;;
      esac
      if [ "$SECONDS" -ge "$deadline" ]; then
        die "Hetzner action $id ($command) is still running after ${HC_ACTION_TIMEOUT_S} s ($(jq -r '.action.progress' <<<"$answer")% done); raise HC_ACTION_TIMEOUT_S if Hetzner is slow today"
      fi
      hc_sleep_ms "$poll"
      poll=$((poll * 2))
      if [ "$poll" -gt 5000 ]; then poll=5000; fi
    done
  done
}

# Ids of the actions in an answer that carries "action" or "actions".
hc_action_ids() {
  jq -r '(.actions // []) + (if .action then [.action] else [] end) | .[].id'
}
