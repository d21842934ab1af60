//! The `natter` binary's integration tests, in one test binary (`it`): one module per area, the
//! shared harness in `support`, the processes they start (coturn, `natter signal-server`, Xvfb,
//! Chromium, network namespaces) from `natter-rig`.
//!
//! ```sh
//! cargo test --test it -- --test-threads=1             # all of them, one at a time (as CI)
//! cargo test --test it fallback::                      # one module
//! cargo test --test it -- --exact headless_call::a_bad_ice_config_is_a_clear_error
//! ```
//!
//! One process runs every test: nothing here may set process-wide state (environment variables,
//! a global logger, the working directory). The children a test starts get their environment
//! through `Command::env`, and each test starts and stops its own servers and displays.

mod audio_playback;
mod desktop_demo;
mod devices;
mod fallback;
mod headless_call;
mod impaired_call;
mod interop_browser;
mod network_rig;
mod probe;
mod secrets;
mod support;
mod ui_e2e;
mod ui_flows;
mod ui_layout;
mod ui_prejoin;
