use super::*;
use crate::options::parse::{parse_list_options, StartConfig, TokenRequestConfig};
use crate::options::table;

use crate::value::fields as obj;

fn n(v: f64) -> Value {
    Value::Number(v)
}

fn s(v: &str) -> Value {
    Value::String(v.to_owned())
}

fn b(v: bool) -> Value {
    Value::Bool(v)
}

#[test]
fn no_options_means_the_table_defaults() {
    for absent in [Value::Undefined, Value::Null, obj(&[])] {
        let c = CaptureConfig::parse(&absent).unwrap();
        assert_eq!(c.sinks.chunks.chunk_ms, 100);
        assert_eq!(c.sinks.levels.interval, Duration::from_secs(1) / 30);
        assert_eq!(c.sinks.levels.spectrum_bands, 0);
        assert!(c.daemon && c.auto_reopen);
        assert_eq!(c.max_buffer_ms, 30_000);
        assert_eq!(c.link.reconnect_initial, Duration::from_millis(100));
        assert_eq!(c.link.reconnect_max, Duration::from_millis(5000));
        assert_eq!(c.link.reply_timeout, Duration::from_millis(10_000));
        assert_eq!(c.stall_timeout, Duration::from_millis(2000));
        assert_eq!(c.silence_warn, Some(Duration::from_millis(3000)));
        assert_eq!(c.protocol, ProtocolChoice::Auto);
        assert_eq!(c.source, Source::Device(DeviceRequest::default()));
        assert!(c.client_id.starts_with("stt-capture-"));
    }
}

#[test]
fn every_option_is_read_into_the_config() {
    let c = CaptureConfig::parse(&obj(&[
        ("protocol", s("legacy")),
        ("socketPath", s("/tmp/nothing-here.sock")),
        ("clientId", s("tui")),
        ("language", s("pt-BR")),
        ("token", s("stt_abc")),
        ("chunkMs", n(50.0)),
        ("levelHz", n(60.0)),
        ("spectrumBands", n(32.0)),
        ("daemon", b(true)),
        ("maxBufferMs", n(1000.0)),
        ("reconnectInitialMs", n(5.0)),
        ("reconnectMaxMs", n(50.0)),
        ("replyTimeoutMs", n(200.0)),
        ("stallTimeoutMs", n(400.0)),
        ("silenceWarnMs", n(0.0)),
        ("autoReopen", b(false)),
        ("input", obj(&[("file", s("a.wav")), ("loop", b(true))])),
    ]))
    .unwrap();
    assert_eq!(c.protocol, ProtocolChoice::Legacy);
    assert!(c.socket_path_given && !c.http_socket_path_given);
    assert_eq!(
        (c.client_id.as_str(), c.language.as_deref()),
        ("tui", Some("pt-BR"))
    );
    assert_eq!(c.token.as_deref(), Some("stt_abc"));
    assert_eq!(c.sinks.chunks.chunk_ms, 50);
    assert_eq!(c.sinks.levels.interval, Duration::from_secs(1) / 60);
    assert_eq!(c.sinks.levels.spectrum_bands, 32);
    assert_eq!(c.max_buffer_ms, 1000);
    assert_eq!(c.link.reconnect_initial, Duration::from_millis(5));
    assert_eq!(c.link.reconnect_max, Duration::from_millis(50));
    assert_eq!(c.link.reply_timeout, Duration::from_millis(200));
    assert_eq!(c.stall_timeout, Duration::from_millis(400));
    assert_eq!(c.silence_warn, None);
    assert!(!c.auto_reopen);
    assert_eq!(
        c.source,
        Source::File(FileSource {
            path: "a.wav".into(),
            realtime: true,
            looped: true
        })
    );
    let c = CaptureConfig::parse(&obj(&[
        ("device", s("alsa:default")),
        ("sampleRate", n(44100.0)),
        ("channels", n(2.0)),
        ("host", s("alsa")),
    ]))
    .unwrap();
    assert_eq!(
        c.source,
        Source::Device(DeviceRequest {
            host: Some("alsa".into()),
            device: Some("alsa:default".into()),
            sample_rate: Some(44_100),
            channels: Some(2),
        })
    );
}

#[test]
fn bad_options_are_refused_naming_the_option() {
    let cases: Vec<(Value, &str)> = vec![
        (s("x"), "must be an object (got a string)"),
        (n(3.0), "must be an object (got a number)"),
        (obj(&[("chunkMs", n(5.0))]), "chunkMs"),
        (obj(&[("chunkMs", n(100.5))]), "chunkMs"),
        (obj(&[("chunkMs", n(f64::NAN))]), "got NaN"),
        (obj(&[("chunkMs", s("100"))]), "chunkMs"),
        (obj(&[("chunkMS", n(100.0))]), "unknown option(s) chunkMS"),
        (obj(&[("socketPath", s(""))]), "socketPath"),
        (obj(&[("clientId", s(&"x".repeat(1025)))]), "clientId"),
        (obj(&[("daemon", s("yes"))]), "daemon"),
        (obj(&[("protocol", s("v2"))]), "protocol"),
        (obj(&[("protocol", Value::Other("a function"))]), "protocol"),
        (obj(&[("token", s("two words"))]), "token"),
        (obj(&[("language", s("en us"))]), "language"),
        (obj(&[("host", s("oss"))]), "host"),
        (
            obj(&[("maxBufferMs", n(200.0)), ("chunkMs", n(500.0))]),
            "maxBufferMs",
        ),
        (obj(&[("reconnectMaxMs", n(50.0))]), "reconnectMaxMs"),
        (obj(&[("input", s("a.wav"))]), "input"),
        (obj(&[("input", obj(&[]))]), "input.file"),
        (
            obj(&[("input", obj(&[("file", s("a.wav")), ("looped", b(true))]))]),
            "looped",
        ),
        (
            obj(&[("input", obj(&[("file", s("a.wav")), ("loop", n(1.0))]))]),
            "input.loop",
        ),
        (
            obj(&[("input", obj(&[("file", s("a.wav"))])), ("device", s("d"))]),
            "device",
        ),
    ];
    for (value, expected) in cases {
        let e = CaptureConfig::parse(&value).unwrap_err();
        assert_eq!(e.code(), "E_INVALID_OPTION", "{value:?}");
        assert!(e.to_string().contains(expected), "{value:?}: {e}");
    }
}

#[test]
fn start_list_and_token_request_options() {
    assert!(
        !StartConfig::parse(&Value::Undefined)
            .unwrap()
            .wait_for_daemon
    );
    let start = StartConfig::parse(&obj(&[("waitForDaemon", b(true))])).unwrap();
    assert!(start.wait_for_daemon);
    let e = StartConfig::parse(&obj(&[("waitFor", b(true))])).unwrap_err();
    assert!(e.to_string().contains("waitFor"), "{e}");
    assert_eq!(parse_list_options(&Value::Undefined).unwrap(), None);
    assert!(parse_list_options(&obj(&[("host", s("nope"))])).is_err());
    let e = TokenRequestConfig::parse(&obj(&[])).unwrap_err();
    assert!(e.to_string().contains("appName"), "{e}");
    let t = TokenRequestConfig::parse(&obj(&[("appName", s("My TUI"))])).unwrap();
    assert_eq!(t.request.scopes, ["transcribe"]);
    assert_eq!(t.timeout, Duration::from_secs(120));
    for scopes in [
        Value::Array(vec![]),
        Value::Array(vec![s("Transcribe")]),
        s("transcribe"),
    ] {
        let v = obj(&[("appName", s("a")), ("scopes", scopes)]);
        assert!(TokenRequestConfig::parse(&v).is_err(), "{v:?}");
    }
}

#[test]
fn every_declared_option_is_read_by_its_parser() {
    // Each option given alone with a valid value of its kind is accepted: none is declared
    // in the table but forgotten by the parser (which would be ignored silently).
    for spec in table::CAPTURE.specs {
        let value = match spec.name {
            "socketPath" | "httpSocketPath" => s("/tmp/nothing-here.sock"),
            "host" => s("alsa"),
            "input" => obj(&[("file", s("a.wav"))]),
            "protocol" => s("v1"),
            "mode" => s("stream"),
            "reconnectMaxMs" => n(600_000.0),
            "vad" => b(false),
            "record" => obj(&[("path", s("a.wav"))]),
            _ => match spec.kind {
                // Another value than the default, within the range.
                crate::options::Kind::Int { min, max } => match spec.default {
                    crate::options::Default::Int(d) if d == min => n(max as f64),
                    _ => n(min as f64),
                },
                crate::options::Kind::Bool => b(false),
                _ => s("x"),
            },
        };
        // A fixed client id on both sides, so that only the option under test differs.
        let base_id = ("clientId", s("base"));
        let given = if spec.name == "clientId" {
            obj(&[(spec.name, value)])
        } else {
            obj(&[(spec.name, value), base_id.clone()])
        };
        let parsed = format!("{:?}", CaptureConfig::parse(&given).unwrap());
        let default = format!("{:?}", CaptureConfig::parse(&obj(&[base_id])).unwrap());
        assert_ne!(parsed, default, "{} changed nothing", spec.name);
    }
}

#[test]
fn vad_is_off_true_or_an_object_each_field_checked() {
    use crate::dsp::endpoint::EndpointConfig;
    let voice =
        |options: &[(&str, Value)]| CaptureConfig::parse(&obj(options)).map(|c| c.sinks.voice);
    // On by default where utterances may go to the daemon (`mode` auto or utterances).
    assert!(voice(&[]).unwrap().is_some());
    assert!(voice(&[("mode", s("utterances"))]).unwrap().is_some());
    // Off without a daemon, when streaming, and when asked.
    assert_eq!(voice(&[("daemon", b(false))]).unwrap(), None);
    assert_eq!(voice(&[("mode", s("stream"))]).unwrap(), None);
    assert_eq!(voice(&[("vad", b(false))]).unwrap(), None);
    let e = voice(&[("mode", s("utterances")), ("vad", b(false))]).unwrap_err();
    assert!(
        e.to_string().contains("vad") && e.to_string().contains("utterances"),
        "{e}"
    );
    let on = CaptureConfig::parse(&obj(&[("vad", b(true))]))
        .unwrap()
        .sinks
        .voice
        .unwrap();
    assert_eq!(
        on.endpoint,
        EndpointConfig {
            threshold: 0.6,
            min_speech_frames: 10, // 150 ms in 16 ms frames, rounded up
            min_silence_frames: 38,
        }
    );
    assert_eq!(on.utterance.pre_roll, 4800);
    assert_eq!(on.utterance.hangover, 4800);
    assert_eq!(on.utterance.max_len, 480_000);
    let tuned = CaptureConfig::parse(&obj(&[(
        "vad",
        obj(&[
            ("threshold", n(0.7)),
            ("minSilenceMs", n(200.0)),
            ("maxUtteranceMs", n(15_000.0)),
        ]),
    )]))
    .unwrap()
    .sinks
    .voice
    .unwrap();
    assert!((tuned.endpoint.threshold - 0.7).abs() < 1e-6);
    assert_eq!(tuned.utterance.hangover, 3200, "at most minSilenceMs");
    assert_eq!(tuned.utterance.max_len, 240_000);
    for (vad, name) in [
        (s("yes"), "vad"),
        (n(1.0), "vad"),
        (obj(&[("threshold", n(1.5))]), "vad.threshold"),
        (obj(&[("threshold", s("high"))]), "vad.threshold"),
        (obj(&[("minSpeechMs", n(10.0))]), "vad.minSpeechMs"),
        (obj(&[("minSilenceMs", n(0.5))]), "vad.minSilenceMs"),
        (obj(&[("preRollMs", n(-1.0))]), "vad.preRollMs"),
        (obj(&[("maxUtteranceMs", n(500.0))]), "vad.maxUtteranceMs"),
        (obj(&[("silenceMs", n(500.0))]), "silenceMs"),
    ] {
        let e = CaptureConfig::parse(&obj(&[("vad", vad.clone())])).unwrap_err();
        assert_eq!(e.code(), "E_INVALID_OPTION");
        assert!(e.to_string().contains(name), "{vad:?}: {e}");
    }
}
