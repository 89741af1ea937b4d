//! Cuts the 16 kHz stream into utterances: from `pre_roll` samples before a detected onset
//! (kept in a ring of recent audio, so the first syllable is never lost) to `hangover`
//! samples after the offset. An utterance reaching `max_len` is cut at the quietest point of
//! its last second and goes on as a new one, so that together they hold every sample once.
//! Allocation-free after construction: cuts are lent to the caller.

use std::collections::VecDeque;

use super::TARGET_RATE;

/// Why an utterance ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// Silence after speech for `minSilenceMs`.
    Silence,
    /// It reached `maxUtteranceMs` and goes on in the next one.
    MaxLength,
    /// `pause()`.
    Pause,
    /// `stopCapture()`.
    Stop,
    /// A file input ended.
    End,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Silence => "silence",
            EndReason::MaxLength => "max-length",
            EndReason::Pause => "pause",
            EndReason::Stop => "stop",
            EndReason::End => "end",
        }
    }
}

/// Lengths in 16 kHz samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UtteranceConfig {
    pub pre_roll: usize,
    pub hangover: usize,
    pub max_len: usize,
    /// How far before the newest sample an onset may be decided (detection lag and the
    /// largest block the caller pushes at once).
    pub lookback: usize,
}

/// An utterance just ended: its audio, lent until the callback returns.
#[derive(Debug)]
pub struct Cut<'a> {
    pub start_sample: u64,
    pub samples: &'a [f32],
    pub reason: EndReason,
}

/// Where a cut at the maximum length falls: the middle of the quietest 16 ms window of the
/// last second before `max_len`.
fn quietest_point(samples: &[f32], max_len: usize) -> usize {
    const WINDOW: usize = 256;
    const STEP: usize = 64;
    let end = max_len.min(samples.len());
    let from = end.saturating_sub(TARGET_RATE as usize);
    if end - from < WINDOW {
        return end.max(1);
    }
    let mut best = (f32::INFINITY, end);
    let mut at = from;
    while at + WINDOW <= end {
        let energy: f32 = samples[at..at + WINDOW].iter().map(|s| s * s).sum();
        // Ties go to the later window: a uniformly loud last second is cut near the cap.
        if energy <= best.0 {
            best = (energy, at + WINDOW / 2);
        }
        at += STEP;
    }
    best.1.max(1)
}

pub struct UtteranceBuilder {
    config: UtteranceConfig,
    /// The latest audio while no utterance is open (the pre-roll and the detection lag).
    recent: VecDeque<f32>,
    /// The sample index one past the newest sample pushed.
    end: u64,
    /// The start of the open utterance, and its audio.
    open: Option<u64>,
    buffer: Vec<f32>,
    /// No utterance starts before this: where the previous one ended.
    floor: u64,
}

impl UtteranceBuilder {
    pub fn new(config: UtteranceConfig) -> Self {
        let recent = config.pre_roll + config.lookback;
        Self {
            config,
            recent: VecDeque::with_capacity(recent),
            end: 0,
            open: None,
            buffer: Vec::with_capacity(config.max_len + config.lookback + recent),
            floor: 0,
        }
    }

    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// The newest audio, starting at sample index `start` (contiguous with what came before).
    pub fn push(&mut self, samples: &[f32], start: u64, emit: &mut impl FnMut(Cut<'_>)) {
        debug_assert!(start == self.end || (self.end == 0 && self.open.is_none()));
        self.end = start + samples.len() as u64;
        let Some(mut open) = self.open else {
            let capacity = self.recent.capacity();
            let keep = samples.len().min(capacity);
            let overflow = (self.recent.len() + keep).saturating_sub(capacity);
            self.recent.drain(..overflow);
            self.recent.extend(&samples[samples.len() - keep..]);
            return;
        };
        self.buffer.extend_from_slice(samples);
        while self.buffer.len() >= self.config.max_len {
            let cut = quietest_point(&self.buffer, self.config.max_len);
            emit(Cut {
                start_sample: open,
                samples: &self.buffer[..cut],
                reason: EndReason::MaxLength,
            });
            self.buffer.drain(..cut);
            open += cut as u64;
            self.open = Some(open);
        }
    }

    /// Speech began at sample `onset`: an utterance opens `pre_roll` before it (as far as
    /// the recent audio and the previous utterance allow).
    pub fn start(&mut self, onset: u64) {
        if self.open.is_some() {
            return;
        }
        let recent_start = self.end - self.recent.len() as u64;
        let start = onset
            .saturating_sub(self.config.pre_roll as u64)
            .max(self.floor)
            .max(recent_start)
            .min(self.end);
        let skip = (start - recent_start) as usize;
        self.buffer.clear();
        self.buffer.extend(self.recent.range(skip..));
        self.recent.clear();
        self.open = Some(start);
    }

    /// Speech ended at sample `offset`: the utterance ends `hangover` after it (or at the
    /// newest sample); what follows goes back to the recent audio.
    pub fn end(&mut self, offset: u64, emit: &mut impl FnMut(Cut<'_>)) {
        let Some(open) = self.open else {
            return;
        };
        let end = (offset + self.config.hangover as u64)
            .clamp(open, self.end)
            .max(open);
        let len = (end - open) as usize;
        emit(Cut {
            start_sample: open,
            samples: &self.buffer[..len],
            reason: EndReason::Silence,
        });
        let rest = &self.buffer[len..];
        let keep = rest.len().min(self.recent.capacity());
        self.recent.clear();
        self.recent.extend(&rest[rest.len() - keep..]);
        self.buffer.clear();
        self.open = None;
        self.floor = end;
    }

    /// Ends the open utterance, if any, with everything up to the newest sample.
    pub fn close(&mut self, reason: EndReason, emit: &mut impl FnMut(Cut<'_>)) {
        let Some(open) = self.open.take() else {
            return;
        };
        emit(Cut {
            start_sample: open,
            samples: &self.buffer,
            reason,
        });
        self.buffer.clear();
        self.recent.clear();
        self.floor = self.end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> UtteranceConfig {
        UtteranceConfig {
            pre_roll: 100,
            hangover: 50,
            max_len: 20_000,
            lookback: 1000,
        }
    }

    /// Samples whose value is their index, for checking which ones a cut holds.
    fn ramp(from: u64, n: usize) -> Vec<f32> {
        (from..from + n as u64).map(|i| i as f32).collect()
    }

    fn collect(
        f: impl FnOnce(&mut UtteranceBuilder, &mut dyn FnMut(Cut<'_>)),
        b: &mut UtteranceBuilder,
    ) -> Vec<(u64, Vec<f32>, EndReason)> {
        let mut out = Vec::new();
        f(b, &mut |c: Cut<'_>| {
            out.push((c.start_sample, c.samples.to_vec(), c.reason))
        });
        out
    }

    #[test]
    fn an_utterance_holds_its_pre_roll_and_hangover_and_nothing_twice() {
        let mut b = UtteranceBuilder::new(config());
        let mut cuts = Vec::new();
        let mut emit = |c: Cut<'_>| cuts.push((c.start_sample, c.samples.to_vec(), c.reason));
        b.push(&ramp(0, 1000), 0, &mut emit);
        // Onset at 800, decided later: the utterance starts 100 before it.
        b.start(800);
        b.push(&ramp(1000, 1000), 1000, &mut emit);
        b.end(1500, &mut emit);
        b.push(&ramp(2000, 500), 2000, &mut emit);
        // The next onset's pre-roll would reach into the first utterance: it starts after it.
        b.start(1600);
        b.close(EndReason::Stop, &mut emit);
        assert_eq!(cuts.len(), 2);
        assert_eq!(cuts[0].0, 700);
        assert_eq!(cuts[0].1, ramp(700, 850), "pre-roll 100, hangover 50");
        assert_eq!(cuts[0].2, EndReason::Silence);
        assert_eq!(cuts[1].0, 1550);
        assert_eq!(cuts[1].1, ramp(1550, 950));
        assert_eq!(cuts[1].2, EndReason::Stop);
    }

    #[test]
    fn a_long_utterance_is_cut_at_its_quietest_point_and_goes_on() {
        let mut b = UtteranceBuilder::new(config());
        // Loud everywhere except a quiet stretch around 17_000.
        let signal: Vec<f32> = (0..50_000)
            .map(|i| {
                if (16_900..17_100).contains(&i) {
                    0.001
                } else {
                    0.5
                }
            })
            .collect();
        b.push(&signal[..100], 0, &mut |_| {});
        b.start(0);
        let mut cuts = collect(
            |b, emit| {
                for (i, part) in signal[100..].chunks(1000).enumerate() {
                    b.push(part, 100 + i as u64 * 1000, &mut |c| emit(c));
                }
                b.close(EndReason::Stop, &mut |c| emit(c));
            },
            &mut b,
        );
        assert!(cuts.len() >= 3, "{}", cuts.len());
        assert_eq!(cuts[0].2, EndReason::MaxLength);
        let first_end = cuts[0].0 + cuts[0].1.len() as u64;
        assert!((16_900..17_100).contains(&first_end), "cut at {first_end}");
        // Together they hold every sample once, in order.
        let joined: Vec<f32> = cuts.iter_mut().flat_map(|c| c.1.drain(..)).collect();
        assert_eq!(joined, signal);
        assert!(cuts.iter().all(|c| c.1.len() <= 20_000));
    }

    #[test]
    fn the_cut_falls_at_the_cap_when_the_last_second_is_one_level() {
        let flat = vec![0.5f32; 30_000];
        assert_eq!(quietest_point(&flat, 20_000), 20_000 - 128);
        assert_eq!(quietest_point(&flat[..100], 20_000), 100);
    }
}
