#!/bin/sh
# Renders a configuration template whose secrets are placeholders, reading each
# secret from its Docker secret file, into a memory-only file, then runs the
# service's own command.
#
#   render-secrets.sh <template> <output> <link|-> NAME=FILE... -- command [args...]
#
# Every NAME in the template is replaced literally by the content of FILE (one
# line, trailing newline dropped). The secrets travel through awk's input, never
# through a command line or the environment. <output> should be on a tmpfs
# (/dev/shm); <link>, when not "-", becomes a symlink to it at the path the
# program reads its configuration from.
set -eu

if [ "$#" -lt 4 ]; then
  echo "usage: render-secrets.sh <template> <output> <link|-> NAME=FILE... -- command..." >&2
  exit 64
fi
template="$1"
output="$2"
link="$3"
shift 3

pairs=""
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
  case "$1" in
    *=/*) pairs="$pairs
$1" ;;
    *) echo "render-secrets: expected NAME=/path/to/secret, got: $1" >&2; exit 64 ;;
  esac
  shift
done
if [ "$#" -eq 0 ]; then
  echo "render-secrets: missing -- and the command to run" >&2
  exit 64
fi
shift

umask 077
mkdir -p "$(dirname "$output")"
# awk reads the NAME=FILE list first (names and paths only), then each secret
# file by getline, then the template.
printf '%s\n' "$pairs" | sed '/^$/d' > "$output.pairs"
if [ ! -s "$output.pairs" ]; then
  echo "render-secrets: no NAME=FILE given" >&2
  exit 64
fi
awk '
  function replace_all(s, find, repl,    out, i) {
    out = ""
    while ((i = index(s, find)) > 0) {
      out = out substr(s, 1, i - 1) repl
      s = substr(s, i + length(find))
    }
    return out s
  }
  FNR == NR {
    eq = index($0, "=")
    name = substr($0, 1, eq - 1)
    file = substr($0, eq + 1)
    value = ""
    if ((getline value < file) <= 0 || value == "") { print "render-secrets: cannot read a value from " file > "/dev/stderr"; failed = 1; exit 1 }
    close(file)
    names[++n] = name
    values[n] = value
    next
  }
  {
    line = $0
    for (k = 1; k <= n; k++) line = replace_all(line, names[k], values[k])
    print line
  }
  END { if (failed) exit 1 }
' "$output.pairs" "$template" > "$output.tmp"
rm -f "$output.pairs"
mv "$output.tmp" "$output"

if [ "$link" != "-" ]; then
  ln -sf "$output" "$link"
fi

exec "$@"
