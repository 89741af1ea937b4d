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
    /// True for a finished result (v1 `done`, every utterance's); false for a preview that
    /// later audio may still change (v1 `preview`, and every legacy re-transcription of its
    /// rolling window).
    pub is_final: bool,
    /// The utterance it transcribes (the daemon's batch route).
    pub utterance: Option<UtteranceResult>,
}

/// Which utterance a batch transcription is of, and how long it took.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UtteranceResult {
    pub id: u64,
    pub start_ms: f64,
    pub end_ms: f64,
    /// From the end of the utterance's audio to the arrival of its text.
    pub latency_ms: f64,
}

/// How a session transcribes: the daemon's realtime stream, or one request per utterance
/// (the route batch models, the usual local ones, take).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Stream,
    Utterances,
}

/// The `mode` option: which route to use, or `Auto` to find out from the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModeChoice {
    Auto,
    Stream,
    Utterances,
}

impl ModeChoice {
    pub const NAMES: [&'static str; 3] = ["auto", "stream", "utterances"];

    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "auto" => Self::Auto,
            "stream" => Self::Stream,
            "utterances" => Self::Utterances,
            _ => return None,
        })
    }
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

    /// How this session transcribes.
    fn route(&self) -> Route {
        Route::Stream
    }

    /// Transcribes one whole utterance of 16 kHz mono audio (sessions on the `Utterances`
    /// route). `Err(Error::DaemonBusy)`: try again later on the same session;
    /// `Err(Error::DaemonError)`: the daemon refused this one; anything else breaks the session.
    fn transcribe(&mut self, _samples: &[f32]) -> impl Future<Output = Result<String>> + Send {
        async {
            Err(Error::Internal(
                "this session streams; it has no batch route".into(),
            ))
        }
    }
}
