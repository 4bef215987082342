#!/usr/bin/env bash
# Start or stop a throwaway PostgreSQL cluster for the test suite.
#   scripts/pg-cluster.sh start DIR PORT   -> prints the connection URL
#   scripts/pg-cluster.sh stop DIR
# Works as root (the server refuses to run as root, so it runs as the `postgres` OS user,
# created if missing) and as an ordinary user. Installs PostgreSQL from apt if absent.
set -euo pipefail

action=${1:?start|stop}
dir=$(realpath -m -- "${2:?directory}")
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
  # From / : the server's user may not be allowed into the current directory.
  as_owner=(runuser -u "$owner" -- env -C /)
else
  owner=$(id -un)
  as_owner=()
fi

# Where the cluster lives: DIR itself, unless the server's user cannot reach it (running
# as root from a checkout inside a private directory, e.g. one made by mktemp -d); then a
# directory of its own under /tmp, whose path DIR/cluster records for `stop`.
cluster_root() {
  if [ -f "$dir/cluster" ]; then cat "$dir/cluster"; else echo "$dir"; fi
}

case "$action" in
  start)
    old=$(cluster_root)
    if [ -f "$old/data/postmaster.pid" ]; then
      "${as_owner[@]}" "$bindir/pg_ctl" -D "$old/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    [ "$old" != "$dir" ] && rm -rf "$old"
    rm -rf "$dir"
    install -d -m 755 "$dir"
    root="$dir"
    if [ ${#as_owner[@]} -gt 0 ] && ! "${as_owner[@]}" test -x "$dir"; then
      root=$(mktemp -d /tmp/authmail-pgtest.XXXXXX)
      echo "$root" >"$dir/cluster"
    fi
    chown "$owner" "$root"
    chmod 755 "$root"
    "${as_owner[@]}" "$bindir/initdb" -D "$root/data" -U postgres -A trust -E UTF8 --no-locale --no-sync >"$dir/initdb.log"
    "${as_owner[@]}" "$bindir/pg_ctl" -D "$root/data" -l "$root/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $root -c fsync=off -c full_page_writes=off -c max_connections=200" \
      start >/dev/null
    echo "postgresql://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    root=$(cluster_root)
    if [ -d "$root/data" ]; then
      "${as_owner[@]}" "$bindir/pg_ctl" -D "$root/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    [ "$root" != "$dir" ] && rm -rf "$root"
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start DIR PORT | stop DIR" >&2
    exit 2
    ;;
esac
