//! The source layout's rules that a test can check.

/// No two modules of src/ import each other, directly or through others
/// (`scripts/import_cycles.py`: module-level graph of `crate::`/`super::` paths, parent/child
/// edges and test code left out).
#[test]
fn no_import_cycles() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = match std::process::Command::new("python3")
        .arg(format!("{root}/scripts/import_cycles.py"))
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            eprintln!("SKIPPED no_import_cycles: python3 not available ({e})");
            return;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "import cycles:\n{text}");
    assert!(text.contains(" 0 cycles"), "{text}");
}
