//! Plain HTTP/1.1 requests to the v1 daemon over its Unix socket (hyper), and the one mapping
//! of its error responses to our errors, shared with the WebSocket handshake.

use std::path::Path;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header;
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use tokio::net::UnixStream;
use tokio_util::task::AbortOnDropHandle;

use crate::error::{Error, Result};

pub const AUTH_REQUEST_PATH: &str = "/v1/auth/request";
/// Replies we read are small JSON documents; a larger one is refused, not buffered.
const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// The daemon's error body: `{"status":"error","error_code"?,"message","data":{"reason"}}`.
#[derive(Debug, Default, Deserialize)]
pub struct ErrorEnvelope {
    #[serde(default)]
    pub error_code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub data: Option<ReasonData>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ReasonData {
    #[serde(default)]
    pub reason: Option<String>,
}

impl ErrorEnvelope {
    /// Anything that is not the envelope reads as an empty one.
    pub fn parse(body: &[u8]) -> Self {
        serde_json::from_slice(body).unwrap_or_default()
    }

    /// `message (error_code, reason: r)`, with the parts the daemon sent.
    fn describe(&self) -> String {
        let mut out = self.message.clone().unwrap_or_default();
        let mut extra = Vec::new();
        if let Some(code) = &self.error_code {
            extra.push(code.clone());
        }
        if let Some(reason) = self.data.as_ref().and_then(|d| d.reason.as_ref()) {
            extra.push(format!("reason: {reason}"));
        }
        if !extra.is_empty() {
            out = format!("{out} ({})", extra.join(", "));
        }
        out.trim().to_owned()
    }
}

/// The error for a non-success HTTP status on `route`.
pub fn error_for_status(status: u16, envelope: &ErrorEnvelope, route: &str) -> Error {
    let detail = envelope.describe();
    let detail = if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    };
    match status {
        401 => Error::Unauthorized(format!(
            "HTTP 401 on {route}{detail}; the token is missing, unknown, expired or was \
             issued to another program"
        )),
        403 => Error::Unauthorized(format!("HTTP 403 on {route}{detail}")),
        404 => Error::Protocol(format!(
            "the daemon has no {route} (HTTP 404); it may be older than Super STT 0.2"
        )),
        _ => Error::DaemonError(format!("HTTP {status} on {route}{detail}")),
    }
}

/// What `POST /v1/auth/request` asks for.
#[derive(Debug, Clone, Serialize)]
pub struct TokenRequest {
    pub app_name: String,
    pub scopes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// What the daemon grants once the user approves.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TokenGrant {
    #[serde(rename = "session_token")]
    pub token: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub expires_at: String,
}

/// Asks the daemon for a session token. The daemon shows the user a consent prompt, so this
/// can take as long as the user does; a denial is `E_UNAUTHORIZED`.
pub async fn request_token(socket: &Path, request: &TokenRequest) -> Result<TokenGrant> {
    let body = serde_json::to_vec(request).map_err(|e| Error::Internal(e.to_string()))?;
    let (status, body) = post_json(socket, AUTH_REQUEST_PATH, body, None).await?;
    if !(200..300).contains(&status) {
        return Err(error_for_status(
            status,
            &ErrorEnvelope::parse(&body),
            AUTH_REQUEST_PATH,
        ));
    }
    let grant: TokenGrant = serde_json::from_slice(&body).map_err(|e| {
        Error::Protocol(format!(
            "the reply to {AUTH_REQUEST_PATH} has no session_token: {e}"
        ))
    })?;
    if grant.token.is_empty() {
        return Err(Error::Protocol(format!(
            "the reply to {AUTH_REQUEST_PATH} has an empty session_token"
        )));
    }
    Ok(grant)
}

/// One POST on a fresh connection (with a bearer token when given); returns the status and
/// the (bounded) body.
pub async fn post_json(
    socket: &Path,
    route: &str,
    body: Vec<u8>,
    token: Option<&str>,
) -> Result<(u16, Bytes)> {
    let unreachable = |reason: String| Error::DaemonUnreachable {
        path: socket.display().to_string(),
        reason,
    };
    let stream = UnixStream::connect(socket)
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    let _connection = AbortOnDropHandle::new(tokio::spawn(async move {
        let _ = connection.await;
    }));
    let mut request = hyper::Request::post(route)
        .header(header::HOST, "localhost")
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| Error::Internal(e.to_string()))?;
    let response = sender.send_request(request).await.map_err(|e| {
        if e.is_parse() {
            Error::Protocol(format!("not an HTTP reply on {route}: {e}"))
        } else {
            unreachable(e.to_string())
        }
    })?;
    let status = response.status().as_u16();
    let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
        .collect()
        .await
        .map_err(|e| Error::Protocol(format!("reading the reply to {route}: {e}")))?
        .to_bytes();
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_stable_codes_with_the_daemon_reason() {
        let body = br#"{"status":"error","message":"invalid_session","data":{"reason":"expired"}}"#;
        let e = error_for_status(401, &ErrorEnvelope::parse(body), "/v1/x");
        assert_eq!(e.code(), "E_UNAUTHORIZED");
        assert!(
            e.to_string().contains("invalid_session (reason: expired)"),
            "{e}"
        );
        let e = error_for_status(
            403,
            &ErrorEnvelope::parse(br#"{"message":"scope_denied"}"#),
            "/v1/x",
        );
        assert_eq!(e.code(), "E_UNAUTHORIZED");
        assert!(e.to_string().contains("scope_denied"));
        assert_eq!(
            error_for_status(404, &ErrorEnvelope::default(), "/v1/x").code(),
            "E_PROTOCOL"
        );
        let e = error_for_status(429, &ErrorEnvelope::parse(b"<html>"), "/v1/x");
        assert_eq!(e.code(), "E_DAEMON_ERROR");
        assert!(e.to_string().contains("HTTP 429 on /v1/x"), "{e}");
    }
}
