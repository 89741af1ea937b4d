//! Daemon protocols behind one small pair of traits. No napi, cpal, capture or dsp here.
//! Reconnecting, queueing and accounting are not a protocol's business: the pipeline's link
//! applies them to every protocol alike.

pub mod any;
pub mod codec;
pub mod http;
pub mod legacy;
pub mod protocol;
pub mod socket_path;
pub mod v1;

#[cfg(test)]
pub mod testing;

use std::future::Future;
use std::sync::Arc;

use crate::error::{Error, Result};

/// A transcription the daemon produced for our session.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcription {
    pub text: String,
    pub client_id: String,
    /// RFC 3339: the daemon's own timestamp (legacy), or when it arrived (v1).
    pub timestamp: String,
    /// True for a finished result (v1 `done`); false for a preview that later audio may
    /// still change (v1 `preview`, and every legacy re-transcription of its rolling window).
    pub is_final: bool,
}

/// What a daemon pushes to us outside of replies.
#[derive(Debug, Clone)]
pub enum DaemonMessage {
    Transcription(Transcription),
    /// The daemon reported a problem with the session (v1 `error`); the session stays open.
    Error(Error),
}

/// Receives the daemon's messages for our session, from a tokio task. Must not block.
pub type MessageHandler = Arc<dyn Fn(DaemonMessage) + Send + Sync>;

/// Opens realtime sessions with one daemon.
pub trait Connector: Send + Sync + 'static {
    type Session: Session;

    /// Connects and starts a realtime session, ready for audio.
    fn connect(&self) -> impl Future<Output = Result<Self::Session>> + Send;
}

/// One connected realtime session.
pub trait Session: Send + 'static {
    /// Sends one chunk of 16 kHz mono audio and waits until the daemon has taken it (legacy:
    /// its reply; v1, which has no acknowledgements: the frame is written to its socket).
    /// `Err(Error::DaemonError)`: the daemon refused this chunk and the session is still
    /// usable. Any other error: the session is broken and must be dropped.
    fn send_chunk(&mut self, samples: &[f32]) -> impl Future<Output = Result<()>> + Send;

    /// Resolves with the reason when the session breaks while no chunk is in flight (the
    /// daemon went away). Cancel-safe.
    fn broken(&mut self) -> impl Future<Output = Error> + Send;

    /// Ends the realtime session so the daemon stops transcribing its tail, and waits for
    /// its final result where the protocol has one.
    fn end(self) -> impl Future<Output = Result<()>> + Send;

    /// The protocol this session speaks: `legacy` or `v1`.
    fn protocol(&self) -> &'static str;
}
