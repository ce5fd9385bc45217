#!/usr/bin/env bash
# Install lapse as a kiosk: the daemon at boot, the TUI on tty1 in place of its login.
#
#   git clone <lapse> && cd lapse && sudo deploy/install.sh
#
# Installs this checkout into a virtual environment in /opt/lapse/.venv (with the
# system's packages visible, so Debian's python3-lgpio drives the GPIO), creates the
# system user lapse, copies the two units to /etc/systemd/system, and enables and
# starts them. Run it again to upgrade. It never overwrites /etc/lapse/config.toml.
set -euo pipefail

readonly prefix=/opt/lapse
readonly unit_dir=/etc/systemd/system
readonly config_dir=/etc/lapse
readonly config="$config_dir/config.toml"
source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly source_dir

say() { printf 'install.sh: %s\n' "$*"; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

[[ $EUID -eq 0 ]] || die "run me as root: sudo $0"
[[ -f "$source_dir/pyproject.toml" && -f "$source_dir/deploy/lapse-daemon.service" ]] ||
    die "run me from a lapse checkout (no pyproject.toml in $source_dir)"
command -v systemctl >/dev/null || die "systemd is needed (no systemctl)"
python3 -c 'import venv, ensurepip' 2>/dev/null ||
    die "python3's venv is missing: sudo apt install python3-venv"
python3 -c 'import lgpio' 2>/dev/null ||
    say "note: python3-lgpio is not installed; without it the rig is simulated (sudo apt install python3-lgpio)"

# The service user: no login, no home of its own beyond the state directory.
if ! id -u lapse >/dev/null 2>&1; then
    say "creating the system user lapse"
    useradd --system --user-group --home-dir /var/lib/lapse --no-create-home \
        --shell /usr/sbin/nologin --comment "lapse intervalometer" lapse
fi
# gpio: the GPIO chips on Raspberry Pi OS; plugdev: the camera over USB. The
# daemon's unit asks for both and would not start were one missing.
for group in gpio plugdev; do
    if ! getent group "$group" >/dev/null; then
        say "note: there is no group $group here (not Raspberry Pi OS?); creating an empty one"
        groupadd --system "$group"
    fi
    usermod --append --groups "$group" lapse
done

say "installing $source_dir into $prefix/.venv"
install -d -m 0755 "$prefix"
if [[ ! -x "$prefix/.venv/bin/python" ]]; then
    python3 -m venv --system-site-packages "$prefix/.venv"
fi
# Built from a copy, so the build leaves no root-owned files in the checkout.
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
tar -C "$source_dir" --exclude=./.git --exclude=./.venv --exclude=./build -cf - . | tar -C "$build" -xf -
"$prefix/.venv/bin/pip" install --quiet --upgrade "$build"
ln -sfn "$prefix/.venv/bin/lapse" /usr/local/bin/lapse

# The config: group lapse may save it (the directory too, for the atomic rename).
install -d -m 2775 -o root -g lapse "$config_dir"
if [[ -e "$config" ]]; then
    say "keeping $config"
else
    install -m 0664 -o root -g lapse /dev/null "$config"
    printf '%s\n' \
        '# lapse settings: every key is optional; see "Configuration" in the README.' \
        >"$config"
fi

# Logins (SSH) talk to the same daemon instead of starting one of their own.
cat >/etc/profile.d/lapse.sh <<'PROFILE'
export LAPSE_STATE_DIR=/var/lib/lapse LAPSE_SOCKET=/run/lapse/lapse.sock LAPSE_CONFIG=/etc/lapse/config.toml
PROFILE

install -m 0644 "$source_dir/deploy/lapse-daemon.service" "$source_dir/deploy/lapse-kiosk.service" "$unit_dir/"
systemctl daemon-reload
if systemctl is-active --quiet lapse-daemon.service; then
    # Not restarted here: a run would miss the frames due meanwhile.
    say "lapse is running the old version until: sudo systemctl restart lapse-daemon lapse-kiosk"
fi
systemctl enable --now lapse-daemon.service
if [[ "$(tty 2>/dev/null || true)" == /dev/tty1 ]]; then
    # Starting the kiosk now would end this very session (it replaces tty1's login).
    systemctl enable lapse-kiosk.service
    say "the kiosk takes over tty1 at the next boot (this session is on tty1)"
else
    systemctl enable --now lapse-kiosk.service
fi

say "done. To use lapse from your own login: sudo usermod -aG lapse ${SUDO_USER:-<you>}, then log in again"
