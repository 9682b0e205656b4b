#!/usr/bin/env bash
# Installs what the tests need (as root, on Debian) and runs every check: formatting,
# clippy, and the tests against a real Xvfb, real users, processes and cgroups.
set -euo pipefail
cd "$(dirname "$0")"

packages=(xvfb x11-utils x11-common xauth openssh-client openssh-server openbox xterm tmux gnupg gpg-agent dbus-x11
    procps passwd util-linux man-db acl gcc libc6-dev shellcheck mandoc
    bash fish)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

cargo fmt --check
# The shell that is shipped (90xexit is sourced by Xsession's sh; /etc/default/xexit by 90xexit) and the scripts here.
shellcheck Xsession.d/90xexit Xexit.d/* packaging/deb.sh test.sh .ci/run
shellcheck --shell=sh debian/xexit.default
cargo clippy --all-targets -- -D warnings
# No module cycle, no source file over 400 lines.
.ci/module-graph src >/dev/null
cargo test
