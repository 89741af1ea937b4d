use super::*;

fn item(seq: u64) -> Outgoing {
    Outgoing::new(
        Work::Chunk(Chunk {
            seq,
            start_sample: seq * 10,
            samples: vec![0.0; 10],
        }),
        0.0,
    )
}

#[tokio::test]
async fn drops_oldest_when_full_and_keeps_the_accounting_exact() {
    let counters = Arc::new(DeliveryCounters::default());
    let q = SendQueue::new(30, counters.clone());
    for seq in 0..5 {
        q.push(item(seq));
        assert!(counters.delivery().invariant_holds());
    }
    let d = counters.delivery();
    assert_eq!(d.chunks.dropped_queue, 2);
    assert_eq!(d.chunks.high_water, 3);
    let first = q.pop().await.unwrap();
    assert_eq!(first.seq(), 2, "the oldest two were dropped");
    assert!(
        counters.delivery().invariant_holds(),
        "in flight counts as depth"
    );
    q.sent(&first);
    let second = q.pop().await.unwrap();
    q.failed(&second, FailureReason::Rejected);
    q.close();
    let third = q.pop().await.unwrap();
    assert_eq!(third.seq(), 4);
    q.sent(&third);
    assert!(q.pop().await.is_none());
    let d = counters.delivery();
    assert!(d.invariant_holds());
    assert_eq!(d.chunks.depth, 0);
    assert_eq!(d.chunks.samples_sent, 20);
    assert_eq!((d.chunks.failed, d.chunks.failed_rejected), (1, 1));
}

#[tokio::test]
async fn a_requeued_chunk_goes_first_or_is_dropped_as_the_oldest() {
    let counters = Arc::new(DeliveryCounters::default());
    let q = SendQueue::new(20, counters.clone());
    q.push(item(0));
    q.push(item(1));
    let in_flight = q.pop().await.unwrap();
    q.requeue_front(in_flight);
    assert_eq!(q.pop().await.unwrap().seq(), 0, "retried first, in order");
    q.push(item(2)); // queue now holds 1, 2 with 0 in flight
    let d = counters.delivery();
    assert_eq!(d.chunks.depth, 3);
    q.requeue_front(item(0));
    let d = counters.delivery();
    assert!(d.invariant_holds());
    assert_eq!(
        d.chunks.dropped_queue, 1,
        "no room: the retry is the oldest"
    );
    assert_eq!(q.pop().await.unwrap().seq(), 1);
    assert_eq!(q.fail_remaining(FailureReason::Stopped, false), 1);
    let d = counters.delivery();
    assert_eq!(d.chunks.depth, 1, "one still in flight");
    assert!(d.invariant_holds());
    assert_eq!(q.fail_remaining(FailureReason::Stopped, true), 1);
    let d = counters.delivery();
    assert_eq!((d.chunks.depth, d.chunks.failed_stopped), (0, 2));
    assert!(d.invariant_holds());
}

#[test]
fn the_invariant_holds_for_every_concurrent_read() {
    let counters = Arc::new(DeliveryCounters::default());
    let q = Arc::new(SendQueue::new(80, counters.clone()));
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (counters, stop) = (counters.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut reads = 0u64;
            while !stop.load(Ordering::Relaxed) {
                assert!(counters.delivery().invariant_holds());
                reads += 1;
            }
            reads
        })
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        for seq in 0..20_000 {
            q.push(item(seq));
            if seq % 3 == 0 {
                let it = q.pop().await.unwrap();
                match seq % 4 {
                    0 => q.sent(&it),
                    1 => q.failed(&it, FailureReason::Timeout),
                    _ => q.requeue_front(it),
                }
            }
        }
    });
    stop.store(true, Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);
    assert!(counters.delivery().invariant_holds());
}

#[tokio::test]
async fn pop_waits_for_a_push_and_close_wakes_it() {
    let counters = Arc::new(DeliveryCounters::default());
    let q = Arc::new(SendQueue::new(30, counters));
    let q2 = q.clone();
    let waiter = tokio::spawn(async move { q2.pop().await.map(|c| c.seq()) });
    tokio::task::yield_now().await;
    q.push(item(7));
    assert_eq!(waiter.await.unwrap(), Some(7));
    let q2 = q.clone();
    let waiter = tokio::spawn(async move { q2.pop().await.map(|c| c.seq()) });
    tokio::task::yield_now().await;
    q.close();
    assert_eq!(waiter.await.unwrap(), None);
}
