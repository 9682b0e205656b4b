//! Writes shell completions for bash, zsh and fish, made from the clap definitions:
//! `cargo run --example completions -- DIR` gives DIR/xexit.bash, DIR/_xexit, DIR/xexit.fish.

use clap_complete::Shell;

fn main() -> std::io::Result<()> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "target/completions".into()));
    std::fs::create_dir_all(&dir)?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let path = clap_complete::generate_to(shell, &mut xexit::command(), "xexit", &dir)?;
        println!("{}", path.display());
    }
    Ok(())
}
