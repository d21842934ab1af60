//! natter-call: the call engine. One `Participant` per local user, one WebRTC peer connection per
//! remote participant, driven by signaling; plus the headless runner and the demo used by the app.
//!
//! (Being built: `view` and `demo` are the API the desktop shell uses; their bodies are provisional.)

pub mod demo;
pub mod error;
pub mod headless;
pub mod view;

pub use error::CallError;
