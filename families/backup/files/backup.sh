#!/bin/sh
# The backup runner: dumps every source of the platform on a schedule into one
# restic repository, and restores a chosen snapshot of a source into the running
# platform. Plain data from $BACKUP_CONF (JSON, no secrets); secrets are files under
# $BACKUP_SECRETS; nothing secret is put on a command line or in the environment.
#
#   backup.sh serve                       schedule loop (the service's command)
#   backup.sh run [source...]             back up now (all sources, or the named ones)
#   backup.sh snapshots [source]          list snapshots
#   backup.sh restore <source> [snapshot] restore a snapshot (default: latest) into the platform
set -eu

CONF=${BACKUP_CONF:-/platform/backup.json}
SECRETS=${BACKUP_SECRETS:-/run/secrets}
RUN=${BACKUP_RUN:-/run/backup}
WORK=${BACKUP_WORK:-/var/lib/backup}
METRICS=$RUN/metrics

log() { printf '%s backup: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
conf() { jq -r "$1" "$CONF"; }
src() { jq -r --arg s "$1" ".sources[] | select(.source == \$s) | $2" "$CONF"; }
secret() { cat "$SECRETS/$1"; }

setup() {
  umask 077
  mkdir -p "$RUN" "$WORK" "$METRICS"
  RESTIC_REPOSITORY=$(conf .repository)
  RESTIC_PASSWORD_FILE=$SECRETS/$(conf .passwordSecret)
  RESTIC_CACHE_DIR=$WORK/cache
  HOME=$RUN
  export RESTIC_REPOSITORY RESTIC_PASSWORD_FILE RESTIC_CACHE_DIR HOME
  case $(conf .target.kind) in
    sftp)
      # ssh reads ~/.ssh of the passwd entry, not $HOME: restic is given the ssh command with -F instead.
      conf .target.knownHosts > "$RUN/known_hosts"
      {
        printf 'Host %s\n' "$(conf .target.host)"
        printf '  Port %s\n' "$(conf .target.port)"
        printf '  IdentityFile %s\n' "$SECRETS/$(conf .target.keySecret)"
        printf '  IdentitiesOnly yes\n  BatchMode yes\n  StrictHostKeyChecking yes\n'
        printf '  UserKnownHostsFile %s\n' "$RUN/known_hosts"
        printf '  ServerAliveInterval 30\n  ServerAliveCountMax 4\n'
      } > "$RUN/ssh_config"
      SFTP_COMMAND="ssh -F $RUN/ssh_config -l $(conf .target.user) $(conf .target.host) -s sftp"
      ;;
    s3)
      # minio-go's FileAWSCredentials (restic's credential chain) reads this file.
      AWS_SHARED_CREDENTIALS_FILE=$RUN/aws-credentials
      export AWS_SHARED_CREDENTIALS_FILE
      printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
        "$(secret "$(conf .target.accessKeySecret)")" "$(secret "$(conf .target.secretKeySecret)")" > "$AWS_SHARED_CREDENTIALS_FILE"
      ;;
    *) die "unknown target kind in $CONF" ;;
  esac
}

SFTP_COMMAND=""
restic() {
  if [ -n "$SFTP_COMMAND" ]; then command restic -o "sftp.command=$SFTP_COMMAND" "$@"; else command restic "$@"; fi
}

ensure_repo() {
  if ! restic cat config >/dev/null 2>&1; then
    log "initialising repository $RESTIC_REPOSITORY"
    restic init >/dev/null
  fi
}

# ---- metrics: one textfile, served by busybox httpd at /metrics ----
# Every run rewrites its source's lines; the whole file is replaced atomically.
metric_set() { # name source value
  f=$METRICS/state
  touch "$f"
  grep -v "^$1{source=\"$2\"} " "$f" > "$f.new" || true
  printf '%s{source="%s"} %s\n' "$1" "$2" "$3" >> "$f.new"
  mv "$f.new" "$f"
  publish
}
publish() {
  {
    printf '# HELP backup_last_success_timestamp_seconds End of the last successful backup of a source.\n'
    printf '# TYPE backup_last_success_timestamp_seconds gauge\n'
    printf '# HELP backup_last_run_success 1 when the last backup of a source succeeded.\n'
    printf '# TYPE backup_last_run_success gauge\n'
    printf 'backup_interval_seconds %s\n' "$(conf .intervalSeconds)"
    # Written by `serve` only: a manual `run` in the same container keeps the runner's start.
    printf 'backup_runner_start_timestamp_seconds %s\n' "$(cat "$METRICS/started" 2>/dev/null || echo 0)"
    sort "$METRICS/state" 2>/dev/null || true
  } > "$METRICS/metrics.new"
  mv "$METRICS/metrics.new" "$METRICS/metrics"
}

# ---- dumps, one per method kind ----
redis_cli() { # host:port args...: the password goes by REDISCLI_AUTH to this one process only; the ACL user by name
  hp=$1; shift
  REDISCLI_AUTH=$(secret "$(src "$SOURCE" .method.passwordSecret)") redis-cli --no-auth-warning --user "$(src "$SOURCE" .method.user)" -h "${hp%:*}" -p "${hp##*:}" "$@"
}
redis_role() { redis_cli "$1" ROLE 2>/dev/null | head -n 1; }

dump_redis_rdb() { # out-dir
  members=$(src "$SOURCE" '.method.members[]')
  count=$(printf '%s\n' "$members" | wc -l)
  chosen=""
  for m in $members; do
    if [ "$(redis_role "$m")" = "slave" ] && redis_cli "$m" INFO replication | grep -q '^master_link_status:up'; then chosen=$m; break; fi
  done
  if [ -z "$chosen" ]; then
    # Never fork the master while replicas exist; a lone member has no replica to ask.
    [ "$count" -eq 1 ] || die "$SOURCE: no replica with a live link to the master; not dumping from the master"
    chosen=$members
    log "$SOURCE: single member, dumping from $chosen"
  fi
  log "$SOURCE: RDB from $chosen"
  redis_cli "$chosen" --rdb "$1/dump.rdb" >/dev/null
}

http_config() { # curl config on stdin: credentials never on argv
  if [ "$(src "$SOURCE" '.method.auth.basicUser // empty')" != "" ]; then
    printf 'user = "%s:%s"\n' "$(src "$SOURCE" .method.auth.basicUser)" "$(secret "$(src "$SOURCE" .method.auth.passwordSecret)")"
  else
    printf 'header = "X-Vault-Token: %s"\n' "$(secret "$(src "$SOURCE" .method.auth.tokenSecret)")"
  fi
  ca=$(src "$SOURCE" '.method.caSecret // empty')
  [ -z "$ca" ] || printf 'cacert = "%s"\n' "$SECRETS/$ca"
}
dump_http() {
  http_config | curl -fsS --max-time 600 -K - -o "$1/$(src "$SOURCE" .file)" "$(src "$SOURCE" .method.baseUrl)$(src "$SOURCE" .method.dumpPath)"
}

etcd_live() { # etcdctl against the live cluster: the user and password go by environment to this one process only
  ETCDCTL_USER="$(src "$SOURCE" .method.user)" ETCDCTL_PASSWORD="$(secret "$(src "$SOURCE" .method.passwordSecret)")" etcdctl "$@"
}
dump_etcd_snapshot() {
  for e in $(src "$SOURCE" '.method.endpoints[]'); do
    if etcd_live --endpoints="$e" --command-timeout=120s snapshot save "$1/etcd.snapshot" >/dev/null 2>"$WORK/etcd.err"; then
      log "$SOURCE: snapshot from $e"; return 0
    fi
    log "$SOURCE: $e: $(tail -n 1 "$WORK/etcd.err")"
  done
  die "$SOURCE: no endpoint gave a snapshot"
}

source_dir() { printf '%s/%s' "$(conf .sourcesRoot)" "$SOURCE"; }
dump_sqlite() {
  file=$(src "$SOURCE" .method.file)
  sqlite3 "$(source_dir)/$file" ".backup '$1/$file'"
}
dump_files() { cp -a "$(source_dir)/." "$1/"; }

backup_one() {
  SOURCE=$1
  kind=$(src "$SOURCE" .method.kind)
  [ -n "$kind" ] || die "no source $SOURCE in $CONF"
  out=$WORK/dump/$SOURCE
  rm -rf "$out"; mkdir -p "$out"
  start=$(date +%s)
  case $kind in
    redis-rdb) dump_redis_rdb "$out" ;;
    http) dump_http "$out" ;;
    etcd-snapshot) dump_etcd_snapshot "$out" ;;
    sqlite) dump_sqlite "$out" ;;
    files) dump_files "$out" ;;
    *) die "$SOURCE: unknown method $kind" ;;
  esac
  restic backup --quiet --host platform --tag "$SOURCE" "$out"
  # shellcheck disable=SC2046 # the keep flags are words
  restic forget --quiet --host platform --tag "$SOURCE" --prune $(conf '.keep | to_entries[] | select(.value > 0) | "--keep-\(.key) \(.value)"')
  rm -rf "$out"
  log "$SOURCE: done in $(( $(date +%s) - start ))s"
}

run_sources() { # sources...: every one is tried; the exit code says whether all succeeded
  failed=0
  for s in "$@"; do
    # A process of its own: errexit holds inside it (it would not in a condition).
    if sh "$0" _one "$s"; then
      metric_set backup_last_run_success "$s" 1
      metric_set backup_last_success_timestamp_seconds "$s" "$(date +%s)"
    else
      metric_set backup_last_run_success "$s" 0
      failed=1
    fi
    metric_set backup_last_run_timestamp_seconds "$s" "$(date +%s)"
  done
  return $failed
}

all_sources() { conf '.sources[].source'; }

# The last good backup of each source according to the repository, so a restarted
# runner reports the truth instead of "never".
seed_metrics() {
  for s in $(all_sources); do
    t=$(restic snapshots --json --host platform --tag "$s" --latest 1 2>/dev/null | jq -r 'map(.time) | max // empty' || true)
    if [ -n "$t" ]; then metric_set backup_last_success_timestamp_seconds "$s" "$(date -d "$t" +%s)"; fi
  done
  publish
}

serve() {
  date +%s > "$METRICS/started"
  publish
  port=$(conf .metricsPort)
  if [ "$port" != "0" ]; then busybox httpd -p "$port" -h "$METRICS"; fi
  until ensure_repo; do log "repository not reachable; retrying in 60s"; sleep 60; done
  seed_metrics
  interval=$(conf .intervalSeconds)
  while :; do
    # Runs start at multiples of the interval (UTC): a restart neither skips nor repeats one.
    now=$(date +%s)
    sleep $(( interval - now % interval ))
    # shellcheck disable=SC2046
    run_sources $(all_sources) || log "some sources failed; see above"
  done
}

# ---- restores, one per method kind: into the running platform ----
snapshot_dir() { # snapshot-id -> the folder the dump was taken from (as stored in the snapshot)
  restic snapshots --json "$1" | jq -r '.[0].paths[0]'
}

fetch_snapshot() { # snapshot out-dir: sets RESTORED to the dump folder inside out-dir
  id=$1
  if [ "$id" = "latest" ]; then
    id=$(restic snapshots --json --host platform --tag "$SOURCE" | jq -r 'max_by(.time) | .short_id // empty')
    [ -n "$id" ] || die "$SOURCE: no snapshot in the repository"
  fi
  dir=$(restic snapshots --json --host platform --tag "$SOURCE" | jq -r --arg id "$id" '.[] | select(.short_id == $id or .id == $id) | .paths[0]')
  [ -n "$dir" ] || die "$SOURCE: no snapshot $id of this source (list them: backup.sh snapshots $SOURCE)"
  log "$SOURCE: restoring snapshot $id"
  restic restore --quiet "$id" --target "$2"
  RESTORED=$2$dir
}

restore_redis_rdb() {
  master=""
  for m in $(src "$SOURCE" '.method.members[]'); do
    if [ "$(redis_role "$m")" = "master" ]; then master=$m; break; fi
  done
  [ -n "$master" ] || die "$SOURCE: no member reports role master; restore when Redis is up"
  port=$(( 20000 + $$ % 20000 ))
  redis-server --bind 127.0.0.1 --port "$port" --dir "$RESTORED" --dbfilename dump.rdb --save '' --appendonly no \
    --daemonize yes --pidfile "$WORK/restore-redis.pid" --logfile "$WORK/restore-redis.log"
  trap 'kill "$(cat "$WORK/restore-redis.pid")" 2>/dev/null || true' EXIT
  i=0; until redis-cli -p "$port" PING 2>/dev/null | grep -q PONG; do i=$((i + 1)); [ $i -lt 120 ] || die "temporary redis-server did not load the RDB"; sleep 0.5; done
  total=0
  for db in $(redis-cli -p "$port" INFO keyspace | sed -n 's/^db\([0-9]*\):.*/\1/p'); do
    # The temporary server copies every key to the master itself (MIGRATE COPY REPLACE keeps TTLs);
    # the commands, password included, go through stdin, never argv. Keys are quoted for
    # redis-cli's parser (a key holding a newline cannot be listed by --scan and is not copied).
    redis-cli -p "$port" -n "$db" --scan | awk -v h="${master%:*}" -v p="${master##*:}" -v db="$db" -v user="$(src "$SOURCE" .method.user)" -v pwfile="$SECRETS/$(src "$SOURCE" .method.passwordSecret)" '
      BEGIN { getline pw < pwfile }
      function flush() { if (n > 0) print "MIGRATE " h " " p " \"\" " db " 60000 COPY REPLACE AUTH2 \"" user "\" \"" pw "\" KEYS" keys; keys = ""; n = 0 }
      { k = $0; gsub(/\\/, "&&", k); gsub(/"/, "\\\"", k); keys = keys " \"" k "\""; n++; sent++ }
      n == 100 { flush() }
      END { flush(); print sent + 0 > "/dev/stderr" }' 2> "$WORK/migrate.count" \
      | redis-cli -p "$port" -n "$db" > "$WORK/migrate.out"
    if grep -v '^OK$' "$WORK/migrate.out" | grep -q .; then die "$SOURCE: MIGRATE answered: $(grep -v '^OK$' "$WORK/migrate.out" | head -n 3)"; fi
    total=$(( total + $(cat "$WORK/migrate.count") ))
  done
  log "$SOURCE: $total keys copied to the master $master"
}

restore_http() {
  file=$RESTORED/$(src "$SOURCE" .file)
  http_config | curl -fsS --max-time 600 -K - -X POST -H "Content-Type: $(src "$SOURCE" .method.contentType)" --data-binary "@$file" \
    "$(src "$SOURCE" .method.baseUrl)$(src "$SOURCE" .method.restorePath)" >/dev/null
  log "$SOURCE: posted $(wc -c < "$file") bytes to $(src "$SOURCE" .method.restorePath)"
}

restore_etcd_snapshot() {
  live=$(src "$SOURCE" '.method.endpoints | join(",")')
  cport=$(( 30000 + $$ % 10000 )); pport=$(( cport + 10000 ))
  tmp=$WORK/etcd-restore
  rm -rf "$tmp"
  ETCDCTL_API=3 etcdctl snapshot restore "$RESTORED/etcd.snapshot" --data-dir "$tmp" --name restore \
    --initial-cluster "restore=http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" >/dev/null 2>&1
  etcd --name restore --data-dir "$tmp" --listen-client-urls "http://127.0.0.1:$cport" --advertise-client-urls "http://127.0.0.1:$cport" \
    --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
    --initial-cluster "restore=http://127.0.0.1:$pport" > "$WORK/etcd-restore.log" 2>&1 &
  epid=$!
  trap 'kill "$epid" 2>/dev/null || true' EXIT
  i=0; until etcd_live --endpoints="127.0.0.1:$cport" endpoint health >/dev/null 2>&1; do i=$((i + 1)); [ $i -lt 120 ] || die "temporary etcd did not start"; sleep 0.5; done
  # Keys and values travel base64-encoded and are written byte for byte (etcdctl put reads the value from stdin).
  # The snapshot carries the cluster's users, authentication on: root logs in here too.
  etcd_live --endpoints="127.0.0.1:$cport" get "" --prefix -w json | jq -r '.kvs // [] | .[] | "\(.key) \(.value // "")"' > "$WORK/etcd-kvs"
  n=0
  while read -r k v; do
    key=$(printf '%s' "$k" | base64 -d)
    # etcdctl refuses an empty stdin as a value: an empty value goes as an argument.
    if [ -z "$v" ]; then etcd_live --endpoints="$live" put -- "$key" "" >/dev/null
    else printf '%s' "$v" | base64 -d | etcd_live --endpoints="$live" put -- "$key" >/dev/null; fi
    n=$((n + 1))
  done < "$WORK/etcd-kvs"
  log "$SOURCE: $n keys written to $live"
}

restore_files() { # the service is scaled to 0 by the caller (see the printed command)
  dest=$(source_dir)
  find "$dest" -mindepth 1 -delete
  cp -a "$RESTORED/." "$dest/"
  log "$SOURCE: files restored into $dest"
}
restore_sqlite() {
  file=$(src "$SOURCE" .method.file)
  # Overwrite in place: the file keeps its owner and mode; a stale journal would be replayed onto it.
  rm -f "$(source_dir)/$file-journal" "$(source_dir)/$file-wal" "$(source_dir)/$file-shm"
  cat "$RESTORED/$file" > "$(source_dir)/$file"
  log "$SOURCE: $file restored"
}

restore() {
  SOURCE=${1:?usage: backup.sh restore <source> [snapshot]}
  kind=$(src "$SOURCE" .method.kind)
  [ -n "$kind" ] || die "no source $SOURCE; sources: $(all_sources | tr '\n' ' ')"
  target=$WORK/restore/$SOURCE
  rm -rf "$target"; mkdir -p "$target"
  fetch_snapshot "${2:-latest}" "$target"
  case $kind in
    redis-rdb) restore_redis_rdb ;;
    http) restore_http ;;
    etcd-snapshot) restore_etcd_snapshot ;;
    sqlite) restore_sqlite ;;
    files) restore_files ;;
  esac
  rm -rf "$target"
  log "$SOURCE: restore finished"
}

cmd=${1:-serve}
[ $# -eq 0 ] || shift
setup
case $cmd in
  serve) serve ;;
  run)
    ensure_repo
    # shellcheck disable=SC2046 # source names are words
    if [ $# -eq 0 ]; then set -- $(all_sources); fi
    run_sources "$@"
    ;;
  snapshots) restic snapshots --host platform ${1:+--tag "$1"} ;;
  restore) restore "$@" ;;
  _one) backup_one "$1" ;;
  *) die "unknown command $cmd (serve, run, snapshots, restore)" ;;
esac
