//! The call engine's integration tests, in one test binary (`it`): real participants, a real
//! signaling server and real WebRTC peers on loopback, all in this process; what they share is
//! in `common`. The `fault-injection` feature they need (`crash_isolation`) is on through the
//! crate's dev-dependency on itself (Cargo.toml).
//!
//! ```sh
//! cargo test -p natter-call --test it -- --test-threads=1   # all of them, one at a time (as CI)
//! cargo test -p natter-call --test it churn::                # one module
//! ```

mod churn;
mod common;
mod crash_isolation;
mod interop;
mod media_state;
mod peer_authenticity;
mod signaling_restart;
