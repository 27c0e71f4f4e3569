#!/usr/bin/env bash
# Re-runs shipped experiments into a scratch folder and lists the committed results folders that
# differ from what the code makes now (timing.csv and env.json's commit lines aside). Not in CI:
# the whole set takes about 25 minutes on 2 cores.
#
#   scripts/reproduce.sh                 every experiments/*.toml with a results/NAME folder
#   scripts/reproduce.sh quickstart ...  only these
#   KEEP=1 scripts/reproduce.sh ...      keep the scratch folder to inspect the differences
#
# Dataset experiments read $GCNSIM_DATA_DIR (default ../shared/datasets). Exit status 1 when any
# folder differs.
set -euo pipefail
cd "$(dirname "$0")/.."
export GCNSIM_DATA_DIR="${GCNSIM_DATA_DIR:-../shared/datasets}"

cargo build --release --quiet
bin=target/release/gcnsim
scratch=$(mktemp -d)
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$scratch"' EXIT

if [ $# -eq 0 ]; then
    names=()
    for file in experiments/*.toml; do
        name=$(basename "$file" .toml)
        [ -d "results/$name" ] && names+=("$name")
    done
else
    names=("$@")
fi

strip_env() { grep -v -e '"source_commit"' -e '"source_dirty"' "$1"; }

differ=()
for name in "${names[@]}"; do
    start=$SECONDS
    if ! "$bin" run "experiments/$name.toml" --backend cpu --out "$scratch/$name" >"$scratch/$name.log" 2>&1; then
        echo "$name: the run failed (see $scratch/$name.log)"
        differ+=("$name")
        continue
    fi
    diffs=()
    while IFS= read -r file; do
        case "$file" in
            timing.csv|.gcnsim-output) ;;
            env.json) cmp -s <(strip_env "results/$name/env.json") <(strip_env "$scratch/$name/env.json") || diffs+=("$file") ;;
            *) cmp -s "results/$name/$file" "$scratch/$name/$file" 2>/dev/null || diffs+=("$file") ;;
        esac
    done < <( (cd "results/$name" && ls -A; cd "$scratch/$name" && ls -A) | sort -u)
    if [ ${#diffs[@]} -eq 0 ]; then
        echo "$name: reproduces ($((SECONDS - start)) s)"
    else
        echo "$name: DIFFERS in ${diffs[*]} ($((SECONDS - start)) s)"
        differ+=("$name")
    fi
done

if [ ${#differ[@]} -gt 0 ]; then
    echo "differ: ${differ[*]}"
    [ "${KEEP:-0}" = 1 ] && echo "scratch kept in $scratch"
    exit 1
fi
echo "every folder reproduces"
