//! The capture session, without Node: `Capture` composes the input, the pipeline with its
//! sinks, and delivery to the daemon, and owns the rules of start, stop, pause and reopen.
//! The binding wraps one in a JS class; the tests drive it directly.

pub mod config;

pub use config::CaptureConfig;

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::capture::{self, OpenStream, Source, StreamInfo};
use crate::delivery::{self, Delivery};
use crate::dsp::TARGET_RATE;
use crate::error::{Error, Result};
use crate::events::{EventCounters, EventSink, Events};
use crate::options::parse::{StartConfig, TokenRequestConfig};
use crate::pipeline::supervisor::{Reopen, Watch};
use crate::pipeline::{self, Pipeline, PipelineParts};
use crate::sinks::{self, SinkContext};
use crate::stats::{CaptureCounters, DeliveryCounters, PipelineCounters};
use crate::transport::any::AnyConnector;
use crate::transport::http::{self, TokenGrant};
use crate::transport::legacy::LegacyConnector;
use crate::transport::v1::{V1Config, V1Connector};
use crate::transport::{Connector, MessageHandler, ModeChoice, Route, Session};

/// How often the pipeline wakes.
const TICK: Duration = Duration::from_millis(5);

/// Opens the input. Blocking: called off the runtime.
pub trait Opener: Send + Sync + 'static {
    fn open(&self, counters: Arc<CaptureCounters>) -> Result<OpenStream>;
    /// Whether a lost or stalled input is opened again (`autoReopen`).
    fn reopens(&self) -> bool;
}

/// Opens what the options name: a device or a file.
pub struct SourceOpener {
    pub source: Source,
    pub auto_reopen: bool,
}

impl Opener for SourceOpener {
    fn open(&self, counters: Arc<CaptureCounters>) -> Result<OpenStream> {
        capture::open(&self.source, counters)
    }

    fn reopens(&self) -> bool {
        self.auto_reopen && matches!(self.source, Source::Device(_))
    }
}

/// Makes the connector for one capture; it gets the handler for what the daemon pushes.
pub type MakeConnector<C> = Arc<dyn Fn(MessageHandler) -> C + Send + Sync>;

/// The daemon connector the options describe.
pub fn daemon_connector(config: &CaptureConfig, on_message: MessageHandler) -> AnyConnector {
    AnyConnector {
        choice: config.protocol,
        legacy: LegacyConnector::new(
            config.socket_path.clone(),
            config.client_id.clone(),
            TARGET_RATE,
            on_message.clone(),
        )
        .with_route(
            // The legacy daemon cannot say which route its model takes: `auto` streams.
            if config.mode == ModeChoice::Utterances {
                Route::Utterances
            } else {
                Route::Stream
            },
            config.language.clone(),
        ),
        v1: V1Connector::new(
            V1Config {
                path: config.http_socket_path.clone(),
                token: config.token.clone(),
                language: config.language.clone(),
                sample_rate: TARGET_RATE,
                mode: config.mode,
            },
            config.client_id.clone(),
            on_message,
        ),
        legacy_path_given: config.socket_path_given,
        v1_path_given: config.http_socket_path_given,
    }
}

/// `requestToken()`: asks the daemon, which waits for the user, for at most the timeout.
pub async fn request_token(config: &TokenRequestConfig) -> Result<TokenGrant> {
    tokio::time::timeout(
        config.timeout,
        http::request_token(&config.socket_path, &config.request),
    )
    .await
    .unwrap_or_else(|_| {
        Err(Error::DaemonTimeout(format!(
            "no answer to the token request within {} ms",
            config.timeout.as_millis()
        )))
    })
}

/// Requested state, set by `pause()`/`resume()`, read by the pipeline every tick; the
/// pipeline acknowledges a change once its sinks have acted on it.
#[derive(Debug, Default)]
pub struct ControlState {
    paused: AtomicBool,
    acted_on: Mutex<bool>,
    acted: Condvar,
}

/// The longest `pause()` waits for the pipeline to end an open utterance (a tick is 5 ms).
const PAUSE_WAIT: Duration = Duration::from_millis(250);

impl ControlState {
    /// Asks for `paused` and, while a pipeline runs, waits (bounded) until it has acted.
    fn request(&self, paused: bool, running: bool) {
        self.paused.store(paused, Relaxed);
        if !running {
            return;
        }
        let acted = self.acted_on.lock().unwrap_or_else(|p| p.into_inner());
        let _ = self
            .acted
            .wait_timeout_while(acted, PAUSE_WAIT, |acted| *acted != paused);
    }
}

impl pipeline::Control for ControlState {
    fn paused(&self) -> bool {
        self.paused.load(Relaxed)
    }

    fn acknowledge(&self, paused: bool) {
        *self.acted_on.lock().unwrap_or_else(|p| p.into_inner()) = paused;
        self.acted.notify_all();
    }
}

/// The counters of one capture run.
#[derive(Debug, Default, Clone)]
pub struct Counters {
    pub capture: Arc<CaptureCounters>,
    pub pipeline: Arc<PipelineCounters>,
    pub delivery: Arc<DeliveryCounters>,
    pub events: Arc<EventCounters>,
}

/// What `stats()` reads: the current run, or the last one after a stop.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    pub counters: Counters,
    pub info: Option<StreamInfo>,
    /// Chunks the send queue holds; 0 without a daemon.
    pub send_queue_capacity: usize,
    pub paused: bool,
    pub capturing: bool,
}

#[derive(Default)]
struct Current {
    counters: Counters,
    info: Option<StreamInfo>,
    send_queue_capacity: usize,
    control: Arc<ControlState>,
}

/// A running capture: stopping it stops the pipeline (input first), then delivery.
struct Running {
    pipeline: Option<Pipeline>,
    delivery: Option<Delivery>,
    runtime: tokio::runtime::Handle,
}

impl Running {
    async fn stop(mut self) {
        let (pipeline, delivery) = (self.pipeline.take(), self.delivery.take());
        stop_parts(pipeline, delivery).await;
    }
}

async fn stop_parts(pipeline: Option<Pipeline>, delivery: Option<Delivery>) {
    if let Some(pipeline) = pipeline {
        pipeline.stop().await;
    }
    if let Some(delivery) = delivery {
        delivery.finish().await;
    }
}

impl Drop for Running {
    /// A capture dropped while running (garbage-collected in JS) still stops in order: the
    /// input is released, the rest delivered and the daemon session ended.
    fn drop(&mut self) {
        let (pipeline, delivery) = (self.pipeline.take(), self.delivery.take());
        if pipeline.is_some() || delivery.is_some() {
            drop(self.runtime.spawn(stop_parts(pipeline, delivery)));
        }
    }
}

pub struct Capture<C: Connector> {
    config: CaptureConfig,
    opener: Arc<dyn Opener>,
    make_connector: MakeConnector<C>,
    sink: Arc<dyn EventSink>,
    running: tokio::sync::Mutex<Option<Running>>,
    current: Mutex<Current>,
    capturing: AtomicBool,
}

impl Capture<AnyConnector> {
    /// The capture the options describe, reporting to `sink`.
    pub fn new(config: CaptureConfig, sink: Arc<dyn EventSink>) -> Self {
        let opener = Arc::new(SourceOpener {
            source: config.source.clone(),
            auto_reopen: config.auto_reopen,
        });
        let connector_config = config.clone();
        let make_connector: MakeConnector<AnyConnector> =
            Arc::new(move |on_message| daemon_connector(&connector_config, on_message));
        Self::with_parts(config, opener, make_connector, sink)
    }
}

impl<C: Connector> Capture<C> {
    /// A capture with its own input and daemon (tests script both).
    pub fn with_parts(
        config: CaptureConfig,
        opener: Arc<dyn Opener>,
        make_connector: MakeConnector<C>,
        sink: Arc<dyn EventSink>,
    ) -> Self {
        Self {
            config,
            opener,
            make_connector,
            sink,
            running: tokio::sync::Mutex::new(None),
            current: Mutex::new(Current::default()),
            capturing: AtomicBool::new(false),
        }
    }

    pub fn config(&self) -> &CaptureConfig {
        &self.config
    }

    fn current(&self) -> std::sync::MutexGuard<'_, Current> {
        self.current.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Connects to the daemon (unless `daemon: false`), then opens the input, then starts
    /// the pipeline: a daemon that refuses us opens no device, and a device that fails ends
    /// the daemon session it would have fed. Harmless when already capturing.
    pub async fn start(&self, start: StartConfig) -> Result<()> {
        let mut running = self.running.lock().await;
        if running.is_some() {
            return Ok(());
        }
        let counters = Counters::default();
        let events = Events::new(self.sink.clone(), counters.events.clone());
        let link = if self.config.daemon {
            let on_message = delivery::message_handler(counters.delivery.clone(), events.clone());
            let connector = (self.make_connector)(on_message);
            Some(
                delivery::open_link(connector, self.config.link.clone(), start.wait_for_daemon)
                    .await?,
            )
        } else {
            None
        };
        let opener = self.opener.clone();
        let capture_counters = counters.capture.clone();
        let opened = tokio::task::spawn_blocking(move || opener.open(capture_counters))
            .await
            .unwrap_or_else(|e| Err(Error::Internal(e.to_string())));
        let opened = match opened {
            Ok(opened) => opened,
            Err(e) => {
                if let Some(session) = link.and_then(|l| l.session) {
                    let _ = session.end().await;
                }
                return Err(e);
            }
        };
        let info = opened.info.clone();
        let chunk_ms = self.config.sinks.chunks.chunk_ms.max(1);
        let queue_capacity = (self.config.max_buffer_ms / chunk_ms).max(1);
        let delivery = link.map(|link| {
            Delivery::spawn(
                link,
                (self.config.max_buffer_ms as usize) * TARGET_RATE as usize / 1000,
                self.config.mode,
                counters.delivery.clone(),
                events.clone(),
            )
        });
        let control = Arc::new(ControlState::default());
        let parts = PipelineParts {
            input: opened,
            reopen: self.reopen(&counters.capture),
            watch: self.watch(),
            tick: TICK,
            sinks: sinks::build(
                &self.config.sinks,
                SinkContext {
                    events: events.clone(),
                    counters: counters.pipeline.clone(),
                    daemon: delivery.as_ref().map(Delivery::sender),
                },
            ),
            control: control.clone(),
            capture_counters: counters.capture.clone(),
            counters: counters.pipeline.clone(),
            events,
        };
        let pipeline = match pipeline::spawn(parts) {
            Ok(pipeline) => pipeline,
            Err(e) => {
                stop_parts(None, delivery).await;
                return Err(e);
            }
        };
        *self.current() = Current {
            counters,
            info: Some(info),
            send_queue_capacity: if self.config.daemon {
                queue_capacity as usize
            } else {
                0
            },
            control,
        };
        *running = Some(Running {
            pipeline: Some(pipeline),
            delivery,
            runtime: tokio::runtime::Handle::current(),
        });
        self.capturing.store(true, Relaxed);
        Ok(())
    }

    fn reopen(&self, counters: &Arc<CaptureCounters>) -> Option<Reopen> {
        if !self.opener.reopens() {
            return None;
        }
        let (opener, counters) = (self.opener.clone(), counters.clone());
        Some(Arc::new(move || opener.open(counters.clone())))
    }

    /// Devices are watched for stalls and all-zero input; files are not.
    fn watch(&self) -> Watch {
        match self.config.source {
            Source::Device(_) => Watch {
                stall_timeout: Some(self.config.stall_timeout),
                silence_warn: self.config.silence_warn,
            },
            Source::File(_) => Watch::default(),
        }
    }

    /// Stops the input, drains and flushes every sink, then delivers what is queued (up to
    /// the stop timeout) and ends the daemon session. Harmless when not capturing.
    pub async fn stop(&self) -> Result<()> {
        let mut running = self.running.lock().await;
        let Some(run) = running.take() else {
            return Ok(());
        };
        run.stop().await;
        self.capturing.store(false, Relaxed);
        Ok(())
    }

    /// Pauses a running capture (the device stays open). Returns once the pipeline has seen
    /// it, so an open utterance has ended (reason `pause`). Harmless when paused or stopped:
    /// a new capture starts unpaused.
    pub fn pause(&self) {
        let control = self.current().control.clone();
        control.request(true, self.is_capturing());
    }

    pub fn resume(&self) {
        let control = self.current().control.clone();
        control.request(false, self.is_capturing());
    }

    pub fn is_capturing(&self) -> bool {
        self.capturing.load(Relaxed)
    }

    pub fn is_paused(&self) -> bool {
        self.is_capturing() && self.current().control.paused.load(Relaxed)
    }

    pub fn snapshot(&self) -> Snapshot {
        let current = self.current();
        let capturing = self.is_capturing();
        Snapshot {
            counters: current.counters.clone(),
            info: current.info.clone(),
            send_queue_capacity: current.send_queue_capacity,
            paused: capturing && current.control.paused.load(Relaxed),
            capturing,
        }
    }
}

#[cfg(test)]
mod tests;
