#!/usr/bin/env bash
# A software WebGPU adapter on a machine with no GPU: Mesa's lavapipe (Vulkan on the CPU) from
# Debian bookworm-backports (Mesa 25; bookworm's own Mesa 22.3 lavapipe lacks
# shaderUniform*ArrayDynamicIndexing, which Dawn requires), unpacked into a private folder: nothing
# is installed. It lets the webgpu code path (shaders, buffer limits, async reads) be checked
# without a GPU; its speed means nothing.
#
#   eval "$(bash bench/gpu/lavapipe.sh)"          # prints the exports; downloads once
#   KO_ALIGN_GPU_BENCH_SMOKE=1 KO_ALIGN_GPU_BENCH_BACKEND=webgpu node --import tsx bench/gpu/bench.ts
#
# Env: KO_ALIGN_LAVAPIPE_DIR (default /tmp/ko-align-lavapipe). Debian/amd64 with apt-get only.
set -euo pipefail
DIR=${KO_ALIGN_LAVAPIPE_DIR:-/tmp/ko-align-lavapipe}
LIB=$DIR/root/usr/lib/x86_64-linux-gnu
if [ ! -f "$DIR/lvp_icd.json" ]; then
  mkdir -p "$DIR/lists/partial" "$DIR/deb" "$DIR/root"
  printf 'deb http://deb.debian.org/debian bookworm main\ndeb http://deb.debian.org/debian bookworm-backports main\n' >"$DIR/sources.list"
  o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$DIR/lists"
     "-oDir::Etc::SourceList=$DIR/sources.list" -oDir::Etc::SourceParts=/dev/null)
  apt-get "${o[@]}" update >/dev/null
  (cd "$DIR/deb" && apt-get "${o[@]}" download libvulkan1 mesa-vulkan-drivers/bookworm-backports \
    libdrm2/bookworm-backports libdrm-amdgpu1/bookworm-backports 2>&1 | grep -v unsandboxed >&2 || true)
  for f in "$DIR"/deb/*.deb; do dpkg -x "$f" "$DIR/root"; done
  [ -f "$LIB/libvulkan_lvp.so" ] || { echo "lavapipe.sh: libvulkan_lvp.so missing after unpacking" >&2; exit 1; }
  missing=$(LD_LIBRARY_PATH=$LIB ldd "$LIB/libvulkan_lvp.so" | grep 'not found' || true)
  [ -z "$missing" ] || { echo "lavapipe.sh: lavapipe needs libraries this machine lacks: $missing" >&2; exit 1; }
  printf '{ "file_format_version": "1.0.0", "ICD": { "library_path": "%s/libvulkan_lvp.so", "api_version": "1.3.0" } }\n' "$LIB" >"$DIR/lvp_icd.json"
fi
echo "export LD_LIBRARY_PATH=$LIB\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH} VK_DRIVER_FILES=$DIR/lvp_icd.json VK_ICD_FILENAMES=$DIR/lvp_icd.json"
