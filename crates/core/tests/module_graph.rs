//! The core's top-level modules depend on each other one way only: leaves (clock,
//! connection, reader, merge, …) at the bottom, the realtime session above the tracker and
//! the gateway, the till assembly at the top — as docs/architecture.md draws it. This test
//! reads the `crate::…` paths of every source file and fails when a cycle between two
//! top-level modules comes back, naming it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`tracker/tests.rs` → `tracker`).
fn owner(file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src()).ok()?;
    let first = rel
        .components()
        .next()?
        .as_os_str()
        .to_string_lossy()
        .into_owned();
    let name = first.trim_end_matches(".rs").to_owned();
    (name != "lib").then_some(name)
}

/// The top-level modules a file's code names through `crate::`.
fn uses(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `use crate::{a::X, b, c::{..}}`: the first segment of each entry.
            let mut depth = 1;
            let mut entry = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                if depth == 1 && c == ',' {
                    push_first(&entry, &mut out);
                    entry.clear();
                } else {
                    entry.push(c);
                }
            }
            push_first(&entry, &mut out);
        } else {
            push_first(rest, &mut out);
        }
    }
    out
}

fn push_first(path: &str, out: &mut BTreeSet<String>) {
    let name: String = path
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    if !name.is_empty() && name.chars().next().is_some_and(|c| c.is_ascii_lowercase()) {
        out.insert(name);
    }
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut all = Vec::new();
    files(&src(), &mut all);
    let modules: BTreeSet<String> = all.iter().filter_map(|f| owner(f)).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &all {
        let Some(from) = owner(file) else { continue };
        let text = std::fs::read_to_string(file).unwrap();
        let edges = graph.entry(from.clone()).or_default();
        for to in uses(&text) {
            if to != from && modules.contains(&to) {
                edges.insert(to);
            }
        }
    }
    graph
}

/// A cycle through the graph, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(c) = visit(node, graph, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

#[test]
fn the_core_modules_depend_on_each_other_one_way_only() {
    let graph = graph();
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "a cycle between the core's modules: {}\nthe graph: {graph:#?}",
            cycle.join(" → ")
        );
    }
}

#[test]
fn the_leaves_stay_leaves() {
    let graph = graph();
    // What everything else stands on uses nothing of the core above it.
    for leaf in ["clock", "connection", "reader", "qr", "print_events"] {
        let deps = graph.get(leaf).cloned().unwrap_or_default();
        assert!(deps.is_empty(), "{leaf} now depends on {deps:?}");
    }
    // The merge rule knows payments and nothing of who applies it.
    let merge = graph.get("merge").cloned().unwrap_or_default();
    assert!(
        merge.iter().all(|m| m == "payment"),
        "merge depends on {merge:?}"
    );
    // The gateway sits below the realtime session, the countdown is a calculator.
    for (module, never) in [
        ("gateway", "realtime"),
        ("countdown", "tracker"),
        ("countdown", "realtime"),
        ("tracker", "realtime"),
        ("tracker", "journal"),
        ("journal", "terminal"),
    ] {
        assert!(
            !graph.get(module).is_some_and(|d| d.contains(never)),
            "{module} must not depend on {never}"
        );
    }
}

#[test]
fn the_reader_of_paths_sees_groups_and_plain_paths() {
    let found = uses(
        "use crate::{clock::X, money, wire::{a, b}};\nlet t = crate::tracker::Tracker::new();",
    );
    assert_eq!(
        found.into_iter().collect::<Vec<_>>(),
        ["clock", "money", "tracker", "wire"]
    );
}
