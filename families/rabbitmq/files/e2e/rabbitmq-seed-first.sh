#!/bin/sh
# End-to-end image only: RabbitMQ 3.10 (Debian's) forms a cluster from the static peer list
# without the seed-node logic of 3.13 and later (the production image's 4.0): blank nodes
# booting in parallel each give up on their peers and start alone, as three one-node
# clusters. This wrapper gives the older server the newer behaviour on a blank first boot:
# the first node of the list boots alone at once (its peer list left out, so it does not
# wait on peers that cannot answer yet), every other node waits until it runs and then
# joins it through the normal peer discovery. Later boots (data present) go straight on.
set -eu

real=/usr/lib/rabbitmq/bin/rabbitmq-server
conf="${RABBITMQ_CONFIG_FILE:-/etc/rabbitmq/rabbitmq.conf}"
self="${RABBITMQ_NODENAME:-rabbit@$(hostname)}"
seed="$(sed -n 's/^cluster_formation\.classic_config\.nodes\.1 = //p' "$conf")"

if [ -z "$seed" ] || [ -d "/var/lib/rabbitmq/mnesia/$self" ]; then
  exec "$real" "$@"
fi

if [ "$seed" = "$self" ]; then
  runtime="${RABBITMQ_RUNTIME_DIR:-/tmp}"
  grep -v '^cluster_formation\.' "$conf" > "$runtime/rabbitmq-seed.conf"
  echo "e2e seed-first: $self is the seed: first boot alone" >&2
  RABBITMQ_CONFIG_FILE="$runtime/rabbitmq-seed.conf" exec "$real" "$@"
fi

host="${seed#*@}"
deadline=$(($(date +%s) + 600))
echo "e2e seed-first: blank node $self waits for the seed $seed to run" >&2
until getent hosts "$host" >/dev/null 2>&1 && rabbitmq-diagnostics -q -n "$seed" check_running >/dev/null 2>&1; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "e2e seed-first: $seed not running after 600 s; booting anyway" >&2
    break
  fi
  sleep 3
done
exec "$real" "$@"
