//! natter-call: the call engine. A `Participant` is one local user in a room: it keeps one WebRTC
//! peer connection per remote participant (full mesh), sends synthetic (later: real) media to all
//! of them and decodes what each sends back. `headless` runs N participants and writes the JSON
//! report; `demo` is the embedded call the desktop app shows.
//!
//! Module map:
//! - `call_core`: the participant's decisions, sans-IO (`CallCore`: inputs in, outputs out, named
//!   timers; negotiation and collisions, setup diagnosis, refusal, restarts, signaling rejoin,
//!   the events of the report); tested on virtual time.
//! - `participant`: the handle (`Participant`) and the driver that runs the core: one `select!`,
//!   the core's outputs performed, nothing slow on the loop.
//! - `link_task`: one task per peer connection: the core's operations in order, the media plane
//!   (writers, receivers, decoders).
//! - `records`: what the report reads while a participant runs (the core's records, counters).
//! - `peer`: one peer connection and the path/RTT read from its stats.
//! - `codecs`: what we offer, which codec and payload type each sender uses (negotiated, never
//!   constants), how arriving payload types are read (pure logic).
//! - `send`: encoded media → RTP per connection with its negotiated codec.
//! - `reception`: what the remote says it received of our streams (RTCP report blocks).
//! - `media`: capture+encode thread, decode threads, the view sink.
//! - `playout`: the others' audio: jitter buffers, Opus decoding, mixing to the speaker.
//! - `keyframe`: PLI from receivers to the sender's encoder (interceptor + pacing).
//! - `receive`: RTP → H.264 / VP8 frames, receive statistics (pure logic, unit-tested).
//! - `fallback`: when to restart ICE and when to give up (sans-IO).
//! - `diagnosis`: why a connection cannot be made, known early (sans-IO).
//! - `webrtc_setup`: every setting we change in the `webrtc` crate, with reasons.
//! - `report`: the JSON report (a contract).
//! - `view`: what the UI is told (frames, status).
//! - `memory`: returning freed memory to the system after a call.
//! - `sync`: locks that survive a panic elsewhere (one participant's crash stays its own).

pub mod adapt;
pub mod bridge;
pub mod bwe;
pub mod call_core;
pub mod capture;
pub mod codecs;
pub mod demo;
pub mod diagnosis;
pub mod driver;
pub mod error;
pub mod fallback;
pub mod headless;
pub mod health;
pub mod keyframe;
pub mod link_task;
pub mod media;
pub mod memory;
pub mod nack;
#[cfg(test)]
mod netem;
pub mod pacer;
pub mod participant;
pub mod peer;
pub mod playout;
pub mod preview;
pub mod receive;
pub mod reception;
pub mod records;
pub mod reorder;
pub mod report;
pub mod send;
pub mod sync;
pub mod view;
pub mod webrtc_setup;

pub use error::CallError;
