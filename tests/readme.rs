//! The README and the crate docs share one text: each guide chapter lives in
//! `runtime/docs/*.md` (included by rustdoc, its examples run as doctests)
//! and the README holds a copy of it between markers, made by this test.
//! Edit the chapter, then `REDLUA_BLESS=1 cargo test --test readme`.

use std::path::Path;

const BEGIN: &str = "<!-- guide: ";
const END: &str = "<!-- /guide -->";

/// A chapter as the README shows it: headings one level down (the README
/// has the title), and the hidden lines of Rust examples (`# ...`, which
/// set up a throwaway server for the doctest) left out.
fn as_readme(chapter: &str) -> String {
    let mut out = String::new();
    let mut fence: Option<bool> = None; // Some(is_rust) inside a code block
    for line in chapter.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            fence = match fence {
                None => {
                    let lang = trimmed.trim_start_matches('`');
                    Some(lang.is_empty() || lang.starts_with("rust"))
                }
                Some(_) => None,
            };
            if fence == Some(true) {
                out.push_str("```rust\n");
                continue;
            }
        } else if fence == Some(true) && (trimmed == "#" || trimmed.starts_with("# ")) {
            continue;
        } else if fence.is_none() && line.starts_with('#') {
            out.push('#');
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The README with every guide region made anew from its chapter.
fn expected_readme(root: &Path, readme: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = readme;
    while let Some(start) = rest.find(BEGIN) {
        let (before, from) = rest.split_at(start);
        out.push_str(before);
        let marker_end = from.find("-->").ok_or("unterminated guide marker")? + 3;
        let marker = &from[..marker_end];
        let name = marker[BEGIN.len()..]
            .split_whitespace()
            .next()
            .ok_or("guide marker without a file")?;
        let end = from
            .find(END)
            .ok_or_else(|| format!("guide region {name} has no {END}"))?;
        let chapter = std::fs::read_to_string(root.join("runtime/docs").join(name))
            .map_err(|e| format!("runtime/docs/{name}: {e}"))?;
        out.push_str(marker);
        out.push('\n');
        out.push_str(&as_readme(&chapter));
        out.push_str(END);
        rest = &from[end + END.len()..];
    }
    out.push_str(rest);
    Ok(out)
}

#[test]
fn the_readme_holds_each_guide_chapter_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let expected = expected_readme(root, &readme).unwrap();
    assert!(readme.contains(BEGIN), "the README has no guide regions");
    if std::env::var_os("REDLUA_BLESS").is_some() {
        std::fs::write(root.join("README.md"), &expected).unwrap();
        return;
    }
    assert!(
        readme == expected,
        "README.md differs from runtime/docs/*.md: edit the chapter there, then run \
         `REDLUA_BLESS=1 cargo test --test readme`"
    );
}

#[test]
fn readme_copies_drop_hidden_lines_and_nest_headings() {
    let chapter = "# Title\n\n```rust\n# let x = 1;\nlet y = 2;\n```\n\n```sh\n# a comment\n```\n";
    assert_eq!(
        as_readme(chapter),
        "## Title\n\n```rust\nlet y = 2;\n```\n\n```sh\n# a comment\n```\n"
    );
}
