#!/usr/bin/env bash
# The large-graph benchmark (issue #26): an ogbn-products-sized CSBM (2,449,029 nodes, ~61.8M
# undirected edges, 100 features, 47 classes, ogbn-products' split sizes) exported in the OGB raw
# layout, then
#   1. the first load (parsing CSV.gz, writing the binary cache) and the second (from the cache),
#   2. ms/epoch of a serial and a P = 64 METIS `exchange` epoch on the CPU backend (`gcnsim bench`),
#   3. a P = 64 random-partition `exchange` run (`gcnsim train`, a few epochs),
# each its own process under /usr/bin/time -v for wall time and peak RSS. Not in CI: it needs
# about 3 GiB of disk, 6 GiB of memory and 15-30 minutes on 2 cores.
#
#   scripts/bench_large.sh [WORKDIR]    default ${TMPDIR:-/tmp}/gcnsim-large (never the repository)
#   KEEP=1 scripts/bench_large.sh       keep the exported graph for another round
#   EPOCHS=3                            timed epochs per `bench` measurement
#
# Prints one line per measurement and writes WORKDIR/large.csv and WORKDIR/bench/bench.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
work="${1:-${TMPDIR:-/tmp}/gcnsim-large}"
epochs="${EPOCHS:-3}"
spec="csbm:nodes=2449029,classes=47,avg_degree=50.5173,features=100,train_per_class=4183,valid=39323,test=2213091"

cargo build --release --quiet
bin="$PWD/target/release/gcnsim"
mkdir -p "$work"
graph="$work/products"
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$graph"' EXIT

# `timed NAME CMD...`: runs CMD under /usr/bin/time -v and appends NAME,wall_s,peak_rss_mib.
csv="$work/large.csv"
# The process's wall and CPU (user + system) seconds, its CPU share (on a shared machine the wall
# time says more about the neighbours than about gcnsim), and the "loading dataset: done in S s"
# stage time where the process printed one.
echo "measure,wall_s,cpu_s,cpu_percent,load_stage_s,peak_rss_mib" >"$csv"
timed() {
    local name=$1
    shift
    /usr/bin/time -v -o "$work/$name.time" "$@" >"$work/$name.out" 2>"$work/$name.err"
    local wall cpu share stage rss
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s}' "$work/$name.time")
    cpu=$(awk -F': ' '/(User|System) time/ {s += $2} END {print s}' "$work/$name.time")
    share=$(awk -F': ' '/Percent of CPU/ {print $2}' "$work/$name.time")
    stage=$(sed -n 's/^loading dataset .*: done in \([0-9.]*\) s$/\1/p' "$work/$name.err" | head -1)
    rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2 / 1024}' "$work/$name.time")
    echo "$name,$wall,$cpu,${share%\%},${stage:-},$rss" >>"$csv"
    printf '%-16s wall %7.1f s  cpu %7.1f s (%s)  load stage %6s s  peak RSS %6d MiB\n' \
        "$name" "$wall" "$cpu" "$share" "${stage:--}" "$rss"
}

if [ ! -d "$graph" ]; then
    timed export "$bin" data export "$spec" "$graph"
fi
rm -rf "$graph/.gcnsim-cache"
timed load_csv "$bin" dataset-info "$graph"
timed load_cache "$bin" dataset-info "$graph"
timed bench_serial "$bin" bench --dataset "$graph" --backends cpu --partitions 1 --epochs "$epochs" --out "$work/bench" --tag large
timed bench_metis64 "$bin" bench --dataset "$graph" --backends cpu --partitions 64 --boundaries exchange --epochs "$epochs" --out "$work/bench" --tag large
rm -rf "$work/random64"
timed train_random64 "$bin" train --dataset "$graph" --backend cpu --partitions 64 --partitioner random --boundary exchange --epochs "$epochs" --out "$work/random64"
grep -h "ms/" "$work"/bench_*.out || true
