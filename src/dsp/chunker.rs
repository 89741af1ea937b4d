//! Cuts the 16 kHz mono stream into chunks of exactly `chunk_len` samples.

/// One chunk of 16 kHz mono audio.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    /// Counts from 0 without gaps within one capture.
    pub seq: u64,
    /// Index (at 16 kHz) of the first sample since the capture started.
    pub start_sample: u64,
    pub samples: Vec<f32>,
}

pub struct Chunker {
    chunk_len: usize,
    buf: Vec<f32>,
    next_seq: u64,
    next_start: u64,
}

impl Chunker {
    pub fn new(chunk_len: usize) -> Self {
        assert!(chunk_len > 0, "chunk_len must be positive");
        Self {
            chunk_len,
            buf: Vec::with_capacity(chunk_len),
            next_seq: 0,
            next_start: 0,
        }
    }

    /// Appends samples and calls `emit` for each chunk that became full. The only allocation
    /// is each emitted chunk's own buffer (the payload that leaves this stage).
    pub fn push(&mut self, mut input: &[f32], emit: &mut impl FnMut(Chunk)) {
        while !input.is_empty() {
            let take = (self.chunk_len - self.buf.len()).min(input.len());
            self.buf.extend_from_slice(&input[..take]);
            input = &input[take..];
            if self.buf.len() == self.chunk_len {
                emit(self.take_chunk());
            }
        }
    }

    /// Samples still to come before the next chunk is full.
    pub fn remaining(&self) -> usize {
        self.chunk_len - self.buf.len()
    }

    /// The final, possibly short, chunk; `None` when nothing is pending.
    pub fn flush(&mut self) -> Option<Chunk> {
        (!self.buf.is_empty()).then(|| self.take_chunk())
    }

    fn take_chunk(&mut self) -> Chunk {
        let samples = std::mem::replace(&mut self.buf, Vec::with_capacity(self.chunk_len));
        let chunk = Chunk {
            seq: self.next_seq,
            start_sample: self.next_start,
            samples,
        };
        self.next_seq += 1;
        self.next_start += chunk.samples.len() as u64;
        chunk
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_exact_and_contiguous_for_any_input_split() {
        for split in [1usize, 7, 160, 1599, 1600, 1601, 5000] {
            let total = 16_123usize;
            let signal: Vec<f32> = (0..total).map(|i| i as f32).collect();
            let mut chunker = Chunker::new(1600);
            let mut chunks = Vec::new();
            for part in signal.chunks(split) {
                chunker.push(part, &mut |c| chunks.push(c));
            }
            chunks.extend(chunker.flush());
            assert_eq!(chunks.len(), 11, "split {split}");
            for (i, c) in chunks.iter().enumerate() {
                assert_eq!(c.seq, i as u64);
                assert_eq!(c.start_sample, (i * 1600) as u64);
                let want_len = if i < 10 { 1600 } else { total - 16_000 };
                assert_eq!(c.samples.len(), want_len);
                assert_eq!(c.samples[0], (i * 1600) as f32);
            }
            let joined: Vec<f32> = chunks.into_iter().flat_map(|c| c.samples).collect();
            assert_eq!(joined, signal);
        }
    }

    #[test]
    fn flush_is_empty_on_a_boundary() {
        let mut chunker = Chunker::new(160);
        let mut n = 0;
        chunker.push(&[0.0; 320], &mut |_| n += 1);
        assert_eq!(n, 2);
        assert!(chunker.flush().is_none());
    }
}
