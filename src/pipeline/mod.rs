//! The pipeline: every tick, supervisor (the input) → frontend (ring → resampler → clock) →
//! sinks. It runs on a thread of its own, which sleeps until the sinks' next work is due (see
//! [`sink::Due`]): the system timer is precise to tens of µs there, where tokio's timer has a
//! 1 ms grid, and that precision is what keeps the capture clock's observations close behind
//! the device's callbacks with few wake-ups. The audio callback never signals it.

pub mod clock;
pub mod frontend;
pub mod schedule;
pub mod sink;
pub mod supervisor;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::capture::OpenStream;
use crate::error::{Error, Result};
use crate::events::Events;
use crate::stats::{CaptureCounters, DeviceState, PipelineCounters};
use frontend::Frontend;
use schedule::{Expecting, Probe, SampleWakes, FIRST_CALLBACK_POLL, MIN_SLEEP};
use sink::{Boundary, Due, Sink};
use supervisor::{Reopen, Supervisor, Watch};

/// Requested state, set by the session and read by the pipeline each tick.
pub trait Control: Send + Sync + 'static {
    fn paused(&self) -> bool;
    /// The loop has acted on a change to `paused` (its sinks have seen the boundary).
    fn acknowledge(&self, _paused: bool) {}
    /// Poked when `paused` changes, so the loop acts at once rather than at its next wake-up
    /// (which may be tens of ms away).
    fn changed(&self) -> Option<Arc<Wakeup>> {
        None
    }
}

/// Wakes the pipeline's thread before its timer: a change of `paused`, or stop.
#[derive(Debug, Default)]
pub struct Wakeup {
    poked: Mutex<bool>,
    condvar: Condvar,
}

impl Wakeup {
    pub fn poke(&self) {
        *self.poked.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.condvar.notify_one();
    }

    /// Sleeps until `deadline` or a poke (one that came since the last sleep counts).
    fn sleep_until(&self, deadline: Instant) {
        let poked = self.poked.lock().unwrap_or_else(|p| p.into_inner());
        let timeout = deadline.saturating_duration_since(Instant::now());
        let (mut poked, _) = self
            .condvar
            .wait_timeout_while(poked, timeout, |poked| !*poked)
            .unwrap_or_else(|p| p.into_inner());
        *poked = false;
    }
}

/// What a pipeline runs on.
pub struct PipelineParts {
    /// The opened input; the pipeline owns it from here and stops it at the end.
    pub input: OpenStream,
    /// How to open it again after a loss or stall (`None`: never).
    pub reopen: Option<Reopen>,
    pub watch: Watch,
    /// The longest sleep between ticks; most are shorter (see [`sink::Due`]).
    pub max_sleep: Duration,
    pub sinks: Vec<Box<dyn Sink>>,
    pub control: Arc<dyn Control>,
    pub capture_counters: Arc<CaptureCounters>,
    pub counters: Arc<PipelineCounters>,
    pub events: Events,
}

pub struct Pipeline {
    cancel: Arc<AtomicBool>,
    wakeup: Arc<Wakeup>,
    finished: Option<tokio::sync::oneshot::Receiver<()>>,
}

impl Pipeline {
    /// Stops the input, drains the ring, flushes the resampler and every sink. Returns once
    /// the sinks have had their last block.
    pub async fn stop(mut self) {
        self.cancel();
        if let Some(finished) = self.finished.take() {
            let _ = finished.await;
        }
    }

    fn cancel(&self) {
        self.cancel.store(true, Ordering::Release);
        self.wakeup.poke();
    }
}

impl Drop for Pipeline {
    /// A pipeline dropped without `stop()` still stops, drains and flushes on its own.
    fn drop(&mut self) {
        self.cancel();
    }
}

/// Starts the pipeline on a thread of its own, in the current tokio runtime's context (the
/// supervisor reopens devices on its blocking pool).
pub fn spawn(parts: PipelineParts) -> Result<Pipeline> {
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|e| Error::Internal(format!("the pipeline needs a tokio runtime: {e}")))?;
    let frontend = Frontend::new(parts.input.info.sample_rate)?;
    let supervisor = Supervisor::new(
        parts.input,
        parts.reopen,
        parts.watch,
        parts.capture_counters,
        parts.counters,
        parts.events.clone(),
    );
    let task = Task {
        supervisor,
        frontend,
        sinks: parts.sinks,
        control: parts.control,
        events: parts.events,
        paused: false,
        device_paused: None,
        probe: Probe::default(),
        sample_wakes: SampleWakes::default(),
    };
    task.start(runtime, parts.max_sleep)
}

/// The longest sleep while the device itself is stopped for a pause.
const PAUSED_SLEEP: Duration = Duration::from_secs(1);
/// The longest sleep while paused with a device that runs on: its audio is discarded this
/// often (the ring holds 2 s), and the stall watch looks this often.
const PAUSED_RUNNING_SLEEP: Duration = Duration::from_millis(500);

struct Task {
    supervisor: Supervisor,
    frontend: Frontend,
    sinks: Vec<Box<dyn Sink>>,
    control: Arc<dyn Control>,
    events: Events,
    /// Paused as of the last tick.
    paused: bool,
    /// The device itself is stopped for the pause (not only its audio discarded): its frame
    /// count when it stopped.
    device_paused: Option<u64>,
    probe: Probe,
    sample_wakes: SampleWakes,
}

impl Task {
    fn start(self, runtime: tokio::runtime::Handle, longest: Duration) -> Result<Pipeline> {
        let wakeup = self.control.changed().unwrap_or_default();
        let cancel = Arc::new(AtomicBool::new(false));
        let (done, finished) = tokio::sync::oneshot::channel();
        let (thread_cancel, thread_wakeup) = (cancel.clone(), wakeup.clone());
        std::thread::Builder::new()
            .name("stt-capture-pipe".into())
            .spawn(move || {
                let _context = runtime.enter();
                self.run(longest, &thread_cancel, &thread_wakeup);
                let _ = done.send(());
            })
            .map_err(|e| Error::Internal(format!("cannot start the pipeline thread: {e}")))?;
        Ok(Pipeline {
            cancel,
            wakeup,
            finished: Some(finished),
        })
    }

    fn run(mut self, longest: Duration, cancel: &AtomicBool, wakeup: &Wakeup) {
        self.supervisor.set_state(DeviceState::Running);
        let mut wake = Instant::now();
        while !cancel.load(Ordering::Acquire) {
            wakeup.sleep_until(wake);
            if cancel.load(Ordering::Acquire) {
                break;
            }
            let now = Instant::now();
            self.supervisor.count_wakeup();
            self.tick(now);
            // A stopped device has nothing to watch; pause() and resume() wake the loop.
            let longest = if self.device_paused.is_some() {
                PAUSED_SLEEP
            } else if self.paused {
                PAUSED_RUNNING_SLEEP.max(longest)
            } else if let Some(period) = self.warming_up() {
                period
            } else {
                longest
            };
            wake = self.next_wake(Instant::now(), longest);
        }
        self.supervisor.stop_input();
        if !self.supervisor.has_ended() {
            if self.paused {
                self.discard_paused(Instant::now());
            }
            self.drain(true);
            self.boundary(Boundary::Stop);
        }
        self.supervisor.off();
    }

    fn tick(&mut self, now: Instant) {
        let paused = self.control.paused();
        if paused && !self.paused {
            self.boundary(Boundary::Pause);
        }
        if paused && !self.paused {
            self.pause_device(now);
        }
        if self.paused && !paused {
            // What arrived since the last paused tick was captured while paused.
            self.discard_paused(now);
            if self.device_paused.take().is_some() {
                self.frontend.rebase_clock(self.supervisor.device_count());
                self.probe = Probe::default();
            }
            self.supervisor.pause_input(false, now);
        }
        if paused != self.paused {
            self.control.acknowledge(paused);
        }
        self.paused = paused;
        if paused {
            self.discard_paused(now);
            self.check_device_paused();
        } else {
            let drained = self.drain(false);
            self.supervisor.drained(drained, now);
            self.probe.poll(
                now,
                self.supervisor.frames_captured(),
                self.sample_wakes.scattered(),
                self.clock_younger_than(schedule::FIRST_SECONDS),
            );
            if let Some(callback) = self.callback_period() {
                self.sample_wakes
                    .learn(self.frontend.samples_out(), callback);
            }
        }
        self.supervisor
            .report_device_clock(self.frontend.device_clock_ppm());
        self.supervisor.report_input_errors();
        if self.supervisor.input_just_ended() {
            // Frames pushed before the end was flagged may have arrived after this drain.
            self.drain(true);
            self.boundary(Boundary::End);
            self.supervisor.finish_end(self.frontend.rate());
        }
        if self.device_paused.is_none() {
            self.supervisor.watch_callbacks(now);
        }
        if let Some(opened) = self.supervisor.reopen(now) {
            self.swap(opened, now);
        }
        for sink in &mut self.sinks {
            sink.tick(now, paused);
        }
    }

    /// In a stream's first seconds, the device's callback period: the pipeline then looks
    /// after every callback, so that the capture clock's first seconds, from which its slope is
    /// measured for the next half minute, hold observations close behind callbacks even when a
    /// loaded machine wakes it late (a few of hundreds are prompt; a few of a dozen may not
    /// be). A few hundred wake-ups once per stream.
    fn warming_up(&self) -> Option<Duration> {
        self.clock_younger_than(schedule::WARM_UP_SECONDS)
            .then(|| self.callback_period())
            .flatten()
    }

    /// The capture clock holds fewer than `seconds` of observations, for an input that calls
    /// back. Never for a pumped input (PulseAudio): its deliveries are the server's fragments,
    /// not the device's, and each extra look costs a read of the server.
    fn clock_younger_than(&self, seconds: usize) -> bool {
        self.frontend.clock_seconds() < seconds && !self.supervisor.input_is_pumped()
    }

    /// Stops the device for a pause where it can stop (see
    /// [`crate::capture::InputHandle::set_paused`]).
    fn pause_device(&mut self, now: Instant) {
        self.device_paused = self
            .supervisor
            .pause_input(true, now)
            .then(|| self.supervisor.frames_captured());
    }

    /// A device that said it paused but delivers on (ALSA's `file` plugin does) is treated
    /// as one that cannot pause: watched, and its audio discarded as often as ever. Allowed:
    /// what was on its way when it stopped, a few callbacks and 50 ms.
    fn check_device_paused(&mut self) {
        let Some(at) = self.device_paused else {
            return;
        };
        let grace =
            self.supervisor.frames_per_callback() as u64 * 4 + self.frontend.rate() as u64 / 20;
        if self.supervisor.frames_captured() > at + grace {
            self.device_paused = None;
        }
    }

    /// The device's average callback period so far; `None` before its first callback.
    fn callback_period(&self) -> Option<Duration> {
        let frames = self.supervisor.frames_per_callback();
        (frames > 0.0).then(|| Duration::from_secs_f64(frames / self.frontend.rate().max(1) as f64))
    }

    /// When to tick next: when the earliest sink's work is due, never later than `longest`
    /// (the supervisor's watch and a paused capture need that much), or for the clock's
    /// probe (see [`schedule`]).
    fn next_wake(&mut self, now: Instant, longest: Duration) -> Instant {
        let mut wake = now + longest;
        let mut expecting = None;
        for sink in &self.sinks {
            match sink.due() {
                Due::Idle => {}
                Due::At(at) => wake = wake.min(at),
                Due::AfterSamples(_) if self.paused => {}
                Due::AfterSamples(samples) => {
                    let (at, predicted) = self.samples_due(now, samples, longest);
                    if at < wake {
                        wake = at;
                        expecting = Some(Expecting {
                            samples: self.frontend.samples_out() + samples,
                            predicted,
                        });
                    }
                }
            }
        }
        let wake = wake.max(now + MIN_SLEEP);
        if self.paused {
            self.probe.cancel();
        } else if let Some(at) = self.probe_wake(now).filter(|&at| at < wake) {
            self.sample_wakes.expect(None);
            return at;
        }
        self.sample_wakes.expect(expecting);
        wake
    }

    /// When `samples` more 16 kHz samples will have reached the sinks, and whether that is
    /// the clock's prediction (rather than a retry). The audio thread is never asked: frames
    /// come a callback at a time, and the one that completes the need is delivered when the
    /// device has captured its last frame, by the clock.
    fn samples_due(&self, now: Instant, samples: u64, longest: Duration) -> (Instant, bool) {
        let Some(callback) = self.callback_period() else {
            return (now + FIRST_CALLBACK_POLL.min(longest), false);
        };
        let needed = self.frontend.frames_for_output(samples.max(1));
        let held = self.supervisor.ring_len() as u64;
        if needed <= held {
            return (now, false);
        }
        let callback_frames = self.supervisor.frames_per_callback();
        let callbacks = ((needed - held) as f64 / callback_frames).ceil();
        let last = self.supervisor.frames_captured() + (callbacks * callback_frames).round() as u64;
        let delivered = self.frontend.instant_of(last);
        self.sample_wakes.due(now, delivered, callback, longest)
    }

    /// When the running probe polls next, or a new one starts (see [`Probe`]).
    fn probe_wake(&mut self, now: Instant) -> Option<Instant> {
        let callback_frames = self.supervisor.frames_per_callback().round().max(1.0) as u64;
        let captured = self.supervisor.frames_captured();
        let next_callback = self.frontend.instant_of(captured + callback_frames);
        self.probe.wake(now, captured, next_callback)
    }

    fn drain(&mut self, flush: bool) -> frontend::Drained {
        self.supervisor.pump_input();
        let device = self.supervisor.device_count();
        let now = Instant::now();
        let ring = self.supervisor.ring();
        self.frontend
            .drain(ring, device, now, flush, &mut self.sinks)
    }

    /// A device that runs on while paused (only PulseAudio's is stopped): its clock is still
    /// observed, and the frames thrown away leave a gap between the 16 kHz samples before and
    /// after the pause.
    fn discard_paused(&mut self, now: Instant) {
        self.supervisor.pump_input();
        let device = self.supervisor.device_count();
        // Read after the count: the count's frames were all captured by then.
        self.frontend.observe(device.captured, Instant::now());
        let discarded = self.supervisor.discard_paused(now);
        self.frontend.skip(discarded);
    }

    fn boundary(&mut self, boundary: Boundary) {
        for sink in &mut self.sinks {
            sink.boundary(boundary);
        }
    }

    /// Continues the capture on a newly opened stream, in the same 16 kHz sequence: what the
    /// old ring still held goes first, and a new rate gets a new resampler (the old one's
    /// tail flushed).
    fn swap(&mut self, opened: OpenStream, now: Instant) {
        let rate = opened.info.sample_rate;
        self.drain(rate != self.frontend.rate());
        let device = self.supervisor.device_count();
        if let Err(e) = self.frontend.retarget(rate, device) {
            self.events.error(e);
            return;
        }
        self.supervisor.install(opened, now);
        if self.paused {
            self.pause_device(now);
        }
    }
}

#[cfg(test)]
mod tests;
