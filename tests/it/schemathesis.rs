//! Schemathesis (`st`, a PyPI package) against the running server: it reads the OpenAPI
//! document, generates valid and invalid requests for every operation (examples, boundary
//! values, fuzzed values, and sequences that follow the document's links), and runs every one
//! of its checks on the answers: no 5xx, only documented statuses, content types, headers and
//! bodies; invalid requests refused, valid ones accepted; authentication not ignored; a deleted
//! resource gone, a created one there. A fixed seed and a bounded number of examples keep the
//! run reproducible and under five minutes on a 2-core machine.
//!
//! `.ci/run` installs the pinned version; elsewhere the test fails, saying how to install it.
//! Its settings are in `tests/schemathesis/` (docs/development.md).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::helpers::TestApp;

/// The schemathesis release this test's flags and settings are written for (`.ci/run` pins
/// the same).
const VERSION: &str = "4.32.5";
/// Hypothesis' seed: the same requests, in the same order, on every run.
const SEED: &str = "13";
/// Test cases per operation and phase.
const EXAMPLES: &str = "100";

/// What to do when `st` is missing or is another release.
fn install_hint() -> String {
    format!(
        "install it with `pip install schemathesis=={VERSION}` (.ci/run does); \
         it provides the `st` command this test runs"
    )
}

/// Fails unless `st --version` is the pinned release.
fn require_schemathesis() {
    let output = Command::new("st")
        .arg("--version")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "schemathesis' `st` command cannot be run ({e}): {}",
                install_hint()
            )
        });
    let version = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && version.trim() == format!("st, version {VERSION}"),
        "`st --version` says {:?}, not schemathesis {VERSION}: {}",
        version.trim(),
        install_hint()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_disagreement_between_the_document_and_the_server() {
    require_schemathesis();
    let app = TestApp::spawn().await;
    crate::openapi::setup(&app).await;

    let settings = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis");
    // Schemathesis writes nothing the test keeps; anything it leaves goes with this directory.
    let scratch = tempfile::tempdir().unwrap();
    let base = format!("http://{}", app.admin);
    let mut command = Command::new("st");
    command
        .current_dir(scratch.path())
        .env("SCHEMATHESIS_HOOKS", settings.join("hooks.py"))
        .arg("--config-file")
        .arg(settings.join("schemathesis.toml"))
        .args(["--no-color", "run"])
        .arg(format!("{base}/api/v1/openapi.json"))
        .args(["--url", &base])
        .args(["--checks", "all"])
        .args(["--seed", SEED])
        .args(["--max-examples", EXAMPLES])
        // One worker: the operations run in a fixed order against one server, so the seed
        // gives the same run every time.
        .args(["--workers", "1"])
        // No example database: a run replays nothing from an earlier one.
        .args(["--generation-database", "none"])
        .arg("--header")
        .arg(format!("Authorization: Bearer {}", app.admin_token));

    let started = Instant::now();
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("`st run` cannot be started ({e}): {}", install_hint()));
    let took = started.elapsed();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "schemathesis {VERSION} (seed {SEED}, {EXAMPLES} examples) found disagreements between \
         the OpenAPI document and the server ({:?}, {took:.0?}):\n{report}",
        output.status
    );
    println!("schemathesis {VERSION}: seed {SEED}, {EXAMPLES} examples, {took:.0?}\n{report}");
}
