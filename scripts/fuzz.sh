#!/usr/bin/env bash
# Fuzz the studio's parsers of untrusted input with AFL++ on the stable toolchain.
#
#   scripts/fuzz.sh [MINUTES]      each target runs MINUTES (default 10), one after the other
#                                  (FUZZ_TARGETS="upload_check" picks targets)
#
# Targets (fuzz/src/bin): upload_check (image bytes through the upload check and the job
# decoder) and request_body (strict JSON and every workflow's typed request). Seeds are made
# from the engine's fixtures and small generated images; findings land in target/fuzz/<target>/
# and a summary (executions, crashes, hangs) is printed at the end. Turn every crash or hang
# into a regression test (crates/engine/fixtures/fuzz/ is read by the engine's tests).
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-10}

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

if ! command -v afl-fuzz >/dev/null; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq afl++
fi
if ! cargo afl --version >/dev/null 2>&1; then
  cargo install --locked cargo-afl
fi
# cargo-afl's runtime for this toolchain, built once from the sources it ships (it refuses,
# harmlessly, when it is already built for this rustc).
cargo afl config --build >/dev/null 2>&1 || true

out=target/fuzz
mkdir -p "$out"
(cd fuzz && cargo afl build --release --bins)

# Seeds: real files of every accepted type, small and valid, plus the engine's fixtures.
seeds=$out/seeds
rm -rf "$seeds"
mkdir -p "$seeds/upload_check" "$seeds/request_body"
# (Not the findings in fixtures/fuzz: some take seconds each, and the fuzzer would spend its time
# mutating them; they are regression tests.)
cp crates/pixels/fixtures/*.{jpg,png,webp} "$seeds/upload_check/" 2>/dev/null || true
python3 - "$seeds" <<'PY'
import json, sys, zlib, struct, os
seeds = sys.argv[1]
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
def png(w, h, depth=8, colour=2):
    row = bytes([0]) + bytes((x * 7) % 256 for x in range(w * (3 if colour == 2 else 4) * depth // 8))
    raw = row * h
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, colour, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
open(os.path.join(seeds, "upload_check", "tiny.png"), "wb").write(png(6, 4))
open(os.path.join(seeds, "upload_check", "tiny16.png"), "wb").write(png(5, 3, 16, 6))
bodies = [
    (0, {"user_image": "uploads/01J/a.png", "items": [{"trial_image": "uploads/01J/b.png", "trial_item_category": "top"}]}),
    (4, {"scene_type": "paper", "mood": "soft", "dominant_colors": ["#102030", "sage"], "seed": 3}),
    (3, {"gender": "FEMALE", "ethnicity": "any", "body_type": "slim", "age_range": "25-34"}),
]
for i, (op, body) in enumerate(bodies):
    open(os.path.join(seeds, "request_body", f"body{i}"), "wb").write(bytes([op]) + json.dumps(body).encode())
PY

export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1
summary=()
for target in ${FUZZ_TARGETS:-upload_check request_body}; do
  echo "==> fuzzing $target for $minutes minute(s)"
  rm -rf "$out/$target"
  timeout $((minutes * 60 + 60)) cargo afl fuzz -V $((minutes * 60)) -t 5000 -m none \
    -i "$seeds/$target" -o "$out/$target" "fuzz/target/release/$target" >"$out/$target.log" 2>&1 || true
  stats=$out/$target/default/fuzzer_stats
  if [[ -f $stats ]]; then
    execs=$(awk -F' *: *' '$1=="execs_done"{print $2}' "$stats")
    crashes=$(awk -F' *: *' '$1=="saved_crashes"||$1=="unique_crashes"{print $2}' "$stats" | head -1)
    hangs=$(awk -F' *: *' '$1=="saved_hangs"||$1=="unique_hangs"{print $2}' "$stats" | head -1)
    summary+=("$target: $execs executions, $crashes crashes, $hangs hangs (findings in $out/$target/default)")
  else
    summary+=("$target: did not start; see $out/$target.log")
  fi
done
printf '%s\n' "${summary[@]}"
