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
use std::sync::atomic::AtomicU8;

use crate::stats::{DeliveryCounters, FailureReason};
use crate::transport::{Connector, DaemonMessage, MessageHandler, ModeChoice, Route};
use link::{Link, LinkConfig};
use queue::{Kind, Outgoing, SendQueue};

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

/// What the sinks may queue: chunks for a realtime stream, utterances for a batch route.
/// `mode: 'auto'` takes both until the first session says which the daemon wants.
pub struct Admission {
    choice: ModeChoice,
    route: AtomicU8,
}

const UNKNOWN: u8 = 0;
const STREAM: u8 = 1;
const UTTERANCES: u8 = 2;

impl Admission {
    pub fn new(choice: ModeChoice) -> Self {
        Self {
            choice,
            route: AtomicU8::new(UNKNOWN),
        }
    }

    /// `auto`: whether a batch session should check the realtime route again.
    pub fn looks_again(&self) -> bool {
        self.choice == ModeChoice::Auto
    }

    /// The route of the session now open.
    pub fn set_route(&self, route: Route) {
        let v = match route {
            Route::Stream => STREAM,
            Route::Utterances => UTTERANCES,
        };
        self.route.store(v, Relaxed);
    }

    pub fn accepts(&self, kind: Kind) -> bool {
        match (self.choice, kind) {
            (ModeChoice::Stream, k) => k == Kind::Chunk,
            (ModeChoice::Utterances, k) => k == Kind::Utterance,
            (ModeChoice::Auto, k) => match self.route.load(Relaxed) {
                STREAM => k == Kind::Chunk,
                UTTERANCES => k == Kind::Utterance,
                _ => true,
            },
        }
    }
}

/// The running link task and the queue that feeds it.
pub struct Delivery {
    queue: Arc<SendQueue>,
    admission: Arc<Admission>,
    task: JoinHandle<()>,
    stopping: CancellationToken,
    /// The longest a stop waits for the link.
    give_up_after: Duration,
    events: Events,
}

impl Delivery {
    /// Starts the link task. `capacity`: 16 kHz samples of audio the queue holds before it
    /// drops the oldest.
    pub fn spawn<C: Connector>(
        link: Link<C>,
        capacity: usize,
        choice: ModeChoice,
        counters: Arc<DeliveryCounters>,
        events: Events,
    ) -> Self {
        let queue = Arc::new(SendQueue::new(capacity, counters));
        let admission = Arc::new(Admission::new(choice));
        let stopping = CancellationToken::new();
        // The link gives up on its own after `stop_timeout`; this bounds a send in flight then.
        let give_up_after = link.config.stop_timeout + link.config.reply_timeout;
        let task = tokio::spawn(link::run(
            link,
            queue.clone(),
            events.clone(),
            stopping.clone(),
            admission.clone(),
        ));
        Self {
            queue,
            admission,
            task,
            stopping,
            give_up_after,
            events,
        }
    }

    /// Where sinks put chunks and utterances for the daemon.
    pub fn sender(&self) -> DaemonSender {
        DaemonSender {
            queue: self.queue.clone(),
            admission: self.admission.clone(),
            events: self.events.clone(),
        }
    }

    /// No more items: waits for the link to deliver what is queued and end the session (it
    /// gives up after the stop timeout), then counts the rest as `stopped`.
    pub async fn finish(self) {
        let Self {
            queue,
            mut task,
            stopping,
            give_up_after,
            events,
            ..
        } = self;
        queue.close();
        stopping.cancel();
        if tokio::time::timeout(give_up_after, &mut task)
            .await
            .is_err()
        {
            task.abort();
            let _ = task.await;
            let lost = queue.fail_remaining(FailureReason::Stopped, true);
            events.error(Error::DaemonTimeout(format!(
                "the daemon did not take the last {lost} item(s) within {} ms of stop",
                give_up_after.as_millis()
            )));
        }
    }
}

/// A sink's handle on the send queue.
#[derive(Clone)]
pub struct DaemonSender {
    queue: Arc<SendQueue>,
    admission: Arc<Admission>,
    events: Events,
}

impl DaemonSender {
    /// A sender whose queue nobody empties (tests).
    pub fn new(queue: Arc<SendQueue>, events: Events) -> Self {
        Self {
            queue,
            admission: Arc::new(Admission::new(ModeChoice::Auto)),
            events,
        }
    }

    /// Whether the daemon takes this kind now (so that a sink only builds what is sent).
    pub fn accepts(&self, kind: Kind) -> bool {
        self.admission.accepts(kind)
    }

    /// Queues an item; a full queue drops its oldest, reported once per outage.
    pub fn send(&self, item: Outgoing) {
        if item.work.kind().is_some_and(|k| !self.accepts(k)) {
            return;
        }
        if self.queue.push(item) {
            self.events.error(Error::QueueFull(format!(
                "the daemon is not taking audio and {} s of it are waiting; dropping the oldest",
                self.queue.capacity() / 16_000
            )));
        }
    }
}
