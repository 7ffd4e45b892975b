#!/usr/bin/env bash
# pgbench against FerrisDB and a throwaway PostgreSQL 15 on the same machine, in the same run.
#
#   bench/pgbench-compare.sh                       # scale 10, 3 rounds of 20 s, 1/4/16 clients
#   SCALE=1 DURATION=5 CLIENTS="1 4" bench/pgbench-compare.sh   # quick pipeline check
#
# Both servers run with fsync on and their default durability (PostgreSQL: fsync=on,
# synchronous_commit=on; FerrisDB: every commit is fsynced before it is acknowledged).
# Each is initialised with `pgbench -i -s $SCALE`, then runs tpcb-like and select-only
# (`-S`) at each client count, $ROUNDS times for $DURATION seconds, alternating between the
# servers (the table shows each one's median), with `-M $PGMODE` (default prepared)
# and `--max-tries=$MAX_TRIES` (serialization failures are retried, as pgbench allows).
# Prints one table: TPS per server, the ratio FerrisDB / PostgreSQL, and failures.
#
# Needs: cargo, pgbench, initdb/pg_ctl of PostgreSQL 15 (found via pg_config or
# /usr/lib/postgresql/15/bin). Run as root, PostgreSQL runs as the `postgres` user.
set -euo pipefail

SCALE=${SCALE:-10}
DURATION=${DURATION:-20}
ROUNDS=${ROUNDS:-3}
CLIENTS=${CLIENTS:-"1 4 16"}
PGMODE=${PGMODE:-prepared}
MAX_TRIES=${MAX_TRIES:-100}
FDB_PORT=${FDB_PORT:-55433}
PG_PORT=${PG_PORT:-55432}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/pgbench-compare.XXXXXX)
chmod 755 "$WORK"

PGBIN=$(pg_config --bindir 2>/dev/null || true)
[ -x "$PGBIN/initdb" ] || PGBIN=/usr/lib/postgresql/15/bin
PGBENCH=$(command -v pgbench)

FDB_PID=""
cleanup() {
    [ -n "$FDB_PID" ] && kill "$FDB_PID" 2>/dev/null && wait "$FDB_PID" 2>/dev/null || true
    if [ -f "$WORK/pg/data/postmaster.pid" ]; then
        as_pg "$PGBIN/pg_ctl" -D "$WORK/pg/data" -m fast stop >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

echo "building ferrisdb (release)..." >&2
(cd "$ROOT" && cargo build --release -q -p ferrisdb-pgserver)

echo "starting FerrisDB on 127.0.0.1:$FDB_PORT ..." >&2
"$ROOT/target/release/ferrisdb" start --data-dir "$WORK/ferrisdb" \
    --pg-addr "127.0.0.1:$FDB_PORT" --addr 127.0.0.1:0 >"$WORK/ferrisdb.log" 2>&1 &
FDB_PID=$!

echo "starting PostgreSQL on 127.0.0.1:$PG_PORT ..." >&2
mkdir -p "$WORK/pg"
[ "$(id -u)" = 0 ] && chown postgres "$WORK/pg"
as_pg "$PGBIN/initdb" -D "$WORK/pg/data" -U postgres --auth=trust >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/log" -w start \
    -o "-p $PG_PORT -k $WORK/pg -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=100" >/dev/null

wait_for() {
    for _ in $(seq 1 100); do
        psql -X -q -h 127.0.0.1 -p "$1" -U postgres -c 'select 1' postgres >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    echo "server on port $1 did not come up" >&2
    exit 1
}
wait_for "$FDB_PORT"
wait_for "$PG_PORT"

init() {
    local t0=$SECONDS
    "$PGBENCH" -i -q -s "$SCALE" -h 127.0.0.1 -p "$1" -U postgres postgres >"$WORK/init-$1.log" 2>&1 \
        || { cat "$WORK/init-$1.log" >&2; exit 1; }
    echo "$((SECONDS - t0))"
}
echo "pgbench -i -s $SCALE ..." >&2
FDB_INIT=$(init "$FDB_PORT")
PG_INIT=$(init "$PG_PORT")

# Runs one pgbench; prints "tps failed".
run() {
    local port=$1 clients=$2 script=$3 out
    local threads=$(( clients < 2 ? clients : 2 ))
    out=$("$PGBENCH" -h 127.0.0.1 -p "$port" -U postgres -M "$PGMODE" -T "$DURATION" \
        -c "$clients" -j "$threads" --max-tries="$MAX_TRIES" $script postgres 2>&1) || {
        echo "$out" >&2
        echo "0 error"
        return
    }
    local tps failed
    tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | head -1)
    failed=$(echo "$out" | sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' | head -1)
    echo "${tps:-0} ${failed:-?}"
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
sum() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9]+$/ && b ~ /^[0-9]+$/) print a + b; else print "?" }'; }

printf '\nmachine: %s, %s cores, %s\n' "$(uname -m)" "$(nproc)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
printf 'scale %s, median of %s alternating %ss runs, -M %s, --max-tries=%s; init: FerrisDB %ss, PostgreSQL %ss\n\n' \
    "$SCALE" "$ROUNDS" "$DURATION" "$PGMODE" "$MAX_TRIES" "$FDB_INIT" "$PG_INIT"
printf '| workload | clients | FerrisDB TPS | PostgreSQL TPS | ratio | FerrisDB failed | PostgreSQL failed |\n'
printf '| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n'
for workload in tpcb-like select-only; do
    script=""
    [ "$workload" = select-only ] && script="-S"
    for c in $CLIENTS; do
        # ROUNDS alternating runs per server; the median TPS of each counts (this VM's
        # throughput drifts by tens of percent between back-to-back runs).
        fall=() pall=() ffail=0 pfail=0
        for _ in $(seq 1 "$ROUNDS"); do
            read -r t f < <(run "$FDB_PORT" "$c" "$script"); fall+=("$t"); ffail=$(sum "$ffail" "$f")
            read -r t f < <(run "$PG_PORT" "$c" "$script"); pall+=("$t"); pfail=$(sum "$pfail" "$f")
        done
        ftps=$(median "${fall[@]}")
        ptps=$(median "${pall[@]}")
        ratio=$(awk -v a="$ftps" -v b="$ptps" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
        printf '| %s | %s | %.0f | %.0f | %s | %s | %s |\n' "$workload" "$c" "$ftps" "$ptps" "$ratio" "$ffail" "$pfail"
    done
done
