//! The crate's modules form floors (listed in `lib.rs`'s doc comment): every `crate::` path a
//! module's code names (imports, calls, serde and clap attribute strings, its tests) leads to a
//! module on a lower floor, so there is no import circle and the crate reads top-down. The
//! submodules of `room` and `cluster` are units of their own (`room::views`): `crate::room::x`
//! and a submodule's `super::x` lead to `room::x`, anything else under `room` to the room
//! module itself, which sits above its submodules. Nothing but `lib.rs` reaches the crate root.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// The code lines of a source file, whole-line comments (docs included) dropped.
fn code(text: &str) -> impl Iterator<Item = &str> {
    text.lines().filter(|l| !l.trim_start().starts_with("//"))
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// Every module of `src`, by name (`room` for `room/mod.rs`, `room::views` for
/// `room/views.rs`), with its source text.
fn modules(src: &Path) -> BTreeMap<String, String> {
    let mut modules = BTreeMap::new();
    for entry in fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        if path.is_dir() {
            for sub in fs::read_dir(&path).unwrap() {
                let sub = sub.unwrap().path();
                let stem = sub.file_stem().unwrap().to_str().unwrap();
                assert!(sub.extension().is_some_and(|e| e == "rs"), "{sub:?}");
                let unit = match stem {
                    "mod" => name.clone(),
                    stem => format!("{name}::{stem}"),
                };
                modules.insert(unit, fs::read_to_string(&sub).unwrap());
            }
        } else if name != "lib" && path.extension().is_some_and(|e| e == "rs") {
            modules.insert(name, fs::read_to_string(&path).unwrap());
        }
    }
    modules
}

#[test]
fn modules_only_use_lower_floors() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = fs::read_to_string(src.join("lib.rs")).unwrap();
    let mut floor = BTreeMap::new();
    for line in lib.lines() {
        let Some(rest) = line.strip_prefix("//! - floor ") else {
            continue;
        };
        let (n, names) = rest.split_once(':').unwrap();
        let n: usize = n.parse().unwrap();
        for name in names.split(',') {
            let name = name.trim().trim_matches('`');
            assert!(floor.insert(name.to_owned(), n).is_none(), "{name} twice");
        }
    }
    let modules = modules(&src);
    let listed: Vec<&String> = floor.keys().collect();
    let files: Vec<&String> = modules.keys().collect();
    assert_eq!(listed, files, "lib.rs's floors list every module once");

    let (mut edges, mut bad) = (BTreeSet::new(), Vec::new());
    let mut edge = |from: &str, to: &str, bad: &mut Vec<String>| match floor.get(to) {
        _ if to == from => {}
        Some(&f) if f < floor[from] => _ = edges.insert(format!("{from} -> {to}")),
        Some(_) => bad.push(format!("{from} -> {to}: not a lower floor")),
        // The crate root re-exports from every module: reaching it is a circle.
        None => bad.push(format!("{from} -> crate::{to}: the crate root")),
    };
    for (m, text) in &modules {
        // A module with submodules uses them by their bare names: it sits above them all.
        if let Some((parent, _)) = m.split_once("::") {
            edge(parent, m, &mut bad);
        }
        for line in code(text) {
            for (at, _) in line.match_indices("crate::") {
                let rest = &line[at + "crate::".len()..];
                if rest.starts_with('{') {
                    bad.push(format!("{m}: `{}`: one `use` per module", line.trim()));
                    continue;
                }
                let top = ident_at(rest);
                let sub = rest[top.len()..]
                    .strip_prefix("::")
                    .map(|s| format!("{top}::{}", ident_at(s)));
                match sub {
                    Some(sub) if modules.contains_key(&sub) => edge(m, &sub, &mut bad),
                    _ => edge(m, top, &mut bad),
                }
            }
            // A test module's glob of the file it sits in.
            if line.trim() == "use super::*;" {
                continue;
            }
            for (at, _) in line.match_indices("super::") {
                let sibling = m.split_once("::").map(|(parent, _)| {
                    format!("{parent}::{}", ident_at(&line[at + "super::".len()..]))
                });
                match sibling {
                    Some(sibling) if modules.contains_key(&sibling) => edge(m, &sibling, &mut bad),
                    _ => bad.push(format!("{m}: `{}` may reach a parent", line.trim())),
                }
            }
        }
    }
    println!("{}", edges.into_iter().collect::<Vec<_>>().join("\n"));
    assert!(bad.is_empty(), "{bad:#?}");
}
