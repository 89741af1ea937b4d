//! The device's clock against the system's: maps device frames, and through them positions
//! in the 16 kHz stream, to wall-clock time.
//!
//! Each drain observes "the first `F` frames of this stream were captured no later than now".
//! Scheduling only ever makes such an observation late, never early, so the device's clock is
//! the line under the observations: offset *and* rate, since real devices run tens to hundreds
//! of ppm off their nominal rate (a line of nominal slope, as a plain minimum gives, falls a
//! further 0.36 s behind a 100 ppm slow device every hour). The observations are reduced to the
//! earliest one per second, and the line is fitted under those of the last [`WINDOW`] seconds
//! (see [`fit_under`]); until they span [`MIN_FIT_SECONDS`] it has the nominal rate. New observations
//! below the line move it down at once.

use std::time::{Duration, Instant};

use crate::dsp::TARGET_RATE;
use crate::time::wall_clock_ms;

/// One reduced observation per this much monotonic time.
const BUCKET_MS: f64 = 1000.0;
/// Seconds of reduced observations the line is fitted to.
pub const WINDOW: usize = 32;
/// A second whose earliest observation lies this far above the line means the device lost
/// time (an overrun, a host that restarted its stream): the fit starts again from it.
const JUMP_MS: f64 = 20.0;
/// The shortest span of device time a fitted slope is measured over. Over one second, 2 ms
/// of lateness in one observation (a loaded machine) is a 2000 ppm slope, which stretches a
/// 3 s utterance's timestamps by 6 ms; over four it is 500 ppm, and late seconds are rarely
/// the earliest of a third. Until then the line keeps its slope (nominal at first): real
/// devices are within a few hundred ppm, a few tenths of a ms over those seconds.
const MIN_FIT_SECONDS: f64 = 4.0;

/// An observation in the fit's coordinates: `x` frames since the stream opened, `y` the
/// monotonic ms by which frame `x` was captured, less `x` at the nominal rate.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Point {
    x: f64,
    y: f64,
}

impl Point {
    /// The intercept of the line of `slope` through this point: of two points, the one with
    /// the smaller is the earlier along that slope.
    fn intercept_at(self, slope: f64) -> f64 {
        self.y - slope * self.x
    }
}

/// `y = intercept + slope · x`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Line {
    intercept: f64,
    slope: f64,
}

impl Line {
    fn at(&self, x: f64) -> f64 {
        self.intercept + self.slope * x
    }

    /// The same slope, moved down (never up) to pass no later than `p`.
    fn lowered_to(self, p: Point) -> Self {
        let intercept = self.intercept.min(p.intercept_at(self.slope));
        Self { intercept, ..self }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    start_ms: f64,
    earliest: Point,
}

/// Wall-clock time of every 16 kHz sample index, as the clock estimates it now.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timeline {
    index0: u64,
    /// Wall-clock ms (Unix epoch) of sample `index0`.
    ms0: f64,
    ms_per_sample: f64,
}

impl Timeline {
    /// Wall-clock ms (Unix epoch) of the 16 kHz sample `index`.
    pub fn time_of(&self, index: u64) -> f64 {
        self.ms0 + (index as f64 - self.index0 as f64) * self.ms_per_sample
    }
}

/// Frames of one stream against the monotonic clock (see the module docs).
#[derive(Debug, Clone)]
pub struct CaptureClock {
    rate: f64,
    nominal_ms_per_frame: f64,
    origin: Instant,
    /// Unix-epoch ms at `origin`: refreshed every second, so a stepped system clock moves the
    /// timestamps with it.
    epoch_ms_at_origin: f64,
    /// The device's frame count when this stream opened.
    frames_base: u64,
    last_frames: u64,
    bucket: Option<Bucket>,
    points: [Point; WINDOW],
    /// Points held, the oldest at `points[0]`.
    len: usize,
    line: Option<Line>,
    /// The line's slope came from a fit (over four seconds or more), not the nominal rate.
    fitted: bool,
}

impl CaptureClock {
    /// A stream at the nominal `rate` whose frame count starts at `frames_base`.
    pub fn new(rate: u32, frames_base: u64) -> Self {
        let origin = Instant::now();
        Self {
            rate: rate as f64,
            nominal_ms_per_frame: 1000.0 / rate as f64,
            origin,
            epoch_ms_at_origin: wall_clock_ms(),
            frames_base,
            last_frames: 0,
            bucket: None,
            points: [Point::default(); WINDOW],
            len: 0,
            line: None,
            fitted: false,
        }
    }

    /// `frames_captured`: the device's frame count, read at `now`.
    pub fn observe(&mut self, frames_captured: u64, now: Instant) {
        let frames = frames_captured.saturating_sub(self.frames_base);
        // No new frame: an observation later than the last one, about the same frame.
        if frames == 0 || frames == self.last_frames {
            return;
        }
        self.last_frames = frames;
        let t = now.saturating_duration_since(self.origin).as_secs_f64() * 1000.0;
        let x = frames as f64;
        let p = Point {
            x,
            y: t - x * self.nominal_ms_per_frame,
        };
        self.line = Some(match self.line {
            Some(line) => line.lowered_to(p),
            None => Line {
                intercept: p.y,
                slope: 0.0,
            },
        });
        let slope = self.slope();
        match &mut self.bucket {
            Some(b) if t - b.start_ms < BUCKET_MS => {
                if p.intercept_at(slope) < b.earliest.intercept_at(slope) {
                    b.earliest = p;
                }
            }
            Some(b) => {
                let earliest = b.earliest;
                self.bucket = Some(Bucket {
                    start_ms: t,
                    earliest: p,
                });
                self.close_bucket(earliest);
                self.line = self.line.map(|l| l.lowered_to(p));
                self.epoch_ms_at_origin =
                    wall_clock_ms() - self.origin.elapsed().as_secs_f64() * 1000.0;
            }
            None => {
                self.bucket = Some(Bucket {
                    start_ms: t,
                    earliest: p,
                })
            }
        }
    }

    fn slope(&self) -> f64 {
        self.line.map_or(0.0, |l| l.slope)
    }

    fn close_bucket(&mut self, p: Point) {
        let line = self.line.expect("a bucket holds an observation");
        if p.y - line.at(p.x) > JUMP_MS {
            self.len = 0;
            self.line = Some(Line {
                intercept: p.intercept_at(line.slope),
                slope: line.slope,
            });
        }
        if self.len == WINDOW {
            self.points.copy_within(1.., 0);
            self.len -= 1;
        }
        self.points[self.len] = p;
        self.len += 1;
        let min_span = MIN_FIT_SECONDS * self.rate;
        if let Some((fit, measured)) = fit_under(&self.points[..self.len], line.slope, min_span) {
            self.line = Some(fit);
            self.fitted |= measured;
        }
    }

    /// Monotonic ms (since `origin`) at which frame `x` of this stream was captured.
    fn mono_ms_of_frame(&self, line: Line, x: f64) -> f64 {
        x * self.nominal_ms_per_frame + line.at(x)
    }

    /// When the device captures (or captured) frame `frames_captured` of its count, by the
    /// line: it is delivered at or after this, with the callback that holds it. `None` before
    /// the first observation.
    pub fn instant_of(&self, frames_captured: u64) -> Option<Instant> {
        let line = self.line?;
        let x = frames_captured.saturating_sub(self.frames_base) as f64;
        let ms = self.mono_ms_of_frame(line, x).max(0.0);
        Some(self.origin + Duration::from_secs_f64(ms / 1000.0))
    }

    /// Seconds of observations the fit holds (up to its window's 32).
    pub fn seconds(&self) -> usize {
        self.len
    }

    /// The device's rate error against the system clock in ppm (positive: the device runs
    /// fast), once a fit spans [`MIN_FIT_SECONDS`].
    pub fn rate_error_ppm(&self) -> Option<f64> {
        let line = self.line.filter(|_| self.fitted)?;
        let ms_per_frame = self.nominal_ms_per_frame + line.slope;
        Some((self.nominal_ms_per_frame / ms_per_frame - 1.0) * 1e6)
    }

    /// The timeline of 16 kHz samples from `index0` on, where sample `index0` is frame
    /// `frame0` of this stream. Before any observation: `index0` is now.
    pub fn timeline(&self, index0: u64, frame0: f64) -> Timeline {
        let Some(line) = self.line else {
            return Timeline {
                index0,
                ms0: wall_clock_ms(),
                ms_per_sample: 1000.0 / TARGET_RATE as f64,
            };
        };
        let frames_per_sample = self.rate / TARGET_RATE as f64;
        Timeline {
            index0,
            ms0: self.epoch_ms_at_origin + self.mono_ms_of_frame(line, frame0),
            ms_per_sample: (self.nominal_ms_per_frame + line.slope) * frames_per_sample,
        }
    }
}

/// The line under the earliest points of the window's first and last thirds: its slope is
/// measured over at least a third of the window (a short baseline turns tens of µs of
/// lateness into a slope error that, carried to the present, costs ms), and it passes under
/// every point of the last third, the present's neighbours. Late points (a loaded second)
/// are never the earliest of their third. `points` in increasing `x`; `slope` the current
/// estimate, which says what "earliest" means along a sloped line, and the slope kept while
/// the two earliest points lie less than `min_span` frames apart (the `bool`: whether the
/// slope was measured).
fn fit_under(points: &[Point], slope: f64, min_span: f64) -> Option<(Line, bool)> {
    let earliest = |ps: &[Point], slope: f64| {
        ps.iter()
            .copied()
            .min_by(|a, b| a.intercept_at(slope).total_cmp(&b.intercept_at(slope)))
            .expect("a third holds a point")
    };
    let under_last = |last: &[Point], slope: f64| Line {
        intercept: earliest(last, slope).intercept_at(slope),
        slope,
    };
    if points.len() < 2 {
        return None;
    }
    let third = (points.len() / 3).max(1);
    let (first, last) = (&points[..third], &points[points.len() - third..]);
    // Twice: which points are earliest depends on the slope.
    let mut measured = slope;
    for _ in 0..2 {
        let (a, b) = (earliest(first, measured), earliest(last, measured));
        if b.x - a.x < min_span {
            return Some((under_last(last, slope), false));
        }
        measured = (b.y - a.y) / (b.x - a.x);
    }
    Some((under_last(last, measured), true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A device at `rate · (1 + ppm/1e6)` delivering 5 ms periods, observed as the pipeline
    /// does (every 5.2 ms, on the timer's 1 ms grid) with a lateness from `late`: returns the
    /// worst timestamp error (ms) after `settle_s`, and the final ppm estimate.
    fn run(ppm: f64, seconds: f64, settle_s: f64, late: impl Fn(u64) -> f64) -> (f64, f64) {
        let rate = 48_000u32;
        let true_rate = rate as f64 * (1.0 + ppm / 1e6);
        let mut clock = CaptureClock::new(rate, 0);
        let origin = clock.origin;
        let mut worst: f64 = 0.0;
        let period = 240u64;
        // The device's first boundary is at an arbitrary phase of the timer's grid.
        let phase_ms = 0.37;
        let ticks = (seconds * 1000.0 / 5.2) as u64;
        for k in 1..ticks {
            let t = (k as f64 * 5.2).ceil() + late(k);
            // Whole periods captured by t.
            let frames = (((t - phase_ms) / 1000.0 * true_rate) as u64 / period) * period;
            let now = origin + Duration::from_secs_f64(t / 1000.0);
            clock.observe(frames, now);
            if t / 1000.0 > settle_s {
                let line = clock.line.unwrap();
                let estimated = clock.mono_ms_of_frame(line, frames as f64);
                let truth = phase_ms + frames as f64 / true_rate * 1000.0;
                worst = worst.max((estimated - truth).abs());
            }
        }
        (worst, clock.rate_error_ppm().unwrap_or(0.0))
    }

    /// Deterministic wake-up lateness: mostly tenths of a ms, now and then tens of ms.
    fn jitter(k: u64) -> f64 {
        let h = k.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
        let u = (h % 1000) as f64 / 1000.0;
        if h.is_multiple_of(97) {
            30.0 * u
        } else {
            0.3 * u
        }
    }

    #[test]
    fn follows_a_device_up_to_1000_ppm_off_within_2_ms() {
        for ppm in [-1000.0, -500.0, -100.0, 0.0, 100.0, 500.0, 1000.0] {
            // From 9 s on: until the fit spans four seconds the slope is nominal, and a device
            // 1000 ppm slow drifts 1 ms a second from the last seconds' earliest observation.
            let (worst, estimated) = run(ppm, 120.0, 9.0, jitter);
            assert!(worst < 2.0, "{ppm} ppm: worst error {worst:.3} ms");
            assert!(
                (estimated - ppm).abs() < 20.0,
                "{ppm} ppm estimated as {estimated:.1}"
            );
        }
    }

    #[test]
    fn a_plain_minimum_would_fall_behind_a_slow_device() {
        // The check above can fail: the nominal line under all observations (the clock before
        // this one) is 120 ms behind a −1000 ppm device after two minutes.
        let rate = 48_000.0;
        let true_rate = rate * (1.0 - 1000.0 / 1e6);
        let frames = (120.0 * true_rate) as u64;
        let nominal_ms = frames as f64 / rate * 1000.0;
        let truth = frames as f64 / true_rate * 1000.0;
        assert!(truth - nominal_ms > 100.0);
    }

    #[test]
    fn late_seconds_do_not_bend_the_line() {
        // Whole seconds where every observation is 10 ms late (a loaded machine).
        let (worst, estimated) = run(300.0, 90.0, 5.0, |k| {
            if (k / 192) % 7 == 3 {
                10.0 + jitter(k)
            } else {
                jitter(k)
            }
        });
        assert!(worst < 2.0, "worst error {worst:.3} ms");
        assert!(
            (estimated - 300.0).abs() < 20.0,
            "estimated {estimated:.1} ppm"
        );
    }

    #[test]
    fn a_late_second_at_the_start_does_not_tilt_the_line() {
        // An exact device; the first observations of its second second all come 3 ms late.
        // A slope measured over that one second would be 3000 ppm off, and stretch a 3 s
        // utterance's timestamps by 9 ms.
        let mut clock = CaptureClock::new(48_000, 0);
        let origin = clock.origin;
        for k in 1..4000u64 {
            let t = k as f64 * 5.0;
            let late = if (1000.0..2000.0).contains(&t) {
                3.0
            } else {
                0.0
            };
            clock.observe(
                k * 240,
                origin + Duration::from_secs_f64((t + late) / 1000.0),
            );
            let ppm = clock.rate_error_ppm().unwrap_or(0.0);
            assert!(ppm.abs() < 100.0, "{ppm:.0} ppm at {t} ms");
        }
    }

    #[test]
    fn a_device_that_lost_time_is_followed_from_the_next_second() {
        let rate = 48_000u32;
        let mut clock = CaptureClock::new(rate, 0);
        let origin = clock.origin;
        let at = |ms: f64| origin + Duration::from_secs_f64(ms / 1000.0);
        // 10 s exact, then the device loses 500 ms (its frames stop while time goes on).
        for k in 1..2000u64 {
            clock.observe(k * 240, at(k as f64 * 5.0));
        }
        for k in 2100..4000u64 {
            clock.observe((k - 100) * 240, at(k as f64 * 5.0));
        }
        let frames = 3899.0 * 240.0;
        let estimated = clock.mono_ms_of_frame(clock.line.unwrap(), frames);
        assert!((estimated - 3999.0 * 5.0).abs() < 1.0, "{estimated}");
    }

    #[test]
    fn timeline_maps_16khz_indices_through_the_device_frames() {
        let mut clock = CaptureClock::new(48_000, 1000);
        let now = Instant::now();
        clock.observe(1000 + 4800, now);
        // Sample 160 of a segment starting at index 0, frame 0 is frame 480: 90 ms before now.
        let timeline = clock.timeline(0, 0.0);
        let expected = wall_clock_ms() - 90.0;
        assert!((timeline.time_of(160) - expected).abs() < 5.0);
        assert!((timeline.time_of(1600) - timeline.time_of(0) - 100.0).abs() < 1e-9);
        assert_eq!(
            clock.rate_error_ppm(),
            None,
            "not fitted before four seconds"
        );
    }
}
