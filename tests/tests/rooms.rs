//! Rooms a reader can hold in their head: no Rust file of the product (the Lambdas and the
//! CLI, their tests too) holds more than 400 lines of code, blank lines and comments not
//! counted. Functions are held to 80 lines by clippy's `too_many_lines` (clippy.toml), and
//! infra's TypeScript to both limits by eslint (`max-lines`, `max-lines-per-function`).

use std::path::{Path, PathBuf};

use integration_tests::repo_root;

const MOST_LINES: usize = 400;

/// The `.rs` files below `dir`, `target/` left out.
fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() && path.file_name().is_some_and(|name| name != "target") {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

/// The lines that hold code: not blank, not only a comment.
fn code_lines(text: &str) -> usize {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("//"))
        .count()
}

#[test]
fn counts_code_not_blank_lines_or_comments() {
    assert_eq!(
        code_lines("//! a module\n\nfn f() {\n    // why\n    g();\n}\n"),
        3
    );
}

#[test]
fn no_product_file_holds_more_than_400_lines_of_code() {
    let root = repo_root();
    let mut files = Vec::new();
    for dir in ["lambdas", "cli"] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(
        files.len() > 50,
        "the product's Rust files were not found under {}",
        root.display()
    );
    let over: Vec<String> = files
        .iter()
        .filter_map(|path| {
            let text = std::fs::read_to_string(path).expect("a readable source file");
            let lines = code_lines(&text);
            (lines > MOST_LINES).then(|| format!("{} ({lines})", path.display()))
        })
        .collect();
    assert!(
        over.is_empty(),
        "over {MOST_LINES} lines of code, split by what they do: {over:?}"
    );
}
