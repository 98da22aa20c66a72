# Sourced by the benchmark scripts: fund STORE_ARGS... gives the bootstrap key and 16 more
# keys (bench-1 … bench-16) prepaid budgets with a large top-up, so every create checks a
# balance and holds credits, and prints the 16 keys comma-separated (for BENCH_KEYS and
# create-keys.lua). Needs $BIN.
fund() {
  local name keys=() i
  name=$("$BIN" keys list "$@" | awk 'NR>1 && /bootstrap/ {print $1; exit}')
  "$BIN" keys budget "$name" --prepaid true "$@" >/dev/null
  "$BIN" keys top-up "$name" 1000000000 "$@" >/dev/null
  for i in $(seq 1 16); do
    keys+=("$("$BIN" keys create --name "bench-$i" "$@")") || return 1
    [ -n "${keys[-1]}" ] || { echo "fund: no key made for bench-$i" >&2; return 1; }
    "$BIN" keys budget "bench-$i" --prepaid true "$@" >/dev/null
    "$BIN" keys top-up "bench-$i" 1000000000 "$@" >/dev/null
  done
  (IFS=,; echo "${keys[*]}")
}
