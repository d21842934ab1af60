#!/usr/bin/env bash
# Installs what building, running and testing Natter needs on Debian/Ubuntu (idempotent, quiet).
# Run as root or with sudo available. Skips everything if all packages are already installed.
set -euo pipefail

PACKAGES=(
  # Tauri / WebKitGTK
  libwebkit2gtk-4.1-dev libgtk-3-dev librsvg2-dev libayatana-appindicator3-dev libssl-dev pkg-config libxdo-dev file
  # codecs and devices
  libopus-dev libvpx-dev libasound2-dev libv4l-dev clang libclang-dev cmake nasm
  # test rig: TURN server, virtual display, screenshots
  coturn xvfb xauth x11-apps x11-utils xdotool imagemagick iproute2 iptables
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "natter setup: installing ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# coturn's package may start a system service; our tests start their own servers on fresh ports.
$SUDO systemctl disable --now coturn >/dev/null 2>&1 || true
