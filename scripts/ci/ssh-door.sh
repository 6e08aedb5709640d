#!/usr/bin/env bash
# The SSH door of a stack: a Hetzner firewall of its own ("<namePrefix>-ci-door",
# labels project=swarm-platform, stack=<stack>, role=ci-door), attached to every
# node and created without rules. The program ignores its rules (Pulumi
# ignoreChanges), so CI owns them and drift detection stays quiet.
#
#   ssh-door.sh address   prints this machine's public address(es) as CIDRs, one a line
#   ssh-door.sh open      admits tcp/SSH_PORT from this machine only (replaces every rule:
#                         a door left open by a runner that died is shut by the next open)
#   ssh-door.sh close     removes every rule (run it on every exit path of the job)
#   ssh-door.sh sweep     removes the rules whose time is up, keeps the others; for a
#                         schedule, so a runner that died cannot leave the door open for long
#
# Jobs that open the same stack's door must not overlap (the workflows share the
# concurrency group ci-door-<stack>): open and close replace the whole rule set.
#
# Environment:
#   STACK               required  the Pulumi stack whose door this is (its stack label)
#   HCLOUD_TOKEN        required  read/write API token of the stack's Hetzner project
#   SSH_PORT            open      the stack's sshPort
#   DOOR_TTL_MINUTES    open      how long the rule may live before sweep removes it: longer than
#                                 the job's timeout-minutes
#   DOOR_IPV4           optional  this machine's IPv4 address (default: asked from DOOR_IPV4_URL)
#   DOOR_IPV6           optional  this machine's IPv6 address, or "none" (default: asked from
#                                 DOOR_IPV6_URL; none when that cannot be reached)
#   DOOR_IPV4_URL       optional  default https://api.ipify.org
#   DOOR_IPV6_URL       optional  default https://api6.ipify.org
#   GITHUB_RUN_ID, GITHUB_RUN_ATTEMPT  name the run in the rule's description
# and the Hetzner settings of hcloud.sh (HCLOUD_ENDPOINT, HC_*). Progress goes to
# stderr; only `address` prints to stdout.
set -euo pipefail
# Without it, a failure inside $(...) would not stop the script.
shopt -s inherit_errexit

HC_SCRIPT=ssh-door
# shellcheck source=scripts/ci/hcloud.sh
. "$(dirname "${BASH_SOURCE[0]}")/hcloud.sh"

DOOR_IPV4_URL=${DOOR_IPV4_URL:-https://api.ipify.org}
DOOR_IPV6_URL=${DOOR_IPV6_URL:-https://api6.ipify.org}
# The description carries the run and the time after which sweep may remove the rule.
RULE_DESCRIPTION_RE='^ci-door run [^ ]+ until (?<until>[0-9]+)$'

usage() {
  die "usage: ssh-door.sh address|open|close|sweep (got '${1:-}'); see the comment at the top of the script"
}

ipv4_ok() {
  local ip=$1 octet
  [[ $ip =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$ ]] || return 1
  for octet in "${BASH_REMATCH[@]:1}"; do
    [ "$((10#$octet))" -le 255 ] || return 1
  done
}

ipv6_ok() {
  [[ $1 =~ ^[0-9a-fA-F:]+$ && $1 == *:*:* && ${#1} -le 39 ]]
}

# This machine's addresses as CIDRs: the IPv4 /32 always, the IPv6 /128 when it has one.
addresses() {
  local v4=${DOOR_IPV4:-} v6=${DOOR_IPV6:-} from4=DOOR_IPV4 from6=DOOR_IPV6
  if [ -z "$v4" ]; then
    from4=$DOOR_IPV4_URL
    v4=$(curl --silent --show-error --fail --ipv4 --connect-timeout 10 --max-time 20 --retry 3 "$DOOR_IPV4_URL") ||
      die "could not learn this runner's public IPv4 address from $DOOR_IPV4_URL (set DOOR_IPV4 to skip the lookup)"
  fi
  v4=$(tr -d '[:space:]' <<<"$v4")
  ipv4_ok "$v4" || die "this runner's public IPv4 address from $from4 is not an IPv4 address: '$(head -c 80 <<<"$v4")'"
  printf '%s/32\n' "$v4"
  if [ -z "$v6" ]; then
    from6=$DOOR_IPV6_URL
    # Most runners have no IPv6: a failed lookup means none, within a short bound.
    v6=$(curl --silent --fail --ipv6 --connect-timeout 5 --max-time 10 "$DOOR_IPV6_URL" 2>/dev/null) || v6=none
  fi
  v6=$(tr -d '[:space:]' <<<"$v6")
  if [ "$v6" != none ]; then
    ipv6_ok "$v6" || die "this runner's public IPv6 address from $from6 is not an IPv6 address: '$(head -c 80 <<<"$v6")'"
    printf '%s/128\n' "$v6"
  fi
}

# The door of $STACK: exactly one firewall with its labels, printed as JSON.
find_door() {
  local selector="project=swarm-platform,stack=$STACK,role=ci-door" answer count
  answer=$(hc_request GET "/firewalls?label_selector=$(jq -rn --arg s "$selector" '$s | @uri')")
  count=$(jq '.firewalls | length' <<<"$answer")
  if [ "$count" -eq 0 ]; then
    die "no firewall with the labels $selector in this Hetzner project: the stack has no SSH door yet. Its first 'pulumi up' with the door must run from an address in sshAllowedCidrs (see docs/ci.md, first-time set-up)"
  fi
  if [ "$count" -gt 1 ]; then
    die "$count firewalls carry the labels $selector ($(jq -r '[.firewalls[].name] | join(", ")' <<<"$answer")): one door per stack; delete the stray one"
  fi
  jq -c '.firewalls[0]' <<<"$answer"
}

rules_text() {
  jq -r 'if (.rules | length) == 0 then "no rules" else [.rules[] | "\(.protocol)/\(.port // "-") from \(.source_ips | join(" ")) (\(.description // "no description"))"] | join("; ") end'
}

set_rules() {
  local door=$1 rules=$2 id answer ids
  id=$(jq -r '.id' <<<"$door")
  answer=$(hc_request POST "/firewalls/$id/actions/set_rules" "$(jq -cn --argjson rules "$rules" '{rules: $rules}')")
  mapfile -t ids < <(hc_action_ids <<<"$answer")
  hc_wait_actions "${ids[@]}"
}

open_door() {
  [ -n "${SSH_PORT:-}" ] || die "SSH_PORT is empty: pass the stack's sshPort (pulumi config get sshPort --stack \"\$STACK\")"
  [[ $SSH_PORT =~ ^[1-9][0-9]{0,4}$ && $SSH_PORT -le 65535 ]] || die "SSH_PORT must be a port number 1-65535, got '$SSH_PORT'"
  [ -n "${DOOR_TTL_MINUTES:-}" ] || die "DOOR_TTL_MINUTES is empty: set it longer than the job's timeout-minutes, so sweep never shuts a running job out"
  hc_positive DOOR_TTL_MINUTES "$DOOR_TTL_MINUTES"
  local cidrs door until run rules
  cidrs=$(addresses)
  door=$(find_door)
  until=$(($(date +%s) + DOOR_TTL_MINUTES * 60))
  run="${GITHUB_RUN_ID:-local}/${GITHUB_RUN_ATTEMPT:-1}"
  rules=$(jq -cn --arg port "$SSH_PORT" --arg description "ci-door run $run until $until" --arg cidrs "$cidrs" \
    '[{direction: "in", protocol: "tcp", port: $port, source_ips: ($cidrs | split("\n") | map(select(. != ""))), description: $description}]')
  if [ "$(jq '.rules | length' <<<"$door")" -gt 0 ]; then
    note "replacing what the door still admitted: $(rules_text <<<"$door")"
  fi
  set_rules "$door" "$rules"
  note "door $(jq -r '.name' <<<"$door") open: tcp/$SSH_PORT from $(paste -sd' ' <<<"$cidrs") until $(date -u -d "@$until" '+%Y-%m-%dT%H:%MZ')"
}

close_door() {
  local door
  door=$(find_door)
  if [ "$(jq '.rules | length' <<<"$door")" -gt 0 ]; then
    note "removing: $(rules_text <<<"$door")"
  fi
  set_rules "$door" '[]'
  note "door $(jq -r '.name' <<<"$door") closed"
}

sweep_door() {
  local door now keep expired
  door=$(find_door)
  now=$(date +%s)
  # Rules without our description are not ours to judge: they stay (and show in the note).
  keep=$(jq -c --arg re "$RULE_DESCRIPTION_RE" --argjson now "$now" \
    '[.rules[] | select(((.description // "") | test($re) | not) or (((.description // "") | capture($re).until | tonumber) > $now)) | {direction, protocol, port, source_ips, destination_ips, description} | with_entries(select(.value != null and .value != []))]' <<<"$door")
  expired=$(jq -r --argjson keep "$keep" '(.rules | length) - ($keep | length)' <<<"$door")
  if [ "$expired" -eq 0 ]; then
    note "door $(jq -r '.name' <<<"$door"): nothing expired ($(rules_text <<<"$door"))"
    return 0
  fi
  note "door $(jq -r '.name' <<<"$door"): removing $expired expired rule(s) left by a job that did not close the door: $(rules_text <<<"$door")"
  set_rules "$door" "$keep"
  if [ -n "${GITHUB_ACTIONS:-}" ]; then
    echo "::warning title=SSH door left open::$expired rule(s) on the door of $STACK outlived their job and were removed"
  fi
}

mode=${1:-}
case $mode in
  address)
    addresses
    exit 0
    ;;
  open | close | sweep) ;;
  *) usage "$mode" ;;
esac
[ -n "${STACK:-}" ] || die "STACK is empty: name the Pulumi stack whose door to $mode"
hc_init
case $mode in
  open) open_door ;;
  close) close_door ;;
  sweep) sweep_door ;;
esac
