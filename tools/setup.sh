# setup.sh: shared by tools/animat and tools/test (sourced, not run). Installs the Debian packages
# animat needs when they are missing, then configures and builds into a build directory.
#   animat_setup BUILD_DIR [extra cmake args...]
ANIMAT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ANIMAT_PACKAGES="cmake make gcc pkg-config libmujoco-dev libglfw3-dev libopenblas-dev libzstd-dev
libcmocka-dev xvfb xauth python3 python3-numpy python3-zstandard clang libc6-dev-arm64-cross
libhdf5-dev python3-h5py python3-hdmf zstd xz-utils libopenmpi-dev openmpi-bin python3-matplotlib"

animat_log() { echo "animat: $*" >&2; }

animat_install_missing() {
  local missing=()
  for pkg in $ANIMAT_PACKAGES; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  animat_log "installing missing Debian packages: ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null; then sudo="sudo"; else
      animat_log "not root and no sudo: please install: ${missing[*]}"
      return 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >&2 || { animat_log "apt-get update failed"; return 1; }
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
    { animat_log "apt-get install failed for: ${missing[*]}"; return 1; }
  ANIMAT_INSTALLED=1  # a build configured before may now find optional packages (MPI, GLFW)
}

animat_build() {
  local dir="$1"; shift
  mkdir -p "$dir"
  if [ ! -f "$dir/CMakeCache.txt" ] || [ -n "${ANIMAT_INSTALLED:-}" ]; then
    animat_log "configuring $dir ($*)"
    cmake -S "$ANIMAT_ROOT" -B "$dir" "$@" >"$dir/configure.log" 2>&1 ||
      { cat "$dir/configure.log" >&2; animat_log "cmake configure failed"; return 1; }
  fi
  # The build tool decides what is stale; a no-op build takes well under a second.
  cmake --build "$dir" -j "$(nproc)" >"$dir/build.log" 2>&1 ||
    { tail -n 60 "$dir/build.log" >&2; animat_log "build failed (full log: $dir/build.log)"; return 1; }
}
