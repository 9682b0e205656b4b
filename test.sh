#!/usr/bin/env bash
# Installs what the tests need (as root, on Debian) and runs every check: formatting,
# clippy, and the tests against a real Xvfb, real users, processes and cgroups.
set -euo pipefail
cd "$(dirname "$0")"

packages=(xvfb x11-utils x11-common xauth openssh-client openssh-server openbox xterm tmux gnupg gpg-agent dbus-x11
    procps passwd util-linux man-db acl gcc libc6-dev shellcheck mandoc screen
    bash fish
    # The real hosts of "Where xexit is used" (tests/host_*.rs): their servers, clients and desktops.
    xrdp xorgxrdp freerdp2-x11 tigervnc-standalone-server tigervnc-viewer tigervnc-tools
    x2goserver x2goserver-xsession x2goserver-extensions pyhoca-cli nxproxy sqlite3 lightdm dbus
    xfce4-session xfwm4 xfce4-panel xfdesktop4 xfce4-settings xfconf
    mate-session-manager marco mate-panel mate-settings-daemon
    debootstrap systemd-container)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    # Installing xrdp, lightdm or sshd starts no service here: the tests start their own.
    policy=/usr/sbin/policy-rc.d
    made_policy=
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=yes
    fi
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    if [ -n "$made_policy" ]; then rm -f "$policy"; fi
fi

cargo fmt --check
# The shell that is shipped (90xexit is sourced by Xsession's sh; /etc/default/xexit by 90xexit) and the scripts here.
shellcheck Xsession.d/90xexit Xexit.d/* packaging/deb.sh test.sh .ci/run
shellcheck --shell=sh debian/xexit.default
# The README's host snippets that are shell: scripts, and X2Go's two, which set XEXIT_SELECTOR
# for 90xexit (SC2034), source it (SC1091), and begin with a comment naming their path
# (which is no shebang: SC1113, SC2096).
shellcheck doc/hosts/thinlinc-90-xexit doc/hosts/gdm3-PostSession-Default
shellcheck --shell=sh -e SC2034,SC1091,SC1113,SC2096 doc/hosts/89xexit-x2go doc/hosts/090_xexit
cargo clippy --all-targets -- -D warnings
# No module cycle, no source file over 400 lines.
.ci/module-graph src >/dev/null
cargo test
