//! When the pipeline wakes. Its cost follows its wake-ups, and the audio thread never signals
//! it, so it predicts: a sink waiting for samples is due when the capture clock says the
//! callback that completes them arrives, plus a margin learnt from the wakes that came too
//! early ([`SampleWakes`]); and a few polls every couple of seconds keep the clock's line
//! close behind the callbacks ([`Probe`]). Pure: times and counts in, times out.

use std::time::{Duration, Instant};

/// The shortest sleep between ticks.
pub const MIN_SLEEP: Duration = Duration::from_millis(1);
/// How often a device that has not delivered its first callback yet is looked at.
pub const FIRST_CALLBACK_POLL: Duration = Duration::from_millis(5);
/// How often the capture clock is given an observation taken close behind a callback. The
/// clock fits its line to the earliest observations of the first and last thirds of its
/// 32 s window, so a good one every few seconds is enough. A device whose deliveries scatter
/// by more than a probe's window (the margin learnt says so) is probed seldom: its probes
/// mostly give up, and its line cannot be sharper than its scatter anyway.
const PROBE_EVERY: Duration = Duration::from_secs(2);
const PROBE_EVERY_SCATTERED: Duration = Duration::from_secs(8);
/// While the clock's fit is young its thirds hold a few seconds each, and a loaded moment
/// can leave one without an observation close behind a callback: a probe every second
/// then, a dozen more probes once per stream.
const PROBE_EVERY_AT_FIRST: Duration = Duration::from_secs(1);
/// Seconds of observations the clock holds before probes come every [`PROBE_EVERY`].
pub const FIRST_SECONDS: usize = 12;
/// Seconds of observations the clock holds before the pipeline stops looking after every
/// callback (see `Task::warming_up`).
pub const WARM_UP_SECONDS: usize = 2;
/// A probe's polls, this far apart: the lateness of its observation is at most this (plus
/// the scheduler's).
const PROBE_STEP: Duration = Duration::from_micros(150);
/// How early a probe starts before the callback the clock predicts, at least and at most.
const PROBE_MIN_LEAD: Duration = Duration::from_micros(500);
const PROBE_MAX_LEAD: Duration = Duration::from_millis(20);
/// How long after the predicted time a probe waits for its callback. One that comes later
/// came late (a loaded moment): its observation would not be its second's earliest anyway.
const PROBE_WINDOW: Duration = Duration::from_millis(1);
/// The most polls one probe makes: with a long lead, they are spaced wider than
/// [`PROBE_STEP`].
const PROBE_POLLS: u32 = 16;
/// The most probes in a row started at once because the previous one's callback came before
/// its first poll; then the usual interval, so a device the line cannot follow costs a few
/// polls every few seconds, not every callback.
const PROBE_EARLY_IN_ROW: u32 = 6;
/// The most probes in a row started at once because the previous one gave up (its callback
/// came late: a loaded moment, which is when the clock most needs a good observation).
const PROBE_FAILED_IN_ROW: u32 = 3;
/// Added to the clock's prediction of when a callback delivers what a sink waits for: the
/// line is the earliest a callback comes, and most come a little later. Learnt: a wake
/// that finds its samples missing adds [`MARGIN_UP`] (up to two callbacks), a predicted one
/// that finds them takes off [`MARGIN_DOWN`], so about one wake in eleven is early and
/// retries.
const MARGIN_START: Duration = Duration::from_micros(500);
const MARGIN_UP: Duration = Duration::from_micros(500);
const MARGIN_DOWN: Duration = Duration::from_micros(50);

/// Wakes for samples a sink waits for (see [`MARGIN_START`]).
#[derive(Debug)]
pub struct SampleWakes {
    margin: Duration,
    /// The tick now due is for the sinks to have this many 16 kHz samples.
    expecting: Option<Expecting>,
    /// Wakes in a row that found the samples missing.
    misses: u32,
}

/// What the tick now due was planned for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expecting {
    pub samples: u64,
    /// The clock's prediction (plus the margin), not a retry after an early wake.
    pub predicted: bool,
}

impl Default for SampleWakes {
    fn default() -> Self {
        Self {
            margin: MARGIN_START,
            expecting: None,
            misses: 0,
        }
    }
}

impl SampleWakes {
    /// When to look for samples whose completing callback the clock puts at `delivered`
    /// (`None`: no clock yet), for a device whose callbacks come every `callback`: then,
    /// plus the margin; or, when that has passed (the callback is late), a retry after a
    /// quarter of a callback, doubling with each miss in a row up to a whole one (a device
    /// that delivers in bursts). The bool: whether it is the prediction, not a retry.
    pub fn due(
        &self,
        now: Instant,
        delivered: Option<Instant>,
        callback: Duration,
        longest: Duration,
    ) -> (Instant, bool) {
        match delivered.map(|at| at + self.margin) {
            Some(at) if at > now => (at, true),
            _ => {
                let retry = callback / 4 * (1 << self.misses.saturating_sub(1).min(2));
                (now + retry.clamp(MIN_SLEEP, longest), false)
            }
        }
    }

    /// The next tick is for `expecting` (`None`: for something else).
    pub fn expect(&mut self, expecting: Option<Expecting>) {
        self.expecting = expecting;
    }

    /// After a tick's drain: whether the samples waited for came, and what that teaches. Every
    /// wake that finds them missing (a retry too) widens the margin, so a device whose
    /// deliveries come late often costs retries only until the margin covers them.
    pub fn learn(&mut self, samples_out: u64, callback: Duration) {
        let Some(expected) = self.expecting.take() else {
            return;
        };
        if samples_out < expected.samples {
            self.margin = (self.margin + MARGIN_UP).min(callback * 2);
            self.misses = self.misses.saturating_add(1);
            return;
        }
        if expected.predicted {
            self.margin = self.margin.saturating_sub(MARGIN_DOWN);
        }
        self.misses = 0;
    }

    /// The device's deliveries scatter by more than a probe can follow.
    pub fn scattered(&self) -> bool {
        self.margin > PROBE_WINDOW
    }
}

/// The capture clock is the line under its observations, and ordinary wake-ups come when the
/// clock says a callback has delivered what a sink needs: on their own they never come
/// earlier than the line, so a line that is late would stay late. A probe wakes shortly
/// before the next predicted callback and polls until it has come, which both corrects the
/// line and keeps its error near [`PROBE_STEP`], for a few wake-ups every two seconds.
#[derive(Debug)]
pub struct Probe {
    /// When the next probe may start.
    next_at: Option<Instant>,
    waiting: Option<Waiting>,
    /// Polls left before a probe gives up (its callback came late, or never).
    polls_left: u32,
    lead: Duration,
    /// Between polls: [`PROBE_STEP`], or longer when the lead is long (see [`PROBE_POLLS`]).
    step: Duration,
    /// Probes in a row whose callback came before their first poll.
    early_in_row: u32,
    /// Probes in a row that gave up.
    failed_in_row: u32,
}

/// A running probe.
#[derive(Debug, Clone, Copy)]
struct Waiting {
    /// The frame count before the callback it waits for.
    before: u64,
    /// Its first poll.
    start: Instant,
    polled: bool,
}

impl Default for Probe {
    fn default() -> Self {
        Self {
            next_at: None,
            waiting: None,
            polls_left: 0,
            lead: PROBE_MIN_LEAD,
            step: PROBE_STEP,
            early_in_row: 0,
            failed_in_row: 0,
        }
    }
}

impl Probe {
    /// When the running probe polls next, or a new one starts: `captured` is the device's
    /// frame count now, `next_callback` when the clock says the callback after it comes.
    pub fn wake(
        &mut self,
        now: Instant,
        captured: u64,
        next_callback: Option<Instant>,
    ) -> Option<Instant> {
        if let Some(waiting) = self.waiting {
            return Some(waiting.start.max(now + self.step));
        }
        if self.next_at.is_some_and(|at| now < at) {
            return None;
        }
        let start = next_callback?.checked_sub(self.lead)?;
        // Too close to tell the callback from one that already came: a later tick starts it.
        if start < now + PROBE_STEP {
            return None;
        }
        self.waiting = Some(Waiting {
            before: captured,
            start,
            polled: false,
        });
        let span = self.lead + PROBE_WINDOW;
        self.step = PROBE_STEP.max(span / PROBE_POLLS);
        self.polls_left = span.as_nanos().div_ceil(self.step.as_nanos()) as u32;
        Some(start)
    }

    /// No probe while paused.
    pub fn cancel(&mut self) {
        self.waiting = None;
    }

    /// After a tick's drain (which observed the clock, the device's count then `captured`):
    /// ends the probe once its callback came. `scattered`: see [`SampleWakes::scattered`];
    /// `first_seconds`: the clock holds fewer than [`FIRST_SECONDS`].
    pub fn poll(&mut self, now: Instant, captured: u64, scattered: bool, first_seconds: bool) {
        let Some(waiting) = self.waiting else {
            return;
        };
        let callback_came = captured != waiting.before;
        if !callback_came && now < waiting.start {
            return; // a tick for other work, before the probe's first poll
        }
        let early = callback_came && !waiting.polled;
        if callback_came {
            self.early_in_row = if early { self.early_in_row + 1 } else { 0 };
        }
        if early {
            // It came before the first poll: the line is late by more than the lead (a
            // stream's first observations can be), so start earlier, at once.
            self.lead = (self.lead * 2).min(PROBE_MAX_LEAD);
        } else if callback_came {
            self.lead = (self.lead / 2).max(PROBE_MIN_LEAD);
        }
        self.polls_left = self.polls_left.saturating_sub(1);
        if !callback_came && self.polls_left > 0 {
            self.waiting = Some(Waiting {
                polled: true,
                ..waiting
            });
            return;
        }
        self.waiting = None;
        self.failed_in_row = if callback_came {
            0
        } else {
            self.failed_in_row + 1
        };
        let again = if callback_came {
            early && self.early_in_row <= PROBE_EARLY_IN_ROW
        } else {
            !scattered && self.failed_in_row <= PROBE_FAILED_IN_ROW
        };
        let every = if again {
            Duration::ZERO
        } else if scattered {
            PROBE_EVERY_SCATTERED
        } else if first_seconds {
            PROBE_EVERY_AT_FIRST
        } else {
            PROBE_EVERY
        };
        self.next_at = Some(now + every);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);
    const CALLBACK: Duration = Duration::from_millis(5);

    #[test]
    fn wakes_that_come_too_early_widen_the_margin_and_back_off_then_it_narrows_again() {
        let t0 = Instant::now();
        let mut w = SampleWakes::default();
        let (at, predicted) = w.due(t0, Some(t0 + 10 * MS), CALLBACK, 100 * MS);
        assert_eq!((at, predicted), (t0 + 10 * MS + MARGIN_START, true));
        // The callback is late: each wake that misses widens the margin, and the retries
        // space out (1.25, 2.5, then 5 ms for 5 ms callbacks).
        let mut retries = Vec::new();
        let now = t0 + 20 * MS;
        for _ in 0..4 {
            w.expect(Some(Expecting {
                samples: 1600,
                predicted: false,
            }));
            w.learn(0, CALLBACK);
            let (at, predicted) = w.due(now, Some(t0), CALLBACK, 100 * MS);
            assert!(!predicted);
            retries.push(at - now);
        }
        assert_eq!(retries, [1250, 2500, 5000, 5000].map(Duration::from_micros));
        assert_eq!(w.margin, MARGIN_START + 4 * MARGIN_UP);
        // Never more than two callbacks, however late.
        for _ in 0..100 {
            w.expect(Some(Expecting {
                samples: 1600,
                predicted: true,
            }));
            w.learn(0, CALLBACK);
        }
        assert_eq!(w.margin, 2 * CALLBACK);
        assert!(w.scattered());
        // Predicted wakes that find their samples narrow it, 50 µs each; a retry that finds
        // them does not (it says nothing about the margin), but it ends the misses in a row.
        w.expect(Some(Expecting {
            samples: 1600,
            predicted: false,
        }));
        w.learn(1600, CALLBACK);
        assert_eq!((w.margin, w.misses), (2 * CALLBACK, 0));
        for _ in 0..10 {
            w.expect(Some(Expecting {
                samples: 1600,
                predicted: true,
            }));
            w.learn(1600, CALLBACK);
        }
        assert_eq!(w.margin, 2 * CALLBACK - 10 * MARGIN_DOWN);
        // A tick for something else teaches nothing.
        w.expect(None);
        w.learn(0, CALLBACK);
        assert_eq!(w.margin, 2 * CALLBACK - 10 * MARGIN_DOWN);
        // No clock yet: a retry.
        assert!(!w.due(t0, None, CALLBACK, 100 * MS).1);
    }

    #[test]
    fn a_probe_polls_from_just_before_the_predicted_callback_until_it_comes() {
        let t0 = Instant::now();
        let mut p = Probe::default();
        let predicted = t0 + 10 * MS;
        let start = p.wake(t0, 480, Some(predicted)).unwrap();
        assert_eq!(start, predicted - PROBE_MIN_LEAD);
        // Ticks for other work before the first poll change nothing.
        p.poll(t0 + MS, 480, false, false);
        assert_eq!(p.wake(t0 + MS, 480, Some(predicted)), Some(start));
        // Polls every 150 µs while the callback has not come.
        let mut now = start;
        for _ in 0..3 {
            p.poll(now, 480, false, false);
            assert_eq!(p.wake(now, 480, Some(predicted)), Some(now + PROBE_STEP));
            now += PROBE_STEP;
        }
        // It came: the probe ends, the lead stays at its least, the next is 2 s on.
        p.poll(now, 960, false, false);
        assert!(p.waiting.is_none());
        assert_eq!(p.lead, PROBE_MIN_LEAD);
        assert_eq!(p.wake(now + MS, 960, Some(now + 5 * MS)), None);
        assert!(p
            .wake(now + PROBE_EVERY, 960, Some(now + PROBE_EVERY + 5 * MS))
            .is_some());
        // While the clock is young, every second.
        let mut p = Probe::default();
        let start = p.wake(t0, 0, Some(t0 + 10 * MS)).unwrap();
        p.poll(start, 0, false, true);
        p.poll(start + PROBE_STEP, 480, false, true);
        assert_eq!(p.next_at, Some(start + PROBE_STEP + PROBE_EVERY_AT_FIRST));
    }

    #[test]
    fn a_probe_gives_up_on_a_late_callback_and_waits_longer_when_deliveries_scatter() {
        let t0 = Instant::now();
        let mut p = Probe::default();
        let start = p.wake(t0, 0, Some(t0 + 10 * MS)).unwrap();
        // Lead plus window, 1.5 ms, in 150 µs steps: 10 polls.
        let mut now = start;
        let mut polls = 0;
        while p.waiting.is_some() {
            p.poll(now, 0, true, false);
            polls += 1;
            now += PROBE_STEP;
        }
        assert_eq!(polls, 10);
        assert_eq!(p.next_at, Some(now - PROBE_STEP + PROBE_EVERY_SCATTERED));
        // A device that does not scatter: a probe that gave up is tried again at once, three
        // times in a row at most.
        let mut p = Probe::default();
        let mut now = t0;
        for round in 0..4 {
            let start = p.wake(now, 0, Some(now + 10 * MS)).unwrap();
            now = start;
            while p.waiting.is_some() {
                p.poll(now, 0, false, false);
                now += PROBE_STEP;
            }
            let gave_up_at = now - PROBE_STEP;
            let expected = if round < 3 {
                gave_up_at
            } else {
                gave_up_at + PROBE_EVERY
            };
            assert_eq!(p.next_at, Some(expected), "round {round}");
        }
    }

    #[test]
    fn a_callback_before_the_first_poll_means_a_late_line_so_probe_again_at_once_a_few_times() {
        let t0 = Instant::now();
        let mut p = Probe::default();
        let mut now = t0;
        let mut leads = Vec::new();
        let mut captured = 0;
        for _ in 0..PROBE_EARLY_IN_ROW + 1 {
            let start = p.wake(now, captured, Some(now + 30 * MS)).unwrap();
            captured += 480; // already there at the first poll
            p.poll(start, captured, false, false);
            leads.push(p.lead.as_micros());
            now = start;
            if p.early_in_row <= PROBE_EARLY_IN_ROW {
                assert_eq!(p.next_at, Some(now), "at once");
            }
        }
        assert_eq!(leads, [1000, 2000, 4000, 8000, 16000, 20000, 20000]);
        // The seventh in a row: the usual interval.
        assert_eq!(p.next_at, Some(now + PROBE_EVERY));
        // A long lead: its polls are spread to 16 at most.
        p.next_at = None;
        let start = p.wake(now, captured, Some(now + 30 * MS)).unwrap();
        assert_eq!(start, now + 10 * MS);
        assert_eq!(p.polls_left, PROBE_POLLS);
        assert_eq!(p.step, (PROBE_MAX_LEAD + PROBE_WINDOW) / PROBE_POLLS);
        // One that comes after the first poll halves the lead and ends the run.
        p.poll(start, captured, false, false);
        p.poll(start + p.step, captured + 480, false, false);
        assert_eq!((p.lead, p.early_in_row), (PROBE_MAX_LEAD / 2, 0));
    }
}
