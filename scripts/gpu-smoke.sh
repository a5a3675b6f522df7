#!/usr/bin/env bash
# GPU smoke test: with the GPU runtime installed (`figur models fetch --gpu`) and CUDA 13 +
# cuDNN 9 on the library path, checks that every model opens on CUDA when CUDA is demanded, then
# runs a background swap, an extract and an ISNet product matte (if installed) through
# `figur serve` and prints the provider each model stage reports.
#   scripts/gpu-smoke.sh [path/to/figur] [photo]
set -euo pipefail
figur=${1:-./target/release/figur}
photo=${2:-$("$figur" samples | sed -n 's/^    \(\/.*astronaut.png\)$/\1/p')}
data=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$data"' EXIT

echo "== figur doctor --providers cuda"
"$figur" doctor --providers cuda

export FIGUR_PROVIDERS=cuda FIGUR_DATA_DIR=$data
port=18686
"$figur" serve --listen 127.0.0.1:$port >"$data/serve.log" 2>&1 &
server=$!
for _ in $(seq 100); do [[ -s $data/first-key.txt ]] && break; sleep 0.1; done
key=$(grep -o 'sk_live_[A-Za-z0-9_]*' "$data/first-key.txt" | head -1)
api() { curl -sf -H "Authorization: Bearer $key" "$@"; }
base=http://127.0.0.1:$port/v1
upload=$(api -F "file=@$photo" $base/uploads | python3 -c 'import json,sys; print(json.load(sys.stdin)["upload_key"])')

run() { # op body → prints each stage's provider and the job's end
  local op=$1 body=$2 t0 job
  t0=$(date +%s.%N)
  job=$(api -H 'Content-Type: application/json' -d "$body" $base/$op | python3 -c 'import json,sys; print(json.load(sys.stdin)["job_id"])')
  for _ in $(seq 240); do
    state=$(api "$base/jobs/$job" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
    [[ $state == SUCCESS || $state == FAILURE ]] && break
    sleep 0.5
  done
  echo "== $op: $state in $(python3 -c "print(round($(date +%s.%N) - $t0, 2))") s (dispatch to end, HTTP included)"
  api "$base/jobs/$job/events?since=0" | python3 -c '
import json, sys
for e in json.load(sys.stdin)["events"]:
    x = e.get("extra") or {}
    if x.get("provider") or e["event_type"] in ("failed", "succeeded"):
        print("   ", e["event_type"], e.get("stage") or "", "|", e.get("message", "")[:110], "| provider:", x.get("provider"))'
}
run background-swap-with-spec "{\"source_image_s3_key\":\"$upload\",\"output_preset\":\"original\",\"scene_type\":\"studio_sweep\",\"mood\":\"soft\"}"
run extract "{\"trial_image\":\"$upload\"}"
