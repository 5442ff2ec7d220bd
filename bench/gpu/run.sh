#!/usr/bin/env bash
# The GPU benchmark of issue 10, run ON the NVIDIA GPU machine from the repo root:
#
#   bash bench/gpu/run.sh [phase ...]      phases: torch parity sft-7m kto-7m sft-100m kto-100m
#                                          (default: all of them, in that order; a summary always)
#
# It needs the .gpu/ folder made by bench/gpu/pack.sh on the development machine and carried along
# (device tool: carry [".gpu"]); see docs/gpu.md for the exact call. It:
#   1. takes Node from PATH when it is >= 20, else unpacks .gpu/node.xz; links node_modules to the
#      unpacked .gpu/node_modules.tar.xz when the checkout has none (the device copy has none);
#   2. sets up Vulkan: with no libvulkan.so.1 known to ldconfig it unpacks Debian's libvulkan1 from
#      .gpu/deb (into / with ldconfig on the device machine, as /work/.library/device/README.md
#      says; into a private folder + LD_LIBRARY_PATH anywhere else), and points the loader at the
#      NVIDIA ICD (VK_DRIVER_FILES) when no driver manifest is in the standard folders;
#   3. runs the PyTorch reference (bench/gpu/torch_ref.py) and the webgpu phases of
#      bench/gpu/bench.ts, each under a timeout inside one time budget;
#   4. writes to $OUT (default bench/out/gpu): env.txt, log.txt, results.jsonl, torch.jsonl,
#      summary.md (5 files: the device tool returns at most 8).
#
# Env: KO_ALIGN_GPU_BUDGET_S (total seconds, default 570: the tool's per-call limit is 600),
# KO_ALIGN_GPU_BENCH_SMOKE=1 (tiny models on wasm + PyTorch on CPU: a rehearsal without a GPU),
# PYTHON (default python3: the one with torch on the device image), KO_ALIGN_GPU_WORK (default
# /tmp/ko-align-gpu), KO_ALIGN_GPU_USE_CARRIED_NODE=1 (ignore a node on PATH).
set -uo pipefail

cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
OUT=${OUT:-$ROOT/bench/out/gpu}
WORK=${KO_ALIGN_GPU_WORK:-/tmp/ko-align-gpu}
BUDGET=${KO_ALIGN_GPU_BUDGET_S:-570}
SMOKE=${KO_ALIGN_GPU_BENCH_SMOKE:-0}
PYTHON=${PYTHON:-python3}
ALL_PHASES=(torch parity sft-7m kto-7m sft-100m kto-100m)
if [ $# -gt 0 ]; then PHASES=("$@"); else PHASES=("${ALL_PHASES[@]}"); fi
for p in "${PHASES[@]}"; do
  case " ${ALL_PHASES[*]} " in *" $p "*) ;; *) echo "run.sh: unknown phase '$p' (expected: ${ALL_PHASES[*]})" >&2; exit 2 ;; esac
done
mkdir -p "$OUT" "$WORK"
exec > >(tee -a "$OUT/log.txt") 2>&1
TEE_PID=$!
# Let tee write its last lines before the script's exit ends the call.
trap 'exec 1>&- 2>&-; wait "$TEE_PID" 2>/dev/null' EXIT
START=$SECONDS

log() { echo "[run.sh +$((SECONDS - START))s] $*"; }
die() { log "error: $*"; exit 1; }

# Decompresses an .xz file without assuming the xz tool (python3's lzma always is there).
unxz_to() { # src dest
  if command -v xz >/dev/null 2>&1; then xz -dc "$1" >"$2"; else "$PYTHON" -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; fi
}
untar_xz() { # src dir
  if command -v xz >/dev/null 2>&1; then tar -xJf "$1" -C "$2"; else "$PYTHON" -c 'import tarfile, sys; tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2])' "$1" "$2"; fi
}

# ---- 1. Node and node_modules --------------------------------------------------------------
NODE=""
if [ "${KO_ALIGN_GPU_USE_CARRIED_NODE:-0}" != 1 ] && command -v node >/dev/null 2>&1; then
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  [ "$major" -ge 20 ] && NODE=$(command -v node)
fi
if [ -z "$NODE" ]; then
  [ -s .gpu/node.xz ] || die "no node >= 20 on PATH and no .gpu/node.xz: run bench/gpu/pack.sh here and carry .gpu"
  if [ ! -x "$WORK/bin/node" ] || [ "$("$WORK/bin/node" --version 2>/dev/null)" != "$(cat .gpu/node.version 2>/dev/null)" ]; then
    mkdir -p "$WORK/bin" && unxz_to .gpu/node.xz "$WORK/bin/node.tmp" && chmod +x "$WORK/bin/node.tmp" && mv "$WORK/bin/node.tmp" "$WORK/bin/node" || die "could not unpack .gpu/node.xz"
  fi
  NODE=$WORK/bin/node
fi
export PATH="$(dirname "$NODE"):$PATH"
if [ ! -e node_modules ]; then
  [ -s .gpu/node_modules.tar.xz ] || die "no node_modules/ and no .gpu/node_modules.tar.xz: run bench/gpu/pack.sh and carry .gpu"
  if [ ! -d "$WORK/node_modules" ]; then
    rm -rf "$WORK/nm.tmp" && mkdir -p "$WORK/nm.tmp" && untar_xz .gpu/node_modules.tar.xz "$WORK/nm.tmp" && mv "$WORK/nm.tmp/node_modules" "$WORK/node_modules" || die "could not unpack .gpu/node_modules.tar.xz"
  fi
  ln -s "$WORK/node_modules" node_modules
fi
log "node: $NODE ($("$NODE" --version))"

# ---- 2. Vulkan loader and the NVIDIA driver's ICD --------------------------------------------
on_device=0
if [ "$SMOKE" != 1 ] && [ "$(id -u)" = 0 ] && command -v nvidia-smi >/dev/null 2>&1; then on_device=1; fi
if [ "$SMOKE" = 1 ]; then
  log "smoke mode: tiny models on ${KO_ALIGN_GPU_BENCH_BACKEND:-wasm}, PyTorch on CPU; no Vulkan set-up"
elif ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1'; then
  log "vulkan loader: present ($(ldconfig -p | grep -m1 'libvulkan.so.1' | sed 's/.*=> //'))"
else
  ls .gpu/deb/libvulkan1_*.deb >/dev/null 2>&1 || die "no Vulkan loader and no .gpu/deb/libvulkan1_*.deb (run bench/gpu/pack.sh)"
  if [ "$on_device" = 1 ]; then
    for f in .gpu/deb/*.deb; do dpkg -x "$f" /; done
    ldconfig
    log "vulkan loader: unpacked $(ls .gpu/deb) into / (ldconfig)"
  else
    mkdir -p "$WORK/vulkan"
    for f in .gpu/deb/*.deb; do dpkg -x "$f" "$WORK/vulkan"; done
    export LD_LIBRARY_PATH="$WORK/vulkan/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    log "vulkan loader: unpacked into $WORK/vulkan (LD_LIBRARY_PATH)"
  fi
fi
if [ "$SMOKE" != 1 ]; then
  found=""
  for d in /etc/vulkan/icd.d /usr/share/vulkan/icd.d /usr/local/share/vulkan/icd.d; do
    for f in "$d"/nvidia_icd*.json; do [ -f "$f" ] && found=$f; done
  done
  nv=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  if [ -z "$found" ] && [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$nv" ]; then
    export VK_DRIVER_FILES=$nv VK_ICD_FILENAMES=$nv
    export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
    log "vulkan ICD: VK_DRIVER_FILES=$nv"
  else
    log "vulkan ICD: ${found:-${VK_DRIVER_FILES:-none found}}"
  fi
fi

# ---- environment record ----------------------------------------------------------------------
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "uname: $(uname -srm)"
  echo "smoke: $SMOKE"
  echo "node: $("$NODE" --version)"
  echo "git: $(git rev-parse --verify -q HEAD 2>/dev/null || echo unknown)"
  command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | sed 's/^/gpu: /'
  echo "python: $("$PYTHON" -c 'import sys, torch; print(sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())' 2>&1 | tail -1)"
  echo "VK_DRIVER_FILES: ${VK_DRIVER_FILES:-}"
  echo "LD_LIBRARY_PATH: ${LD_LIBRARY_PATH:-}"
  if [ "$SMOKE" != 1 ]; then echo "dawn: $(timeout 60 "$NODE" bench/gpu/probe.mjs 2>&1 | tail -3 | tr '\n' ' ')"; fi
} >"$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

# ---- 3. phases under one budget -------------------------------------------------------------
declare -A LIMIT=([torch]=150 [parity]=120 [sft-7m]=100 [kto-7m]=100 [sft-100m]=200 [kto-100m]=200)
status=0
run_phase() { # name
  local p=$1 left t rc
  left=$((BUDGET - (SECONDS - START)))
  if [ "$left" -lt 30 ]; then
    log "$p: skipped (only ${left}s of the ${BUDGET}s budget left; run it alone: bash bench/gpu/run.sh $p)"
    [ "$p" = torch ] || echo "{\"phase\":\"$p\",\"ok\":false,\"skipped\":true,\"error\":\"skipped: time budget\"}" >>"$OUT/results.jsonl"
    status=1
    return
  fi
  t=${LIMIT[$p]}
  [ "$t" -gt $((left - 10)) ] && t=$((left - 10))
  log "$p: start (timeout ${t}s)"
  if [ "$p" = torch ]; then
    local args=(--out "$OUT/torch.jsonl")
    [ "$SMOKE" = 1 ] && args+=(--smoke --device cpu)
    PYTHONUNBUFFERED=1 timeout -k 10 "$t" "$PYTHON" bench/gpu/torch_ref.py "${args[@]}"
  else
    timeout -k 10 "$t" "$NODE" --import tsx bench/gpu/bench.ts --phase "$p" --out "$OUT/results.jsonl"
  fi
  rc=$?
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    log "$p: timed out after ${t}s"
    [ "$p" = torch ] || echo "{\"phase\":\"$p\",\"ok\":false,\"error\":\"timed out after ${t}s\"}" >>"$OUT/results.jsonl"
  fi
  [ "$rc" = 0 ] || status=1
  log "$p: done (exit $rc)"
}
for p in "${PHASES[@]}"; do run_phase "$p"; done

# ---- 4. summary -------------------------------------------------------------------------------
touch "$OUT/results.jsonl" "$OUT/torch.jsonl"
"$NODE" --import tsx bench/gpu/bench.ts --summary "$OUT/results.jsonl" "$OUT/torch.jsonl" >"$OUT/summary.md" || status=1
cat "$OUT/env.txt" >>"$OUT/summary.md"
echo
cat "$OUT/summary.md"
log "finished in $((SECONDS - START))s (exit $status); files in $OUT"
exit "$status"
