//! The README's "Where xexit is used" is what admins copy: each fenced block there is a file
//! under doc/hosts/, byte for byte, and the host tests use those files (a `text` block shows
//! output, not a file). Each host section names the tests that run it ("Tested by:"), and
//! those tests exist.
use std::collections::BTreeMap;
use std::path::Path;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// The fence of a block that shows output, not a file.
const OUTPUT: &str = "```text";

/// The section's text, from its heading to the next `## ` heading.
fn hosts_section() -> String {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let start = readme.find("\n## Where xexit is used\n").expect("README has no 'Where xexit is used'");
    let rest = &readme[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |at| at + 4);
    rest[..end].to_string()
}

/// The fenced blocks of `text` but output blocks, each with the `###` subsection it is in.
fn blocks(text: &str) -> Vec<(String, String)> {
    // Each open block: its fence line and its body so far.
    let (mut found, mut heading, mut open) = (Vec::new(), String::new(), None::<(String, String)>);
    for line in text.lines() {
        match open.take() {
            Some((fence, body)) if line == "```" => {
                if fence != OUTPUT {
                    found.push((heading.clone(), body));
                }
            }
            Some((fence, body)) => open = Some((fence, body + line + "\n")),
            None if line.starts_with("```") => open = Some((line.to_string(), String::new())),
            None => {
                if let Some(title) = line.strip_prefix("### ") {
                    heading = title.to_string();
                }
            }
        }
    }
    assert!(open.is_none(), "an unclosed block in 'Where xexit is used'");
    found
}

fn doc_hosts() -> BTreeMap<String, String> {
    std::fs::read_dir(Path::new(ROOT).join("doc/hosts"))
        .expect("doc/hosts")
        .flatten()
        .filter(|entry| entry.path().is_file())
        .map(|entry| (entry.file_name().to_string_lossy().into_owned(), std::fs::read_to_string(entry.path()).unwrap()))
        .collect()
}

#[test]
fn every_block_is_a_file_of_doc_hosts_and_every_file_is_shown() {
    let files = doc_hosts();
    let blocks = blocks(&hosts_section());
    assert!(!blocks.is_empty());
    for (heading, body) in &blocks {
        let file = files.iter().find(|(_, text)| *text == body);
        assert!(file.is_some(), "the block under '{heading}' is no file of doc/hosts/ (or differs from it):\n{body}");
    }
    for (name, text) in &files {
        assert!(blocks.iter().any(|(_, body)| body == text), "doc/hosts/{name} differs from every README block");
    }
}

#[test]
fn every_host_section_names_tests_that_exist() {
    let section = hosts_section();
    for part in section.split("\n### ").skip(1) {
        let heading = part.lines().next().unwrap_or_default();
        assert!(part.contains("\nChecked against"), "'{heading}' says nothing of what it was checked against");
        let Some(tested) = part.lines().find(|line| line.starts_with("Tested by:")) else {
            assert!(part.contains("cannot run here"), "'{heading}' has no 'Tested by:' line");
            continue;
        };
        let named: Vec<&str> = tested
            .split(|c: char| c.is_whitespace() || c == ',' || c == '`')
            .filter(|w| w.starts_with("tests/"))
            .collect();
        assert!(!named.is_empty(), "'{heading}': {tested}");
        for test in named {
            let test = test.trim_end_matches(['.', ';', ')']);
            assert!(Path::new(ROOT).join(test).is_file(), "'{heading}' names {test}, which does not exist");
        }
    }
}
