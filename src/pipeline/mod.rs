//! The pipeline task: every tick, supervisor (the input) → frontend (ring → resampler →
//! clock) → sinks. It wakes on its own timer; the audio callback never signals it.

pub mod clock;
pub mod frontend;
pub mod sink;
pub mod supervisor;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::capture::OpenStream;
use crate::error::Result;
use crate::events::Events;
use crate::stats::{CaptureCounters, DeviceState, PipelineCounters};
use frontend::Frontend;
use sink::{Boundary, Sink};
use supervisor::{Reopen, Supervisor, Watch};

/// Requested state, set by the session and read by the pipeline each tick.
pub trait Control: Send + Sync + 'static {
    fn paused(&self) -> bool;
    /// The loop has acted on a change to `paused` (its sinks have seen the boundary).
    fn acknowledge(&self, _paused: bool) {}
}

/// What a pipeline runs on.
pub struct PipelineParts {
    /// The opened input; the pipeline owns it from here and stops it at the end.
    pub input: OpenStream,
    /// How to open it again after a loss or stall (`None`: never).
    pub reopen: Option<Reopen>,
    pub watch: Watch,
    pub tick: Duration,
    pub sinks: Vec<Box<dyn Sink>>,
    pub control: Arc<dyn Control>,
    pub capture_counters: Arc<CaptureCounters>,
    pub counters: Arc<PipelineCounters>,
    pub events: Events,
}

pub struct Pipeline {
    cancel: CancellationToken,
    handle: JoinHandle<()>,
}

impl Pipeline {
    /// Stops the input, drains the ring, flushes the resampler and every sink. Returns once
    /// the sinks have had their last block.
    pub async fn stop(mut self) {
        self.cancel.cancel();
        let _ = (&mut self.handle).await;
    }
}

impl Drop for Pipeline {
    /// A pipeline dropped without `stop()` still stops, drains and flushes on its own.
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Spawns the pipeline on the current tokio runtime.
pub fn spawn(parts: PipelineParts) -> Result<Pipeline> {
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
    };
    let cancel = CancellationToken::new();
    let handle = tokio::spawn(task.run(parts.tick, cancel.clone()));
    Ok(Pipeline { cancel, handle })
}

struct Task {
    supervisor: Supervisor,
    frontend: Frontend,
    sinks: Vec<Box<dyn Sink>>,
    control: Arc<dyn Control>,
    events: Events,
    /// Paused as of the last tick.
    paused: bool,
}

impl Task {
    async fn run(mut self, tick: Duration, cancel: CancellationToken) {
        self.supervisor.set_state(DeviceState::Running);
        let mut ticker = tokio::time::interval(tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = ticker.tick() => {}
            }
            self.tick(Instant::now());
        }
        self.supervisor.stop_input().await;
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
        if paused != self.paused {
            self.control.acknowledge(paused);
        }
        self.paused = paused;
        if paused {
            self.discard_paused(now);
        } else {
            let drained = self.drain(false);
            self.supervisor.drained(drained, now);
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
        self.supervisor.watch_callbacks(now);
        if let Some(opened) = self.supervisor.reopen(now) {
            self.swap(opened, now);
        }
        for sink in &mut self.sinks {
            sink.tick(now, paused);
        }
    }

    fn drain(&mut self, flush: bool) -> frontend::Drained {
        let device = self.supervisor.device_count();
        let now = Instant::now();
        let ring = self.supervisor.ring();
        self.frontend
            .drain(ring, device, now, flush, &mut self.sinks)
    }

    /// The device runs on while paused: its clock is still observed, and the frames thrown
    /// away leave a gap between the 16 kHz samples before and after the pause.
    fn discard_paused(&mut self, now: Instant) {
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
    }
}

#[cfg(test)]
mod tests;
