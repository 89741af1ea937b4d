//! Watches the input and keeps it running: owns the stream and its ring, reports errors,
//! stalls and all-zero input, and (with `autoReopen`) opens the device again with backoff.

use std::sync::atomic::Ordering::{self, Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ringbuf::traits::{Consumer, Observer};
use ringbuf::HeapCons;
use tokio::task::JoinHandle;

use super::frontend::{DeviceCount, Drained};
use crate::capture::{InputHandle, InputStatus, OpenStream};
use crate::error::{Error, Result};
use crate::events::{DeviceEvent, Event, Events, Warning, WarningEvent};
use crate::stats::{CaptureCounters, DeviceState, PipelineCounters};

/// Opens the input again after it was lost or stalled (blocking; run off the runtime).
pub type Reopen = Arc<dyn Fn() -> Result<OpenStream> + Send + Sync>;

const REOPEN_INITIAL: Duration = Duration::from_millis(200);
const REOPEN_MAX: Duration = Duration::from_secs(5);

/// What the supervisor watches for.
#[derive(Debug, Clone, Default)]
pub struct Watch {
    /// No callback for this long is a stall (`None`: not watched, e.g. a file input).
    pub stall_timeout: Option<Duration>,
    /// Exact zeros for this long raise `W_ALL_ZERO_INPUT` (`None`: not watched).
    pub silence_warn: Option<Duration>,
}

/// What the supervisor tracks about the input between ticks.
#[derive(Debug, Default)]
struct Observed {
    last_callbacks: u64,
    /// When the callback count last changed.
    last_progress: Option<Instant>,
    stalled: bool,
    lost: bool,
    /// Since when only exact zeros have arrived (`None` after any other sample).
    zeros_since: Option<Instant>,
    /// Warned for the current run of zeros.
    warned_zeros: bool,
    /// The previous paused tick, for paused time.
    last_paused_tick: Option<Instant>,
}

/// The wait after failed attempt `attempt` (1, 2, ...): 200 ms, doubling, at most 5 s.
fn reopen_delay(attempt: u32) -> Duration {
    REOPEN_INITIAL
        .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1).min(16)))
        .min(REOPEN_MAX)
}

/// A reopen in progress, and the backoff between attempts.
#[derive(Default)]
struct Reopening {
    attempt: u32,
    next_at: Option<Instant>,
    pending: Option<JoinHandle<Result<OpenStream>>>,
    reported: bool,
}

pub struct Supervisor {
    /// Dropped (on a blocking thread) at stop, before the final drain.
    input: Option<InputHandle>,
    ring: HeapCons<f32>,
    status: Arc<InputStatus>,
    device_id: String,
    device_name: String,
    /// `None`: no automatic reopening (`autoReopen: false`, or a file).
    reopen: Option<Reopen>,
    reopening: Reopening,
    pub(super) watch: Watch,
    observed: Observed,
    /// The state as this supervisor decided it (the counters only publish it).
    state: DeviceState,
    ended: bool,
    capture_counters: Arc<CaptureCounters>,
    counters: Arc<PipelineCounters>,
    events: Events,
}

impl Supervisor {
    pub fn new(
        opened: OpenStream,
        reopen: Option<Reopen>,
        watch: Watch,
        capture_counters: Arc<CaptureCounters>,
        counters: Arc<PipelineCounters>,
        events: Events,
    ) -> Self {
        Self {
            input: Some(opened.input),
            ring: opened.ring,
            status: opened.status,
            device_id: opened.info.device_id,
            device_name: opened.info.device_name,
            reopen,
            reopening: Reopening::default(),
            watch,
            observed: Observed::default(),
            state: DeviceState::Off,
            ended: false,
            capture_counters,
            counters,
            events,
        }
    }

    /// A supervisor of a bare ring with no input behind it (tests feed the ring).
    #[cfg(test)]
    pub fn on_ring(
        ring: HeapCons<f32>,
        capture_counters: Arc<CaptureCounters>,
        counters: Arc<PipelineCounters>,
        events: Events,
    ) -> Self {
        Self {
            input: None,
            ring,
            status: Arc::default(),
            device_id: "test".into(),
            device_name: "test ring".into(),
            reopen: None,
            reopening: Reopening::default(),
            watch: Watch::default(),
            observed: Observed::default(),
            state: DeviceState::Off,
            ended: false,
            capture_counters,
            counters,
            events,
        }
    }

    pub fn ring(&mut self) -> &mut HeapCons<f32> {
        &mut self.ring
    }

    pub fn count_wakeup(&self) {
        self.counters.wakeups.fetch_add(1, Relaxed);
    }

    /// Frames waiting in the ring.
    pub fn ring_len(&self) -> usize {
        self.ring.occupied_len()
    }

    /// Frames the device delivers at a time: what its input says, else its average callback
    /// so far (0 before the first).
    pub fn frames_per_callback(&self) -> f64 {
        let callbacks = self.capture_counters.callbacks.load(Relaxed);
        if callbacks == 0 {
            return 0.0;
        }
        match self.input.as_ref().and_then(|i| i.frames_per_delivery()) {
            Some(frames) => frames as f64,
            None => self.frames_captured() as f64 / callbacks as f64,
        }
    }

    pub fn frames_captured(&self) -> u64 {
        self.capture_counters.frames_captured.load(Relaxed)
    }

    pub fn device_count(&self) -> DeviceCount {
        DeviceCount {
            captured: self.frames_captured(),
            dropped: self.capture_counters.frames_dropped.load(Relaxed),
        }
    }

    pub fn report_device_clock(&self, ppm: Option<f64>) {
        self.counters.set_device_clock_ppm(ppm.unwrap_or(0.0));
    }

    /// The input ended on its own and its end was handled.
    pub fn has_ended(&self) -> bool {
        self.ended
    }

    pub fn set_state(&mut self, state: DeviceState) {
        if self.state == state {
            return;
        }
        self.state = state;
        self.counters.set_device_state(state);
        self.events.emit(Event::Device(DeviceEvent {
            state,
            id: self.device_id.clone(),
            name: self.device_name.clone(),
        }));
    }

    /// While paused the stream keeps running: its frames are taken from the ring and counted,
    /// not resampled, chunked or sent. Returns the frames discarded.
    pub fn discard_paused(&mut self, now: Instant) -> u64 {
        let n = self.ring.clear();
        self.counters.frames_paused.fetch_add(n as u64, Relaxed);
        if let Some(last) = self.observed.last_paused_tick {
            let ms = now.duration_since(last).as_millis() as u64;
            self.counters.paused_ms.fetch_add(ms, Relaxed);
        }
        self.observed.last_paused_tick = Some(now);
        self.counters.set_paused_tick(crate::time::wall_clock_ms());
        // Silence while paused is not the device's fault.
        self.observed.zeros_since = None;
        n as u64
    }

    /// After a drain of the ring.
    pub fn drained(&mut self, drained: Drained, now: Instant) {
        if self.observed.last_paused_tick.take().is_some() {
            self.counters.set_paused_tick(0.0);
        }
        self.capture_counters
            .ring_fill
            .store(self.ring.occupied_len() as u64, Relaxed);
        if drained.frames > 0 {
            self.watch_zeros(drained.all_zero, now);
        }
    }

    /// Reports what the input reported since the last tick (cpal's stream errors, a file's).
    pub fn report_input_errors(&mut self) {
        if let Some(error) = self.status.take() {
            if matches!(error, Error::DeviceLost(_)) && !self.observed.lost {
                self.observed.lost = true;
                self.set_state(DeviceState::Lost);
            }
            self.events.error(error);
        }
    }

    /// True once, when an input that ends on its own (a file) has ended: the caller drains
    /// and flushes, then calls [`Self::finish_end`].
    pub fn input_just_ended(&self) -> bool {
        !self.ended && self.status.ended.load(Ordering::Acquire)
    }

    pub fn finish_end(&mut self, rate: u32) {
        self.ended = true;
        self.set_state(DeviceState::Ended);
        let frames = self.frames_captured();
        self.events.emit(Event::End(crate::events::InputEnd {
            frames,
            duration_ms: frames as f64 * 1000.0 / rate as f64,
        }));
    }

    /// Pauses or resumes the device itself where the host can (see
    /// [`InputHandle::set_paused`]); returns whether it did. Resuming restarts the stall
    /// watch from `now`.
    pub fn pause_input(&mut self, paused: bool, now: Instant) -> bool {
        if !paused {
            self.observed.last_callbacks = self.capture_counters.callbacks.load(Relaxed);
            self.observed.last_progress = Some(now);
        }
        self.input
            .as_mut()
            .is_some_and(|input| input.set_paused(paused))
    }

    /// See [`InputHandle::is_pumped`].
    pub fn input_is_pumped(&self) -> bool {
        self.input.as_ref().is_some_and(|i| i.is_pumped())
    }

    /// Lets an input that is read rather than called back take in what it received (see
    /// [`InputHandle::pump`]).
    pub fn pump_input(&mut self) {
        if let Some(input) = self.input.as_mut() {
            input.pump();
        }
    }

    /// The stall watchdog: callbacks must keep arriving while the device runs.
    pub fn watch_callbacks(&mut self, now: Instant) {
        let Some(stall_timeout) = self.watch.stall_timeout else {
            return;
        };
        if self.ended || self.observed.lost {
            return;
        }
        let callbacks = self.capture_counters.callbacks.load(Relaxed);
        let last_progress = *self.observed.last_progress.get_or_insert(now);
        if callbacks != self.observed.last_callbacks {
            self.observed.last_callbacks = callbacks;
            self.observed.last_progress = Some(now);
            if self.observed.stalled {
                self.observed.stalled = false;
                self.set_state(DeviceState::Running);
            }
        } else if !self.observed.stalled && now.duration_since(last_progress) >= stall_timeout {
            self.observed.stalled = true;
            self.counters.device_stalls.fetch_add(1, Relaxed);
            self.set_state(DeviceState::Stalled);
            self.events.error(Error::DeviceStalled(format!(
                "{} delivered no audio for {} ms",
                self.device_name,
                stall_timeout.as_millis()
            )));
        }
    }

    /// Notes whether a drained block was all exact zeros, and warns once per run of them.
    fn watch_zeros(&mut self, all_zero: bool, now: Instant) {
        let Some(limit) = self.watch.silence_warn else {
            return;
        };
        if !all_zero {
            self.observed.zeros_since = None;
            self.observed.warned_zeros = false;
            return;
        }
        let since = *self.observed.zeros_since.get_or_insert(now);
        if !self.observed.warned_zeros && now.duration_since(since) >= limit {
            self.observed.warned_zeros = true;
            let warning = Warning::AllZeroInput;
            self.events.emit(Event::Warning(WarningEvent {
                warning,
                message: format!(
                    "{} has delivered only exact zeros for {} ms: is the microphone muted, \
                     unplugged, or is access to it denied?",
                    self.device_name,
                    limit.as_millis()
                ),
            }));
        }
    }

    /// After a loss or stall (with `autoReopen`): opens the device again with backoff, off the
    /// runtime. Returns the new stream once one is open: the caller drains the old ring, then
    /// hands it to [`Self::install`].
    pub fn reopen(&mut self, now: Instant) -> Option<OpenStream> {
        self.reopen.as_ref()?;
        if let Some(pending) = &self.reopening.pending {
            if !pending.is_finished() {
                return None;
            }
            let pending = self.reopening.pending.take()?;
            let result = match futures_util::FutureExt::now_or_never(pending) {
                Some(Ok(result)) => result,
                Some(Err(e)) => Err(Error::Internal(e.to_string())),
                None => Err(Error::Internal("reopen task not finished".into())),
            };
            match result {
                Ok(opened) => return Some(opened),
                Err(e) => {
                    self.counters.device_reopen_failures.fetch_add(1, Relaxed);
                    if !self.reopening.reported {
                        self.reopening.reported = true;
                        self.events
                            .error(e.with_note("reopening the device; will keep trying"));
                    }
                    self.reopening.next_at = Some(now + reopen_delay(self.reopening.attempt));
                }
            }
            return None;
        }
        if !(self.observed.lost || self.observed.stalled) || self.ended {
            return None;
        }
        if self.reopening.next_at.is_some_and(|at| now < at) {
            return None;
        }
        self.reopening.attempt += 1;
        self.set_state(DeviceState::Reopening);
        // The old stream goes first: a device that is still half there may refuse a second open.
        if let Some(old) = self.input.take() {
            drop(tokio::task::spawn_blocking(move || drop(old)));
        }
        // Cloned only here: this runs every tick.
        let reopen = self.reopen.clone()?;
        self.reopening.pending = Some(tokio::task::spawn_blocking(move || reopen()));
        None
    }

    /// Continues on a newly opened stream (the old ring drained).
    pub fn install(&mut self, opened: OpenStream, now: Instant) {
        self.ring = opened.ring;
        self.status = opened.status;
        self.input = Some(opened.input);
        self.device_id = opened.info.device_id;
        self.device_name = opened.info.device_name;
        self.counters.device_reopens.fetch_add(1, Relaxed);
        self.reopening = Reopening::default();
        self.observed = Observed {
            last_callbacks: self.capture_counters.callbacks.load(Relaxed),
            last_progress: Some(now),
            ..Observed::default()
        };
        self.set_state(DeviceState::Running);
    }

    /// Stops the input so that no frame arrives after the final drain. Dropping it joins
    /// cpal's thread (or the file reader): a blocking call, made off the runtime.
    /// Blocking (joins the input's thread): the pipeline's own thread calls it.
    pub fn stop_input(&mut self) {
        drop(self.input.take());
        if let Some(pending) = self.reopening.pending.take() {
            pending.abort(); // a blocking open cannot be interrupted; its result is dropped
        }
    }

    /// The capture is over: `off`, without an event.
    pub fn off(&mut self) {
        self.counters.set_paused_tick(0.0);
        self.state = DeviceState::Off;
        self.counters.set_device_state(DeviceState::Off);
    }
}

#[cfg(test)]
mod reopen_tests {
    use super::*;

    #[test]
    fn reopen_attempts_back_off_from_200_ms_doubling_to_5_s() {
        let ms: Vec<u128> = (1..=7).map(|a| reopen_delay(a).as_millis()).collect();
        assert_eq!(ms, [200, 400, 800, 1600, 3200, 5000, 5000]);
        assert_eq!(reopen_delay(u32::MAX), REOPEN_MAX);
    }
}
