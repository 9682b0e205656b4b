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
        if shell == Shell::Bash {
            complete_users_in_bash(&path)?;
        }
        paths.push(path);
    }
    Ok(paths)
}

/// clap_complete's bash script offers file names for a value without possible values, also
/// where the value is a user name (its zsh and fish scripts offer users): `--user` gets
/// `compgen -u` instead.
fn complete_users_in_bash(path: &Path) -> io::Result<()> {
    let script = std::fs::read_to_string(path)?;
    let files = "--user)\n                    COMPREPLY=($(compgen -f \"${cur}\"))";
    let users = "--user)\n                    COMPREPLY=($(compgen -u -- \"${cur}\"))";
    if !script.contains(files) {
        let why = "clap_complete's bash script no longer completes --user as it did: see complete_users_in_bash";
        return Err(io::Error::other(why));
    }
    std::fs::write(path, script.replace(files, users))
}
