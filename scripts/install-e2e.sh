#!/usr/bin/env bash
# Installs what the WebDriver end-to-end tests (tests/it/ui_e2e.rs) need, on Debian/Ubuntu:
#   - WebKitWebDriver (apt package webkit2gtk-driver) and Xvfb (xvfb, xauth);
#   - tauri-driver (cargo install tauri-driver --locked, into ~/.cargo/bin), only if it is not
#     already on PATH or in ~/.cargo/bin.
# Idempotent and quiet: does nothing when everything is there. Uses sudo for apt when not root.
set -euo pipefail

PACKAGES=(webkit2gtk-driver xvfb xauth)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "natter install-e2e: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
if ! command -v tauri-driver >/dev/null 2>&1 && [ ! -x "$cargo_bin/tauri-driver" ]; then
  echo "natter install-e2e: cargo install tauri-driver --locked (takes about a minute)" >&2
  cargo install tauri-driver --locked --quiet --root "${CARGO_HOME:-$HOME/.cargo}"
fi

if [ ! -x /usr/bin/WebKitWebDriver ] && ! command -v WebKitWebDriver >/dev/null 2>&1; then
  echo "natter install-e2e: WebKitWebDriver is still missing after installing webkit2gtk-driver" >&2
  exit 1
fi
