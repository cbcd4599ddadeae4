//! Replays every committed input, seeds and minimised corpus, through its target: what the
//! fuzzer found once keeps being checked by `cargo test`, without AFL++.

use std::fs;
use std::path::{Path, PathBuf};

use deskprov_fuzz::{TARGETS, target};

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("a readable folder").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn replay(name: &str) {
    let target = target(name).expect("a known target");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let seeds = inputs(&root.join("seeds").join(name));
    let corpus = inputs(&root.join("corpus").join(name));
    assert!(!seeds.is_empty(), "fuzz/seeds/{name}/ has no seed");
    assert!(!corpus.is_empty(), "fuzz/corpus/{name}/ has no input");
    for file in seeds.iter().chain(&corpus) {
        let data = fs::read(file).expect("a readable input");
        let outcome = std::panic::catch_unwind(|| (target.run)(&data));
        assert!(
            outcome.is_ok(),
            "{} fails target {name}: replay it with `cargo run --bin {name} < {}`",
            file.display(),
            file.display()
        );
    }
}

#[test]
fn every_target_has_its_inputs_here() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["seeds", "corpus"] {
        for entry in fs::read_dir(root.join(dir)).expect("the folder exists") {
            let name = entry.expect("a readable folder").file_name();
            let name = name.to_string_lossy();
            assert!(target(&name).is_some(), "fuzz/{dir}/{name} is no target's");
        }
    }
    for t in TARGETS {
        assert!(
            root.join("src/bin")
                .join(format!("{}.rs", t.name))
                .is_file(),
            "target {} has no binary",
            t.name
        );
    }
}

#[test]
fn mac() {
    replay("mac");
}

#[test]
fn path() {
    replay("path");
}

#[test]
fn user_agent() {
    replay("user_agent");
}

#[test]
fn digest() {
    replay("digest");
}

#[test]
fn csv() {
    replay("csv");
}

#[test]
fn render() {
    replay("render");
}
