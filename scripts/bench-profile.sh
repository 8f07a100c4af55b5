#!/usr/bin/env bash
# bench-profile.sh OUT_DIR [settlement-bench flags...]
#
# Runs cmd/settlement-bench with the worker's HTTP server (metrics) and its
# pprof server (PPROF_ADDR) on free loopback ports and, once the first worker run is under load, takes a 12 s CPU
# profile of the worker (/debug/pprof/profile) and its store metrics before
# and after. Writes OUT_DIR/report.txt (the bench's results),
# progress.txt, cpu.pprof, metrics0.txt and metrics1.txt, then prints the
# shares of the profile that matter for the store:
#
#   scripts/bench-profile.sh .tmp/prof -n 5000 -latency 0ms -mixed=false
#   go tool pprof -top -cum .tmp/prof/cpu.pprof
#
# Use an -n large enough for the first worker run to last well over 16 s.
# PROFILE_PHASE names the progress line to wait for instead of the first
# worker run's, e.g. PROFILE_PHASE='open-loop run' (with
# -openloop-duration well over 16 s) profiles the open-loop phase.
set -euo pipefail
out=${1:?usage: bench-profile.sh OUT_DIR [settlement-bench flags...]}
shift
mkdir -p "$out"
cd "$(dirname "$0")/.."
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(freeport)  # HTTP_ADDR: /metrics
pport=$(freeport) # PPROF_ADDR: /debug/pprof (served only there)
go run ./cmd/settlement-bench -worker-env "HTTP_ADDR=127.0.0.1:$port" -worker-env "PPROF_ADDR=127.0.0.1:$pport" "$@" >"$out/report.txt" 2>"$out/progress.txt" &
bench=$!
for _ in $(seq 1 1200); do
	grep -q "${PROFILE_PHASE:-worker run 1/}" "$out/progress.txt" 2>/dev/null && break
	kill -0 "$bench" 2>/dev/null || break
	sleep 0.5
done
sleep 4 # past the worker's start
metrics() { curl -fsS "http://127.0.0.1:$port/metrics" | grep -E '^settlement_(store|outcomes)' >"$1" || true; }
metrics "$out/metrics0.txt"
curl -fsS -o "$out/cpu.pprof" "http://127.0.0.1:$pport/debug/pprof/profile?seconds=12" || echo "no profile (did the run end before it?)" >&2
metrics "$out/metrics1.txt"
rc=0
wait "$bench" || rc=$?
cat "$out/report.txt"
[[ -s $out/cpu.pprof ]] || exit "${rc:-1}"
echo
echo "CPU profile shares (samples whose stack passes through each):"
go tool pprof -top -nodecount=1 "$out/cpu.pprof" 2>/dev/null | grep 'Total samples' || true
for f in '^database/sql\.' 'settlement-worker/store\.' 'sqlite3Prepare' 'sqlite3VdbeHalt' 'unixSync'; do
	printf '  %-28s %s\n' "$f" "$(go tool pprof -top -nodecount=1000000 -nodefraction=0 -edgefraction=0 -focus="$f" "$out/cpu.pprof" 2>/dev/null |
		sed -n 's/^Showing nodes accounting for //p')"
done
b0=$(awk '/^settlement_store_write_batches_total/{print $2}' "$out/metrics0.txt")
b1=$(awk '/^settlement_store_write_batches_total/{print $2}' "$out/metrics1.txt")
w0=$(awk '/^settlement_store_writes_total/{print $2}' "$out/metrics0.txt")
w1=$(awk '/^settlement_store_writes_total/{print $2}' "$out/metrics1.txt")
if [[ -n $b1 && -n $b0 ]]; then
	python3 -c "b=$b1-$b0; w=$w1-$w0; print(f'  SQLite writes during the profile: {w:.0f} in {b:.0f} batches, {w/b if b else 0:.1f} per batch')"
fi
exit $rc
