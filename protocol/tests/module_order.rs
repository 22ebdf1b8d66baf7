//! The crate's modules form floors (listed in `lib.rs`'s doc comment): every `crate::` path a
//! module's code names (imports, calls, serde attribute strings, its tests) leads to a module on
//! a lower floor, so there is no import circle. Also: only `codec` calls bincode.

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
    let mut files: Vec<String> = fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter_map(|f| f.strip_suffix(".rs").map(str::to_owned))
        .filter(|m| m != "lib")
        .collect();
    files.sort();
    let listed: Vec<String> = floor.keys().cloned().collect();
    assert_eq!(listed, files, "lib.rs's floors list every module once");

    let (mut edges, mut bad) = (BTreeSet::new(), Vec::new());
    for m in &files {
        let text = fs::read_to_string(src.join(format!("{m}.rs"))).unwrap();
        for line in code(&text) {
            for (at, _) in line.match_indices("crate::") {
                let to = ident_at(&line[at + "crate::".len()..]);
                match floor.get(to) {
                    _ if to == m => {}
                    Some(&f) if f < floor[m] => _ = edges.insert(format!("{m} -> {to}")),
                    Some(_) => bad.push(format!("{m} -> {to}: not a lower floor")),
                    // The crate root re-exports from every module: reaching it is a circle.
                    None => bad.push(format!("{m} -> crate::{to}: the crate root")),
                }
            }
            if line.contains("super::") && line.trim() != "use super::*;" {
                bad.push(format!("{m}: `{}` may reach the crate root", line.trim()));
            }
            if line.contains("bincode") && m != "codec" {
                bad.push(format!("{m} calls bincode: only codec may"));
            }
        }
    }
    println!("{}", edges.into_iter().collect::<Vec<_>>().join("\n"));
    assert!(bad.is_empty(), "{bad:#?}");
}
