#!/usr/bin/env bash
# Configures a build directory with Ninja: scripts/configure.sh BUILD_DIR [cmake arguments...]
#
# Ninja schedules object files, not targets: with the Makefile generator every program waited for
# the one long file it links (the factories, 149 s at -O3) before compiling any of its own files,
# with one core idle (docs/building.md). A directory configured earlier for another generator
# starts over (CMake refuses to switch generators in place).
set -euo pipefail
build="$1"; shift
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -f "$build/CMakeCache.txt" ] && ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' "$build/CMakeCache.txt"; then
  rm -rf "$build/CMakeCache.txt" "$build/CMakeFiles"
fi
cmake -S "$here" -B "$build" -G Ninja "$@" >/dev/null
