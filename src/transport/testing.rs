//! A scripted daemon for tests: records every chunk and how sessions ended, and can refuse
//! connections with a chosen error.

use std::sync::{Arc, Mutex};

use super::{Connector, Session};
use crate::error::{Error, Result};

#[derive(Default)]
pub struct RecorderState {
    /// Every chunk sent, in order, across sessions.
    pub chunks: Vec<Vec<f32>>,
    pub connects: u32,
    pub ended: u32,
    /// Connections fail with this while set.
    pub refuse: Option<Error>,
}

/// A connector whose sessions record what a daemon would receive.
#[derive(Clone, Default)]
pub struct Recorder(pub Arc<Mutex<RecorderState>>);

impl Recorder {
    pub fn state<R>(&self, f: impl FnOnce(&mut RecorderState) -> R) -> R {
        f(&mut self.0.lock().unwrap())
    }

    pub fn samples(&self) -> Vec<f32> {
        self.state(|s| s.chunks.concat())
    }
}

impl Connector for Recorder {
    type Session = Recorder;
    async fn connect(&self) -> Result<Recorder> {
        self.state(|s| match &s.refuse {
            Some(e) => Err(e.clone()),
            None => {
                s.connects += 1;
                Ok(self.clone())
            }
        })
    }
}

impl Session for Recorder {
    async fn send_chunk(&mut self, samples: &[f32]) -> Result<()> {
        self.state(|s| s.chunks.push(samples.to_vec()));
        Ok(())
    }
    async fn broken(&mut self) -> Error {
        std::future::pending().await
    }
    async fn end(self) -> Result<()> {
        self.state(|s| s.ended += 1);
        Ok(())
    }
    fn protocol(&self) -> &'static str {
        "recorder"
    }
}
