//! Voice activity and utterances (`vad` option): earshot scores every 16 ms frame of the
//! 16 kHz stream, the background gate discounts speech in the background (babble), the
//! endpointer turns scores into speech and silence, and the utterance builder cuts the audio
//! of each spoken segment with its pre-roll. `voice` events mark every
//! change; `utterance` events carry the audio. Runs on the pipeline task; allocates only each
//! utterance's copy for JS and each event.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use earshot::Detector;

use super::record::files::UtteranceFiles;
use super::SinkContext;
use crate::delivery::queue::{Kind, Outgoing, Utterance, Work};
use crate::delivery::DaemonSender;
use crate::dsp::background::{frame_dbfs, Background};
use crate::dsp::endpoint::{EndpointConfig, Endpointer, Transition, FRAME};
use crate::dsp::utterance::{Cut, EndReason, UtteranceBuilder, UtteranceConfig};
use crate::dsp::TARGET_RATE;
use crate::error::Result;
use crate::events::{Event, EventKind, Events, UtteranceEvent, VoiceEvent};
use crate::options::parse::int;
use crate::options::Reader;
use crate::pipeline::clock::Timeline;
use crate::pipeline::sink::{Block, Boundary, Sink};
use crate::stats::PipelineCounters;

/// The largest block the frontend hands on at once, for the utterance builder's lookback.
const MAX_BLOCK: usize = 4096;

/// `vad: true | { threshold, minSpeechMs, minSilenceMs, preRollMs, maxUtteranceMs }`.
#[derive(Debug, Clone, PartialEq)]
pub struct VoiceOptions {
    pub endpoint: EndpointConfig,
    pub utterance: UtteranceConfig,
    /// Score every frame, as `vad` asks. `false` when only `mode` turned it on: then frames
    /// are scored only while something takes the result (see [`VoiceSink::wanted`]).
    pub always: bool,
}

fn samples_of(ms: u32) -> usize {
    (ms as usize * TARGET_RATE as usize) / 1000
}

fn frames_of(ms: u32) -> u32 {
    samples_of(ms).div_ceil(FRAME) as u32
}

impl VoiceOptions {
    /// `None` when voice activity detection is off.
    pub fn parse(options: &Reader<'_>) -> Result<Option<Self>> {
        let Some(vad) = options.toggle("vad")? else {
            return Ok(None);
        };
        let threshold = vad.number("threshold")?.unwrap_or(0.6) as f32;
        let (min_speech, min_silence) = (int(&vad, "minSpeechMs")?, int(&vad, "minSilenceMs")?);
        let pre_roll = samples_of(int(&vad, "preRollMs")?);
        let endpoint = EndpointConfig {
            threshold,
            min_speech_frames: frames_of(min_speech),
            min_silence_frames: frames_of(min_silence),
        };
        Ok(Some(Self {
            endpoint,
            utterance: UtteranceConfig {
                pre_roll,
                hangover: pre_roll.min(samples_of(min_silence)),
                max_len: samples_of(int(&vad, "maxUtteranceMs")?),
                // Speech is decided `min_speech` after its onset, seen a frame late, after
                // a whole block was pushed.
                lookback: (endpoint.min_speech_frames as usize + 3) * FRAME + MAX_BLOCK,
            },
            always: true,
        }))
    }
}

pub struct VoiceSink {
    detector: Box<Detector>,
    background: Background,
    endpointer: Endpointer,
    utterances: UtteranceBuilder,
    frame: [f32; FRAME],
    frame_len: usize,
    /// One past the newest sample pushed.
    end: u64,
    /// Where the current speech began (for `speechMs`).
    speech_since: Option<u64>,
    probability: f32,
    timeline: Timeline,
    next_id: u64,
    out: Outputs,
    always: bool,
    /// Frames were scored at the last block (see [`Self::wanted`]).
    scoring: bool,
}

impl VoiceSink {
    pub fn new(
        options: &VoiceOptions,
        context: &SinkContext,
        files: Option<UtteranceFiles>,
    ) -> Self {
        Self {
            detector: Detector::default_boxed(),
            background: Background::default(),
            endpointer: Endpointer::new(options.endpoint),
            utterances: UtteranceBuilder::new(options.utterance),
            frame: [0.0; FRAME],
            frame_len: 0,
            end: 0,
            speech_since: None,
            probability: 0.0,
            timeline: Timeline::default(),
            next_id: 0,
            out: Outputs {
                counters: context.counters.clone(),
                events: context.events.clone(),
                daemon: context.daemon.clone(),
                files,
            },
            always: options.always,
            scoring: true,
        }
    }

    /// Whether anything takes voice activity now: the detector costs about 0.1 % of a core,
    /// which a capture that only streams to a realtime daemon should not pay.
    fn wanted(&self) -> bool {
        let out = &self.out;
        self.always
            || out.files.is_some()
            || out.events.wants(EventKind::Voice)
            || out.events.wants(EventKind::Utterance)
            || out
                .daemon
                .as_ref()
                .is_some_and(|d| d.accepts(Kind::Utterance))
    }

    fn voice(&mut self, speech: bool, sample: u64) {
        if speech {
            self.speech_since = Some(sample);
        } else if let Some(since) = self.speech_since.take() {
            self.out
                .counters
                .speech_samples
                .fetch_add(sample.saturating_sub(since), Relaxed);
        }
        if self.out.events.wants(EventKind::Voice) {
            self.out.events.emit(Event::Voice(VoiceEvent {
                speech,
                sample,
                at_ms: self.timeline.time_of(sample),
                probability: self.probability,
            }));
        }
    }

    fn transition(&mut self, transition: Transition) {
        let Self {
            utterances,
            timeline,
            next_id,
            out,
            ..
        } = self;
        let mut emit = |cut: Cut<'_>| emit_utterance(cut, *timeline, next_id, out);
        match transition {
            Transition::SpeechStart { frame } => {
                let onset = frame * FRAME as u64;
                utterances.start(onset);
                self.voice(true, onset);
            }
            Transition::SpeechEnd { frame } => {
                let offset = frame * FRAME as u64;
                utterances.end(offset, &mut emit);
                self.voice(false, offset);
            }
        }
    }

    /// Scores complete frames of `samples`, which start at sample `start`.
    fn score(&mut self, mut samples: &[f32], mut start: u64) {
        while !samples.is_empty() {
            let take = (FRAME - self.frame_len).min(samples.len());
            self.frame[self.frame_len..self.frame_len + take].copy_from_slice(&samples[..take]);
            self.frame_len += take;
            samples = &samples[take..];
            start += take as u64;
            if self.frame_len < FRAME {
                break;
            }
            self.frame_len = 0;
            if !self.scoring {
                continue;
            }
            let frame = start / FRAME as u64 - 1;
            self.probability = self.detector.predict_f32(&self.frame);
            let decided = self
                .background
                .judge(frame_dbfs(&self.frame), self.probability);
            self.out.counters.vad_frames.fetch_add(1, Relaxed);
            if let Some(t) = self.endpointer.push(frame, decided) {
                self.transition(t);
            }
        }
    }

    /// Ends any speech now (a pause or the end of the stream).
    fn close(&mut self, reason: EndReason) {
        let Self {
            utterances,
            timeline,
            next_id,
            out,
            ..
        } = self;
        utterances.close(reason, &mut |cut: Cut<'_>| {
            emit_utterance(cut, *timeline, next_id, out)
        });
        if self.endpointer.is_speaking() {
            self.voice(false, self.end);
        }
        self.endpointer.reset(self.end.div_ceil(FRAME as u64));
        self.detector.reset();
    }
}

/// Hands one utterance on: to JS listeners and to the daemon's batch route (a copy each,
/// only for those that take it).
fn emit_utterance(cut: Cut<'_>, timeline: Timeline, next_id: &mut u64, out: &Outputs) {
    let id = *next_id;
    *next_id += 1;
    out.counters.utterances.fetch_add(1, Relaxed);
    let end_sample = cut.start_sample + cut.samples.len() as u64;
    let (start_ms, end_ms) = (
        timeline.time_of(cut.start_sample),
        timeline.time_of(end_sample),
    );
    if let Some(files) = &out.files {
        files.write(id, start_ms, cut.samples);
    }
    if let Some(daemon) = out.daemon.as_ref().filter(|d| d.accepts(Kind::Utterance)) {
        let utterance = Utterance {
            id,
            samples: cut.samples.to_vec(),
            start_ms,
            end_ms,
        };
        daemon.send(Outgoing::new(Work::Utterance(utterance), end_ms));
    }
    if !out.events.wants(EventKind::Utterance) {
        return;
    }
    out.events.emit(Event::Utterance(UtteranceEvent {
        id,
        samples: cut.samples.to_vec(),
        start_sample: cut.start_sample,
        end_sample,
        start_ms,
        end_ms,
        reason: cut.reason,
    }));
}

/// Where utterances go.
struct Outputs {
    counters: Arc<PipelineCounters>,
    events: Events,
    daemon: Option<DaemonSender>,
    /// `recordUtterances`.
    files: Option<UtteranceFiles>,
}

impl Sink for VoiceSink {
    fn push(&mut self, block: &Block<'_>) {
        self.timeline = block.timeline;
        let wanted = self.wanted();
        if wanted != self.scoring {
            // Nothing took what it would have said since it stopped (or nothing will take
            // it now): it starts again from silence here, as after a pause.
            self.close(EndReason::Stop);
            self.scoring = wanted;
        }
        self.end = block.end_sample();
        let Self {
            utterances,
            timeline,
            next_id,
            out,
            ..
        } = self;
        utterances.push(block.samples, block.start_sample, &mut |cut: Cut<'_>| {
            emit_utterance(cut, *timeline, next_id, out)
        });
        self.score(block.samples, block.start_sample);
    }

    fn boundary(&mut self, boundary: Boundary) {
        self.close(match boundary {
            Boundary::Pause => EndReason::Pause,
            Boundary::Stop => EndReason::Stop,
            Boundary::End => EndReason::End,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::resampler::StreamResampler;
    use crate::events::EventSink;
    use std::sync::atomic::AtomicBool;

    /// Listeners that come and go.
    #[derive(Default)]
    struct Listening(AtomicBool);

    impl EventSink for Listening {
        fn wants(&self, kind: EventKind) -> bool {
            kind == EventKind::Voice && self.0.load(Relaxed)
        }
        fn emit(&self, _event: Event) -> u64 {
            0
        }
    }

    fn speech_16k() -> Vec<f32> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/speech.wav");
        let mut reader = hound::WavReader::open(path).unwrap();
        let rate = reader.spec().sample_rate;
        let input: Vec<f32> = reader
            .samples::<i16>()
            .map(|s| s.unwrap() as f32 / 32768.0)
            .collect();
        let mut out = Vec::new();
        let mut resampler = StreamResampler::new(rate).unwrap();
        resampler.process(&input, &mut |s| out.extend_from_slice(s));
        out
    }

    #[test]
    fn turned_on_by_mode_alone_it_scores_only_while_something_takes_the_result() {
        let options = crate::value::fields(&[("vad", crate::value::Value::Bool(true))]);
        let reader = crate::options::Reader::new(&crate::options::table::CAPTURE, &options);
        let mut options = VoiceOptions::parse(&reader.unwrap()).unwrap().unwrap();
        options.always = false;
        let listening = Arc::new(Listening::default());
        let counters = Arc::new(crate::stats::PipelineCounters::default());
        let context = SinkContext {
            events: Events::new(listening.clone(), Arc::default()),
            counters: counters.clone(),
            daemon: None,
            record: crate::sinks::record::channel().1,
            utterance_files: None,
        };
        let mut sink = VoiceSink::new(&options, &context, None);
        let speech = speech_16k();
        let mut start = 0u64;
        let mut feed = |sink: &mut VoiceSink| {
            for block in speech.chunks(160) {
                sink.push(&Block {
                    samples: block,
                    start_sample: start,
                    timeline: Timeline::default(),
                    clipped: false,
                });
                start += block.len() as u64;
            }
        };
        let frames = speech.len() / FRAME;
        feed(&mut sink);
        assert_eq!(counters.vad_frames.load(Relaxed), 0, "nobody listens");
        listening.0.store(true, Relaxed);
        feed(&mut sink);
        let scored = counters.vad_frames.load(Relaxed);
        assert!(scored.abs_diff(frames as u64) <= 1, "{scored} of {frames}");
        assert!(counters.speech_samples.load(Relaxed) > 0, "it heard speech");
        listening.0.store(false, Relaxed);
        feed(&mut sink);
        assert_eq!(
            counters.vad_frames.load(Relaxed),
            scored,
            "nobody listens again"
        );
        // `vad` given: always.
        options.always = true;
        let mut sink = VoiceSink::new(&options, &context, None);
        feed(&mut sink);
        assert_eq!(counters.vad_frames.load(Relaxed), scored + frames as u64);
    }
}
