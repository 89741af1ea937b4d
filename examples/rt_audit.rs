//! Entry points for `scripts/rt-audit.js`: one non-inlined function per sample format that
//! runs exactly what the audio callback runs (`Processor::process`). The script walks the
//! compiled call graph from these symbols and fails if it reaches an allocator, a lock, a
//! syscall or I/O. `main` calls each once so the linker keeps them.

use std::sync::Arc;

use cpal::{FromSample, Sample, I24, U24};
use ringbuf::traits::Split;
use ringbuf::HeapRb;
use stt_capture::capture::processor::Processor;
use stt_capture::stats::CaptureCounters;

macro_rules! entry {
    ($name:ident, $t:ty) => {
        #[no_mangle]
        #[inline(never)]
        pub fn $name(processor: &mut Processor<$t>, data: &[$t]) {
            processor.process(data)
        }
    };
}

entry!(rt_audit_process_i8, i8);
entry!(rt_audit_process_i16, i16);
entry!(rt_audit_process_i24, I24);
entry!(rt_audit_process_i32, i32);
entry!(rt_audit_process_i64, i64);
entry!(rt_audit_process_u8, u8);
entry!(rt_audit_process_u16, u16);
entry!(rt_audit_process_u24, U24);
entry!(rt_audit_process_u32, u32);
entry!(rt_audit_process_u64, u64);
entry!(rt_audit_process_f32, f32);
entry!(rt_audit_process_f64, f64);

fn run<T: Sample + 'static>(entry: fn(&mut Processor<T>, &[T]))
where
    f32: FromSample<T>,
{
    let (prod, _cons) = HeapRb::<f32>::new(1024).split();
    let mut processor = Processor::<T>::new(2, prod, Arc::new(CaptureCounters::default()));
    let data = vec![T::EQUILIBRIUM; 480];
    entry(&mut processor, std::hint::black_box(&data));
}

fn main() {
    run(rt_audit_process_i8);
    run(rt_audit_process_i16);
    run(rt_audit_process_i24);
    run(rt_audit_process_i32);
    run(rt_audit_process_i64);
    run(rt_audit_process_u8);
    run(rt_audit_process_u16);
    run(rt_audit_process_u24);
    run(rt_audit_process_u32);
    run(rt_audit_process_u64);
    run(rt_audit_process_f32);
    run(rt_audit_process_f64);
}
