//! Speech / silence decisions from per-frame speech probabilities, with hysteresis and
//! minimum durations, backdated to where the run that decided them began.

/// Samples per VAD frame at 16 kHz (16 ms, what earshot takes).
pub const FRAME: usize = 256;

/// How far the silence threshold sits below the speech threshold: a frame between the two
/// neither starts speech nor ends it.
const HYSTERESIS: f32 = 0.05;

/// How many frames earshot's score trails the audio, measured on the labelled set of
/// `npm run bench:vad` (the score looks at 48 ms of audio and is smoothed): it crosses the
/// thresholds about three frames after an onset and after an offset. Decisions are
/// backdated by as much.
pub const ONSET_LAG_FRAMES: u64 = 3;
pub const OFFSET_LAG_FRAMES: u64 = 3;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EndpointConfig {
    /// Probability from which a frame counts as speech.
    pub threshold: f32,
    /// Speech frames in a row before speech starts.
    pub min_speech_frames: u32,
    /// Silence frames in a row before speech ends.
    pub min_silence_frames: u32,
}

/// A change decided by the endpointer, at the frame where the deciding run began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    SpeechStart { frame: u64 },
    SpeechEnd { frame: u64 },
}

#[derive(Debug, Clone)]
pub struct Endpointer {
    config: EndpointConfig,
    speaking: bool,
    /// The frame of the latest transition, so that backdating keeps them in order.
    last_transition: Option<u64>,
    /// The current run of frames that would change the state: where it began, how long.
    run_start: Option<u64>,
    run_len: u32,
}

impl Endpointer {
    pub fn new(config: EndpointConfig) -> Self {
        Self {
            config,
            speaking: false,
            last_transition: None,
            run_start: None,
            run_len: 0,
        }
    }

    pub fn is_speaking(&self) -> bool {
        self.speaking
    }

    /// Back to silence at frame `now`, with no run pending (after a pause or a forced end):
    /// later transitions come after it.
    pub fn reset(&mut self, now: u64) {
        self.last_transition = Some(now);
        self.speaking = false;
        self.run_start = None;
        self.run_len = 0;
    }

    /// Takes frame `frame`'s speech probability; returns a transition when one is decided.
    pub fn push(&mut self, frame: u64, probability: f32) -> Option<Transition> {
        let silence_threshold = (self.config.threshold - HYSTERESIS).max(0.0);
        let toward_change = if self.speaking {
            probability < silence_threshold
        } else {
            probability >= self.config.threshold
        };
        if !toward_change {
            // A frame between the thresholds interrupts a run of silence only when it is
            // speech-like enough; while silent, anything below the threshold resets.
            self.run_start = None;
            self.run_len = 0;
            return None;
        }
        let start = *self.run_start.get_or_insert(frame);
        self.run_len += 1;
        let needed = if self.speaking {
            self.config.min_silence_frames
        } else {
            self.config.min_speech_frames
        };
        if self.run_len < needed.max(1) {
            return None;
        }
        self.speaking = !self.speaking;
        self.run_start = None;
        self.run_len = 0;
        let lag = if self.speaking {
            ONSET_LAG_FRAMES
        } else {
            OFFSET_LAG_FRAMES
        };
        // Never at or before the previous transition: speech lasts at least a frame.
        let frame = match self.last_transition {
            Some(previous) => start.saturating_sub(lag).max(previous + 1),
            None => start.saturating_sub(lag),
        };
        self.last_transition = Some(frame);
        Some(if self.speaking {
            Transition::SpeechStart { frame }
        } else {
            Transition::SpeechEnd { frame }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(probabilities: &[f32]) -> Vec<Transition> {
        let mut e = Endpointer::new(EndpointConfig {
            threshold: 0.5,
            min_speech_frames: 3,
            min_silence_frames: 4,
        });
        probabilities
            .iter()
            .enumerate()
            .filter_map(|(i, p)| e.push(i as u64, *p))
            .collect()
    }

    #[test]
    fn speech_needs_its_minimum_run_and_is_backdated_to_the_run_start() {
        use Transition::*;
        // Two speech frames are a blip; three start speech at the first of them (less the
        // detector's lag); silence ends it where its run began, less the lag.
        let mut p = vec![0.1; 20];
        p.extend([0.9, 0.9, 0.1, 0.9, 0.9, 0.9]);
        p.extend([0.9; 10]);
        p.extend([0.2; 5]);
        let onset = 23 - ONSET_LAG_FRAMES;
        let offset = 36 - OFFSET_LAG_FRAMES;
        assert_eq!(
            run(&p),
            [SpeechStart { frame: onset }, SpeechEnd { frame: offset }]
        );
        // Backdating never puts an end before its start.
        let p = [0.9, 0.9, 0.9, 0.1, 0.1, 0.1, 0.1];
        let t = run(&p);
        assert!(matches!(t[..], [SpeechStart { frame: a }, SpeechEnd { frame: b }] if b > a));
    }

    #[test]
    fn frames_between_the_thresholds_neither_start_nor_end_speech() {
        use Transition::*;
        // 0.47 is below the speech threshold but above the silence one (0.45).
        let mut p = vec![0.9; 3];
        p.extend([0.47; 10]);
        p.extend([0.1; 4]);
        assert_eq!(
            run(&p),
            [
                SpeechStart { frame: 0 },
                SpeechEnd {
                    frame: 13 - OFFSET_LAG_FRAMES
                }
            ]
        );
        // A short dip inside speech does not end it.
        let p = [0.9, 0.9, 0.9, 0.1, 0.1, 0.1, 0.9, 0.1, 0.1];
        assert_eq!(run(&p), [SpeechStart { frame: 0 }]);
    }
}
