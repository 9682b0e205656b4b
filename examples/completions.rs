//! Writes shell completions for bash, zsh and fish, made from the clap definitions:
//! `cargo run --example completions -- DIR` gives DIR/xexit.bash, DIR/_xexit, DIR/xexit.fish.
//! (tests/completions.rs includes this file and runs the bash one in a real bash.)

use std::io;
use std::path::{Path, PathBuf};

use clap_complete::Shell;

#[allow(dead_code)] // not when tests/completions.rs includes this file
fn main() -> io::Result<()> {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "target/completions".into()));
    for path in write_completions(&dir)? {
        println!("{}", path.display());
    }
    Ok(())
}

/// Writes the three scripts into `dir`; returns their paths (bash, zsh, fish).
pub fn write_completions(dir: &Path) -> io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut paths = Vec::new();
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let path = clap_complete::generate_to(shell, &mut xexit::command(), "xexit", dir)?;
        match shell {
            Shell::Bash => complete_users_in_bash(&path)?,
            Shell::Fish => complete_values_after_options_in_fish(&path)?,
            _ => {}
        }
        paths.push(path);
    }
    Ok(paths)
}

/// clap_complete's bash script offers file names for a value without possible values, also
/// where the value is a user name (its zsh and fish scripts offer users): `--user` gets
/// `compgen -u` instead.
fn complete_users_in_bash(path: &Path) -> io::Result<()> {
    let files = "--user)\n                    COMPREPLY=($(compgen -f \"${cur}\"))";
    let users = "--user)\n                    COMPREPLY=($(compgen -u -- \"${cur}\"))";
    replace_in(path, files, users, "complete_users_in_bash")
}

/// In clap_complete's fish script, `xexit --session <TAB>` (a top-level option still waiting
/// for its value) makes argparse fail, which it takes for "a subcommand was given", so the
/// top-level options' values were never offered: a failed argparse means no subcommand yet.
fn complete_values_after_options_in_fish(path: &Path) -> io::Result<()> {
    let before = "argparse -s (__fish_xexit_global_optspecs) -- $cmd 2>/dev/null\n    or return\n";
    let after = "argparse -s (__fish_xexit_global_optspecs) -- $cmd 2>/dev/null\n    or return 0\n";
    replace_in(path, before, after, "complete_values_after_options_in_fish")
}

/// Replaces `before` with `after` in the script at `path`; an error names `fix` where the
/// generated script no longer holds `before`.
fn replace_in(path: &Path, before: &str, after: &str, fix: &str) -> io::Result<()> {
    let script = std::fs::read_to_string(path)?;
    if !script.contains(before) {
        return Err(io::Error::other(format!("clap_complete's script {} changed: see {fix}", path.display())));
    }
    std::fs::write(path, script.replace(before, after))
}
