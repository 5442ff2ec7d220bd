#!/usr/bin/env bash
# Builds .gpu/, the folder a device-tool `run` carries to the NVIDIA GPU machine (which has no
# network, no Node and no node_modules): run it HERE, from the repo root, before the GPU call.
#
#   .gpu/node.xz               this machine's Node binary (xz; ~99 MB raw does not fit the carry)
#   .gpu/node.version          its `node --version`
#   .gpu/node_modules.tar.xz   exactly the packages in bench/gpu/packages.txt (linux-x64 parts only)
#   .gpu/llama_ref.py          copy of ../shared/reference/llama_ref.py (shared/ does not travel)
#   .gpu/deb/libvulkan1_*.deb  Debian's Vulkan loader (the GPU image has none); apt-get download
#   .gpu/MANIFEST              sizes and the package list
#
# The whole carry (working tree + .gpu) must stay under 64 MiB; this script fails if it does not.
# Re-running reuses node.xz and the .deb when they are current. Env: NODE_BIN (default: `node`
# on PATH), LLAMA_REF (default ../shared/reference/llama_ref.py), XZ_LEVEL (default 6).
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
DEST=$ROOT/.gpu
LIMIT=$((64 * 1024 * 1024))
NODE_BIN=${NODE_BIN:-$(command -v node)}
LLAMA_REF=${LLAMA_REF:-$ROOT/../shared/reference/llama_ref.py}
[ -f "$LLAMA_REF" ] || LLAMA_REF=/work/shared/reference/llama_ref.py
XZ_LEVEL=${XZ_LEVEL:-6}
PKG_LIST=$ROOT/bench/gpu/packages.txt

die() { echo "pack.sh: $*" >&2; exit 1; }
[ -x "$NODE_BIN" ] || die "no node binary (set NODE_BIN)"
[ -d node_modules ] || die "node_modules/ missing: run npm install first"
[ "$(uname -m)" = x86_64 ] || die "build on x86-64: the device machine is x86-64 (uname -m is $(uname -m))"
if ! git check-ignore -q .gpu 2>/dev/null; then
  echo "pack.sh: warning: .gpu/ is not ignored by git; it would travel (and be committed) as an untracked folder" >&2
fi
mkdir -p "$DEST/deb"

# 1. Node. The binary links only libc/libstdc++/libm/libgcc_s (official-style build), which the
#    device image (Ubuntu, glibc 2.39) has.
ver=$("$NODE_BIN" --version)
if [ ! -s "$DEST/node.xz" ] || [ "$(cat "$DEST/node.version" 2>/dev/null)" != "$ver" ]; then
  echo "pack.sh: compressing $NODE_BIN ($ver) ..."
  xz -T0 "-$XZ_LEVEL" -c "$NODE_BIN" >"$DEST/node.xz.tmp"
  mv "$DEST/node.xz.tmp" "$DEST/node.xz"
  echo "$ver" >"$DEST/node.version"
fi

# 2. node_modules subset: whole package folders minus what Node never loads here (source maps,
#    type declarations, docs, other platforms' Dawn builds, browser/mini-program bundles).
node --import tsx bench/gpu/packages.ts --check || die "bench/gpu/packages.txt does not cover what bench/gpu/bench.ts imports"
mapfile -t PKGS < <(sed 's/#.*//; s/^[[:space:]]*//; s/[[:space:]]*$//' "$PKG_LIST" | grep -v '^$')
paths=()
for p in "${PKGS[@]}"; do
  [ -e "node_modules/$p/package.json" ] || die "package '$p' (bench/gpu/packages.txt) is not in node_modules/"
  paths+=("node_modules/$p")
done
tar -cf - \
  --exclude='*.map' --exclude='*.d.ts' --exclude='*.d.mts' --exclude='*.d.cts' --exclude='*.md' \
  --exclude='node_modules/webgpu/dist/darwin-*' --exclude='node_modules/webgpu/dist/win32-*' \
  --exclude='node_modules/webgpu/dist/linux-arm64' --exclude='node_modules/webgpu/node_modules' \
  --exclude='*/dist/miniprogram' --exclude='node_modules/@tensorflow/*/dist/tf-*.min.js' \
  --exclude='node_modules/@tensorflow/*/dist/tf-*.es2017.js' --exclude='node_modules/@tensorflow/*/dist/tf-*.fesm.js' \
  --exclude='node_modules/@tensorflow/*/dist/tf-*.fesm.min.js' --exclude='node_modules/@tensorflow/*/dist/tf-*.es2017.min.js' \
  --exclude='node_modules/@tensorflow/*/src' --exclude='node_modules/apache-arrow/src' \
  --exclude='node_modules/apache-arrow/*.mjs.map' \
  "${paths[@]}" | xz -T0 "-$XZ_LEVEL" >"$DEST/node_modules.tar.xz.tmp"
mv "$DEST/node_modules.tar.xz.tmp" "$DEST/node_modules.tar.xz"

# 3. The PyTorch reference model (torch_ref.py imports its Model class and kto_loss).
[ -f "$LLAMA_REF" ] || die "llama_ref.py not found (set LLAMA_REF)"
cp "$LLAMA_REF" "$DEST/llama_ref.py"

# 4. Debian's Vulkan loader, as /work/.library/device/README.md describes (amd64, own lists dir).
if ! ls "$DEST"/deb/libvulkan1_*.deb >/dev/null 2>&1; then
  o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
  mkdir -p /tmp/amd64/partial
  apt-get "${o[@]}" update >/dev/null
  (cd "$DEST/deb" && apt-get "${o[@]}" download libvulkan1 2>&1 | grep -v 'unsandboxed' || true)
  ls "$DEST"/deb/libvulkan1_*.deb >/dev/null 2>&1 || die "could not download libvulkan1 (apt-get download)"
fi

# 5. Sizes: .gpu plus the working tree that travels (tracked + untracked-not-ignored files).
gpu_bytes=$(du -sb "$DEST" | cut -f1)
tree_bytes=$(git ls-files -co --exclude-standard -z | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
total=$((gpu_bytes + tree_bytes))
{
  echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "node: $ver ($(stat -c %s "$NODE_BIN") bytes raw, $(stat -c %s "$DEST/node.xz") xz)"
  echo "node_modules.tar.xz: $(stat -c %s "$DEST/node_modules.tar.xz") bytes; packages: ${PKGS[*]}"
  echo "deb: $(cd "$DEST/deb" && ls)"
  echo "carry .gpu: $gpu_bytes bytes; working tree: $tree_bytes bytes; total: $total bytes (limit $LIMIT)"
} >"$DEST/MANIFEST"
cat "$DEST/MANIFEST"
awk -v g="$gpu_bytes" -v t="$tree_bytes" -v s="$total" 'BEGIN { m = 1048576;
  printf "pack.sh: .gpu = %.1f MiB, working tree = %.1f MiB, total carried = %.1f MiB (limit 64 MiB)\n", g / m, t / m, s / m }'
[ "$total" -lt "$LIMIT" ] || die "over the 64 MiB carry limit"
