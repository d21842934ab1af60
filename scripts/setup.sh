#!/usr/bin/env bash
# Installs what building, running and testing Natter needs on Debian/Ubuntu (idempotent, quiet),
# then builds the web UI (ui/dist) that the window embeds. Run as root or with sudo available.
set -euo pipefail

PACKAGES=(
  # Tauri / WebKitGTK
  libwebkit2gtk-4.1-dev libgtk-3-dev librsvg2-dev libayatana-appindicator3-dev libssl-dev pkg-config libxdo-dev file
  # codecs and devices
  libopus-dev libvpx-dev libasound2-dev libv4l-dev clang libclang-dev cmake nasm
  # test rig: TURN server, virtual display, screenshots
  coturn xvfb xauth x11-apps x11-utils xdotool imagemagick iproute2 iptables
  # a real Secret Service for the keyring test (private D-Bus session)
  dbus gnome-keyring
  # a real sound server for the audio tests (user-space PulseAudio, ALSA's pulse plugin)
  pulseaudio pulseaudio-utils libasound2-plugins
)
# A foreign WebRTC stack for the browser interop tests (tests/browser, tests/it/interop_browser.rs):
# Debian's Chromium, driven through playwright-core. Ubuntu has it only as a snap (not installed
# here: the tests then skip unless NATTER_REQUIRE_BROWSER is set).
if grep -qx 'ID=debian' /etc/os-release 2>/dev/null; then PACKAGES+=(chromium); fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "natter setup: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # coturn's package may start a system service; our tests start their own servers on fresh ports.
  $SUDO systemctl disable --now coturn >/dev/null 2>&1 || true
fi

# WebDriver for the end-to-end UI tests (WebKitWebDriver + tauri-driver).
bash "$(dirname "$0")/install-e2e.sh"

# The web UI the window embeds (ui/dist). Node.js and npm come with the machine; install them if not.
if ! command -v npm >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
# The browser tests' driver (playwright-core only: it downloads no browser).
(
  cd "$(dirname "$0")/../tests/browser"
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error >/dev/null
  fi
)
cd "$(dirname "$0")/../ui"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi
npm run --silent build >/dev/null
