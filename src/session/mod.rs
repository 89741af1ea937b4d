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
use crate::sinks::record::writer::{self, Finished, Summary, WriterConfig};
use crate::sinks::record::{self, files, RecordControl, RecordOptions};
use crate::sinks::{self, SinkContext};
use crate::stats::{CaptureCounters, DeliveryCounters, PipelineCounters};
use crate::transport::any::AnyConnector;
use crate::transport::http::{self, TokenGrant};
use crate::transport::legacy::LegacyConnector;
use crate::transport::v1::{V1Config, V1Connector};
use crate::transport::{Connector, MessageHandler, ModeChoice, Route, Session};

/// The longest the pipeline sleeps: its supervisor watches the device (stalls, zeros) and a
/// paused capture discards what arrives at least this often. It wakes sooner whenever a sink's
/// work is due (a chunk complete, a level reading).
const MAX_SLEEP: Duration = Duration::from_millis(100);

/// The runtime every capture in the process runs its async work on (the daemon links,
/// reopening devices): one worker, so a chunk handed to the link wakes one thread instead of
/// several (the default, one worker per core, made about three wake-ups of each). Nothing on
/// it blocks: opening devices and writing files run on the blocking pool. The pipeline itself
/// runs on a thread of its own (see `pipeline`).
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("stt-capture-rt")
        .enable_all()
        .build()
}

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

/// Requested state, set by `pause()`/`resume()`, which wake the pipeline; the pipeline
/// acknowledges a change once its sinks have acted on it.
#[derive(Debug, Default)]
pub struct ControlState {
    paused: AtomicBool,
    changed: Arc<pipeline::Wakeup>,
    acted_on: Mutex<bool>,
    acted: Condvar,
}

/// The longest `pause()` waits for the pipeline to end an open utterance (it is woken at once
/// and acts within a tick).
const PAUSE_WAIT: Duration = Duration::from_millis(250);

impl ControlState {
    /// Asks for `paused` and, while a pipeline runs, waits (bounded) until it has acted.
    fn request(&self, paused: bool, running: bool) {
        self.paused.store(paused, Relaxed);
        if !running {
            return;
        }
        // Kept if the pipeline is mid-tick: it then runs once more at once.
        self.changed.poke();
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

    fn changed(&self) -> Option<Arc<pipeline::Wakeup>> {
        Some(self.changed.clone())
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
    recorder: Recorder,
}

/// The recordings of one run.
struct Recorder {
    control: RecordControl,
    /// The recording `startRecording()` (or the `record` option) started, until collected.
    current: Option<Finished>,
    /// `recordUtterances`' writer thread.
    utterance_files: Option<std::thread::JoinHandle<()>>,
    events: Events,
    counters: Arc<crate::stats::RecordCounters>,
    device_rate: u32,
}

impl Running {
    /// Stops everything; the summary of a recording still open (now final and fsynced).
    async fn stop(mut self) -> Option<Summary> {
        let (pipeline, delivery) = (self.pipeline.take(), self.delivery.take());
        stop_parts(pipeline, delivery).await;
        // The pipeline's end ended the recordings: wait until their files are final.
        let summary = match self.recorder.current.take() {
            Some(recording) => recording.wait().await.ok(),
            None => None,
        };
        if let Some(thread) = self.recorder.utterance_files.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        summary
    }
}

/// A file created for the `record` option, removed again if the start fails after all.
struct NewFile {
    path: std::path::PathBuf,
    file: Option<std::fs::File>,
}

impl NewFile {
    fn keep(mut self) -> std::fs::File {
        self.file.take().expect("a new file is kept once")
    }
}

impl Drop for NewFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
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
    /// The summary of a recording that ended with its capture, for `stopRecording()`.
    unclaimed: Mutex<Option<Summary>>,
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
            unclaimed: Mutex::new(None),
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
        // Files first: a recording that cannot be created leaves nothing running.
        let record_file = match self.config.sinks.record.clone() {
            Some(options) => Some(
                blocking(move || {
                    writer::create(&options.path, options.overwrite).map(|file| NewFile {
                        path: options.path,
                        file: Some(file),
                    })
                })
                .await?,
            ),
            None => None,
        };
        let (utterance_files, utterance_thread) = match &self.config.sinks.record_utterances {
            Some(dir) => {
                let (files, thread) =
                    files::start(dir, counters.pipeline.record.clone(), events.clone())?;
                (Some(files), Some(thread))
            }
            None => (None, None),
        };
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
        let opened = blocking(move || opener.open(capture_counters)).await;
        let (record_control, record_inbox) = record::channel();
        let opened = opened.and_then(|opened| {
            let recording = match (&self.config.sinks.record, record_file) {
                (Some(options), Some(file)) => Some(start_recording(
                    file.keep(),
                    options,
                    opened.info.sample_rate,
                    &record_control,
                    counters.pipeline.record.clone(),
                    &events,
                )?),
                _ => None,
            };
            Ok((opened, recording))
        });
        let (opened, recording) = match opened {
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
        // Before the pipeline's first tick, so its first drain already discards.
        control.paused.store(start.paused, Relaxed);
        let recorder = Recorder {
            control: record_control,
            current: recording,
            utterance_files: utterance_thread,
            events: events.clone(),
            counters: counters.pipeline.record.clone(),
            device_rate: info.sample_rate,
        };
        let parts = PipelineParts {
            input: opened,
            reopen: self.reopen(&counters.capture),
            watch: self.watch(),
            max_sleep: MAX_SLEEP,
            sinks: sinks::build(
                &self.config.sinks,
                SinkContext {
                    events: events.clone(),
                    counters: counters.pipeline.clone(),
                    daemon: delivery.as_ref().map(Delivery::sender),
                    record: record_inbox,
                    utterance_files,
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
            recorder,
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
        let summary = run.stop().await;
        if summary.is_some() {
            *self.unclaimed.lock().unwrap_or_else(|p| p.into_inner()) = summary;
        }
        self.capturing.store(false, Relaxed);
        Ok(())
    }

    /// `startRecording()`: records the running capture from its next block. Refused
    /// (`E_INVALID_STATE`) when not capturing or already recording; a file that cannot be
    /// created is `E_RECORD_FAILED`.
    pub async fn start_recording(&self, options: RecordOptions) -> Result<()> {
        let mut running = self.running.lock().await;
        let Some(run) = running.as_mut() else {
            return Err(Error::InvalidState(
                "startRecording() needs a running capture: call startCapture() first".into(),
            ));
        };
        let recorder = &mut run.recorder;
        if let Some(current) = recorder.current.take() {
            if !current.is_done() {
                let path = current.path.display().to_string();
                recorder.current = Some(current);
                return Err(Error::InvalidState(format!(
                    "already recording to {path}: stopRecording() first"
                )));
            }
            // It ended on its own (an error it reported); a new one replaces it.
            drop(current.wait().await);
        }
        let path = options.path.clone();
        let overwrite = options.overwrite;
        let file = blocking(move || writer::create(&path, overwrite)).await?;
        recorder.current = Some(start_recording(
            file,
            &options,
            recorder.device_rate,
            &recorder.control,
            recorder.counters.clone(),
            &recorder.events,
        )?);
        *self.unclaimed.lock().unwrap_or_else(|p| p.into_inner()) = None;
        Ok(())
    }

    /// `stopRecording()`: ends the recording after the block in progress and returns once
    /// its file is final and fsynced. After a recording that ended with its capture (or on
    /// its own) it returns that one's summary; with none, `E_INVALID_STATE`.
    pub async fn stop_recording(&self) -> Result<Summary> {
        let mut running = self.running.lock().await;
        if let Some(current) = running.as_mut().and_then(|r| {
            r.recorder.control.stop();
            r.recorder.current.take()
        }) {
            return current.wait().await;
        }
        drop(running);
        self.unclaimed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .ok_or_else(|| Error::InvalidState("no recording: startRecording() first".into()))
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

/// Starts the writer of a recording on `file` and hands it to the record sink.
fn start_recording(
    file: std::fs::File,
    options: &RecordOptions,
    device_rate: u32,
    control: &RecordControl,
    counters: Arc<crate::stats::RecordCounters>,
    events: &Events,
) -> Result<Finished> {
    let sample_rate = options.sample_rate(device_rate);
    let (feed, finished) = writer::start(
        file,
        WriterConfig {
            path: options.path.clone(),
            sample_rate,
            format: options.format,
            capacity: options.capacity(sample_rate),
        },
        counters,
        events.clone(),
    )
    .inspect_err(|_| {
        let _ = std::fs::remove_file(&options.path);
    })?;
    control.start(feed, options.rate)?;
    Ok(finished)
}

/// Runs blocking work (opening a device, creating a file) off the runtime's workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(Error::Internal(e.to_string())))
}

#[cfg(test)]
mod tests;
