//! The legacy socket protocol. One persistent connection per session: it first sends
//! `subscribe` (subscribed connections are not rate-limited, and transcriptions arrive on
//! them), then `start_realtime`, then one `realtime_audio` per chunk. A reader task owns the
//! read half: it forwards our session's transcriptions as they arrive and hands every reply
//! to the writer side, which checks it.

use std::io;
use std::path::PathBuf;

use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;
use tokio::sync::mpsc;
use tokio_util::codec::{FramedRead, LengthDelimitedCodec};
use tokio_util::task::AbortOnDropHandle;

use super::codec::codec;
use super::protocol::{parse_incoming, Incoming, Notification, Request, Response};
use super::socket_path::check_socket_path;
use super::{Connector, DaemonMessage, MessageHandler, Route, Session, Transcription};
use crate::error::{Error, Result};

const CLIENT_NAME: &str = "stt-capture";
const SUBSCRIBED_EVENTS: &[&str] = &["realtime_transcription"];
/// Replies are read one request at a time; a daemon that sends more than asked for fills
/// this and then waits, instead of growing memory.
const REPLY_QUEUE: usize = 4;
/// The request buffer is kept for the next request up to this size (a chunk's is about
/// 20 KB); the rare long utterance's is freed after use.
const KEEP_FRAME_BUFFER: usize = 1 << 20;

pub struct LegacyConnector {
    path: PathBuf,
    client_id: String,
    sample_rate: u32,
    on_message: MessageHandler,
    /// `Utterances`: sessions transcribe whole utterances (`transcribe`); otherwise they
    /// stream (the legacy daemon cannot tell us which its model prefers).
    route: Route,
    language: Option<String>,
}

impl LegacyConnector {
    pub fn new(
        path: PathBuf,
        client_id: String,
        sample_rate: u32,
        on_message: MessageHandler,
    ) -> Self {
        Self {
            path,
            client_id,
            sample_rate,
            on_message,
            route: Route::Stream,
            language: None,
        }
    }

    /// Transcribe utterances (`transcribe`) instead of streaming; `language` goes with them.
    pub fn with_route(mut self, route: Route, language: Option<String>) -> Self {
        self.route = route;
        self.language = language;
        self
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    fn unreachable(&self, reason: impl Into<String>) -> Error {
        Error::DaemonUnreachable {
            path: self.path.display().to_string(),
            reason: reason.into(),
        }
    }
}

impl Connector for LegacyConnector {
    type Session = LegacySession;

    async fn connect(&self) -> Result<LegacySession> {
        check_socket_path(&self.path)?;
        let stream = UnixStream::connect(&self.path)
            .await
            .map_err(|e| self.unreachable(e.to_string()))?;
        let (read, write) = stream.into_split();
        let (replies_tx, replies) = mpsc::channel(REPLY_QUEUE);
        let reader = tokio::spawn(read_frames(
            FramedRead::new(read, codec()),
            replies_tx,
            self.client_id.clone(),
            self.on_message.clone(),
            self.path.display().to_string(),
        ));
        let mut session = LegacySession {
            writer: write,
            frame: Vec::new(),
            replies,
            _reader: AbortOnDropHandle::new(reader),
            client_id: self.client_id.clone(),
            sample_rate: self.sample_rate,
            path: self.path.display().to_string(),
            route: self.route,
            language: self.language.clone(),
        };
        let mut frame = Vec::new();
        Request::subscribe(SUBSCRIBED_EVENTS, CLIENT_NAME).write_frame(&mut frame)?;
        session.call(frame).await?;
        if self.route == Route::Stream {
            session.start_realtime().await?;
        }
        Ok(session)
    }
}

pub struct LegacySession {
    writer: OwnedWriteHalf,
    /// The next request's frame, reused (see [`Request::write_frame`]).
    frame: Vec<u8>,
    replies: mpsc::Receiver<Result<Response>>,
    /// Dropping the session stops its reader.
    _reader: AbortOnDropHandle<()>,
    client_id: String,
    sample_rate: u32,
    path: String,
    route: Route,
    language: Option<String>,
}

impl LegacySession {
    fn closed(&self) -> Error {
        Error::DaemonUnreachable {
            path: self.path.clone(),
            reason: "the daemon closed the connection".into(),
        }
    }

    /// Sends one encoded frame and checks its reply; keeps the frame's buffer for the next
    /// (callers take it with `std::mem::take(&mut self.frame)`).
    async fn call(&mut self, frame: Vec<u8>) -> Result<Response> {
        // Anything already waiting is a reply to nothing, or the reader's reason for stopping.
        match self.replies.try_recv() {
            Ok(Ok(_)) => {
                return Err(Error::Protocol(
                    "the daemon sent a reply nobody asked for".into(),
                ))
            }
            Ok(Err(e)) => return Err(e),
            Err(mpsc::error::TryRecvError::Disconnected) => return Err(self.closed()),
            Err(mpsc::error::TryRecvError::Empty) => {}
        }
        let written = self.writer.write_all(&frame).await;
        if frame.capacity() <= KEEP_FRAME_BUFFER {
            self.frame = frame;
        }
        written.map_err(|e| classify_io(e, &self.path))?;
        match self.replies.recv().await {
            Some(Ok(response)) => response.into_result(),
            Some(Err(e)) => Err(e),
            None => Err(self.closed()),
        }
    }

    async fn start_realtime(&mut self) -> Result<()> {
        let mut frame = std::mem::take(&mut self.frame);
        Request::start_realtime(&self.client_id, self.sample_rate).write_frame(&mut frame)?;
        self.call(frame).await.map(drop)
    }
}

impl Session for LegacySession {
    async fn send_chunk(&mut self, samples: &[f32]) -> Result<()> {
        let mut frame = std::mem::take(&mut self.frame);
        Request::realtime_audio(&self.client_id, samples, self.sample_rate)
            .write_frame(&mut frame)?;
        self.call(frame).await.map(drop)
    }

    async fn broken(&mut self) -> Error {
        match self.replies.recv().await {
            Some(Ok(_)) => Error::Protocol("the daemon sent a reply nobody asked for".into()),
            Some(Err(e)) => e,
            None => self.closed(),
        }
    }

    /// The daemon has no stop command: a new empty session with the same id replaces ours.
    async fn end(mut self) -> Result<()> {
        if self.route == Route::Utterances {
            return Ok(());
        }
        self.start_realtime().await
    }

    fn protocol(&self) -> &'static str {
        "legacy"
    }

    fn route(&self) -> Route {
        self.route
    }

    async fn transcribe(&mut self, samples: &[f32]) -> Result<String> {
        let mut frame = std::mem::take(&mut self.frame);
        Request::transcribe(
            &self.client_id,
            samples,
            self.sample_rate,
            self.language.as_deref(),
        )
        .write_frame(&mut frame)?;
        let reply = self.call(frame).await?;
        Ok(reply.transcription.unwrap_or_default())
    }
}

/// A broken connection is "unreachable"; bytes that make no sense are a protocol error.
fn classify_io(e: io::Error, path: &str) -> Error {
    use io::ErrorKind::*;
    match e.kind() {
        ConnectionReset | ConnectionAborted | BrokenPipe | NotConnected | UnexpectedEof => {
            Error::DaemonUnreachable {
                path: path.to_owned(),
                reason: e.to_string(),
            }
        }
        // The length codec reports a truncated last frame as "bytes remaining on stream".
        _ if e.to_string().contains("bytes remaining") => {
            Error::Protocol("the daemon closed the connection in the middle of a frame".into())
        }
        _ => Error::Protocol(format!("bad frame from the daemon: {e}")),
    }
}

async fn read_frames(
    mut frames: FramedRead<OwnedReadHalf, LengthDelimitedCodec>,
    replies: mpsc::Sender<Result<Response>>,
    client_id: String,
    on_message: MessageHandler,
    path: String,
) {
    loop {
        let reply = match frames.next().await {
            Some(Ok(frame)) => match parse_incoming(&frame) {
                Ok(Incoming::Notification(n)) => {
                    forward(&client_id, n, &on_message);
                    continue;
                }
                Ok(Incoming::Response(r)) => Ok(r),
                Err(e) => Err(e),
            },
            Some(Err(e)) => Err(classify_io(e, &path)),
            None => Err(Error::DaemonUnreachable {
                path: path.clone(),
                reason: "the daemon closed the connection".into(),
            }),
        };
        let last = reply.is_err();
        if replies.send(reply).await.is_err() || last {
            return;
        }
    }
}

/// The legacy daemon re-transcribes its rolling window every 200 ms and never says a result
/// is finished, so every transcription is a preview.
fn forward(client_id: &str, n: Notification, on_message: &MessageHandler) {
    if n.event_type != "realtime_transcription" || n.client_id.as_deref() != Some(client_id) {
        return;
    }
    let Some(text) = n.data.get("transcription").and_then(|t| t.as_str()) else {
        return;
    };
    on_message(DaemonMessage::Transcription(Transcription {
        text: text.to_owned(),
        client_id: client_id.to_owned(),
        timestamp: n.timestamp.unwrap_or_default(),
        is_final: false,
        utterance: None,
    }));
}
