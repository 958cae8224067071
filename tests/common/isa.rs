//! Every dispatched path on the machine at hand: a test binary runs its whole suite again,
//! once per instruction set narrower than the one it runs on, each in a child process whose
//! `RNN_ISA` names it (the crate reads that once, so a process runs one path throughout).

use rnn::kernels::Isa;
use std::process::Command;

/// The variable the crate reads to narrow its instruction set.
const VAR: &str = "RNN_ISA";

/// In the test `this_test` of a suite: runs the suite again on every narrower instruction set
/// (children, which this call in them only checks), and returns the sets the suite ran on, the
/// widest first, after printing them (`--nocapture` shows them).
///
/// A child checks that it runs the set it was given (or the CPU's widest, if that is narrower).
pub fn run_suite_on_every_path(this_test: &str) -> Vec<Isa> {
    let active = Isa::active();
    if let Ok(asked) = std::env::var(VAR) {
        let asked = Isa::ALL
            .into_iter()
            .find(|isa| isa.name() == asked)
            .unwrap_or_else(|| panic!("{VAR}={asked} names no instruction set"));
        assert_eq!(active, asked.min(Isa::detected()), "{VAR}={}", asked.name());
        println!("{this_test}: this run is on {}", active.name());
        return vec![active];
    }
    let mut ran = vec![active];
    let exe = std::env::current_exe().expect("the test binary's path");
    for isa in Isa::ALL.into_iter().rev().filter(|&isa| isa < active) {
        let out = Command::new(&exe)
            .env(VAR, isa.name())
            .args(["--test-threads=2", "--nocapture"])
            .output()
            .expect("run the test binary again");
        assert!(
            out.status.success(),
            "the suite failed on {}:\n{}\n{}",
            isa.name(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(&format!("{this_test}: this run is on {}", isa.name())),
            "the child on {} did not check its path:\n{stdout}",
            isa.name()
        );
        ran.push(isa);
    }
    let names: Vec<&str> = ran.iter().map(|isa| isa.name()).collect();
    println!(
        "{this_test}: the suite ran on {} (the CPU has up to {})",
        names.join(", "),
        Isa::detected().name()
    );
    ran
}

/// The check every suite's path test makes: every instruction set up to the CPU's widest ran
/// (unless the whole test run was narrowed by `RNN_ISA`).
pub fn assert_every_path_ran(this_test: &str) {
    let ran = run_suite_on_every_path(this_test);
    if std::env::var_os(VAR).is_none() {
        let expected: Vec<Isa> = Isa::ALL
            .into_iter()
            .rev()
            .filter(|&isa| isa <= Isa::detected())
            .collect();
        assert_eq!(ran, expected);
        assert!(Isa::detected() < Isa::Avx512 || ran.contains(&Isa::Avx512));
    }
}
