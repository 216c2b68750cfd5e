//! The dependency rule for the pure core: `src/consensus/` and `src/spore/` never do I/O, read
//! a clock, draw randomness or iterate a hash map (docs/PROTOCOL.md §9; architecture anchors
//! P1). This test scans their sources for the imports that would break it.

use std::path::Path;

const FORBIDDEN: &[&str] = &[
    "tokio",
    "libp2p",
    "heed",
    "std::time",
    "rand::",
    "rand_",
    "HashMap",
    "HashSet",
    "SystemTime",
    "Instant",
    "std::fs",
    "std::net",
    "getrandom",
];

fn scan(dir: &Path, hits: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        panic!("cannot read {}", dir.display())
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            scan(&path, hits);
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for f in FORBIDDEN {
                if code.contains(f) {
                    hits.push(format!(
                        "{}:{}: `{f}` in `{}`",
                        path.display(),
                        n + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
}

#[test]
fn the_pure_core_has_no_io_clock_randomness_or_hash_maps() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut hits = Vec::new();
    scan(&root.join("consensus"), &mut hits);
    scan(&root.join("spore"), &mut hits);
    assert!(
        hits.is_empty(),
        "forbidden imports in the pure core:\n{}",
        hits.join("\n")
    );
}
