#!/usr/bin/env bash
# storage-compare.sh: FerrisDB's storage engine vs fjall vs RocksDB, db_bench workloads, one table.
#
# Usage:  bench/storage-compare.sh [storage-bench options]
#   e.g.  bench/storage-compare.sh                       # the full run: 1,000,000 entries
#         bench/storage-compare.sh --num 50000           # a quick check of the pipeline
# Options are passed to storage-bench unchanged (see `storage-bench --help`); it forwards them
# to its per-engine children and turns them into db_bench flags, so all engines always get the
# same parameters. The table goes to stdout and to target/storage-compare.txt.
#
# What runs (defaults shown; see BENCHMARKS.md for the methodology):
#
#   apt-get install -y rocksdb-tools time        # only if /usr/bin/db_bench or /usr/bin/time is missing
#   cargo build --release -p ferrisdb-storage --features bench-fjall --bin storage-bench
#   target/release/storage-bench --db-bench /usr/bin/db_bench
#
# storage-bench then runs, one after the other:
#   target/release/storage-bench --child --engine=ferrisdb --num=1000000 --key-size=16 \
#       --value-size=100 --sync-num=100000 --sync-threads=1,4,16 --cache-mb=8 --seed=301 --dir=DIR
#   target/release/storage-bench --child --engine=fjall    (same options)
# and db_bench once per phase (COMMON = --num=1000000 --key_size=16 --value_size=100
#   --compression_type=none --cache_size=8388608 --seek_nexts=10 --statistics=1 --histogram=0
#   --progress_reports=0; each phase's seed is 301 + its offset: fillseq 0, fillrandom 1,
#   overwrite 2, reads 3, fillsync-T 100+T):
#   db_bench COMMON --seed=301 --db=DIR/rocksdb/main --benchmarks=fillseq,flush,waitforcompaction    --use_existing_db=0 --sync=0 --threads=1
#   db_bench COMMON --seed=302 --db=DIR/rocksdb/main --benchmarks=fillrandom,flush,waitforcompaction --use_existing_db=0 --sync=0 --threads=1
#   db_bench COMMON --seed=303 --db=DIR/rocksdb/main --benchmarks=overwrite,flush,waitforcompaction  --use_existing_db=1 --sync=0 --threads=1
#   db_bench COMMON --seed=304 --db=DIR/rocksdb/main --benchmarks=readrandom,readseq,seekrandom      --use_existing_db=1 --sync=0 --threads=1
#   db_bench COMMON --seed=402 --num=100000 --db=DIR/rocksdb/fillsync-1  --benchmarks=fillrandom,flush,waitforcompaction --use_existing_db=0 --sync=1 --threads=1
#   db_bench COMMON --seed=405 --num=25000  --db=DIR/rocksdb/fillsync-4  --benchmarks=fillrandom,flush,waitforcompaction --use_existing_db=0 --sync=1 --threads=4
#   db_bench COMMON --seed=417 --num=6250  --db=DIR/rocksdb/fillsync-16 --benchmarks=fillrandom,flush,waitforcompaction --use_existing_db=0 --sync=1 --threads=16
# (each db_bench runs under `/usr/bin/time -f '@peak_kb %M'` for its peak RSS; storage-bench
# prints the exact lines it runs on stderr).
#
# Run it on a quiet machine: anything else using the CPUs or the disk skews every number.
set -euo pipefail

cd "$(dirname "$0")/.."

need_pkgs=()
[ -x /usr/bin/db_bench ] || need_pkgs+=(rocksdb-tools)
[ -x /usr/bin/time ] || need_pkgs+=(time)
if [ ${#need_pkgs[@]} -gt 0 ]; then
    echo "storage-compare: installing ${need_pkgs[*]}" >&2
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq "${need_pkgs[@]}" >&2
fi

cargo build --release -p ferrisdb-storage --features bench-fjall --bin storage-bench >&2

mkdir -p target
target/release/storage-bench --db-bench /usr/bin/db_bench "$@" | tee target/storage-compare.txt
