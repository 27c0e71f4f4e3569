#!/usr/bin/env bash
# For shipped experiments and N in {1, 2, 3, 7}: runs every shard K/N, merges them and checks
# that the merged folder equals the one-machine folder byte for byte (timing.csv aside). A merge
# succeeds only when every run lands in exactly one shard (`gcnsim merge` refuses missing and
# duplicated runs, naming them), so a pass checks both. Not in CI: each experiment runs five
# times (tests/sweeps.rs checks a small one on every test run).
#
#   scripts/shard_check.sh                  every experiments/*.toml
#   scripts/shard_check.sh quickstart ...   only these
#   SHARDS="2 3" scripts/shard_check.sh ... other shard counts
#   KEEP=1 scripts/shard_check.sh ...       keep the scratch folder
#   GCNSIM_BIN=path/to/gcnsim ...            that binary, not a fresh release build
#   EPOCHS=10 scripts/shard_check.sh ...     a copy of each experiment with `epochs = 10`: the
#                                            same runs, ids and shards in a fraction of the time
#
# Runs on the CPU backend. Exit status 1 when any check fails.
set -euo pipefail
cd "$(dirname "$0")/.."
export GCNSIM_DATA_DIR="${GCNSIM_DATA_DIR:-../shared/datasets}"

if [ -z "${GCNSIM_BIN:-}" ]; then cargo build --release --quiet; fi
bin=$(realpath "${GCNSIM_BIN:-target/release/gcnsim}")
scratch=$(mktemp -d)
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$scratch"' EXIT

if [ $# -eq 0 ]; then
    names=()
    for file in experiments/*.toml; do names+=("$(basename "$file" .toml)"); done
else
    names=("$@")
fi

# Every file of $1 equals $2's (the marker included), timing.csv aside.
same_folder() {
    diff -rq -x timing.csv "$1" "$2" >/dev/null
}

failed=()
for name in "${names[@]}"; do
    exp="experiments/$name.toml"
    if [ -n "${EPOCHS:-}" ]; then
        mkdir -p "$scratch/experiments"
        sed -E "s/^epochs = [0-9]+$/epochs = $EPOCHS/" "$exp" >"$scratch/experiments/$name.toml"
        exp="$scratch/experiments/$name.toml"
        if [ "$(grep -c "^epochs = $EPOCHS$" "$exp")" != 1 ]; then
            echo "$name: no single top-level epochs line to replace"
            failed+=("$name")
            continue
        fi
    fi
    start=$SECONDS
    if ! "$bin" run "$exp" --backend cpu --out "$scratch/$name/whole" >"$scratch/$name.log" 2>&1; then
        echo "$name: the one-machine run failed (see $scratch/$name.log)"
        failed+=("$name")
        continue
    fi
    runs=$(($(wc -l <"$scratch/$name/whole/runs.csv") - 1))
    for n in ${SHARDS:-1 2 3 7}; do
        shards=()
        ok=1
        for k in $(seq 1 "$n"); do
            out="$scratch/$name/shard-$n-$k"
            "$bin" run "$exp" --backend cpu --shard "$k/$n" --out "$out" >>"$scratch/$name.log" 2>&1 || ok=0
            shards+=("$out")
        done
        if [ $ok = 1 ] && "$bin" merge "$scratch/$name/merged-$n" "${shards[@]}" >>"$scratch/$name.log" 2>&1 &&
            same_folder "$scratch/$name/whole" "$scratch/$name/merged-$n"; then
            echo "$name: N = $n: $runs runs, merged folder identical"
        else
            echo "$name: N = $n: FAILED (see $scratch/$name.log)"
            failed+=("$name/$n")
        fi
    done
    echo "$name: $((SECONDS - start)) s"
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "failed: ${failed[*]}"
    exit 1
fi
echo "all identical: ${names[*]}"
