#!/usr/bin/env node
// Debian's Chromium as one participant of a Natter room: launches /usr/bin/chromium through
// playwright-core (no browser download), serves page/ on 127.0.0.1, runs the call and writes a
// JSON report. It signals and sends media only to 127.0.0.1 (but see --all-interfaces).
//
//   node participant.mjs --signal ws://127.0.0.1:PORT --room NAME --name NAME --duration SECS
//        --expect N [--ice-config FILE] [--relay-only] [--video-codec vp8|h264] [--report FILE]
//        [--mdns-hide-ips] [--until-connected] [--all-interfaces] [--join-timeout SECS] [--chromium PATH]
//        [--scratch DIR] [--verbose]
//
// --expect N: participants expected in the room, this one included (as `natter headless`).
// --duration: how long the call lasts once everyone expected is in the room.
// --until-connected: end as soon as every expected peer is connected and a frame decoded
//   (--duration is then the longest it waits), for measuring set-up times.
// --mdns-hide-ips: keep Chromium's default of hiding host addresses behind mDNS `.local` names
//   (what a browser as shipped does). Off by default: the driver disables
//   WebRtcHideLocalIpsWithMdns. Measured with Chromium 156: a page that was granted the camera
//   (this one always is) gets its real addresses either way; the hiding applies to pages
//   without capture permission, which also gather only the default route's interface.
// --video-codec: setCodecPreferences on the video transceivers (VP8 or H.264, and RTX) before
//   the offer or the answer. Chromium 156 takes it as what it will receive: as the answerer it
//   may still send another codec the offer listed (seen: an H.264-only answer, VP8 sent).
// --scratch DIR: where the fresh Chromium profile goes (default: the system's temp dir).
// --all-interfaces: trickle host candidates on every interface. By default only loopback ones
//   go out: Chromium gathers 127.0.0.1 (thanks to --allow-loopback-in-peer-connection) and the
//   machine's other addresses. The remote never learns those through signaling, but Chromium
//   still checks from them toward the remote's 127.0.0.1, the remote answers (a peer-reflexive
//   candidate), and Chromium, when controlling, may nominate such a pair (it ranks its loopback
//   network at cost 50, ethernet at 0). Either way every packet goes between this machine's own
//   addresses and never leaves it.
// Stderr gets `joined room=… id=…` once the welcome arrived (to order participants) and a
// one-line verdict at the end. Exit status: 0 when every expected peer was connected and sent
// decoded video and audio; 1 otherwise (reason on stderr and in the report); 2 when the call
// could not start (bad options, no browser, signaling unreachable).

import { chromium } from "playwright-core";
import http from "node:http";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PAGE_DIR = path.join(HERE, "page");
const POLL_MS = 100;

function usage(message) {
  process.stderr.write(
    (message ? `participant: ${message}\n` : "") +
      "usage: node participant.mjs --signal ws://127.0.0.1:PORT --room NAME --name NAME --duration SECS --expect N " +
      "[--ice-config FILE] [--relay-only] [--video-codec vp8|h264] [--report FILE] [--mdns-hide-ips] [--until-connected] [--all-interfaces] " +
      "[--join-timeout SECS] [--chromium PATH] [--scratch DIR] [--verbose]\n",
  );
  process.exit(message ? 2 : 0);
}

function options() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        signal: { type: "string" },
        room: { type: "string", default: "natter" },
        name: { type: "string", default: "chromium" },
        duration: { type: "string", default: "8" },
        expect: { type: "string", default: "2" },
        "ice-config": { type: "string" },
        "relay-only": { type: "boolean", default: false },
        "video-codec": { type: "string" },
        report: { type: "string" },
        "mdns-hide-ips": { type: "boolean", default: false },
        "until-connected": { type: "boolean", default: false },
        "all-interfaces": { type: "boolean", default: false },
        "join-timeout": { type: "string", default: "30" },
        scratch: { type: "string", default: os.tmpdir() },
        chromium: { type: "string", default: process.env.NATTER_CHROMIUM || "/usr/bin/chromium" },
        width: { type: "string", default: "640" },
        height: { type: "string", default: "360" },
        verbose: { type: "boolean", default: false },
        help: { type: "boolean", default: false },
      },
      strict: true,
    }).values;
  } catch (e) {
    usage(e.message);
  }
  if (parsed.help) usage(null);
  const number = (name, min) => {
    const v = Number(parsed[name]);
    if (!Number.isFinite(v) || v < min) usage(`--${name} takes a number ≥ ${min}`);
    return v;
  };
  if (!parsed.signal) usage("--signal is required");
  const signal = new URL(parsed.signal);
  if (signal.protocol !== "ws:" || !["127.0.0.1", "localhost", "[::1]"].includes(signal.hostname)) {
    usage(`--signal must be a ws:// URL on loopback (got ${parsed.signal})`);
  }
  if (parsed["video-codec"] && !["vp8", "h264"].includes(parsed["video-codec"])) usage("--video-codec is vp8 or h264");
  let rtcConfiguration = null;
  if (parsed["ice-config"]) {
    try {
      rtcConfiguration = JSON.parse(fs.readFileSync(parsed["ice-config"], "utf8"));
    } catch (e) {
      usage(`--ice-config ${parsed["ice-config"]}: ${e.message}`);
    }
    if (!Array.isArray(rtcConfiguration.iceServers)) usage("--ice-config must be a W3C RTCConfiguration with iceServers");
  }
  if (parsed["relay-only"] && !rtcConfiguration) usage("--relay-only needs --ice-config with a TURN server");
  if (!fs.existsSync(parsed.chromium)) usage(`no Chromium at ${parsed.chromium} (apt-get install chromium)`);
  return {
    signal: parsed.signal,
    room: parsed.room,
    name: parsed.name,
    durationMs: number("duration", 0) * 1000,
    expect: number("expect", 1),
    rtcConfiguration,
    relayOnly: parsed["relay-only"],
    videoCodec: parsed["video-codec"] || null,
    reportPath: parsed.report || null,
    mdnsHideIps: parsed["mdns-hide-ips"],
    untilConnected: parsed["until-connected"],
    loopbackOnly: !parsed["all-interfaces"],
    joinTimeoutMs: number("join-timeout", 1) * 1000,
    chromium: parsed.chromium,
    scratch: parsed.scratch,
    width: number("width", 16),
    height: number("height", 16),
    verbose: parsed.verbose,
  };
}

/// Chromium's command line: the flags of shared/NOTES.md, and what loopback calls need.
function chromiumArgs(opts, userDataDir) {
  const args = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    // Without it Chromium gathers no candidate on 127.0.0.1 at all.
    "--allow-loopback-in-peer-connection",
    // Remote audio plays from an <audio> element without a user gesture.
    "--autoplay-policy=no-user-gesture-required",
    "--no-default-browser-check",
    "--password-store=basic",
    "--no-proxy-server",
    // Playwright's own connection to the browser, and a fresh profile.
    "--remote-debugging-pipe",
    `--user-data-dir=${userDataDir}`,
    "--no-startup-window",
  ];
  if (!opts.mdnsHideIps) args.push("--disable-features=WebRtcHideLocalIpsWithMdns");
  return args;
}

/// A static server for page/ on 127.0.0.1 (a secure context: getUserMedia works there).
function servePage() {
  const types = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8" };
  const server = http.createServer((req, res) => {
    const name = new URL(req.url, "http://127.0.0.1").pathname.replace(/^\/+/, "") || "index.html";
    const file = path.join(PAGE_DIR, path.normalize(name));
    if (!file.startsWith(PAGE_DIR + path.sep) || !fs.existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": types[path.extname(file)] || "application/octet-stream", "cache-control": "no-store" });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(server));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/// Resolve `promise`, or reject after `ms` with `what` in the message.
function bounded(promise, ms, what) {
  let timer;
  return Promise.race([promise, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)))]).finally(
    () => clearTimeout(timer),
  );
}

/// `null` when every expected peer was connected and sent decoded video and audio; else why not.
function judge(report, expect) {
  if (report.fatal) return report.fatal;
  const peers = report.peers.filter((p) => p.ever_connected || p.left_ms == null);
  if (peers.length + 1 < expect) return `only ${peers.length} of ${expect - 1} expected peers came into the room`;
  for (const p of peers) {
    const who = `${p.name ?? "?"} (${p.id})`;
    if (!p.ever_connected) return `${who}: never connected (connection ${p.connectionState}, ICE ${p.iceConnectionState})`;
    const decoded = p.video_in?.framesDecoded ?? 0;
    if (decoded === 0) {
      const got = p.video_in ? `${p.video_in.packetsReceived ?? 0} video packets, ${p.video_in.framesReceived ?? 0} frames received` : "no inbound video stream";
      return `${who}: no video frame decoded (${got})`;
    }
    if ((p.audio_in?.packetsReceived ?? 0) === 0) return `${who}: no audio packet received`;
  }
  return null;
}

async function main() {
  const opts = options();
  const log = (line) => process.stderr.write(`participant ${opts.name}: ${line}\n`);
  const hardLimitMs = opts.joinTimeoutMs + opts.durationMs + 30000;
  // A fresh profile, removed at the end (under --scratch: a caller that may kill this process
  // can pass a directory it removes itself).
  const userDataDir = fs.mkdtempSync(path.join(opts.scratch, "natter-chromium-"));
  const pageErrors = [];
  let browser = null;
  let server = null;
  let report = null;
  let reason = null;
  let exitCode = 1;
  let page = null;

  // Whatever happens (a hung browser, a hung page), the process ends within the hard limit.
  const hard = setTimeout(() => {
    log(`hard timeout after ${hardLimitMs} ms: giving up`);
    finish({ ok: false, reason: `hard timeout after ${hardLimitMs} ms`, name: opts.name, peers: [] }, 1);
  }, hardLimitMs);
  let finished = false;
  async function finish(finalReport, code) {
    if (finished) return;
    finished = true;
    clearTimeout(hard);
    if (opts.reportPath) fs.writeFileSync(opts.reportPath, JSON.stringify(finalReport, null, 2) + "\n");
    try {
      if (browser) await bounded(browser.close(), 5000, "closing Chromium");
    } catch (e) {
      log(String(e.message)); // Playwright kills the browser process on exit anyway
    }
    if (server) server.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
    process.exit(code);
  }
  for (const sig of ["SIGINT", "SIGTERM"]) {
    process.on(sig, () => finish({ ok: false, reason: `stopped by ${sig}`, name: opts.name, peers: [] }, 1));
  }

  const started = Date.now();
  try {
    server = await servePage();
    const args = chromiumArgs(opts, userDataDir);
    browser = await bounded(
      chromium.launch({
        executablePath: opts.chromium,
        headless: true,
        ignoreDefaultArgs: true, // exactly the flags above
        args,
        timeout: 20000,
        handleSIGINT: false, // this script's handlers write the report, then close the browser
        handleSIGTERM: false,
        handleSIGHUP: false,
      }),
      25000,
      "launching Chromium",
    );
    const context = await browser.newContext();
    page = await context.newPage();
    page.on("console", (m) => {
      if (m.type() === "error" || opts.verbose) {
        if (pageErrors.length < 50) pageErrors.push(`${m.type()}: ${m.text()}`);
        if (opts.verbose) log(`console ${m.type()}: ${m.text()}`);
      }
    });
    page.on("pageerror", (e) => pageErrors.length < 50 && pageErrors.push(`pageerror: ${e.message}`));
    await page.goto(`http://127.0.0.1:${server.address().port}/index.html`, { timeout: 10000 });
    const joined = await bounded(
      page.evaluate(
        (cfg) => window.natter.start(cfg),
        {
          signal: opts.signal,
          room: opts.room,
          name: opts.name,
          rtcConfiguration: opts.rtcConfiguration,
          relayOnly: opts.relayOnly,
          videoCodec: opts.videoCodec,
          loopbackOnly: opts.loopbackOnly,
          width: opts.width,
          height: opts.height,
        },
      ),
      15000,
      "joining the room",
    ).catch((e) => {
      e.cannotStart = true;
      throw e;
    });
    log(`joined room=${opts.room} id=${joined.id} welcome_ms=${joined.welcome_ms}`);

    // Wait (bounded) for everyone expected, then hold the call for --duration.
    const status = () => bounded(page.evaluate(() => window.natter.status()), 5000, "page status");
    const joinDeadline = Date.now() + opts.joinTimeoutMs;
    for (;;) {
      const s = await status();
      if (s.fatal || s.present.length + 1 >= opts.expect || Date.now() >= joinDeadline) break;
      await sleep(POLL_MS);
    }
    const callEnd = Date.now() + opts.durationMs;
    let announced = false;
    while (Date.now() < callEnd) {
      const s = await status();
      if (s.fatal) break;
      const live = s.peers.filter((p) => !p.left);
      const established = live.length + 1 >= opts.expect && live.every((p) => p.connected && p.first_frame);
      if (established && !announced) {
        announced = true;
        log("call established");
        if (opts.untilConnected) break;
      }
      await sleep(Math.min(POLL_MS, Math.max(0, callEnd - Date.now())));
    }
    const pageReport = await bounded(page.evaluate(() => window.natter.report()), 10000, "collecting the report");
    await bounded(page.evaluate(() => window.natter.leave()), 5000, "leaving").catch((e) => log(e.message));
    reason = judge(pageReport, opts.expect);
    report = {
      ok: reason == null,
      reason,
      browser: browser.version(),
      chromium_args: args,
      mdns_hide_ips: opts.mdnsHideIps,
      expect: opts.expect,
      duration_s: (Date.now() - started) / 1000,
      ...pageReport,
      page_errors: pageErrors,
    };
    exitCode = reason == null ? 0 : 1;
  } catch (e) {
    // Playwright appends the browser's whole log to its errors: the first line says what happened.
    reason = `${e.cannotStart ? "could not join: " : ""}${String(e.message).split("\n")[0]}`;
    if (opts.verbose) log(String(e.stack || e));
    const partial = page ? await bounded(page.evaluate(() => window.natter.report()), 5000, "report").catch(() => null) : null;
    report = { peers: [], ...partial, ok: false, reason, name: opts.name, page_errors: pageErrors };
    exitCode = e.cannotStart ? 2 : 1;
  }
  const peers = (report.peers || []).map((p) => `${p.name}=${p.video_in?.framesDecoded ?? 0}f/${p.audio_in?.packetsReceived ?? 0}a`).join(" ");
  log(report.ok ? `ok: ${peers}` : `FAILED: ${reason}${peers ? ` (${peers})` : ""}`);
  await finish(report, exitCode);
}

main().catch((e) => {
  process.stderr.write(`participant: ${e.stack || e}\n`);
  process.exit(2);
});
