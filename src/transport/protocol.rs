//! Message types of the legacy Super STT socket protocol (`shared/docs`, section 1).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A `DaemonRequest`. `sample_rate` is a JSON integer: the daemon rejects `16000.0`.
#[derive(Debug, Default, Serialize)]
pub struct Request<'a> {
    pub command: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_data: Option<&'a [f32]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_rate: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_types: Option<&'a [&'a str]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_info: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<&'a str>,
}

impl<'a> Request<'a> {
    pub fn start_realtime(client_id: &'a str, sample_rate: u32) -> Self {
        Self {
            command: "start_realtime",
            client_id: Some(client_id),
            sample_rate: Some(sample_rate),
            ..Self::default()
        }
    }

    /// `samples` must be finite (JSON has no NaN); the pipeline sanitizes them.
    pub fn realtime_audio(client_id: &'a str, samples: &'a [f32], sample_rate: u32) -> Self {
        Self {
            command: "realtime_audio",
            client_id: Some(client_id),
            audio_data: Some(samples),
            sample_rate: Some(sample_rate),
            ..Self::default()
        }
    }

    /// One whole utterance for the daemon's batch route (at most 300 s).
    pub fn transcribe(
        client_id: &'a str,
        samples: &'a [f32],
        sample_rate: u32,
        language: Option<&'a str>,
    ) -> Self {
        Self {
            command: "transcribe",
            client_id: Some(client_id),
            audio_data: Some(samples),
            sample_rate: Some(sample_rate),
            language,
            ..Self::default()
        }
    }

    pub fn subscribe(event_types: &'a [&'a str], client_name: &str) -> Self {
        Self {
            command: "subscribe",
            event_types: Some(event_types),
            client_info: Some(serde_json::json!({ "name": client_name })),
            ..Self::default()
        }
    }

    #[cfg(test)]
    pub fn to_json(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self).map_err(|e| Error::Internal(format!("cannot encode request: {e}")))
    }

    /// The whole frame (length prefix, then the JSON) into `frame`, replacing what it held:
    /// one buffer reused for every chunk, instead of a new one grown by doubling and then
    /// copied again behind its prefix.
    pub fn write_frame(&self, frame: &mut Vec<u8>) -> Result<()> {
        frame.clear();
        frame.extend_from_slice(&[0; 8]);
        serde_json::to_writer(&mut *frame, self)
            .map_err(|e| Error::Internal(format!("cannot encode request: {e}")))?;
        let len = (frame.len() - 8) as u64;
        frame[..8].copy_from_slice(&len.to_be_bytes());
        Ok(())
    }
}

/// A `DaemonResponse` (frames that carry `status`).
#[derive(Debug, Clone, Deserialize)]
pub struct Response {
    pub status: String,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    /// The text of a `transcribe` request.
    #[serde(default)]
    pub transcription: Option<String>,
}

/// A pushed event on a subscribed connection (frames with `"type":"notification"`).
#[derive(Debug, Clone, Deserialize)]
pub struct Notification {
    #[serde(default)]
    pub event_type: String,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub timestamp: Option<String>,
    #[serde(default)]
    pub data: serde_json::Value,
}

#[derive(Debug, Clone)]
pub enum Incoming {
    Response(Response),
    Notification(Notification),
}

pub fn parse_incoming(frame: &[u8]) -> Result<Incoming> {
    let value: serde_json::Value = serde_json::from_slice(frame)
        .map_err(|e| Error::Protocol(format!("daemon sent a frame that is not JSON: {e}")))?;
    if value.get("type").and_then(|t| t.as_str()) == Some("notification") {
        return serde_json::from_value(value)
            .map(Incoming::Notification)
            .map_err(|e| Error::Protocol(format!("malformed notification: {e}")));
    }
    serde_json::from_value(value)
        .map(Incoming::Response)
        .map_err(|e| Error::Protocol(format!("malformed response: {e}")))
}

impl Response {
    /// `Ok(self)` for `"success"`, else the daemon's message as an error.
    pub fn into_result(self) -> Result<Response> {
        if self.status == "success" {
            Ok(self)
        } else {
            Err(Error::DaemonError(
                self.message
                    .unwrap_or_else(|| format!("status {:?}", self.status)),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_match_the_daemon_field_names_and_types() {
        let json =
            String::from_utf8(Request::start_realtime("tui-1", 16_000).to_json().unwrap()).unwrap();
        assert_eq!(
            json,
            r#"{"command":"start_realtime","client_id":"tui-1","sample_rate":16000}"#
        );
        let audio = [0.0f32, 0.5, -0.25];
        let json = String::from_utf8(
            Request::realtime_audio("c", &audio, 16_000)
                .to_json()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            json,
            r#"{"command":"realtime_audio","client_id":"c","audio_data":[0.0,0.5,-0.25],"sample_rate":16000}"#
        );
        let mut frame = b"left over".to_vec();
        Request::realtime_audio("c", &audio, 16_000)
            .write_frame(&mut frame)
            .unwrap();
        assert_eq!(&frame[..8], &(json.len() as u64).to_be_bytes());
        assert_eq!(&frame[8..], json.as_bytes());
        let json = String::from_utf8(
            Request::subscribe(&["realtime_transcription"], "x")
                .to_json()
                .unwrap(),
        )
        .unwrap();
        assert!(json.contains(r#""event_types":["realtime_transcription"]"#));
    }

    #[test]
    fn responses_and_notifications_are_told_apart() {
        let r =
            parse_incoming(br#"{"status":"success","message":"Audio chunk processed"}"#).unwrap();
        assert!(matches!(r, Incoming::Response(ref r) if r.status == "success"));
        let n = parse_incoming(
            br#"{"type":"notification","event_type":"realtime_transcription","client_id":"tui-1","timestamp":"t","data":{"transcription":"hello"}}"#,
        )
        .unwrap();
        let Incoming::Notification(n) = n else {
            panic!("not a notification")
        };
        assert_eq!(n.client_id.as_deref(), Some("tui-1"));
        assert_eq!(n.data["transcription"], "hello");
    }

    #[test]
    fn malformed_frames_are_protocol_errors_and_error_status_is_a_daemon_error() {
        assert_eq!(
            parse_incoming(b"not json").unwrap_err().code(),
            "E_PROTOCOL"
        );
        assert_eq!(parse_incoming(b"[1,2]").unwrap_err().code(), "E_PROTOCOL");
        assert_eq!(
            parse_incoming(br#"{"message":"no status"}"#)
                .unwrap_err()
                .code(),
            "E_PROTOCOL"
        );
        let Incoming::Response(r) =
            parse_incoming(br#"{"status":"error","message":"Rate limit exceeded"}"#).unwrap()
        else {
            panic!()
        };
        let e = r.into_result().unwrap_err();
        assert_eq!(e.code(), "E_DAEMON_ERROR");
        assert!(e.to_string().contains("Rate limit exceeded"));
    }
}
