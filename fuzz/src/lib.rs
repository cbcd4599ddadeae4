//! The bodies of deskprov's fuzz targets: one function per target, taking the fuzzer's bytes.
//!
//! Each target feeds what a phone or an admin can send (a request path, a User-Agent, an
//! Authorization header, a MAC, a CSV file, the names an admin types) through the parser or
//! renderer that reads it, and checks what must hold of the answer, not only that nothing
//! panics. A broken invariant is a panic, which the fuzzer records as a crash.
//!
//! The binaries in `src/bin/` hand these functions to AFL++ (built with `cargo afl build`);
//! `tests/replay.rs` feeds them every file of `seeds/` and `corpus/` in a plain `cargo test`,
//! which is how CI replays the corpus without AFL++.

pub mod csv;
pub mod digest;
pub mod fixture;
pub mod mac;
pub mod path;
pub mod render;
pub mod user_agent;

/// A fuzz target: its name (the binary, and the folder of its seeds and corpus) and its body.
pub struct Target {
    /// `mac`, `path`, …: the binary's name and the folder under `seeds/` and `corpus/`.
    pub name: &'static str,
    /// What it reads.
    pub about: &'static str,
    /// The body: panics when an invariant breaks.
    pub run: fn(&[u8]),
}

/// Every target.
pub const TARGETS: &[Target] = &[
    Target {
        name: "mac",
        about: "Mac::parse, against an independent reading of the accepted spellings",
        run: mac::run,
    },
    Target {
        name: "path",
        about: "the phone path split and the file and upload name matchers",
        run: path::run,
    },
    Target {
        name: "user_agent",
        about: "Vendors::parse_ua, and rendering for the model a User-Agent names",
        run: user_agent::run,
    },
    Target {
        name: "digest",
        about: "the Authorization header parser (Digest auth-params, Basic, other schemes)",
        run: digest::run,
    },
    Target {
        name: "csv",
        about: "the import sheet: header, rows, cells, and the drafts read from each row",
        run: csv::run,
    },
    Target {
        name: "render",
        about: "every vendor's device and common files, rendered with arbitrary names",
        run: render::run,
    },
];

/// The target called `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// The control characters of `text`, in order: what a name must never add to a file.
pub fn control_chars(text: &str) -> Vec<char> {
    text.chars().filter(|c| c.is_control()).collect()
}
