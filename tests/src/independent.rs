//! Independent implementations Haven is checked against (`tests/python/independent.py`, in
//! the project's `.venv`): pyotp, PyJWT, fhir.resources, standardwebhooks, hl7apy.

use std::io::Write;
use std::process::{Command, Stdio};

/// Runs `independent.py <args>` with `stdin`; panics with its stderr if it refuses.
pub fn run(args: &[&str], stdin: &str) -> String {
    run_script("independent.py", args, stdin)
}

/// Runs `tests/python/<script> <args>` in the project's `.venv` with `stdin`; panics with
/// its stderr if it refuses.
pub fn run_script(script: &str, args: &[&str], stdin: &str) -> String {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut child = Command::new(format!("{root}/.venv/bin/python"))
        .arg(format!("{root}/tests/python/{script}"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the project's .venv (run `make test`, or scripts/venv.sh)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("python");
    assert!(
        out.status.success(),
        "{script} {args:?} refused: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

/// Validates a FHIR Bundle with fhir.resources; returns its resource types, space-separated.
pub fn fhir_bundle(bundle: &serde_json::Value) -> String {
    let mut file = tempfile::NamedTempFile::new().expect("temporary file");
    file.write_all(bundle.to_string().as_bytes())
        .expect("write");
    let path = file.path().to_str().expect("utf-8 path").to_owned();
    run(&["fhir-bundle", &path], "")
}
