#!/bin/sh
# Entrypoint of one RabbitMQ node.
#
# Puts the Erlang cookie from the Docker secret file where Erlang reads it
# ($HOME/.erlang.cookie, owner-only), and assembles the definitions RabbitMQ
# imports at boot on a tmpfs: the platform definitions (virtual host with
# quorum as its default queue type) from the Swarm config, and the
# administrator with the password from its secret file. Then starts the node;
# peer discovery from the static node list forms the cluster, nobody runs
# join_cluster.
#
# Environment (plain settings, no secrets):
#   RABBITMQ_ERLANG_COOKIE_SECRET  secret file with the Erlang cookie
#   RABBITMQ_ADMIN_USER            administrator's user name
#   RABBITMQ_ADMIN_PASSWORD_FILE   secret file with the administrator's password
#   RABBITMQ_APP_USER_FILES        "app=/run/secrets/file ...": each application's password file (optional)
#   RABBITMQ_DEFINITIONS_TEMPLATE  platform definitions (Swarm config, read-only)
#   RABBITMQ_RUNTIME_DIR           tmpfs directory; rabbitmq.conf loads definitions from its definitions/ folder
#   HOME                           where Erlang looks for .erlang.cookie
set -eu

: "${RABBITMQ_ERLANG_COOKIE_SECRET:?}" "${RABBITMQ_ADMIN_USER:?}" "${RABBITMQ_ADMIN_PASSWORD_FILE:?}"
: "${RABBITMQ_DEFINITIONS_TEMPLATE:?}" "${RABBITMQ_RUNTIME_DIR:?}" "${HOME:?}"

umask 077

cookie="$HOME/.erlang.cookie"
if [ ! -s "$RABBITMQ_ERLANG_COOKIE_SECRET" ]; then
  echo "rabbitmq-node: the Erlang cookie file $RABBITMQ_ERLANG_COOKIE_SECRET is empty" >&2
  exit 1
fi
# A previous cookie is owner-read-only: remove it rather than write through it.
rm -f "$cookie"
tr -d '\n' < "$RABBITMQ_ERLANG_COOKIE_SECRET" > "$cookie"
chmod 400 "$cookie"

password="$(cat "$RABBITMQ_ADMIN_PASSWORD_FILE")"
if [ -z "$password" ]; then
  echo "rabbitmq-node: the password file $RABBITMQ_ADMIN_PASSWORD_FILE is empty" >&2
  exit 1
fi
json() { printf '"%s"' "$(printf '%s' "$1" | sed 's/[\\"]/\\&/g')"; }

definitions="$RABBITMQ_RUNTIME_DIR/definitions"
mkdir -p "$definitions"
cp "$RABBITMQ_DEFINITIONS_TEMPLATE" "$definitions/10-platform.json"
printf '{"users":[{"name":%s,"password":%s,"tags":["administrator"]}],"permissions":[{"user":%s,"vhost":"/","configure":".*","write":".*","read":".*"}]}\n' \
  "$(json "$RABBITMQ_ADMIN_USER")" "$(json "$password")" "$(json "$RABBITMQ_ADMIN_USER")" > "$definitions/20-admin.json"

# One user per application, no management tags, rights on its own virtual host only.
n=0
for pair in ${RABBITMQ_APP_USER_FILES:-}; do
  app="${pair%%=*}"
  file="${pair#*=}"
  app_password="$(head -n 1 "$file")"
  if [ -z "$app_password" ]; then
    echo "rabbitmq-node: the password file $file of application $app is empty" >&2
    exit 1
  fi
  n=$((n + 1))
  printf '{"users":[{"name":%s,"password":%s,"tags":[]}],"permissions":[{"user":%s,"vhost":%s,"configure":".*","write":".*","read":".*"}]}\n' \
    "$(json "$app")" "$(json "$app_password")" "$(json "$app")" "$(json "$app")" > "$definitions/30-app-$n.json"
done
unset app_password

exec rabbitmq-server
