//! Compile-fail and pass cases: what a person sees when they get a cell, a shape or a driver
//! call wrong (`tests/ui/<category>/<mistake>.rs` with its `.stderr`), and programs that must
//! build (`tests/ui/pass/`). Regenerate the snapshots with `TRYBUILD=overwrite cargo test --test ui`
//! and read every one.

use std::process::Command;

/// The compiler the `.stderr` snapshots were taken with. Wording changes between versions,
/// so another compiler skips the suite rather than failing it.
const SNAPSHOT_RUSTC: &str = "rustc 1.95.";

fn rustc_version() -> String {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .unwrap_or_default()
        .trim()
        .to_owned()
}

#[test]
fn ui() {
    let version = rustc_version();
    if !version.starts_with(SNAPSHOT_RUSTC) {
        eprintln!(
            "skipped: UI snapshots are for rustc 1.95, this is {}",
            if version.is_empty() {
                "an unknown rustc"
            } else {
                &version
            }
        );
        return;
    }
    // The cases' own dependencies (nalgebra, and the package's dev-dependencies, which trybuild
    // adds) are built once into target/tests/trybuild; without debug info that build is
    // markedly faster, and no snapshot depends on it. The variable reaches trybuild's cargo.
    if std::env::var_os("CARGO_PROFILE_DEV_DEBUG").is_none() {
        std::env::set_var("CARGO_PROFILE_DEV_DEBUG", "0");
    }
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/macro/*.rs");
    t.compile_fail("tests/ui/nested/*.rs");
    t.compile_fail("tests/ui/shape/*.rs");
    t.compile_fail("tests/ui/driver/*.rs");
    t.compile_fail("tests/ui/weights/*.rs");
    t.compile_fail("tests/ui/adjoint/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
