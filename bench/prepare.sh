# Sourced by the drill scripts from the project root, as `source bench/prepare.sh NAME`: builds
# the release binaries, then sets `bin` (their directory) and `out` (bench/out-NAME, emptied).
cargo build --release -j2 -p tessera -p tessera-bench
target_dir=${CARGO_TARGET_DIR:-target}
case "$target_dir" in /*) ;; *) target_dir=$PWD/$target_dir ;; esac
bin=$target_dir/release
out=$PWD/bench/out-$1
rm -rf "$out"; mkdir -p "$out"
