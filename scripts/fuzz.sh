#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser a user's file reaches, with Debian's clang and
# libFuzzer (AddressSanitizer and UndefinedBehaviorSanitizer on). docs/hardening.md has the
# figures of the last campaign.
#
#   scripts/fuzz.sh seeds                         regenerate the seed corpora (tests/fuzz/corpus)
#   scripts/fuzz.sh run [seconds] [target ...]    fuzz each target for `seconds` (default 600) or
#                                                 10 million executions, whichever comes first;
#                                                 new coverage is merged into tests/fuzz/corpus,
#                                                 crashes are left in build-fuzz/artifacts/<target>
#
# A crash found here is fixed in the parser and its input copied to
# tests/fuzz/regressions/<target>/, which CI replays (the fuzz_* ctest tests).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${SMILE_FUZZ_BUILD:-$here/build-fuzz}"
targets_all=(fuzz_safetensors fuzz_checkpoint fuzz_npy fuzz_idx fuzz_image fuzz_datasets fuzz_cars_mat fuzz_text)
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
jobs="${SMILE_FUZZ_JOBS:-$(nproc)}"
# The targets write each input to a scratch file (the readers take paths): in memory when /dev/shm
# exists.
[ -d /dev/shm ] && [ -w /dev/shm ] && export TMPDIR="${TMPDIR:-/dev/shm}"

"$here/scripts/install-deps.sh"
for p in clang libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends "$p" >/dev/null
done

step="${1:-run}"
case "$step" in
seeds)
  cmake -S "$here" -B "$build-seeds" -DCMAKE_BUILD_TYPE=Release -DSMILE_BUILD_TESTS=ON -DSMILE_BUILD_EXAMPLES=OFF \
        -DSMILE_BUILD_BENCH=OFF >/dev/null
  cmake --build "$build-seeds" -j "$(nproc)" --target fuzz_make_seeds
  "$build-seeds/tests/fuzz/fuzz_make_seeds" "$here/tests/fuzz/corpus"
  ;;
run)
  seconds="${2:-600}"
  shift $(( $# > 1 ? 2 : 1 ))
  targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=("${targets_all[@]}")
  CC=clang CXX=clang++ cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSMILE_BUILD_TESTS=ON \
        -DSMILE_BUILD_EXAMPLES=OFF -DSMILE_BUILD_BENCH=OFF -DSMILE_FUZZ_ENGINE=libfuzzer >/dev/null
  cmake --build "$build" -j "$jobs" --target "${targets[@]}"
  for t in "${targets[@]}"; do
    work="$build/corpus/$t"; artifacts="$build/artifacts/$t/"
    mkdir -p "$work" "$artifacts"
    cp -n "$here/tests/fuzz/corpus/$t"/* "$work/" 2>/dev/null || true
    [ -d "$here/tests/fuzz/regressions/$t" ] && cp -n "$here/tests/fuzz/regressions/$t"/* "$work/" 2>/dev/null || true
    echo "== $t: up to $seconds s or 10M executions"
    status=0
    (cd "$build" && "./tests/fuzz/$t" -max_total_time="$seconds" -runs=10000000 -rss_limit_mb=2048 -timeout=20 \
        -max_len=65536 -artifact_prefix="$artifacts" -print_final_stats=1 "$work" 2>&1 | tee "$build/$t.log" |
        grep -E "^#[0-9]+.*(INITED|DONE)|stat::number_of_executed_units|ERROR|SUMMARY|Test unit written") || status=$?
    # Keep what adds coverage, small: merge the session's corpus into the committed one.
    mkdir -p "$build/merged/$t"
    "$build/tests/fuzz/$t" -merge=1 -max_len=65536 "$build/merged/$t" "$here/tests/fuzz/corpus/$t" "$work" >/dev/null 2>&1 || true
    rm -rf "$here/tests/fuzz/corpus/$t" && mv "$build/merged/$t" "$here/tests/fuzz/corpus/$t"
    ls "$artifacts" | grep -q . && echo "!! $t: crash inputs in $artifacts" || echo "   $t: no crash"
  done
  ;;
*)
  echo "usage: scripts/fuzz.sh seeds | run [seconds] [target ...]" >&2
  exit 2
  ;;
esac
