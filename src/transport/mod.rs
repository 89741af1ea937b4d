//! Daemon protocols behind one small pair of traits. No napi, cpal, capture or dsp here.
//! Reconnecting, queueing and accounting are not a protocol's business: the pipeline's link
//! applies them to every protocol alike.

pub mod codec;
pub mod legacy;
pub mod protocol;
pub mod socket_path;

use std::future::Future;
use std::sync::Arc;

use crate::error::{Error, Result};

/// A transcription result pushed by the daemon for our session.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcription {
    pub text: String,
    pub client_id: String,
    pub timestamp: String,
}

/// Receives the transcriptions of our session, from a tokio task. Must not block.
pub type TranscriptionHandler = Arc<dyn Fn(Transcription) + Send + Sync>;

/// Opens realtime sessions with one daemon.
pub trait Connector: Send + Sync + 'static {
    type Session: Session;

    /// Connects and starts a realtime session, ready for audio.
    fn connect(&self) -> impl Future<Output = Result<Self::Session>> + Send;
}

/// One connected realtime session.
pub trait Session: Send + 'static {
    /// Sends one chunk of 16 kHz mono audio and waits until the daemon has taken it.
    /// `Err(Error::DaemonError)`: the daemon refused this chunk and the session is still
    /// usable. Any other error: the session is broken and must be dropped.
    fn send_chunk(&mut self, samples: &[f32]) -> impl Future<Output = Result<()>> + Send;

    /// Resolves with the reason when the session breaks while no chunk is in flight (the
    /// daemon went away). Cancel-safe.
    fn broken(&mut self) -> impl Future<Output = Error> + Send;

    /// Ends the realtime session so the daemon stops transcribing its tail.
    fn end(self) -> impl Future<Output = Result<()>> + Send;
}
