#!/bin/sh
# Sourced by the member and Sentinel entrypoints: renders an ACL template into the
# users a server loads. Each "user NAME on ..." line of the template whose NAME has a
# password file gets "#<sha256 of the password>" after "on": the rendered file holds
# hashes, never a password. Users without a file keep what the template says (nopass
# for the health user, off for default).
#
#   render_acl <template> <output>
#
# REDIS_ACL_USER_FILES: "NAME=/run/secrets/FILE ..." (plain names and paths, no secrets).

render_acl() {
  template="$1"
  output="$2"
  umask 077
  : > "$output.hashes"
  for pair in ${REDIS_ACL_USER_FILES:-}; do
    name="${pair%%=*}"
    file="${pair#*=}"
    secret="$(head -n 1 "$file")"
    if [ -z "$secret" ]; then
      echo "render_acl: the password file $file of user $name is empty" >&2
      return 1
    fi
    printf '%s %s\n' "$name" "$(printf '%s' "$secret" | sha256sum | cut -d ' ' -f 1)" >> "$output.hashes"
  done
  unset secret
  awk '
    FNR == NR { hash[$1] = $2; next }
    $1 == "user" && ($2 in hash) && $3 == "on" {
      rest = ""
      for (i = 4; i <= NF; i++) rest = rest " " $i
      print "user " $2 " on #" hash[$2] rest
      next
    }
    { print }
  ' "$output.hashes" "$template" > "$output.tmp"
  rm -f "$output.hashes"
  mv "$output.tmp" "$output"
}
