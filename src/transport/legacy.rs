//! The legacy socket protocol: one persistent connection that first sends `subscribe`
//! (subscribed connections are not rate-limited, and transcriptions arrive on them), then
//! `start_realtime`, then one `realtime_audio` per chunk. Every reply is read and checked.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::net::UnixStream;
use tokio_util::codec::{Framed, LengthDelimitedCodec};

use super::codec::codec;
use super::protocol::{parse_incoming, Incoming, Notification, Request, Response};
use super::{Transcription, Transport};
use crate::dsp::TARGET_RATE;
use crate::error::{Error, Result};

const CLIENT_NAME: &str = "stt-capture";
const SUBSCRIBED_EVENTS: &[&str] = &["realtime_transcription"];

/// Called for each transcription of our session.
pub type TranscriptionHandler = Box<dyn FnMut(Transcription) + Send>;

/// One framed connection to the daemon.
pub struct Connection {
    framed: Framed<UnixStream, LengthDelimitedCodec>,
}

impl Connection {
    pub async fn connect(path: &Path) -> Result<Self> {
        let stream = UnixStream::connect(path)
            .await
            .map_err(|e| Error::DaemonUnreachable {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            framed: Framed::new(stream, codec()),
        })
    }

    /// Sends `request` and returns its response; notifications that arrive first go to
    /// `on_notification`. A `status: error` reply is returned as `Ok` for the caller to judge.
    pub async fn request(
        &mut self,
        request: &Request<'_>,
        on_notification: &mut (dyn FnMut(Notification) + Send),
    ) -> Result<Response> {
        let body = request.to_json()?;
        self.framed
            .send(Bytes::from(body))
            .await
            .map_err(|e| Error::Protocol(format!("cannot send to the daemon: {e}")))?;
        loop {
            let frame = match self.framed.next().await {
                Some(Ok(frame)) => frame,
                Some(Err(e)) => {
                    return Err(Error::Protocol(format!("bad frame from the daemon: {e}")))
                }
                None => return Err(Error::Protocol("the daemon closed the connection".into())),
            };
            match parse_incoming(&frame)? {
                Incoming::Response(r) => return Ok(r),
                Incoming::Notification(n) => on_notification(n),
            }
        }
    }
}

pub struct LegacyLink {
    path: PathBuf,
    client_id: String,
    conn: Option<Connection>,
    on_transcription: TranscriptionHandler,
}

impl LegacyLink {
    /// Connects, subscribes and starts the realtime session. Fails with
    /// `E_DAEMON_UNREACHABLE` when nothing listens at `path`.
    pub async fn open(
        path: PathBuf,
        client_id: String,
        on_transcription: TranscriptionHandler,
    ) -> Result<Self> {
        let mut link = Self {
            path,
            client_id,
            conn: None,
            on_transcription,
        };
        link.ensure_connected().await?;
        Ok(link)
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    async fn ensure_connected(&mut self) -> Result<&mut Connection> {
        if self.conn.is_none() {
            let mut conn = Connection::connect(&self.path).await?;
            let client_id = self.client_id.clone();
            let handler = &mut self.on_transcription;
            let mut on_note = |n: Notification| forward(&client_id, n, handler);
            conn.request(
                &Request::subscribe(SUBSCRIBED_EVENTS, CLIENT_NAME),
                &mut on_note,
            )
            .await?
            .into_result()?;
            conn.request(
                &Request::start_realtime(&client_id, TARGET_RATE),
                &mut on_note,
            )
            .await?
            .into_result()?;
            self.conn = Some(conn);
        }
        Ok(self.conn.as_mut().expect("connection was just set"))
    }

    async fn call(&mut self, request: &Request<'_>) -> Result<()> {
        let client_id = self.client_id.clone();
        self.ensure_connected().await?;
        let (conn, handler) = (
            self.conn.as_mut().expect("connected above"),
            &mut self.on_transcription,
        );
        let mut on_note = |n: Notification| forward(&client_id, n, handler);
        match conn.request(request, &mut on_note).await {
            Ok(response) => response.into_result().map(drop),
            Err(e) => {
                // The connection is in an unknown state: start over on the next call.
                self.conn = None;
                Err(e)
            }
        }
    }
}

fn forward(client_id: &str, n: Notification, handler: &mut TranscriptionHandler) {
    if n.event_type != "realtime_transcription" || n.client_id.as_deref() != Some(client_id) {
        return;
    }
    let Some(text) = n.data.get("transcription").and_then(|t| t.as_str()) else {
        return;
    };
    handler(Transcription {
        text: text.to_owned(),
        client_id: client_id.to_owned(),
        timestamp: n.timestamp.unwrap_or_default(),
    });
}

impl Transport for LegacyLink {
    async fn send_chunk(&mut self, samples: &[f32]) -> Result<()> {
        let client_id = self.client_id.clone();
        self.call(&Request::realtime_audio(&client_id, samples, TARGET_RATE))
            .await
    }

    /// The daemon has no stop command: a new empty session with the same id replaces the old.
    async fn end_session(&mut self) -> Result<()> {
        let client_id = self.client_id.clone();
        let result = self
            .call(&Request::start_realtime(&client_id, TARGET_RATE))
            .await;
        self.conn = None;
        result
    }
}
