# Sourced by the drill scripts from the project root, as `source bench/prepare.sh NAME`: builds
# the release binaries, then sets `bin` (their directory) and `out` (bench/out-NAME, emptied),
# and defines `ready_within`.
cargo build --release -j2 -p tessera -p tessera-bench
target_dir=${CARGO_TARGET_DIR:-target}
case "$target_dir" in /*) ;; *) target_dir=$PWD/$target_dir ;; esac
bin=$target_dir/release
out=$PWD/bench/out-$1
rm -rf "$out"; mkdir -p "$out"

ready_within() { # PORT SECONDS: until /readyz on the port answers 200, or fails after SECONDS
  for _ in $(seq $(( $2 * 10 ))); do curl -fs "http://127.0.0.1:$1/readyz" >/dev/null && return 0; sleep 0.1; done
  return 1
}
