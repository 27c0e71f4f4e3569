#!/usr/bin/env bash
# `gcnsim run --jobs 2` against `--jobs 1` on one experiment (default byzantine_pre), measured
# in one session on the CPU backend: both wall times, their ratio, the CPU threads each run used,
# and whether the two results folders are identical (timing.csv aside). Run it on a quiet
# machine: other work on the cores changes both times.
#
#   scripts/jobs_timing.sh [EXPERIMENT] [JOBS]     e.g. scripts/jobs_timing.sh byzantine_pre 2
#   GCNSIM_BIN=path/to/gcnsim scripts/jobs_timing.sh   that binary, not a fresh release build
set -euo pipefail
cd "$(dirname "$0")/.."
export GCNSIM_DATA_DIR="${GCNSIM_DATA_DIR:-../shared/datasets}"
name=${1:-byzantine_pre}
jobs=${2:-2}

if [ -z "${GCNSIM_BIN:-}" ]; then cargo build --release --quiet; fi
bin=$(realpath "${GCNSIM_BIN:-target/release/gcnsim}")
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cores=$(nproc)

wall() { # wall seconds of a command, its output in $scratch/$1.log
    local log=$1
    shift
    local start end
    start=$(date +%s.%N)
    "$@" >"$scratch/$log.log" 2>&1 || { cat "$scratch/$log.log"; exit 1; }
    end=$(date +%s.%N)
    awk -v a="$start" -v b="$end" 'BEGIN { print b - a }'
}

# --jobs 1 runs each run on every core (the default --threads); --jobs N gives each run
# cores / N threads (gcnsim prints the split).
one=$(wall one "$bin" run "experiments/$name.toml" --backend cpu --jobs 1 --out "$scratch/one")
many=$(wall many "$bin" run "experiments/$name.toml" --backend cpu --jobs "$jobs" --out "$scratch/many")
split=$(grep -m1 "runs at a time" "$scratch/many.log" || echo "(one run at a time)")
if diff -rq -x timing.csv "$scratch/one" "$scratch/many" >/dev/null; then same=yes; else same=NO; fi

printf 'experiment %s on %s cores\n' "$name" "$cores"
printf -- '--jobs 1:  %7.1f s  (each run: %s CPU threads)\n' "$one" "$cores"
printf -- '--jobs %s:  %7.1f s  (%s)\n' "$jobs" "$many" "$split"
printf 'ratio:     %7.2fx\n' "$(awk -v a="$one" -v b="$many" 'BEGIN { print a / b }')"
printf 'identical folders (timing.csv aside): %s\n' "$same"
[ "$same" = yes ]
