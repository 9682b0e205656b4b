#!/usr/bin/env bash
# Builds the Debian package with cargo-deb, installs it with dpkg, checks what an admin
# would (the binary, the man page, the files under /etc as conffiles, the completions),
# then purges it again. Run as root on Debian; CI runs it after the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo-deb >/dev/null 2>&1 || cargo install cargo-deb --locked
cargo build --release
cargo run --quiet --release --example completions -- target/completions >/dev/null
deb=$(cargo deb --no-build | tail -n 1)
echo "built $deb"

if dpkg-query -W -f='${Status}' xexit 2>/dev/null | grep -q "ok installed"; then
    echo "deb.sh: a package xexit is installed already; not touching it" >&2
    exit 1
fi
dpkg -i "$deb"
trap 'dpkg --purge xexit >/dev/null' EXIT

fail() { echo "deb.sh: $*" >&2; exit 1; }
[ "$(xexit --version)" = "xexit $(cargo pkgid | sed 's/.*[#@]//')" ] || fail "xexit --version: $(xexit --version)"
[ "$(command -v xexit)" = /usr/bin/xexit ] || fail "xexit is not /usr/bin/xexit"
[ "$(man -w xexit)" = /usr/share/man/man1/xexit.1.gz ] || fail "man -w xexit: $(man -w xexit 2>&1)"
conffiles=$(dpkg-query -W -f='${Conffiles}' xexit)
for file in /etc/X11/Xsession.d/90xexit /etc/Xexit.d/10sound-server /etc/Xexit.d/20gpg-agent; do
    [ -f "$file" ] || fail "$file is missing"
    grep -q " $file " <<<"$conffiles" || fail "$file is not a conffile"
done
[ -x /etc/Xexit.d/20gpg-agent ] || fail "the hooks are not executable"
for file in /usr/share/bash-completion/completions/xexit /usr/share/zsh/vendor-completions/_xexit \
    /usr/share/fish/vendor_completions.d/xexit.fish; do
    grep -q -- "hook-timeout" "$file" || fail "$file is missing or incomplete"
done

dpkg --purge xexit
trap - EXIT
[ ! -e /usr/bin/xexit ] || fail "/usr/bin/xexit is still there after purge"
[ ! -e /etc/Xexit.d/20gpg-agent ] || fail "/etc/Xexit.d is still there after purge"
echo "deb.sh: 1 passed, 0 failed"
