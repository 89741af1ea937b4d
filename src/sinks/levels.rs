//! Level and spectrum readings at `levelHz`. Lossy by design: the binding delivers them
//! latest-wins.

use std::time::{Duration, Instant};

use super::SinkContext;
use crate::dsp::levels::{Level, LevelMeter, DBFS_FLOOR};
use crate::dsp::spectrum::Spectrum;
use crate::error::Result;
use crate::events::{Event, EventKind, Events, LevelReading};
use crate::options::parse::int;
use crate::options::Reader;
use crate::pipeline::sink::{Block, Boundary, Due, Sink};
use crate::time::wall_clock_ms;

/// `levelHz` and `spectrumBands`.
#[derive(Debug, Clone)]
pub struct LevelOptions {
    pub interval: Duration,
    /// Spectrum bands per reading; 0 for none.
    pub spectrum_bands: usize,
}

impl LevelOptions {
    pub fn parse(options: &Reader<'_>) -> Result<Self> {
        Ok(Self {
            interval: Duration::from_secs(1) / int(options, "levelHz")?.max(1),
            spectrum_bands: int(options, "spectrumBands")? as usize,
        })
    }
}

pub struct LevelSink {
    meter: LevelMeter,
    spectrum: Option<Spectrum>,
    interval: Duration,
    next_at: Option<Instant>,
    /// Wall-clock ms of the end of the last block.
    last_at_ms: f64,
    events: Events,
}

impl LevelSink {
    pub fn new(options: &LevelOptions, context: &SinkContext) -> Self {
        let bands = options.spectrum_bands;
        Self {
            meter: LevelMeter::default(),
            spectrum: (bands > 0).then(|| Spectrum::new(bands)),
            interval: options.interval,
            next_at: None,
            last_at_ms: 0.0,
            events: context.events.clone(),
        }
    }

    /// Sends the level since the previous call, if any audio arrived.
    fn emit_level(&mut self) {
        let Some(level) = self.meter.take() else {
            return;
        };
        if !self.events.wants(EventKind::Level) {
            return;
        }
        let bands = self.spectrum.as_mut().map(|spectrum| {
            let mut bands = Vec::with_capacity(spectrum.band_count());
            spectrum.compute(&mut bands);
            bands
        });
        self.events.emit(Event::Level(LevelReading {
            level,
            bands,
            at_ms: self.last_at_ms,
        }));
    }

    /// A paused capture reports silence at the level rate.
    fn emit_silence(&mut self) {
        self.meter.take();
        if !self.events.wants(EventKind::Level) {
            return;
        }
        let bands = self
            .spectrum
            .as_ref()
            .map(|s| vec![DBFS_FLOOR as f32; s.band_count()]);
        self.events.emit(Event::Level(LevelReading {
            level: Level::silence(),
            bands,
            at_ms: wall_clock_ms(),
        }));
    }
}

impl Sink for LevelSink {
    fn push(&mut self, block: &Block<'_>) {
        self.meter.push(block.samples);
        if let Some(spectrum) = self.spectrum.as_mut() {
            spectrum.push(block.samples);
        }
        if block.clipped {
            self.meter.mark_clipped();
        }
        self.last_at_ms = block.timeline.time_of(block.end_sample());
    }

    fn tick(&mut self, now: Instant, paused: bool) {
        let next_at = self.next_at.get_or_insert(now + self.interval);
        if now < *next_at {
            return;
        }
        // On schedule on average; after a stall, start over rather than burst.
        *next_at += self.interval;
        if *next_at <= now {
            *next_at = now + self.interval;
        }
        if paused {
            self.emit_silence();
        } else {
            self.emit_level();
        }
    }

    /// Only a reading someone listens to is worth a wake-up.
    fn due(&self) -> Due {
        match self.next_at {
            Some(at) if self.events.wants(EventKind::Level) => Due::At(at),
            _ => Due::Idle,
        }
    }

    fn boundary(&mut self, boundary: Boundary) {
        if boundary != Boundary::Pause {
            self.emit_level();
        }
    }
}
