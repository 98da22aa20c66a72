#!/usr/bin/env bash
# Instructions per create, and where they go: vidgate (release, --role api, so no worker or
# render runs) under `valgrind --tool=callgrind`, collection switched on only around N
# sequential creates by a key with a prepaid budget (accounting on, as vidgate runs). Counts
# of instructions are stable on this shared machine where seconds are not; compare builds
# with VIDGATE_BIN=path/to/other/vidgate. Prints Ir per create and the inclusive profile.
#
#   bench/callgrind.sh            # N=300 sequential creates (each its own transaction)
#   N=1000 bench/callgrind.sh
#   C=16 bench/callgrind.sh       # over 16 connections at once (group commit shares commits)
#   MODE=status bench/callgrind.sh  # N status polls of one queued request instead
#   READ_RATE=1000000 READ_BURST=1000000 MODE=status bench/callgrind.sh
#                                   # the same with the key's read limit on (never reached):
#                                   # what its token bucket, shared across replicas, costs
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-300}
C=${C:-1}
MODE=${MODE:-create}
KEY=bench-key-0123456789abcdefghij
command -v valgrind >/dev/null || { SUDO=$([ "$(id -u)" = 0 ] || echo sudo); $SUDO apt-get install -y -q valgrind >/dev/null; }
cargo build --release --quiet -p vidgate --bin vidgate
BIN=${VIDGATE_BIN:-$PWD/target/release/vidgate}
WORK=$(mktemp -d)
OUT=${OUT:-$PWD/bench/callgrind.out}
trap 'kill $VG 2>/dev/null || true; wait $VG 2>/dev/null || true; rm -rf "$WORK"' EXIT
export VIDGATE_BOOTSTRAP_KEY=$KEY VIDGATE_LOG__LEVEL=warn VIDGATE_LIMITS__CREATE_RATE=0 \
  VIDGATE_LIMITS__READ_RATE=${READ_RATE:-0} VIDGATE_LIMITS__READ_BURST=${READ_BURST:-400} \
  VIDGATE_LIMITS__MAX_QUEUED_PER_KEY=0 VIDGATE_LIMITS__MAX_QUEUE_LENGTH=0
# The bootstrap key gets a prepaid balance: every create then holds credits in its insert.
"$BIN" migrate --data-dir "$WORK" >/dev/null 2>&1 || true
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
rm -f "$OUT" "$OUT".*
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT" \
  "$BIN" serve --data-dir "$WORK" --listen "127.0.0.1:$PORT" --role api 2>"$WORK/valgrind.log" &
VG=$!
for _ in $(seq 1 600); do curl -fsS -o /dev/null "http://127.0.0.1:$PORT/readyz" 2>/dev/null && break; sleep 0.1; done
NAME=$("$BIN" keys list --data-dir "$WORK" | awk 'NR>1 && /bootstrap/ {print $1; exit}')
"$BIN" keys budget "$NAME" --prepaid true --data-dir "$WORK" >/dev/null
"$BIN" keys top-up "$NAME" 1000000000 --data-dir "$WORK" >/dev/null
python3 bench/creates.py "http://127.0.0.1:$PORT" "$KEY" 200 "$C" >/dev/null   # warm-up: caches, pools, statement shapes
GET=()
if [ "$MODE" = status ]; then
  ID=$(curl -fsS -H "Authorization: Key $KEY" -H 'Content-Type: application/json' \
    -d '{"model_name":"Vidu","model_version":"q2","prompt":"status","output_config":{"duration":1}}' \
    "http://127.0.0.1:$PORT/tencent-vod/v1/aigc-video" | python3 -c 'import json,sys; print(json.load(sys.stdin)["request_id"])')
  GET=("/tencent-vod/v1/aigc-video/requests/$ID/status")
  python3 bench/creates.py "http://127.0.0.1:$PORT" "$KEY" 200 "$C" "${GET[@]}"
fi
callgrind_control -i on "$VG" >/dev/null
python3 bench/creates.py "http://127.0.0.1:$PORT" "$KEY" "$N" "$C" "${GET[@]}"
callgrind_control -i off "$VG" >/dev/null
callgrind_control -d "$VG" >/dev/null
sleep 1
# The dump (`$OUT.1`) holds exactly the instrumented span.
TOTAL=$(callgrind_annotate "$OUT.1" 2>/dev/null | awk '/PROGRAM TOTALS/ && !t {gsub(",", "", $1); print $1; t=1}')
echo "{\"mode\": \"$MODE\", \"calls\": $N, \"connections\": $C, \"instructions\": $TOTAL, \"per_call\": $((TOTAL / N))}"
callgrind_annotate --inclusive=yes "$OUT.1" 2>/dev/null | sed -n '1,80p' > bench/callgrind-inclusive.txt
echo "inclusive profile: bench/callgrind-inclusive.txt"
