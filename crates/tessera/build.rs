//! Link-time layout of the release executable, for resident memory.
//!
//! The kernel maps an executable's code 64 KiB at a time around each page it faults in, so the
//! resident code is the number of 64 KiB windows that start-up and request handling touch, not
//! the size of the functions they run. Left in the compiler's order, the ~3,600 functions a
//! server runs are spread over nearly every window of its 17 MB of code. `link-order.txt`
//! (written by `bench/link-order.sh`, from callgrind runs of the release server) lists them,
//! those of start-up first, and the linker places them in that order ahead of the rest.
//!
//! Names missing from the build (a dependency or the toolchain changed since the list was
//! made) are skipped silently: the layout then only gets less compact, and the script makes
//! the list anew.
//!
//! Release builds only, linked by LLD (Rust's default linker on x86-64 Linux since 1.90): the
//! list means nothing to a debug build's symbols.

#![expect(
    clippy::disallowed_methods,
    reason = "a build script's input is the environment cargo gives it"
)]

use std::env;
use std::path::Path;

fn main() {
    println!("cargo::rerun-if-changed=link-order.txt");
    let linux = env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    let release = env::var("PROFILE").is_ok_and(|profile| profile == "release");
    if !(linux && release) {
        return;
    }
    let order = Path::new(env!("CARGO_MANIFEST_DIR")).join("link-order.txt");
    if order.is_file() {
        println!(
            "cargo::rustc-link-arg-bin=tessera=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        println!("cargo::rustc-link-arg-bin=tessera=-Wl,--no-warn-symbol-ordering");
    }
    // Relative relocations packed (DT_RELR, glibc 2.36): the loader reads a few KiB at start-up
    // instead of a 700 KB table, all of which stayed resident.
    println!("cargo::rustc-link-arg-bin=tessera=-Wl,-z,pack-relative-relocs");
}
