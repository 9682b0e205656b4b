#!/usr/bin/env bash
# Builds the Debian package with cargo-deb, checks it with lintian (no error or warning
# allowed), installs it with dpkg, checks what an admin would (the binary, the man page, the
# files under /etc as conffiles, a setting in /etc/default/xexit reaching xexit, the
# completions, the docs), then purges it again. Run as root on Debian; CI runs it after the
# tests.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "deb.sh: $*" >&2; exit 1; }

command -v cargo-deb >/dev/null 2>&1 || cargo install cargo-deb --locked
if ! command -v lintian >/dev/null 2>&1; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends lintian
fi

version=$(cargo pkgid | sed 's/.*[#@]//')
head -n 1 debian/changelog | grep -q "^xexit ($version-1) " || fail "debian/changelog does not start with $version-1"

cargo build --release
cargo run --quiet --release --example completions -- target/completions >/dev/null
mkdir -p target/debian-docs
gzip -9n <README.md >target/debian-docs/README.md.gz
# --strip: strip(1) also drops the .comment and .note sections, as dh_strip does.
deb=$(cargo deb --no-build --strip | tail -n 1)

# cargo-deb writes no DEBIAN/md5sums, which debsums and lintian look for: add one (without
# the conffiles, which dpkg checksums itself, as dh_md5sums does) and build the .deb again.
unpacked=$(mktemp -d)
trap 'rm -rf "$unpacked"' EXIT
dpkg-deb --raw-extract "$deb" "$unpacked/root"
(
    cd "$unpacked/root"
    find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | LC_ALL=C sort |
        grep -vxF -f <(sed 's|^/||' DEBIAN/conffiles 2>/dev/null) | tr '\n' '\0' | xargs -0r md5sum
) >"$unpacked/md5sums"
install -m 644 "$unpacked/md5sums" "$unpacked/root/DEBIAN/md5sums"
dpkg-deb --root-owner-group --build "$unpacked/root" "$deb" >/dev/null
echo "built $deb"

# lintian warns when run as root: as root it runs as nobody, on a copy nobody can read.
cp "$deb" "$unpacked/xexit.deb"
chmod 755 "$unpacked"
chmod 644 "$unpacked/xexit.deb"
as_user=()
[ "$(id -u)" != 0 ] || as_user=(runuser -u nobody --)
"${as_user[@]}" lintian --display-info --fail-on error,warning "$unpacked/xexit.deb" || fail "lintian found errors or warnings"
echo "deb.sh: lintian passed"

if dpkg-query -W -f='${Status}' xexit 2>/dev/null | grep -q "ok installed"; then
    echo "deb.sh: a package xexit is installed already; not touching it" >&2
    exit 1
fi
dpkg -i "$deb"
trap 'dpkg --purge xexit >/dev/null; rm -rf "$unpacked"' EXIT

[ "$(xexit --version)" = "xexit $version" ] || fail "xexit --version: $(xexit --version)"
[ "$(command -v xexit)" = /usr/bin/xexit ] || fail "xexit is not /usr/bin/xexit"
[ "$(man -w xexit)" = /usr/share/man/man1/xexit.1.gz ] || fail "man -w xexit: $(man -w xexit 2>&1)"
conffiles=$(dpkg-query -W -f='${Conffiles}' xexit)
for file in /etc/X11/Xsession.d/90xexit /etc/default/xexit /etc/Xexit.d/10sound-server /etc/Xexit.d/20gpg-agent; do
    [ -f "$file" ] || fail "$file is missing"
    grep -q " $file " <<<"$conffiles" || fail "$file is not a conffile"
done
[ -x /etc/Xexit.d/20gpg-agent ] || fail "the hooks are not executable"
for file in /usr/share/bash-completion/completions/xexit /usr/share/zsh/vendor-completions/_xexit \
    /usr/share/fish/vendor_completions.d/xexit.fish; do
    grep -q -- "hook-timeout" "$file" || fail "$file is missing or incomplete"
done
for file in copyright changelog.Debian.gz README.md.gz; do
    [ -s "/usr/share/doc/xexit/$file" ] || fail "/usr/share/doc/xexit/$file is missing"
done
dpkg --verify xexit || fail "dpkg --verify xexit: the installed files differ from DEBIAN/md5sums"
# An admin's setting in /etc/default/xexit reaches the installed xexit through 90xexit (an
# option xexit refuses shows it without an X server), and the session would go on.
echo 'XEXIT_OPTIONS="--interval 17x"' >>/etc/default/xexit
started=$(env -i PATH=/usr/bin:/bin DISPLAY=:99 sh -c '. /etc/X11/Xsession.d/90xexit; echo session-goes-on' 2>&1)
grep -q "invalid value '17x' for '--interval" <<<"$started" || fail "/etc/default/xexit is not read: $started"
grep -q "^session-goes-on$" <<<"$started" || fail "90xexit stopped the session: $started"

dpkg --purge xexit
trap 'rm -rf "$unpacked"' EXIT
[ ! -e /usr/bin/xexit ] || fail "/usr/bin/xexit is still there after purge"
[ ! -e /etc/Xexit.d/20gpg-agent ] || fail "/etc/Xexit.d is still there after purge"
[ ! -e /etc/default/xexit ] || fail "/etc/default/xexit is still there after purge"
echo "deb.sh: 1 passed, 0 failed"
