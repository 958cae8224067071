#!/bin/sh
# Builds tools/rtneural/bench.cpp once per RTNeural backend, at -O3 -march=native:
#
#   tools/rtneural/build.sh RTNEURAL_DIR [OUT_DIR]     (OUT_DIR: target/rtneural)
#
# RTNEURAL_DIR is a checkout of jatinchowdhury18/RTNeural with its modules/xsimd submodule
# (tools/README.md has the recipe). Writes OUT_DIR/rtneural_bench_BUILD for the builds eigen,
# xsimd, stl and, without AVX-512 (-mno-avx512f: 8-float registers, which may suit the small
# layers better), eigen_avx2 and xsimd_avx2; a build that fails is reported and skipped. A
# binary newer than bench.cpp and this script, built from the same RTNEURAL_DIR, is kept.
# Exits 1 if nothing built.
set -u
here=$(cd "$(dirname "$0")" && pwd)
rtneural=$(cd "${1:?usage: build.sh RTNEURAL_DIR [OUT_DIR]}" && pwd) || exit 1
out=${2:-$here/../../target/rtneural}
cxx=${CXX:-g++}
mkdir -p "$out"

# -march=native on an AVX-512 machine makes xsimd use 64-byte registers, hence the
# alignment; Eigen's alignment hint goes up to 32. Eigen's fixed-size matrices above 128 kB
# (the combined weights from H = 64) need EIGEN_STACK_ALLOCATION_LIMIT=0.
common="-std=c++17 -O3 -march=native -DNDEBUG -w -I$rtneural"
eigen="-DRTNEURAL_USE_EIGEN=1 -DRTNEURAL_DEFAULT_ALIGNMENT=32 -DEIGEN_STACK_ALLOCATION_LIMIT=0 -I$rtneural/modules/Eigen"
xsimd="-DRTNEURAL_USE_XSIMD=1 -DRTNEURAL_DEFAULT_ALIGNMENT=64 -I$rtneural/modules/xsimd/include"
stl="-DRTNEURAL_DEFAULT_ALIGNMENT=64"
eigen_avx2="$eigen -mno-avx512f"
xsimd_avx2="$xsimd -mno-avx512f"

built=0
for build in eigen xsimd stl eigen_avx2 xsimd_avx2; do
    bin="$out/rtneural_bench_$build"
    stamp="$bin.rtneural_dir"
    if [ "$bin" -nt "$here/bench.cpp" ] && [ "$bin" -nt "$0" ] \
        && [ "$(cat "$stamp" 2>/dev/null)" = "$rtneural" ]; then
        built=$((built + 1))
        continue
    fi
    eval "flags=\$$build"
    echo "[rtneural] building $build ..." >&2
    # shellcheck disable=SC2086  # the flags are words
    if nice "$cxx" $common $flags -DRTNEURAL_BENCH_BUILD="\"$build\"" "$here/bench.cpp" \
        -o "$bin" 2>"$bin.log"; then
        echo "$rtneural" >"$stamp"
        built=$((built + 1))
    else
        echo "[rtneural] $build did not build; see $bin.log" >&2
        rm -f "$bin" "$stamp"
    fi
done
[ "$built" -gt 0 ]
