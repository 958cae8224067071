#!/usr/bin/env bash
# The static unroll against the dynamic loop at 8 stack positions. Each static/dynamic pair
# runs in one process under `setarch -R` (no address-space randomisation, so a position is
# repeatable), with the environment padded by 0, 512, ..., 3584 bytes to move the stack.
# Prints each pair's medians and the static/dynamic ratio (below 1: the static unroll is
# faster). See README.md, "Partial", for why the position matters.
#
# Usage (from anywhere): tools/stack_positions.sh [config ...]
#   configs of benches/unroll.rs; default: lstm-h8 lstm-h32 gru-h32
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(cargo bench --bench unroll --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\))$/\1/p')
[ -x "$bin" ] || { echo "no unroll bench binary found" >&2; exit 1; }
configs=("$@")
[ ${#configs[@]} -gt 0 ] || configs=(lstm-h8 lstm-h32 gru-h32)
for config in "${configs[@]}"; do
  echo "== $config"
  for pad in 0 512 1024 1536 2048 2560 3072 3584; do
    PAD=$(head -c "$pad" /dev/zero | tr '\0' a) setarch -R "$bin" --bench \
      --measurement-time 1 --warm-up-time 0.5 --noplot "unroll/$config/(static|dynamic)\$" 2>&1 |
      sed -n 's/.*time: *\[[^ ]* [^ ]* \([^ ]*\) [^ ]*.*/\1/p' | tr '\n' ' ' |
      awk -v pad="$pad" '{ printf "pad %4d: static %s dynamic %s ratio %.3f\n", pad, $1, $2, $1 / $2 }'
  done
done
