//! Tells the user's speech from speech in the background. A speech detector scores any voice,
//! so a room where others talk (a TV, colleagues: babble) keeps it in speech forever. When
//! the quietest frames of the last 10 s are themselves speech-like, the background is
//! babble: a frame then counts as speech only if it is loud enough to stand out of it (within
//! `FOREGROUND_DB` of the loudest frames, and `MARGIN_DB` above the background). In steady
//! noise or silence nothing is gated. Allocation-free after construction.

/// Frames remembered: 10 s of 16 ms frames.
const WINDOW: usize = 625;
/// Histogram bins of 0.5 dB from -120 dBFS to 0.
const BINS: usize = 240;
const FLOOR_DB: f32 = -120.0;
/// The background is babble when the median speech probability of its quietest frames
/// (within 1 dB of the 20th percentile level) reaches this.
const BABBLE_PROBABILITY: f32 = 0.4;
/// Foreground speech is within this of the 95th percentile level...
const FOREGROUND_DB: f32 = 18.0;
/// ...and at least this above the 20th percentile (the background's level).
const MARGIN_DB: f32 = 8.0;
/// Quieter than this is never foreground speech.
const MIN_DB: f32 = -60.0;

/// dBFS of a frame's RMS, floored at -120.
pub fn frame_dbfs(frame: &[f32]) -> f32 {
    let power = frame.iter().map(|s| s * s).sum::<f32>() / frame.len().max(1) as f32;
    if power <= 0.0 {
        FLOOR_DB
    } else {
        (10.0 * power.log10()).max(FLOOR_DB)
    }
}

fn bin(db: f32) -> usize {
    (((db - FLOOR_DB) * 2.0) as usize).min(BINS - 1)
}

fn level(bin: usize) -> f32 {
    FLOOR_DB + bin as f32 / 2.0
}

pub struct Background {
    levels: Box<[f32; WINDOW]>,
    probabilities: Box<[f32; WINDOW]>,
    histogram: [u16; BINS],
    next: usize,
    filled: usize,
    scratch: Vec<f32>,
}

impl Default for Background {
    fn default() -> Self {
        Self {
            levels: Box::new([FLOOR_DB; WINDOW]),
            probabilities: Box::new([0.0; WINDOW]),
            histogram: [0; BINS],
            next: 0,
            filled: 0,
            scratch: Vec::with_capacity(WINDOW),
        }
    }
}

impl Background {
    /// The level below which `q` of the remembered frames lie.
    fn percentile(&self, q: f32) -> f32 {
        let rank = ((q * self.filled as f32) as usize).min(self.filled.saturating_sub(1));
        let mut seen = 0;
        for (b, count) in self.histogram.iter().enumerate() {
            seen += *count as usize;
            if seen > rank {
                return level(b);
            }
        }
        level(BINS - 1)
    }

    /// Takes a frame's level and speech probability; returns the probability to decide on
    /// (0 for a frame that is only background speech).
    pub fn judge(&mut self, db: f32, probability: f32) -> f32 {
        if self.filled == WINDOW {
            self.histogram[bin(self.levels[self.next])] -= 1;
        } else {
            self.filled += 1;
        }
        self.levels[self.next] = db;
        self.probabilities[self.next] = probability;
        self.histogram[bin(db)] += 1;
        self.next = (self.next + 1) % WINDOW;

        let low = self.percentile(0.2);
        self.scratch.clear();
        for i in 0..self.filled {
            if self.levels[i] <= low + 1.0 {
                self.scratch.push(self.probabilities[i]);
            }
        }
        if self.scratch.is_empty() {
            return probability;
        }
        let middle = self.scratch.len() / 2;
        let (_, median, _) = self.scratch.select_nth_unstable_by(middle, f32::total_cmp);
        if *median < BABBLE_PROBABILITY {
            return probability;
        }
        let high = self.percentile(0.95);
        let threshold = (high - FOREGROUND_DB).min(low + MARGIN_DB).max(MIN_DB);
        if db >= threshold {
            probability
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_noise_and_silence_are_never_gated() {
        let mut b = Background::default();
        for i in 0..2000 {
            // Quiet frames scored as noise, loud ones as speech: a normal conversation.
            let (db, p) = if i % 100 >= 60 {
                (-25.0, 0.9)
            } else {
                (-60.0, 0.1)
            };
            assert_eq!(b.judge(db, p), p, "frame {i}");
        }
    }

    #[test]
    fn in_babble_only_frames_that_stand_out_count_as_speech() {
        let mut b = Background::default();
        // Ten seconds of quiet babble, scored as speech.
        for i in 0..WINDOW {
            let db = -42.0 + (i % 7) as f32;
            b.judge(db, 0.8);
        }
        // Now someone speaks 20 dB above it. Once their level is known (a few tenths of a
        // second of speech), the babble between their words no longer counts.
        for i in 0..300 {
            let foreground = i % 3 != 0;
            let db = if foreground { -20.0 } else { -41.0 };
            let p = b.judge(db, 0.85);
            if i >= 100 {
                assert_eq!(p > 0.0, foreground, "frame {i} at {db} dB");
            }
        }
    }

    #[test]
    fn levels_are_in_dbfs() {
        assert_eq!(frame_dbfs(&[0.0; 256]), -120.0);
        assert!((frame_dbfs(&[0.5; 256]) - -6.02).abs() < 0.01);
    }
}
