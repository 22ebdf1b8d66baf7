//! Test support for the crates' module order. A crate lists its modules in floors in its
//! `lib.rs` doc, bottom first, one line per floor (`//! - floor 2: schema, state`);
//! [`check`] reads that list and the sources and finds every `crate::` path a module's code
//! names (imports, calls, attribute strings, its tests) that does not lead to a strictly lower
//! floor: an import circle, or a crate that does not read top-down. Submodules (`room/views.rs`)
//! are units of their own (`room::views`), below their parent (`room/mod.rs`), which uses them
//! by their bare names; a submodule's `super::x` must name a sibling. Nothing but `lib.rs` may
//! reach the crate root, which re-exports from every module.

#![warn(missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// What [`check`] found: the edges between modules, and what breaks the floors.
#[derive(Debug, Default)]
pub struct Order {
    /// `from -> to`, every edge that leads down.
    pub edges: BTreeSet<String>,
    /// Every edge that does not, and every module missing from (or twice in) the list.
    pub bad: Vec<String>,
}

/// Checks the crate at `manifest_dir` (`env!("CARGO_MANIFEST_DIR")`). `rule` may add a
/// crate's own finding about a code line of a module (e.g. only `codec` may call bincode).
pub fn check(manifest_dir: &str, rule: impl Fn(&str, &str) -> Option<String>) -> Order {
    let src = Path::new(manifest_dir).join("src");
    let lib = fs::read_to_string(src.join("lib.rs")).expect("src/lib.rs");
    let mut order = Order::default();
    let mut floor = BTreeMap::new();
    for line in lib.lines() {
        let Some(rest) = line.strip_prefix("//! - floor ") else {
            continue;
        };
        let Some((n, names)) = rest.split_once(':') else {
            order
                .bad
                .push(format!("lib.rs: `{line}`: `- floor N: a, b`"));
            continue;
        };
        let n: usize = n.trim().parse().unwrap_or(usize::MAX);
        for name in names.split(',') {
            let name = name.trim().trim_matches('`');
            if floor.insert(name.to_owned(), n).is_some() {
                order.bad.push(format!("lib.rs lists {name} twice"));
            }
        }
    }
    let modules = modules(&src);
    let listed: Vec<&String> = floor.keys().collect();
    let files: Vec<&String> = modules.keys().collect();
    if listed != files {
        order.bad.push(format!(
            "lib.rs's floors list {listed:?}, the sources have {files:?}"
        ));
        return order;
    }
    let Order { edges, bad } = &mut order;
    let mut edge = |from: &str, to: &str, bad: &mut Vec<String>| match floor.get(to) {
        _ if to == from => {}
        Some(&f) if f < floor[from] => _ = edges.insert(format!("{from} -> {to}")),
        Some(_) => bad.push(format!("{from} -> {to}: not a lower floor")),
        None => bad.push(format!("{from} -> crate::{to}: the crate root")),
    };
    for (m, text) in &modules {
        if let Some((parent, _)) = m.split_once("::") {
            edge(parent, m, bad);
        }
        for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
            bad.extend(rule(m, line));
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
                    Some(sub) if modules.contains_key(&sub) => edge(m, &sub, bad),
                    _ => edge(m, top, bad),
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
                    Some(sibling) if modules.contains_key(&sibling) => edge(m, &sibling, bad),
                    _ => bad.push(format!("{m}: `{}` may reach a parent", line.trim())),
                }
            }
        }
    }
    order
}

/// Asserts the crate's floors hold (see [`check`]), printing its edges.
pub fn assert_floors(manifest_dir: &str, rule: impl Fn(&str, &str) -> Option<String>) {
    let order = check(manifest_dir, rule);
    println!(
        "{}",
        order.edges.iter().cloned().collect::<Vec<_>>().join("\n")
    );
    assert!(order.bad.is_empty(), "{:#?}", order.bad);
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// Every module of `src` by name (`room` for `room/mod.rs`, `room::views` for
/// `room/views.rs`), with its source text.
fn modules(src: &Path) -> BTreeMap<String, String> {
    let mut modules = BTreeMap::new();
    let read = |p: &Path| fs::read_to_string(p).unwrap_or_default();
    for entry in fs::read_dir(src).into_iter().flatten().flatten() {
        let path = entry.path();
        let Some(name) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
            continue;
        };
        if path.is_dir() {
            for sub in fs::read_dir(&path).into_iter().flatten().flatten() {
                let sub = sub.path();
                let Some(stem) = sub.file_stem().and_then(|s| s.to_str()) else {
                    continue;
                };
                let unit = match stem {
                    "mod" => name.clone(),
                    stem => format!("{name}::{stem}"),
                };
                modules.insert(unit, read(&sub));
            }
        } else if name != "lib" && path.extension().is_some_and(|e| e == "rs") {
            modules.insert(name, read(&path));
        }
    }
    modules
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A crate in a temporary folder: `lib.rs`'s floors and the modules' sources.
    fn krate(name: &str, lib: &str, files: &[(&str, &str)]) -> String {
        let dir = std::env::temp_dir().join(format!("floors-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("src/room")).unwrap();
        fs::write(dir.join("src/lib.rs"), lib).unwrap();
        for (path, text) in files {
            fs::write(dir.join("src").join(path), text).unwrap();
        }
        dir.to_str().unwrap().to_owned()
    }

    const LIB: &str =
        "//! - floor 0: a\n//! - floor 1: room::x\n//! - floor 2: room\n//! - floor 3: b\n";

    #[test]
    fn edges_down_pass_and_up_or_to_the_root_fail() {
        let files = [
            ("a.rs", "pub fn f() {}\n"),
            ("room/x.rs", "use crate::a::f;\n"),
            ("room/mod.rs", "mod x;\n"),
            ("b.rs", "use crate::room::x::g;\n// crate::b is a comment\n"),
        ];
        let order = check(&krate("down", LIB, &files), |_, _| None);
        assert!(order.bad.is_empty(), "{:?}", order.bad);
        assert!(order.edges.contains("b -> room::x") && order.edges.contains("room -> room::x"));

        let up = [
            ("a.rs", "use crate::b::f;\n"),
            ("room/x.rs", "use super::y;\n"),
            ("room/mod.rs", ""),
            ("b.rs", "use crate::Thing;\n"),
        ];
        let bad = check(&krate("up", LIB, &up), |_, _| None).bad;
        assert!(
            bad.iter().any(|b| b.contains("a -> b: not a lower floor")),
            "{bad:?}"
        );
        assert!(
            bad.iter().any(|b| b.contains("may reach a parent")),
            "{bad:?}"
        );
        assert!(bad.iter().any(|b| b.contains("the crate root")), "{bad:?}");
    }

    #[test]
    fn a_module_missing_from_the_list_and_a_crates_own_rule_are_reported() {
        let files = [
            ("a.rs", "bincode::x();\n"),
            ("room/mod.rs", ""),
            ("room/x.rs", ""),
            ("b.rs", ""),
            ("c.rs", ""),
        ];
        let bad = check(&krate("missing", LIB, &files), |_, _| None).bad;
        assert!(
            bad.iter().any(|b| b.contains("the sources have")),
            "{bad:?}"
        );
        let files = &files[..4];
        let bincode = |m: &str, l: &str| {
            (l.contains("bincode") && m != "codec").then(|| format!("{m}: bincode"))
        };
        let bad = check(&krate("rule", LIB, files), bincode).bad;
        assert_eq!(bad, ["a: bincode"]);
    }
}
