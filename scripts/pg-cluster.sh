#!/usr/bin/env bash
# Start or stop a throwaway PostgreSQL cluster for the test suite.
#   scripts/pg-cluster.sh start DIR PORT   -> prints the connection URL
#   scripts/pg-cluster.sh stop DIR
# Works as root (the server refuses to run as root, so it runs as the `postgres` OS user,
# created if missing) and as an ordinary user. Installs PostgreSQL from apt if absent.
set -euo pipefail

action=${1:?start|stop}
dir=${2:?directory}
port=${3:-55433}

find_bindir() {
  local candidate
  for candidate in /usr/lib/postgresql/*/bin; do
    [ -x "$candidate/initdb" ] && { echo "$candidate"; return 0; }
  done
  command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

bindir=$(find_bindir || true)
if [ -z "$bindir" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "PostgreSQL not found; installing it from apt" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq postgresql >/dev/null
    bindir=$(find_bindir)
  else
    echo "PostgreSQL server binaries not found (install the postgresql package)" >&2
    exit 1
  fi
fi

if [ "$(id -u)" = 0 ]; then
  owner=postgres
  id -u "$owner" >/dev/null 2>&1 || useradd --system --no-create-home "$owner"
  as_owner=(runuser -u "$owner" --)
else
  owner=$(id -un)
  as_owner=()
fi

case "$action" in
  start)
    if [ -f "$dir/data/postmaster.pid" ]; then
      "${as_owner[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    install -d -o "$owner" -m 755 "$dir"
    "${as_owner[@]}" "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale --no-sync >"$dir/initdb.log"
    "${as_owner[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c full_page_writes=off -c max_connections=200" \
      start >/dev/null
    echo "postgresql://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    if [ -d "$dir/data" ]; then
      "${as_owner[@]}" "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start DIR PORT | stop DIR" >&2
    exit 2
    ;;
esac
