//! The v1 protocol of Super STT 0.2.x (protocol doc §2): HTTP/1.1 on a Unix socket.
//!
//! Realtime models: audio over a WebSocket on `/v1/transcribe/realtime`. The client sends a
//! `start` text frame, then one binary frame of little-endian s16 mono per chunk, then
//! `stop`; the daemon answers with `preview`, `done` and `error` text frames. There are no
//! per-chunk acknowledgements: a chunk is taken once its frame is written to the socket, and
//! the socket's send buffer is kept small so little can sit there unread.
//!
//! Batch models (most local ones) are not served on that route: the upgrade is refused, or
//! accepted and closed without a word. They take one whole utterance per
//! `POST /v1/transcribe`. With `mode: 'auto'` every connection tries the realtime route and
//! falls back to the batch one when the daemon turns it down like that.

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::net::UnixStream;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{header, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;
use tokio_util::task::AbortOnDropHandle;

use super::http::{error_for_status, post_json, ErrorEnvelope};
use super::socket_path::check_socket_option;
use super::{Connector, DaemonMessage, MessageHandler, ModeChoice, Route, Session, Transcription};
use crate::error::{Error, Result};

pub const REALTIME_PATH: &str = "/v1/transcribe/realtime";
pub const TRANSCRIBE_PATH: &str = "/v1/transcribe";
/// How long `auto` waits, after `start`, for a batch model's daemon to close the session
/// without a word before it takes the daemon for a realtime one.
const PROBE: std::time::Duration = std::time::Duration::from_millis(300);
/// Bytes the kernel may hold for the daemon before our writes wait (Linux doubles it for
/// bookkeeping): about half a second of 16 kHz s16 audio at most sits in the socket unread.
pub const SEND_BUFFER_BYTES: libc::c_int = 8 * 1024;
/// Our messages are small; a larger one from the daemon is a protocol error, not memory.
const MAX_MESSAGE_BYTES: usize = 1 << 20;

/// How to reach a v1 daemon and what to tell it.
#[derive(Debug, Clone)]
pub struct V1Config {
    pub path: PathBuf,
    /// Sent as `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// Sent in `start` when set; the daemon's configured language otherwise.
    pub language: Option<String>,
    pub sample_rate: u32,
    /// Which route to use (`Auto`: the realtime one unless the daemon turns it down).
    pub mode: ModeChoice,
}

pub struct V1Connector {
    config: V1Config,
    client_id: String,
    on_message: MessageHandler,
}

impl V1Connector {
    pub fn new(config: V1Config, client_id: String, on_message: MessageHandler) -> Self {
        Self {
            config,
            client_id,
            on_message,
        }
    }

    pub fn path(&self) -> &Path {
        &self.config.path
    }

    fn unreachable(&self, reason: impl Into<String>) -> Error {
        Error::DaemonUnreachable {
            path: self.config.path.display().to_string(),
            reason: reason.into(),
        }
    }

    fn start_message(&self) -> Result<String> {
        let start = Start {
            kind: "start",
            sample_rate: self.config.sample_rate,
            language: self.config.language.as_deref(),
        };
        serde_json::to_string(&start).map_err(|e| Error::Internal(e.to_string()))
    }
}

#[derive(Serialize)]
struct Start<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    sample_rate: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    language: Option<&'a str>,
}

type Ws = WebSocketStream<UnixStream>;

impl Connector for V1Connector {
    type Session = V1Session;

    async fn connect(&self) -> Result<V1Session> {
        let batch = || {
            V1Session::Batch(V1Batch {
                path: self.config.path.clone(),
                token: self.config.token.clone(),
                language: self.config.language.clone(),
                sample_rate: self.config.sample_rate,
            })
        };
        let mode = self.config.mode;
        match self.connect_realtime().await {
            // Refused credentials are refused on every route.
            Err(Refusal::Status(status, _))
                if mode != ModeChoice::Stream && status != 401 && status != 403 =>
            {
                Ok(batch())
            }
            Err(Refusal::Status(_, e)) | Err(Refusal::Other(e)) => Err(e),
            Ok(stream) => {
                if mode == ModeChoice::Utterances {
                    drop(stream);
                    return Ok(batch());
                }
                if mode == ModeChoice::Auto && stream.closes_without_a_word().await {
                    return Ok(batch());
                }
                Ok(V1Session::Stream(stream))
            }
        }
    }
}

/// Why the realtime route did not open.
enum Refusal {
    /// The daemon answered the upgrade with this HTTP status.
    Status(u16, Error),
    Other(Error),
}

impl V1Connector {
    async fn connect_realtime(&self) -> std::result::Result<V1Stream, Refusal> {
        let other = Refusal::Other;
        check_socket_option("httpSocketPath", &self.config.path).map_err(other)?;
        let stream = UnixStream::connect(&self.config.path)
            .await
            .map_err(|e| other(self.unreachable(e.to_string())))?;
        limit_send_buffer(&stream);
        let mut request = format!("ws://localhost{REALTIME_PATH}")
            .into_client_request()
            .map_err(|e| other(Error::Internal(e.to_string())))?;
        if let Some(token) = &self.config.token {
            let value = HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|_| other(Error::invalid_option("token", "must be printable ASCII")))?;
            request.headers_mut().insert(header::AUTHORIZATION, value);
        }
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE_BYTES))
            .max_frame_size(Some(MAX_MESSAGE_BYTES));
        let (ws, _) = tokio_tungstenite::client_async_with_config(request, stream, Some(config))
            .await
            .map_err(|e| match &e {
                tungstenite::Error::Http(response) => {
                    Refusal::Status(response.status().as_u16(), self.handshake_error(e))
                }
                _ => other(self.handshake_error(e)),
            })?;
        let (mut sink, stream) = ws.split();
        let path = self.config.path.display().to_string();
        let start = self.start_message().map_err(other)?;
        sink.send(Message::text(start))
            .await
            .map_err(|e| other(classify_ws(e, &path)))?;
        let (state_tx, state) = watch::channel(ReaderState::default());
        let reader = tokio::spawn(read_messages(
            stream,
            state_tx,
            self.client_id.clone(),
            self.on_message.clone(),
            path.clone(),
        ));
        Ok(V1Stream {
            sink,
            state,
            _reader: AbortOnDropHandle::new(reader),
            path,
        })
    }

    /// A refused upgrade: 401/403 are credentials, 404 a daemon without this route.
    fn handshake_error(&self, e: tungstenite::Error) -> Error {
        match e {
            tungstenite::Error::Http(response) => {
                let envelope = response
                    .body()
                    .as_deref()
                    .map(ErrorEnvelope::parse)
                    .unwrap_or_default();
                let e = error_for_status(response.status().as_u16(), &envelope, REALTIME_PATH);
                match e {
                    Error::Unauthorized(_) if self.config.token.is_none() => e.with_note(
                        "no token was given: set the `token` option or SUPER_STT_TOKEN \
                         (requestToken() asks the daemon for one)",
                    ),
                    e => e,
                }
            }
            e => classify_ws(e, &self.config.path.display().to_string()),
        }
    }
}

/// What the reader has seen, for the session to wait on.
#[derive(Debug, Default, Clone)]
struct ReaderState {
    /// Messages received, of any type.
    messages: u64,
    /// `done` messages received.
    dones: u64,
    /// Why the session is over, once it is.
    broken: Option<Error>,
}

/// A realtime session: the WebSocket.
pub struct V1Stream {
    sink: SplitSink<Ws, Message>,
    state: watch::Receiver<ReaderState>,
    /// Dropping the session stops its reader.
    _reader: AbortOnDropHandle<()>,
    path: String,
}

impl V1Stream {
    /// A batch model's daemon accepts the upgrade and closes the session without a word.
    async fn closes_without_a_word(&self) -> bool {
        let mut state = self.state.clone();
        let closed = tokio::time::timeout(
            PROBE,
            state.wait_for(|s| s.broken.is_some() || s.messages > 0),
        )
        .await;
        match closed {
            Ok(Ok(s)) => s.messages == 0 && s.broken.is_some(),
            // The reader is gone: the session closed.
            Ok(Err(_)) => true,
            Err(_) => false,
        }
    }

    fn broken_now(&self) -> Option<Error> {
        self.state.borrow().broken.clone()
    }

    async fn send(&mut self, message: Message) -> Result<()> {
        if let Some(e) = self.broken_now() {
            return Err(e);
        }
        self.sink
            .send(message)
            .await
            .map_err(|e| classify_ws(e, &self.path))
    }
}

impl V1Stream {
    async fn send_chunk(&mut self, samples: &[f32]) -> Result<()> {
        self.send(Message::Binary(Bytes::from(s16le(samples))))
            .await
    }

    async fn broken(&mut self) -> Error {
        match self.state.wait_for(|s| s.broken.is_some()).await {
            Ok(state) => state.broken.clone().unwrap_or_else(|| closed(&self.path)),
            Err(_) => closed(&self.path),
        }
    }

    /// Sends `stop` and waits for the daemon's final `done` (or for it to close the
    /// session), so the last transcription arrives before the capture stops.
    async fn end(mut self) -> Result<()> {
        if self.broken_now().is_some() {
            return Ok(());
        }
        let dones = self.state.borrow().dones;
        self.send(Message::text(r#"{"type":"stop"}"#)).await?;
        let _ = self
            .state
            .wait_for(|s| s.dones > dones || s.broken.is_some())
            .await;
        // A polite close; the daemon may already have closed its side.
        let _ = self.sink.send(Message::Close(None)).await;
        Ok(())
    }
}

/// A batch session: one `POST /v1/transcribe` per utterance, each on a fresh connection.
pub struct V1Batch {
    path: PathBuf,
    token: Option<String>,
    language: Option<String>,
    sample_rate: u32,
}

#[derive(Serialize)]
struct TranscribeBody<'a> {
    audio_data: &'a [f32],
    sample_rate: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    language: Option<&'a str>,
}

#[derive(Deserialize)]
struct TranscribeReply {
    #[serde(default)]
    status: String,
    #[serde(default)]
    transcription: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

impl V1Batch {
    async fn transcribe(&self, samples: &[f32]) -> Result<String> {
        let body = serde_json::to_vec(&TranscribeBody {
            audio_data: samples,
            sample_rate: self.sample_rate,
            language: self.language.as_deref(),
        })
        .map_err(|e| Error::Internal(e.to_string()))?;
        let (status, reply) =
            post_json(&self.path, TRANSCRIBE_PATH, body, self.token.as_deref()).await?;
        if !(200..300).contains(&status) {
            let envelope = ErrorEnvelope::parse(&reply);
            return Err(match status {
                // Not ready (a model loading), rate-limited, or refusing connections: later.
                409 | 429 | 503 => {
                    let e = error_for_status(status, &envelope, TRANSCRIBE_PATH);
                    Error::DaemonBusy(e.to_string())
                }
                _ => error_for_status(status, &envelope, TRANSCRIBE_PATH),
            });
        }
        let reply: TranscribeReply = serde_json::from_slice(&reply).map_err(|e| {
            Error::Protocol(format!("the reply to {TRANSCRIBE_PATH} is not JSON: {e}"))
        })?;
        if reply.status != "success" {
            return Err(Error::DaemonError(
                reply
                    .message
                    .unwrap_or_else(|| format!("status {:?}", reply.status)),
            ));
        }
        Ok(reply.transcription.unwrap_or_default())
    }
}

/// A v1 session on either route.
pub enum V1Session {
    Stream(V1Stream),
    Batch(V1Batch),
}

impl Session for V1Session {
    async fn send_chunk(&mut self, samples: &[f32]) -> Result<()> {
        match self {
            V1Session::Stream(s) => s.send_chunk(samples).await,
            V1Session::Batch(_) => Err(Error::Internal(
                "a batch session takes utterances, not chunks".into(),
            )),
        }
    }

    async fn broken(&mut self) -> Error {
        match self {
            V1Session::Stream(s) => s.broken().await,
            // Stateless between requests: the next request finds out.
            V1Session::Batch(_) => std::future::pending().await,
        }
    }

    async fn end(self) -> Result<()> {
        match self {
            V1Session::Stream(s) => s.end().await,
            V1Session::Batch(_) => Ok(()),
        }
    }

    fn protocol(&self) -> &'static str {
        "v1"
    }

    fn route(&self) -> Route {
        match self {
            V1Session::Stream(_) => Route::Stream,
            V1Session::Batch(_) => Route::Utterances,
        }
    }

    async fn transcribe(&mut self, samples: &[f32]) -> Result<String> {
        match self {
            V1Session::Batch(b) => b.transcribe(samples).await,
            V1Session::Stream(_) => Err(Error::Internal(
                "a realtime session takes chunks, not utterances".into(),
            )),
        }
    }
}

/// Each sample clipped to [-1, 1], scaled by 32768, rounded to nearest (ties away from 0)
/// and clamped to i16; NaN becomes 0. Little-endian.
pub fn s16le(samples: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(samples.len() * 2);
    for &x in samples {
        let scaled = (x.clamp(-1.0, 1.0) * 32768.0).round();
        // `as` saturates and maps NaN to 0.
        out.extend_from_slice(&(scaled as i16).to_le_bytes());
    }
    out
}

/// Server messages we understand; others are ignored for forward compatibility.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum ServerMessage {
    Preview {
        #[serde(default)]
        text: String,
    },
    Done {
        #[serde(default)]
        transcription: String,
    },
    Error {
        #[serde(default)]
        message: String,
    },
    #[serde(other)]
    Other,
}

async fn read_messages(
    mut stream: SplitStream<Ws>,
    state: watch::Sender<ReaderState>,
    client_id: String,
    on_message: MessageHandler,
    path: String,
) {
    let transcription = |text: String, is_final: bool| {
        DaemonMessage::Transcription(Transcription {
            text,
            client_id: client_id.clone(),
            timestamp: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
            is_final,
            utterance: None,
        })
    };
    let reason = loop {
        let text = match stream.next().await {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Binary(_))) => {
                break Error::Protocol("the daemon sent a binary message".into())
            }
            Some(Ok(Message::Close(frame))) => {
                let why = frame.map_or_else(String::new, |f| {
                    format!(" (code {}{})", u16::from(f.code), with_colon(&f.reason))
                });
                break Error::DaemonUnreachable {
                    path: path.clone(),
                    reason: format!("the daemon closed the session{why}"),
                };
            }
            Some(Ok(_)) => continue, // ping and pong are handled by tungstenite
            Some(Err(e)) => break classify_ws(e, &path),
            None => break closed(&path),
        };
        state.send_modify(|s| s.messages += 1);
        match serde_json::from_str::<ServerMessage>(&text) {
            Ok(ServerMessage::Preview { text }) => on_message(transcription(text, false)),
            Ok(ServerMessage::Done {
                transcription: text,
            }) => {
                on_message(transcription(text, true));
                state.send_modify(|s| s.dones += 1);
            }
            Ok(ServerMessage::Error { message }) => {
                on_message(DaemonMessage::Error(Error::DaemonError(message)))
            }
            Ok(ServerMessage::Other) => {}
            Err(e) => break Error::Protocol(format!("a message from the daemon is not JSON: {e}")),
        }
    };
    state.send_modify(|s| s.broken = Some(reason));
}

fn with_colon(reason: &str) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(": {reason}")
    }
}

fn closed(path: &str) -> Error {
    Error::DaemonUnreachable {
        path: path.to_owned(),
        reason: "the daemon closed the connection".into(),
    }
}

/// A broken connection is "unreachable"; anything that is not WebSocket is a protocol error.
fn classify_ws(e: tungstenite::Error, path: &str) -> Error {
    use tungstenite::Error as W;
    match e {
        W::Io(e) => Error::DaemonUnreachable {
            path: path.to_owned(),
            reason: e.to_string(),
        },
        W::ConnectionClosed
        | W::AlreadyClosed
        | W::Protocol(tungstenite::error::ProtocolError::HandshakeIncomplete) => closed(path),
        e => Error::Protocol(format!("WebSocket: {e}")),
    }
}

/// Best effort: without it the kernel's default (about 200 KiB, seconds of audio) could sit
/// written but unread when a daemon stalls, all of it counted as sent.
fn limit_send_buffer(stream: &UnixStream) {
    let size = SEND_BUFFER_BYTES;
    // SAFETY: the fd is a live socket owned by `stream`; the option value is a c_int that
    // outlives the call, and its size is passed exactly.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> Vec<i16> {
        bytes
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect()
    }

    #[test]
    fn s16_conversion_clips_and_rounds_to_nearest() {
        let input = [
            0.0,
            1.0,
            -1.0,
            1.5,
            -7.0,
            0.5,
            -0.5,
            // 0.25 steps either side of a tie: 1.25/32768 → 1, 1.75/32768 → 2.
            1.25 / 32768.0,
            1.75 / 32768.0,
            -1.75 / 32768.0,
            // Exactly half a step rounds away from zero, not toward +∞ or by truncation.
            2.5 / 32768.0,
            -2.5 / 32768.0,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
        ];
        assert_eq!(
            decode(&s16le(&input)),
            [0, 32767, -32768, 32767, -32768, 16384, -16384, 1, 2, -2, 3, -3, 0, 32767, -32768]
        );
        assert_eq!(s16le(&[0.0; 1600]).len(), 3200, "100 ms is 3200 bytes");
    }

    #[test]
    fn the_start_message_names_the_rate_and_the_language_only_when_set() {
        let handler: MessageHandler = std::sync::Arc::new(|_| {});
        let mut config = V1Config {
            path: "/nonexistent".into(),
            token: None,
            language: None,
            sample_rate: 16000,
            mode: ModeChoice::Auto,
        };
        let c = V1Connector::new(config.clone(), "c".into(), handler.clone());
        assert_eq!(
            c.start_message().unwrap(),
            r#"{"type":"start","sample_rate":16000}"#
        );
        config.language = Some("en".into());
        let c = V1Connector::new(config, "c".into(), handler);
        let v: serde_json::Value = serde_json::from_str(&c.start_message().unwrap()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"type":"start","sample_rate":16000,"language":"en"})
        );
    }

    #[test]
    fn server_messages_parse_and_unknown_types_are_ignored() {
        let parse = |s: &str| serde_json::from_str::<ServerMessage>(s);
        assert!(matches!(
            parse(r#"{"type":"preview","text":"hel"}"#),
            Ok(ServerMessage::Preview { text }) if text == "hel"
        ));
        assert!(matches!(
            parse(r#"{"type":"done","transcription":"hello"}"#),
            Ok(ServerMessage::Done { transcription }) if transcription == "hello"
        ));
        assert!(matches!(
            parse(r#"{"type":"error","message":"model not loaded"}"#),
            Ok(ServerMessage::Error { message }) if message == "model not loaded"
        ));
        assert!(matches!(
            parse(r#"{"type":"vad","speech":true}"#),
            Ok(ServerMessage::Other)
        ));
        assert!(parse("not json").is_err());
    }
}
