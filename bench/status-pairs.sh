#!/usr/bin/env bash
# Status polling, paired: bare axum, another vidgate build and this one, alternating in one
# sitting (ROUNDS rounds of DURATION each), so the machine's swings hit all three alike. Prints
# one line per round: req/s, the ratio to bare axum, and the server's CPU per poll (user and
# system µs, from /proc/PID/stat). Not a test.
#
#   VIDGATE_BIN_OLD=/tmp/vidgate-old bench/status-pairs.sh    # ROUNDS=9 DURATION=5s
set -euo pipefail
cd "$(dirname "$0")/.."
: "${VIDGATE_BIN_OLD:?name the other build: VIDGATE_BIN_OLD=path/to/vidgate}"
ROUNDS=${ROUNDS:-9}
DURATION=${DURATION:-5s}
export BENCH_DIR=$PWD/bench BENCH_KEY=bench-key-0123456789abcdefghij
command -v wrk >/dev/null || { SUDO=$([ "$(id -u)" = 0 ] || echo sudo); $SUDO apt-get install -y -q wrk >/dev/null; }
cargo build --release --quiet -p vidgate --bin vidgate --example bare_axum
WORK=$(mktemp -d)
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true; rm -rf "$WORK"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ready() { for _ in $(seq 1 200); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.05; done; exit 1; }
start() { # BIN PORT
  mkdir -p "$WORK/$2"
  VIDGATE_BOOTSTRAP_KEY=$BENCH_KEY VIDGATE_LOG__LEVEL=warn VIDGATE_LIMITS__CREATE_RATE=0 \
    VIDGATE_LIMITS__READ_RATE=0 "$1" serve --data-dir "$WORK/$2" --listen "127.0.0.1:$2" \
    --role api 2>/dev/null &
  PIDS+=($!)
  ready "http://127.0.0.1:$2/readyz"
}
queued() { # PORT -> the status URL of a new queued request
  local id
  id=$(curl -fsS -H "Authorization: Key $BENCH_KEY" -H 'Content-Type: application/json' \
    -d '{"model_name":"Vidu","model_version":"q2","prompt":"status","output_config":{"duration":1}}' \
    "http://127.0.0.1:$1/tencent-vod/v1/aigc-video" | python3 -c 'import json,sys; print(json.load(sys.stdin)["request_id"])')
  echo "http://127.0.0.1:$1/tencent-vod/v1/aigc-video/requests/$id/status"
}
PO=$(port); start "$VIDGATE_BIN_OLD" "$PO"; OLD=${PIDS[-1]}; URL_OLD=$(queued "$PO")
PN=$(port); start "$PWD/target/release/vidgate" "$PN"; NEW=${PIDS[-1]}; URL_NEW=$(queued "$PN")
PB=$(port); target/release/examples/bare_axum "127.0.0.1:$PB" & PIDS+=($!); BARE=$!
ready "http://127.0.0.1:$PB/"
run() { # PID URL -> "rps user_us system_us"
  local before after out
  before=$(awk '{print $14, $15}' "/proc/$1/stat")
  out=$(wrk -t2 -c64 -d"$DURATION" -s bench/get.lua "$2" | tail -n 1)
  after=$(awk '{print $14, $15}' "/proc/$1/stat")
  python3 - "$out" $before $after "$(getconf CLK_TCK)" <<'PY'
import json, sys
d = json.loads(sys.argv[1]); u0, s0, u1, s1, hz = map(int, sys.argv[2:7]); n = d["requests"]
print(int(d["rps"]), round((u1 - u0) * 1e6 / hz / n, 1), round((s1 - s0) * 1e6 / hz / n, 1))
PY
}
for i in $(seq 1 "$ROUNDS"); do
  read -r b bu bs < <(run "$BARE" "http://127.0.0.1:$PB/status")
  read -r o ou os < <(run "$OLD" "$URL_OLD")
  read -r n nu ns < <(run "$NEW" "$URL_NEW")
  ratio() { python3 -c "print(round($1 / $b, 3))"; }
  echo "round $i: bare $b/s ($bu+$bs µs) | other $o/s = $(ratio "$o") ($ou+$os µs) | this $n/s = $(ratio "$n") ($nu+$ns µs)"
done
