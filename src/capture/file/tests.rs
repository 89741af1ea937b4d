use super::*;
use ringbuf::traits::{Consumer, Split};
use ringbuf::HeapRb;
use std::sync::atomic::Ordering::Relaxed;

fn pcm16(channels: u16) -> hound::WavSpec {
    hound::WavSpec {
        channels,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    }
}

fn temp_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stt-capture-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Writes `frames` frames where channel `c` of frame `i` is `value(i, c)` in [-1, 1).
fn write_wav(
    name: &str,
    spec: hound::WavSpec,
    frames: usize,
    value: impl Fn(usize, usize) -> f64,
) -> PathBuf {
    let path = temp_path(name);
    let mut w = hound::WavWriter::create(&path, spec).unwrap();
    for i in 0..frames {
        for c in 0..spec.channels as usize {
            let v = value(i, c);
            match spec.sample_format {
                hound::SampleFormat::Float => w.write_sample(v as f32).unwrap(),
                hound::SampleFormat::Int => {
                    let full = (1i64 << (spec.bits_per_sample - 1)) as f64;
                    w.write_sample((v * full).round() as i32).unwrap()
                }
            }
        }
    }
    w.finalize().unwrap();
    path
}

/// Plays a file as fast as possible and returns the mono samples it pushed.
fn play(path: &Path, looped: bool, max_frames: usize) -> (Vec<f32>, Arc<InputStatus>) {
    let (reader, format) = open_wav(path).unwrap();
    let (prod, mut cons) = HeapRb::<f32>::new(4096).split();
    let counters = Arc::new(CaptureCounters::default());
    let status = Arc::new(InputStatus::default());
    let source = FileSource {
        path: path.to_owned(),
        realtime: false,
        looped,
    };
    let input = start(
        source,
        reader,
        format,
        prod,
        counters.clone(),
        status.clone(),
    )
    .unwrap();
    let mut out = Vec::new();
    let mut buf = [0f32; 1024];
    loop {
        let ended = status.ended.load(Ordering::Acquire);
        let n = cons.pop_slice(&mut buf);
        out.extend_from_slice(&buf[..n]);
        if (ended && n == 0) || out.len() >= max_frames {
            break;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    drop(input);
    assert_eq!(counters.frames_dropped.load(Relaxed), 0);
    (out, status)
}

#[test]
fn every_supported_encoding_decodes_to_the_same_mono_signal() {
    let frames = 4_410;
    let value = |i: usize, c: usize| {
        let x = 0.5 * (i as f64 * 0.013).sin();
        if c == 0 {
            x
        } else {
            -x * 0.5
        }
    };
    for (bits, float, channels, tolerance) in [
        (8u16, false, 1u16, 1.0 / 127.0),
        (16, false, 2, 1.0 / 32767.0),
        (24, false, 2, 1e-6),
        (32, false, 6, 1e-6),
        (32, true, 2, 1e-6),
    ] {
        let spec = hound::WavSpec {
            channels,
            sample_rate: 44_100,
            bits_per_sample: bits,
            sample_format: if float {
                hound::SampleFormat::Float
            } else {
                hound::SampleFormat::Int
            },
        };
        let name = format!("enc-{bits}-{float}-{channels}.wav");
        let path = write_wav(&name, spec, frames, value);
        let (reader, format) = open_wav(&path).unwrap();
        drop(reader);
        assert_eq!(format.frames, frames as u64);
        let (mono, status) = play(&path, false, usize::MAX);
        assert!(status.take().is_none(), "{name}: no error");
        assert_eq!(mono.len(), frames, "{name}: every frame");
        for (i, m) in mono.iter().enumerate() {
            let expected: f64 =
                (0..channels as usize).map(|c| value(i, c)).sum::<f64>() / channels as f64;
            assert!(
                (*m as f64 - expected).abs() <= tolerance,
                "{name} frame {i}: {m} vs {expected}"
            );
        }
    }
}

#[test]
fn looping_restarts_at_the_first_frame() {
    let spec = pcm16(1);
    let path = write_wav("loop.wav", spec, 1000, |i, _| i as f64 / 32768.0);
    let (mono, _) = play(&path, true, 3500);
    assert!(mono.len() >= 3500);
    for (i, m) in mono.iter().enumerate() {
        assert_eq!(*m, (i % 1000) as f32 / 32768.0, "frame {i}");
    }
}

#[test]
fn bad_files_are_refused_with_the_reason() {
    let missing = temp_path("does-not-exist.wav");
    let text = temp_path("text.wav");
    std::fs::write(&text, "hello, not a wav").unwrap();
    let spec = pcm16(1);
    let empty = write_wav("empty.wav", spec, 0, |_, _| 0.0);
    let slow = write_wav(
        "slow.wav",
        hound::WavSpec {
            sample_rate: 500,
            ..spec
        },
        10,
        |_, _| 0.0,
    );
    let dir = temp_path("a-directory.wav");
    std::fs::create_dir_all(&dir).unwrap();
    for (path, expected) in [
        (&missing, "No such file"),
        (&text, "not a valid WAV"),
        (&empty, "no audio"),
        (&slow, "sample rate 500 Hz"),
        (&dir, "directory"),
    ] {
        let e = open_wav(path).err().expect("refused");
        assert_eq!(e.code(), "E_INVALID_INPUT");
        assert!(e.to_string().contains(expected), "{e}");
        assert!(e.to_string().contains(&*path.to_string_lossy()), "{e}");
    }
}

#[test]
fn a_truncated_file_plays_what_it_has_then_reports() {
    let spec = pcm16(2);
    let path = write_wav("truncated.wav", spec, 2000, |_, _| 0.25);
    let bytes = std::fs::read(&path).unwrap();
    // Cut the data in the middle of frame 1500.
    std::fs::write(&path, &bytes[..44 + 1500 * 4 + 2]).unwrap();
    let (mono, status) = play(&path, false, usize::MAX);
    assert_eq!(mono.len(), 1500);
    let e = status.take().expect("an error");
    assert_eq!(e.code(), "E_INVALID_INPUT");
    assert!(e.to_string().contains("after 1500 frames"), "{e}");
}
