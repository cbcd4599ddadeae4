//! The documentation stands on its own: every relative link in `README.md`, `ARCHITECTURE.md`
//! and `docs/*.md` points at a file or folder of the repository, and every `#anchor` at a
//! heading of its target.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use regex::Regex;

/// Texts that cite documents the repository does not ship.
const UNSHIPPED: [&str; 2] = ["DESIGN.md", "DESIGN §"];

/// The checked pages: `README.md`, `ARCHITECTURE.md` and every `docs/*.md`.
fn pages() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/ exists")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    docs.sort();
    let mut pages = vec![root.join("README.md"), root.join("ARCHITECTURE.md")];
    pages.extend(docs);
    pages
}

/// The lines of `text` outside fenced code blocks, with inline code spans removed.
fn prose_lines(text: &str) -> Vec<String> {
    let code_span = Regex::new("`[^`]*`").unwrap();
    let mut in_fence = false;
    let mut lines = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
        } else if !in_fence {
            lines.push(code_span.replace_all(line, "").into_owned());
        }
    }
    lines
}

/// The targets of the Markdown links and images (`[text](target)`) of `text`.
fn link_targets(text: &str) -> Vec<String> {
    let link = Regex::new(r"\]\(([^()\s]+)\)").unwrap();
    prose_lines(text)
        .iter()
        .flat_map(|line| link.captures_iter(line).map(|c| c[1].to_owned()))
        .collect()
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens.
fn slug(heading: &str) -> String {
    let link = Regex::new(r"\[([^\]]*)\]\([^)]*\)").unwrap();
    link.replace_all(heading, "$1")
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of the headings of `text`, with GitHub's `-1`, `-2` … for repeated ones.
fn anchors(text: &str) -> HashSet<String> {
    let mut found = HashSet::new();
    let mut in_fence = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        let hashes = line.chars().take_while(|c| *c == '#').count();
        if in_fence || !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let base = slug(&line[hashes..].replace('`', ""));
        let mut anchor = base.clone();
        let mut n = 0;
        while !found.insert(anchor.clone()) {
            n += 1;
            anchor = format!("{base}-{n}");
        }
    }
    found
}

/// What is wrong with the link `target` written in `page`, if anything.
fn broken(page: &Path, target: &str) -> Option<String> {
    let (path, anchor) = match target.split_once('#') {
        Some((path, anchor)) => (path, Some(anchor)),
        None => (target, None),
    };
    let file = if path.is_empty() {
        page.to_path_buf()
    } else {
        page.parent().unwrap().join(path)
    };
    if !file.exists() {
        return Some(format!("{} does not exist", file.display()));
    }
    let anchor = anchor?;
    let Ok(text) = std::fs::read_to_string(&file) else {
        return Some(format!(
            "#{anchor} points into {}, not a page",
            file.display()
        ));
    };
    (!anchors(&text).contains(anchor))
        .then(|| format!("{} has no heading for #{anchor}", file.display()))
}

/// Every relative link and image of every page points inside the repository.
#[test]
fn every_relative_link_resolves() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        for target in link_targets(&text) {
            if ["http://", "https://", "mailto:"]
                .iter()
                .any(|scheme| target.starts_with(scheme))
            {
                continue;
            }
            checked += 1;
            if let Some(problem) = broken(&page, &target) {
                problems.push(format!("{}: ({target}): {problem}", page.display()));
            }
        }
    }
    assert!(
        checked > 20,
        "only {checked} links found: is the link pattern right?"
    );
    assert!(
        problems.is_empty(),
        "broken links:\n{}",
        problems.join("\n")
    );
}

/// No page cites a document the repository does not ship.
#[test]
fn no_page_cites_an_unshipped_document() {
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        for cited in UNSHIPPED {
            assert!(!text.contains(cited), "{} cites {cited}", page.display());
        }
    }
}

/// Anchors and link targets are read the way GitHub reads them.
#[test]
fn anchors_follow_github() {
    let text = "# deskprov\n## Install the `deskprov` command\n### `src/main.rs`, `src/lib.rs`\n\
                ## Misses, bans and fail2ban\n## Misses, bans and fail2ban\n```\n# not a heading\n```\n";
    let found = anchors(text);
    for anchor in [
        "deskprov",
        "install-the-deskprov-command",
        "srcmainrs-srclibrs",
        "misses-bans-and-fail2ban",
        "misses-bans-and-fail2ban-1",
    ] {
        assert!(found.contains(anchor), "{anchor} in {found:?}");
    }
    assert!(!found.contains("not-a-heading"));
    assert_eq!(
        link_targets("[a](x.md) `[b](y.md)` ![c](img.png#top)\n```\n[d](z.md)\n```"),
        ["x.md", "img.png#top"]
    );
}

/// The marks around the generated model table in `docs/keys.md`.
const TABLE_MARKS: (&str, &str) = (
    "<!-- models: generated by `deskprov models --markdown` -->\n",
    "<!-- end of models -->\n",
);

/// The model table of `docs/keys.md` is what `deskprov models --markdown` prints from the
/// vendor profiles. Set `UPDATE_DOCS=1` to rewrite it, and review the diff.
#[test]
fn the_model_table_is_generated_from_the_profiles() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_deskprov"))
        .args(["models", "--markdown"])
        .env_remove("DESKPROV_CONFIG")
        .output()
        .expect("deskprov runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8(out.stdout).unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/keys.md");
    let page = std::fs::read_to_string(&path).unwrap();
    let (begin, end) = TABLE_MARKS;
    let start = page
        .find(begin)
        .expect("docs/keys.md has the table's opening mark")
        + begin.len();
    let stop = start + page[start..].find(end).expect("and its closing mark");
    if std::env::var_os("UPDATE_DOCS").is_some() {
        let updated = format!("{}{table}{}", &page[..start], &page[stop..]);
        std::fs::write(&path, updated).unwrap();
        return;
    }
    assert_eq!(
        &page[start..stop],
        table,
        "docs/keys.md's model table is out of date: run UPDATE_DOCS=1 cargo test --test it docs"
    );
}

/// An unknown vendor is a clear error naming the flag, with a non-zero exit.
#[test]
fn models_of_an_unknown_vendor_is_refused() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_deskprov"))
        .args(["models", "--vendor", "nokia"])
        .env_remove("DESKPROV_CONFIG")
        .output()
        .expect("deskprov runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--vendor") && err.contains("nokia") && err.contains("yealink"),
        "{err}"
    );
}
