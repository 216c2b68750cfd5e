//! `sporedb keys` end to end through the binary: init, show, export/import between two data
//! dirs, sign, list, and the errors an operator meets.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_sporedb");

fn keys(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .arg("keys")
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn init_export_import_sign_list() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));

    let (ok, _, err) = keys(&a, &["show"]);
    assert!(!ok && err.contains("sporedb keys init"), "{err}");

    let (ok, out, _) = keys(&a, &["init"]);
    assert!(ok && out.contains("created"), "{out}");
    let (_, again, _) = keys(&a, &["init"]);
    assert!(again.contains("exists"), "{again}");
    let (ok, id_a, _) = keys(&a, &["show"]);
    assert!(ok);
    assert!(out.contains(id_a.trim()), "init and show disagree");
    assert!(keys(&b, &["init"]).0);

    // B imports A's exported key, marginal: known but not valid until signed.
    let (ok, snippet, _) = keys(&a, &["export"]);
    assert!(ok && snippet.contains(id_a.trim()), "{snippet}");
    let file = tmp.path().join("a.toml");
    std::fs::write(&file, &snippet).unwrap();
    let f = file.to_str().unwrap();
    let (ok, out, err) = keys(&b, &["import", "alice", "--trust", "marginal", "--file", f]);
    assert!(ok, "{err}");
    assert!(out.contains("not valid yet"), "{out}");
    let (_, list, _) = keys(&b, &["list"]);
    assert!(
        list.lines()
            .any(|l| l.starts_with("alice") && l.contains(" no ")),
        "{list}"
    );

    let (ok, _, err) = keys(&b, &["sign", "alice"]);
    assert!(ok, "{err}");
    let (_, list, _) = keys(&b, &["list"]);
    assert!(
        list.lines()
            .any(|l| l.starts_with("alice") && l.contains(" yes ")),
        "{list}"
    );
    // The certification is exportable.
    let (ok, exported, _) = keys(&b, &["export", "alice"]);
    assert!(ok && exported.contains("[[certifications]]"), "{exported}");

    // Errors: unknown name, a name rebound to another key, a bad trust level, a bad key.
    let (ok, _, err) = keys(&b, &["sign", "bob"]);
    assert!(!ok && err.contains("no key named 'bob'"), "{err}");
    let other = "ab".repeat(32);
    let (ok, _, _) = keys(&b, &["import", "alice", "--trust", "marginal", &other]);
    assert!(!ok);
    let (ok, _, err) = keys(&b, &["import", "carol", "--trust", "godlike", &other]);
    assert!(!ok && err.contains("unknown trust level"), "{err}");
    let (ok, _, err) = keys(&b, &["import", "carol", "--trust", "none", "xyz"]);
    assert!(!ok && err.contains("not a key export"), "{err}");
}
