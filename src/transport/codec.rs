//! The daemon's framing: an 8-byte big-endian length, then that many bytes of UTF-8 JSON.

use tokio_util::codec::LengthDelimitedCodec;

/// Largest frame we accept from the daemon. Its own cap is 100 MiB; replies are tiny, so a
/// lower cap bounds memory against a broken peer.
pub const MAX_FRAME: usize = 16 * 1024 * 1024;

pub fn codec() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .length_field_type::<u64>()
        .big_endian()
        .max_frame_length(MAX_FRAME)
        .new_codec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{BufMut, Bytes, BytesMut};
    use tokio_util::codec::{Decoder, Encoder};

    #[test]
    fn round_trip_uses_an_8_byte_big_endian_prefix() {
        let mut c = codec();
        let mut buf = BytesMut::new();
        c.encode(Bytes::from_static(br#"{"command":"ping"}"#), &mut buf)
            .unwrap();
        assert_eq!(&buf[..8], &18u64.to_be_bytes());
        assert_eq!(&buf[8..], br#"{"command":"ping"}"#);
        let frame = c.decode(&mut buf).unwrap().unwrap();
        assert_eq!(&frame[..], br#"{"command":"ping"}"#);
        assert!(buf.is_empty());
    }

    #[test]
    fn partial_frames_wait_and_several_frames_split() {
        let mut c = codec();
        let mut buf = BytesMut::new();
        buf.put_u64(3);
        buf.put_slice(b"ab");
        assert!(c.decode(&mut buf).unwrap().is_none());
        buf.put_slice(b"c");
        buf.put_u64(0);
        assert_eq!(&c.decode(&mut buf).unwrap().unwrap()[..], b"abc");
        assert_eq!(c.decode(&mut buf).unwrap().unwrap().len(), 0);
    }

    #[test]
    fn oversize_length_prefix_is_an_error_without_allocating_it() {
        let mut c = codec();
        let mut buf = BytesMut::new();
        buf.put_u64(u64::MAX);
        assert!(c.decode(&mut buf).is_err());
        let mut buf = BytesMut::new();
        buf.put_u64(MAX_FRAME as u64 + 1);
        assert!(c.decode(&mut buf).is_err());
    }

    #[test]
    fn eof_mid_frame_is_an_error() {
        let mut c = codec();
        let mut buf = BytesMut::new();
        buf.put_u64(10);
        buf.put_slice(b"abc");
        assert!(c.decode_eof(&mut buf).is_err());
        let mut buf = BytesMut::new();
        buf.put_slice(&[0, 0, 0]);
        assert!(c.decode_eof(&mut buf).is_err());
    }
}
