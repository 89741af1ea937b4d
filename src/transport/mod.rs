//! Daemon protocols behind one small trait. No napi, cpal, capture or dsp here.

pub mod codec;
pub mod legacy;
pub mod protocol;
pub mod socket_path;

use std::future::Future;

use crate::error::Result;

/// A transcription result pushed by the daemon for our session.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcription {
    pub text: String,
    pub client_id: String,
    pub timestamp: String,
}

/// One realtime session with a daemon.
pub trait Transport: Send {
    /// Sends one chunk of 16 kHz mono audio and waits for the daemon's acknowledgement.
    fn send_chunk(&mut self, samples: &[f32]) -> impl Future<Output = Result<()>> + Send;

    /// Ends the session so the daemon stops transcribing its tail.
    fn end_session(&mut self) -> impl Future<Output = Result<()>> + Send;
}
