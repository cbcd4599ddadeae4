//! The layout's rules, checked on the source: no import cycles between modules, store calls
//! only in `store/` and `service/`, a pure `domain/`, and no function over 80 lines.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Longest function allowed outside tests, in lines.
const MAX_FUNCTION_LINES: usize = 80;

/// A module's path inside the crate (`["http", "phone", "gate"]`).
type ModPath = Vec<String>;

/// Every `.rs` file under `src/`, by module path, with its text up to its test module.
fn modules() -> BTreeMap<ModPath, (PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.insert(module_path(&root, &path), (path, without_tests(&text)));
            }
        }
    }
    out
}

fn module_path(root: &Path, file: &Path) -> ModPath {
    let rel = file.strip_prefix(root).unwrap().with_extension("");
    let mut parts: ModPath = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The source before its `#[cfg(test)]` module.
fn without_tests(text: &str) -> String {
    let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    code.to_owned()
}

/// `code` without its comment lines (they may name paths they do not import).
fn without_comments(code: &str) -> String {
    code.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `crate::`, `super::` and `self::` paths a module names, each with the names a `{…}`
/// group after it adds (`crate::store::{sites, tenants}` names both modules).
fn named_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    for start in ["crate::", "super::", "self::"]
        .iter()
        .flat_map(|p| code.match_indices(p).map(|(i, _)| i))
    {
        if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
            continue;
        }
        let path: String = code[start..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let path = path.trim_end_matches(':').to_owned();
        let rest = &code[start + path.len()..];
        if let Some(group) = rest.strip_prefix("::{") {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for item in group.split(',') {
                let name = item.trim().split([' ', ':']).next().unwrap_or("");
                if !name.is_empty() && name != "self" {
                    out.push(format!("{path}::{name}"));
                }
            }
        }
        out.push(path);
    }
    out
}

/// The module a path names (its longest prefix that is a module), seen from `from`.
fn resolve(from: &ModPath, path: &str, known: &BTreeSet<ModPath>) -> Option<ModPath> {
    let mut segments = path.split("::").peekable();
    let mut base: ModPath = match segments.next()? {
        "crate" => Vec::new(),
        "self" => from.clone(),
        "super" => from[..from.len().saturating_sub(1)].to_vec(),
        _ => return None,
    };
    while segments.peek() == Some(&"super") {
        segments.next();
        base.pop();
    }
    let rest: Vec<&str> = segments.collect();
    (0..=rest.len()).rev().find_map(|n| {
        let mut candidate = base.clone();
        candidate.extend(rest[..n].iter().map(|s| (*s).to_owned()));
        known.contains(&candidate).then_some(candidate)
    })
}

/// Which module imports which, leaving out a module's own ancestors and descendants.
fn imports() -> BTreeMap<ModPath, BTreeSet<ModPath>> {
    let modules = modules();
    let known: BTreeSet<ModPath> = modules.keys().cloned().collect();
    let mut edges = BTreeMap::new();
    for (module, (_, code)) in &modules {
        let targets: BTreeSet<ModPath> = named_paths(&without_comments(code))
            .iter()
            .filter_map(|p| resolve(module, p, &known))
            .filter(|t| !t.starts_with(module) && !module.starts_with(t))
            .collect();
        edges.insert(module.clone(), targets);
    }
    edges
}

/// The strongly connected groups of more than one node: each is an import cycle.
fn cycles<N: Ord + Clone>(edges: &BTreeMap<N, BTreeSet<N>>) -> Vec<Vec<N>> {
    // Two nodes are in one cycle when each reaches the other.
    let reach = |from: &N| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.clone()];
        while let Some(n) = todo.pop() {
            for next in edges.get(&n).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<N, BTreeSet<N>> = edges.keys().map(|n| (n.clone(), reach(n))).collect();
    let mut placed = BTreeSet::new();
    let mut out = Vec::new();
    for n in edges.keys() {
        if placed.contains(n) || !reaches[n].contains(n) {
            continue;
        }
        let group: Vec<N> = reaches[n]
            .iter()
            .filter(|m| reaches.get(*m).is_some_and(|r| r.contains(n)))
            .cloned()
            .collect();
        placed.extend(group.iter().cloned());
        out.push(group);
    }
    out
}

#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    let edges = imports();
    let by_file: Vec<String> = cycles(&edges)
        .iter()
        .map(|c| {
            c.iter()
                .map(|m| m.join("::"))
                .collect::<Vec<_>>()
                .join(" <-> ")
        })
        .collect();
    assert!(by_file.is_empty(), "import cycles: {by_file:#?}");
    let mut top: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, targets) in &edges {
        let Some(head) = from.first() else { continue };
        let entry = top.entry(head.clone()).or_default();
        entry.extend(
            targets
                .iter()
                .filter_map(|t| t.first())
                .filter(|t| *t != head)
                .cloned(),
        );
    }
    let top_cycles = cycles(&top);
    assert!(top_cycles.is_empty(), "top-level cycles: {top_cycles:?}");
}

#[test]
fn the_cycle_check_finds_a_cycle_and_resolves_grouped_imports() {
    let known: BTreeSet<ModPath> = [vec![], vec!["a".to_owned()], vec!["b".to_owned()]].into();
    let from = vec!["a".to_owned()];
    let named = named_paths("use crate::{b::Thing, a};\nuse super::b;");
    let resolved: BTreeSet<_> = named
        .iter()
        .filter_map(|p| resolve(&from, p, &known))
        .collect();
    assert!(resolved.contains(&vec!["b".to_owned()]), "{named:?}");
    let edges: BTreeMap<&str, BTreeSet<&str>> = [
        ("a", ["b"].into()),
        ("b", ["a"].into()),
        ("c", ["a"].into()),
    ]
    .into();
    assert_eq!(cycles(&edges), vec![vec!["a", "b"]]);
}

#[test]
fn only_the_store_and_the_services_call_the_store() {
    // Opening the store and starting its background writers is the composition root's job.
    let construction = [
        "store::Store",
        "store::lock",
        "store::pruner",
        "store::recorder",
    ];
    let mut offenders = Vec::new();
    for (module, (path, code)) in modules() {
        if matches!(
            module.first().map(String::as_str),
            Some("store" | "service")
        ) {
            continue;
        }
        let root = matches!(
            module.first().map(String::as_str),
            Some("server" | "commands")
        );
        for line in without_comments(&code)
            .lines()
            .filter(|l| names_the_store(l))
        {
            if !(root && construction.iter().any(|c| line.contains(c))) {
                offenders.push(format!("{}: {}", path.display(), line.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "store calls outside store/ and service/: {offenders:#?}"
    );
}

/// Whether `line` names the `store` module (not `restore::` or another word ending in it).
fn names_the_store(line: &str) -> bool {
    line.match_indices("store::").any(|(i, _)| {
        !line[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

#[test]
fn the_domain_is_pure() {
    let forbidden = [
        "rusqlite",
        "axum",
        "hyper",
        "tokio",
        "std::fs",
        "crate::store",
        "crate::http",
    ];
    let mut offenders = Vec::new();
    for (module, (path, code)) in modules() {
        if module.first().map(String::as_str) != Some("domain") {
            continue;
        }
        let code = without_comments(&code);
        for word in forbidden.iter().filter(|w| code.contains(**w)) {
            offenders.push(format!("{} uses {word}", path.display()));
        }
    }
    assert!(offenders.is_empty(), "{offenders:#?}");
}

#[test]
fn no_function_is_longer_than_the_limit() {
    let mut long = Vec::new();
    for (path, code) in modules().into_values() {
        let lines: Vec<&str> = code.lines().collect();
        let mut i = 0;
        while i < lines.len() {
            match function_at(&lines, i) {
                Some((name, end)) => {
                    if end - i + 1 > MAX_FUNCTION_LINES {
                        long.push(format!(
                            "{}: fn {name}: {} lines",
                            path.display(),
                            end - i + 1
                        ));
                    }
                    i = end + 1;
                }
                None => i += 1,
            }
        }
    }
    assert!(
        long.is_empty(),
        "functions over {MAX_FUNCTION_LINES} lines: {long:#?}"
    );
}

/// The function whose signature starts at line `i`: its name and the line of its closing brace.
fn function_at(lines: &[&str], i: usize) -> Option<(String, usize)> {
    let line = lines[i];
    let indent = &line[..line.len() - line.trim_start().len()];
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "fn")?;
    let leading = &words[..at];
    let modifiers = ["pub", "async", "const", "unsafe", "extern"];
    if !leading
        .iter()
        .all(|w| modifiers.contains(w) || w.starts_with("pub("))
    {
        return None;
    }
    let name: String = words
        .get(at + 1)?
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    let open = (i..lines.len()).find(|&j| lines[j].trim_end().ends_with(['{', ';']))?;
    if lines[open].trim_end().ends_with(';') {
        return None;
    }
    let close = format!("{indent}}}");
    let end = (open + 1..lines.len()).find(|&j| lines[j] == close)?;
    Some((name, end))
}
