//! Delivery to the daemon: a bounded send queue that sinks hand chunks to, and the link task
//! that takes them from it to the daemon, in order, through reconnects (see `link`).

pub mod link;
pub mod queue;

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::events::{Event, Events};
use crate::stats::{DeliveryCounters, FailureReason};
use crate::transport::{Connector, DaemonMessage, MessageHandler};
use link::{Link, LinkConfig};
use queue::{Outgoing, SendQueue};

/// Counts and forwards what the daemon pushes for our session.
pub fn message_handler(counters: Arc<DeliveryCounters>, events: Events) -> MessageHandler {
    Arc::new(move |message| match message {
        DaemonMessage::Transcription(t) => {
            counters.transcriptions.fetch_add(1, Relaxed);
            events.emit(Event::Transcription(t));
        }
        DaemonMessage::Error(e) => {
            counters.daemon_errors.fetch_add(1, Relaxed);
            events.error(e);
        }
    })
}

/// Connects and starts the first daemon session. With `wait_for_daemon`, a daemon that does
/// not answer yet is not an error: the link starts out reconnecting. Refused credentials and
/// bad paths are errors either way: waiting would not fix them.
pub async fn open_link<C: Connector>(
    connector: C,
    config: LinkConfig,
    wait_for_daemon: bool,
) -> Result<Link<C>> {
    let session = match link::within(config.reply_timeout, connector.connect()).await {
        Ok(session) => Some(session),
        Err(e)
            if wait_for_daemon
                && !matches!(e, Error::InvalidOption { .. } | Error::Unauthorized(_)) =>
        {
            None
        }
        Err(e) => return Err(e),
    };
    Ok(Link {
        connector,
        session,
        config,
    })
}

/// The running link task and the queue that feeds it.
pub struct Delivery {
    queue: Arc<SendQueue>,
    task: JoinHandle<()>,
    stopping: CancellationToken,
    stop_timeout: Duration,
    events: Events,
}

impl Delivery {
    /// Starts the link task. `capacity`: chunks the queue holds before dropping the oldest.
    pub fn spawn<C: Connector>(
        link: Link<C>,
        capacity: usize,
        stop_timeout: Duration,
        counters: Arc<DeliveryCounters>,
        events: Events,
    ) -> Self {
        let queue = Arc::new(SendQueue::new(capacity, counters));
        let stopping = CancellationToken::new();
        let task = tokio::spawn(link::run(
            link,
            queue.clone(),
            events.clone(),
            stopping.clone(),
        ));
        Self {
            queue,
            task,
            stopping,
            stop_timeout,
            events,
        }
    }

    /// Where sinks put chunks for the daemon.
    pub fn sender(&self) -> ChunkSender {
        ChunkSender {
            queue: self.queue.clone(),
            events: self.events.clone(),
        }
    }

    /// No more chunks: waits up to the stop timeout for the link to deliver what is queued
    /// and end the session, then gives up on the rest (counted as `stopped`).
    pub async fn finish(self) {
        let Self {
            queue,
            mut task,
            stopping,
            stop_timeout,
            events,
        } = self;
        queue.close();
        stopping.cancel();
        if tokio::time::timeout(stop_timeout, &mut task).await.is_err() {
            task.abort();
            let _ = task.await;
            let lost = queue.fail_remaining(FailureReason::Stopped, true);
            events.error(Error::DaemonTimeout(format!(
                "the daemon did not take the last {lost} chunk(s) within {} ms of stop",
                stop_timeout.as_millis()
            )));
        }
    }
}

/// A sink's handle on the send queue.
#[derive(Clone)]
pub struct ChunkSender {
    queue: Arc<SendQueue>,
    events: Events,
}

impl ChunkSender {
    pub fn new(queue: Arc<SendQueue>, events: Events) -> Self {
        Self { queue, events }
    }

    /// Queues a chunk; a full queue drops its oldest, reported once per outage.
    pub fn send(&self, item: Outgoing) {
        if self.queue.push(item) {
            self.events.error(Error::QueueFull(format!(
                "the daemon is not taking audio and {} chunks are waiting; dropping the oldest",
                self.queue.capacity()
            )));
        }
    }
}
