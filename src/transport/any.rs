//! The `protocol` option: legacy, v1, or auto (whichever daemon socket exists, v1 first),
//! decided again on every connection so a daemon upgraded or downgraded mid-capture is
//! followed.

use std::path::Path;

use super::legacy::{LegacyConnector, LegacySession};
use super::v1::{V1Connector, V1Session};
use super::{Connector, Session};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolChoice {
    Auto,
    Legacy,
    V1,
}

impl ProtocolChoice {
    pub const NAMES: [&'static str; 3] = ["auto", "legacy", "v1"];

    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "auto" => Self::Auto,
            "legacy" => Self::Legacy,
            "v1" => Self::V1,
            _ => return None,
        })
    }
}

pub struct AnyConnector {
    pub choice: ProtocolChoice,
    pub legacy: LegacyConnector,
    pub v1: V1Connector,
    /// Auto only looks where the user pointed when exactly one path was given explicitly.
    pub legacy_path_given: bool,
    pub v1_path_given: bool,
}

pub enum AnySession {
    Legacy(LegacySession),
    V1(V1Session),
}

impl AnyConnector {
    async fn connect_legacy(&self) -> Result<AnySession> {
        self.legacy.connect().await.map(AnySession::Legacy)
    }

    async fn connect_v1(&self) -> Result<AnySession> {
        self.v1.connect().await.map(AnySession::V1)
    }

    async fn connect_auto(&self) -> Result<AnySession> {
        match (self.v1_path_given, self.legacy_path_given) {
            (true, false) => return self.connect_v1().await,
            (false, true) => return self.connect_legacy().await,
            _ => {}
        }
        let mut last = None;
        if exists(self.v1.path()) {
            match self.connect_v1().await {
                // A stale socket file of a daemon that is gone: try the other one.
                Err(e @ Error::DaemonUnreachable { .. }) => last = Some(e),
                other => return other,
            }
        }
        if exists(self.legacy.path()) {
            return self.connect_legacy().await;
        }
        Err(last.unwrap_or_else(|| Error::DaemonUnreachable {
            path: format!(
                "{} (v1) or {} (legacy)",
                self.v1.path().display(),
                self.legacy.path().display()
            ),
            reason: "neither socket exists; is the Super STT daemon running?".into(),
        }))
    }
}

fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

impl Connector for AnyConnector {
    type Session = AnySession;

    async fn connect(&self) -> Result<AnySession> {
        match self.choice {
            ProtocolChoice::Legacy => self.connect_legacy().await,
            ProtocolChoice::V1 => self.connect_v1().await,
            ProtocolChoice::Auto => self.connect_auto().await,
        }
    }
}

impl Session for AnySession {
    async fn send_chunk(&mut self, samples: &[f32]) -> Result<()> {
        match self {
            AnySession::Legacy(s) => s.send_chunk(samples).await,
            AnySession::V1(s) => s.send_chunk(samples).await,
        }
    }

    async fn broken(&mut self) -> Error {
        match self {
            AnySession::Legacy(s) => s.broken().await,
            AnySession::V1(s) => s.broken().await,
        }
    }

    async fn end(self) -> Result<()> {
        match self {
            AnySession::Legacy(s) => s.end().await,
            AnySession::V1(s) => s.end().await,
        }
    }

    fn route(&self) -> super::Route {
        match self {
            AnySession::Legacy(s) => s.route(),
            AnySession::V1(s) => s.route(),
        }
    }

    async fn transcribe(&mut self, samples: &[f32]) -> Result<String> {
        match self {
            AnySession::Legacy(s) => s.transcribe(samples).await,
            AnySession::V1(s) => s.transcribe(samples).await,
        }
    }

    fn protocol(&self) -> &'static str {
        match self {
            AnySession::Legacy(s) => s.protocol(),
            AnySession::V1(s) => s.protocol(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::v1::V1Config;
    use crate::transport::MessageHandler;
    use std::os::unix::net::UnixListener;
    use std::path::PathBuf;
    use std::sync::Arc;

    fn connector(dir: &Path, choice: ProtocolChoice, given: (bool, bool)) -> AnyConnector {
        let handler: MessageHandler = Arc::new(|_| {});
        AnyConnector {
            choice,
            legacy: LegacyConnector::new(
                dir.join("legacy.sock"),
                "c".into(),
                16000,
                handler.clone(),
            ),
            v1: V1Connector::new(
                V1Config {
                    path: dir.join("http.sock"),
                    token: None,
                    language: None,
                    sample_rate: 16000,
                    mode: crate::transport::ModeChoice::Auto,
                },
                "c".into(),
                handler,
            ),
            legacy_path_given: given.0,
            v1_path_given: given.1,
        }
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("stt-any-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Listens on the sockets named in `listen` (`v1`, `legacy`) without answering, runs one
    /// connect, and reports its outcome and which listeners were dialled.
    async fn attempt(
        c: &AnyConnector,
        dir: &Path,
        listen: &[&'static str],
    ) -> (Result<&'static str, &'static str>, Vec<&'static str>) {
        let listeners: Vec<(&'static str, UnixListener)> = listen
            .iter()
            .map(|&name| {
                let path = dir.join(if name == "v1" {
                    "http.sock"
                } else {
                    "legacy.sock"
                });
                let _ = std::fs::remove_file(&path);
                let l = UnixListener::bind(&path).unwrap();
                l.set_nonblocking(true).unwrap();
                (name, l)
            })
            .collect();
        // Nobody answers, so a dialled connect times out; only who was dialled matters.
        let result = tokio::time::timeout(std::time::Duration::from_millis(200), c.connect()).await;
        let outcome = match result {
            Ok(Ok(s)) => Ok(s.protocol()),
            Ok(Err(e)) => Err(e.code()),
            Err(_) => Err("timeout"),
        };
        let dialled = listeners
            .iter()
            .filter(|(_, l)| l.accept().is_ok())
            .map(|(name, _)| *name)
            .collect();
        for name in listen {
            let _ = std::fs::remove_file(dir.join(if *name == "v1" {
                "http.sock"
            } else {
                "legacy.sock"
            }));
        }
        (outcome, dialled)
    }

    #[tokio::test]
    async fn auto_prefers_the_v1_socket_and_falls_back_to_the_legacy_one() {
        let dir = temp_dir("auto");
        let c = connector(&dir, ProtocolChoice::Auto, (false, false));
        let (outcome, dialled) = attempt(&c, &dir, &[]).await;
        assert_eq!(outcome, Err("E_DAEMON_UNREACHABLE"), "no socket at all");
        assert!(dialled.is_empty());
        assert_eq!(attempt(&c, &dir, &["legacy"]).await.1, ["legacy"]);
        assert_eq!(
            attempt(&c, &dir, &["v1", "legacy"]).await.1,
            ["v1"],
            "v1 first when both exist"
        );
        // A stale v1 socket file (nobody listening) falls through to the legacy daemon.
        drop(UnixListener::bind(dir.join("http.sock")).unwrap());
        assert_eq!(attempt(&c, &dir, &["legacy"]).await.1, ["legacy"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn an_explicit_path_or_protocol_is_the_only_place_looked() {
        let dir = temp_dir("explicit");
        let both = ["v1", "legacy"];
        let only_legacy = connector(&dir, ProtocolChoice::Auto, (true, false));
        assert_eq!(attempt(&only_legacy, &dir, &both).await.1, ["legacy"]);
        let only_v1 = connector(&dir, ProtocolChoice::Auto, (false, true));
        assert_eq!(attempt(&only_v1, &dir, &both).await.1, ["v1"]);
        let forced = connector(&dir, ProtocolChoice::Legacy, (false, false));
        assert_eq!(attempt(&forced, &dir, &both).await.1, ["legacy"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
