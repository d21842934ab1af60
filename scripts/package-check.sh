#!/usr/bin/env bash
# Builds the Linux installer (.deb) with the Tauri CLI, installs it on this machine like a user
# would (apt resolves the dependencies it declares), and checks the installed app: `natter
# --version`, a headless call, and the window under a private Xvfb display (screenshot written to
# target/package/demo.png). Removes the package afterwards. Needs root or sudo (CI runs it).
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

export NATTER_COMMIT="${NATTER_COMMIT:-$(git rev-parse --short=10 HEAD 2>/dev/null || echo unknown)}"
# AppImage and the other formats need downloads or other platforms: the .deb only, here.
npx --prefix ui tauri build --bundles deb --ci
target_dir="${CARGO_TARGET_DIR:-target}"
deb=$(ls -t "$target_dir"/release/bundle/deb/*.deb | head -1)
echo "natter package: built $deb ($(du -h "$deb" | cut -f1))"
dpkg-deb --field "$deb" Package Version Depends

case "$deb" in /*) ;; *) deb="./$deb" ;; esac
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$deb" >/dev/null
trap '$SUDO env DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq natter >/dev/null 2>&1 || true' EXIT
installed=$(command -v natter)
case "$installed" in
  /usr/bin/natter) ;;
  *) echo "natter package: expected /usr/bin/natter, found '$installed'" >&2; exit 1 ;;
esac
test -f /usr/share/applications/Natter.desktop || test -n "$(ls /usr/share/applications/ | grep -i natter)"
"$installed" --version

out=target/package
mkdir -p "$out"
JACK_NO_START_SERVER=1 "$installed" headless --participants 2 --duration 3 --report "$out/headless.json"
grep -q '"ok": true' "$out/headless.json"
echo "natter package: installed natter headless call ok"

# The window, from the installed package, on a private display.
display=":$((90 + RANDOM % 100))"
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
trap 'kill $xvfb $app 2>/dev/null || true; $SUDO env DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq natter >/dev/null 2>&1 || true' EXIT
for _ in $(seq 50); do xdpyinfo -display "$display" >/dev/null 2>&1 && break; sleep 0.1; done
DISPLAY="$display" WEBKIT_DISABLE_DMABUF_RENDERER=1 NATTER_CONFIG_DIR="$(mktemp -d)" NATTER_LOG_DIR="$out/logs" \
  JACK_NO_START_SERVER=1 "$installed" demo >"$out/demo.log" 2>&1 &
app=$!
window=""
for _ in $(seq 100); do
  window=$(DISPLAY="$display" xdotool search --name '^Natter$' 2>/dev/null | head -1 || true)
  [ -n "$window" ] && break
  kill -0 $app 2>/dev/null || { echo "natter demo exited:" >&2; cat "$out/demo.log" >&2; exit 1; }
  sleep 0.2
done
[ -n "$window" ] || { echo "natter package: no Natter window after 20 s" >&2; cat "$out/demo.log" >&2; exit 1; }
sleep 6 # let the embedded call connect and draw
DISPLAY="$display" import -window root "$out/demo.png"
colors=$(identify -format '%k' "$out/demo.png")
echo "natter package: window screenshot $out/demo.png ($colors colours)"
[ "$colors" -gt 100 ] || { echo "natter package: the window looks blank" >&2; exit 1; }
ls "$out/logs"/natter*.log >/dev/null || { echo "natter package: the app wrote no log file" >&2; exit 1; }
echo "natter package: ok"
