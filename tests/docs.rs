//! The game guide's code is the template's: every `rust` and `js` block of docs/game-api.md is
//! a run of whole lines of a file under template/ (which CI builds, tests and plays from a copy
//! outside the repository), so the tutorial compiles as long as the template does.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The fenced blocks of `markdown` with their language tags.
fn blocks(markdown: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut open: Option<(String, Vec<String>)> = None;
    for line in markdown.lines() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(lang)) => open = Some((lang.trim().to_owned(), Vec::new())),
            (Some(_), Some(_)) => out.extend(open.take()),
            (Some((_, lines)), None) => lines.push(line.to_owned()),
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "an unclosed code block");
    out
}

fn files(dir: &Path, out: &mut Vec<(PathBuf, Vec<String>)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "target") {
                files(&path, out);
            }
        } else if let Ok(text) = std::fs::read_to_string(&path) {
            out.push((path, text.lines().map(str::to_owned).collect()));
        }
    }
}

#[test]
fn every_rust_and_js_block_of_the_game_guide_is_in_the_template() {
    let guide = std::fs::read_to_string(root().join("docs/game-api.md")).unwrap();
    let mut template = Vec::new();
    files(&root().join("template"), &mut template);
    let mut checked = 0;
    for (lang, block) in blocks(&guide) {
        assert_ne!(lang, "", "a code block without a language");
        if !matches!(lang.as_str(), "rust" | "js") {
            continue;
        }
        checked += 1;
        let found = template.iter().any(|(_, lines)| {
            lines
                .windows(block.len())
                .any(|w| w.iter().zip(&block).all(|(a, b)| a == b))
        });
        assert!(
            found,
            "this {lang} block of docs/game-api.md is not in template/ (copy it from there):\n{}",
            block.join("\n")
        );
    }
    assert!(checked >= 10, "only {checked} blocks checked");
}

#[test]
fn the_block_reader_sees_languages_and_lines() {
    let md = "text\n```rust\nfn a() {}\n```\n\n```sh\nls\n```\n";
    assert_eq!(
        blocks(md),
        [
            ("rust".to_owned(), vec!["fn a() {}".to_owned()]),
            ("sh".to_owned(), vec!["ls".to_owned()]),
        ]
    );
}
