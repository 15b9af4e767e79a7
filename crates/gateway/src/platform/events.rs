//! The event buses: how a change made by one request reaches subscribers, on this instance and,
//! with PostgreSQL, on every other one. [`EventBus`] carries message events ("a message was
//! stored"); [`ReplyBus`] carries the deltas of replies being generated, per message. Both deliver
//! in process at once and, on PostgreSQL, through one [`Relay`]: a single publisher task sends
//! `NOTIFY` in publish order, off the caller's path, and a single `LISTEN` connection hands what
//! other instances published to the local subscribers. An instance ignores its own notifications
//! (each carries its origin), since it already delivered them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use persistence::sea_orm::sqlx::{self, postgres::PgListener};
use persistence::sea_orm::{DatabaseConnection, DbBackend};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc, watch};

/// The PostgreSQL channel message events travel on between instances.
const MESSAGE_CHANNEL: &str = "colloquy_messages";
/// The PostgreSQL channel sign-in events travel on between instances.
const AUTH_CHANNEL: &str = "colloquy_auth";
/// The PostgreSQL channel record changes travel on between instances.
const CHANGE_CHANNEL: &str = "colloquy_changes";
/// The PostgreSQL channel reply events travel on between instances.
const REPLY_CHANNEL: &str = "colloquy_replies";
/// NOTIFY payloads must stay under 8000 bytes; longer deltas are split.
const MAX_NOTIFY_TEXT_BYTES: usize = 6000;
/// Events a follower may fall behind by before it is told it lagged (it then re-reads).
const FOLLOWER_CAPACITY: usize = 256;

#[derive(Serialize, Deserialize)]
struct Envelope<E> {
    /// The instance that published, which already delivered the event to its own subscribers.
    origin: String,
    event: E,
}

/// Carries events between instances over PostgreSQL `LISTEN/NOTIFY`. The buses hold none on
/// SQLite, where one server owns the file and in-process delivery is everything.
#[derive(Clone)]
struct Relay {
    origin: String,
    outbox: mpsc::UnboundedSender<(&'static str, String)>,
}

/// Says whether a credential read from the database earlier may still be trusted without reading
/// it again: it may while no sign-in event ([`AuthEvent`]) was published or heard since, and this
/// instance was hearing other instances' events all along.
///
/// Why: the caller's session is read on every authenticated request, one statement out of four
/// on the small nested read. [`crate::accounts`] keeps what it read for a few seconds and asks
/// this epoch whether it still holds; anything that ends a credential publishes an event, which
/// moves the epoch here at once (before `publish_auth` returns) and on the other instances when
/// their listener hears it.
#[derive(Debug)]
pub struct AuthEpoch {
    /// Moves on every sign-in event and whenever the listener stops or starts hearing.
    count: AtomicU64,
    /// False while other instances' events may be missed: on PostgreSQL, until the listener is
    /// subscribed to every channel, and from the moment it fails until it is subscribed again.
    /// [`EventBus::listening`] waits on it too.
    hearing: watch::Sender<bool>,
}

impl AuthEpoch {
    fn new(hearing: bool) -> Self {
        Self {
            count: AtomicU64::new(0),
            hearing: watch::Sender::new(hearing),
        }
    }

    /// The epoch now, or `None` when nothing read from the database may be kept (events of other
    /// instances may be missed). A read made after this call may be kept under this epoch.
    pub fn current(&self) -> Option<u64> {
        // `hearing` first: a listener that fails between the two loads has already cleared it
        // before moving the count, so a stale `true` is paired with the moved count, which no
        // later `current` returns once it hears again (that moves the count once more).
        let hearing = *self.hearing.borrow();
        let count = self.count.load(Ordering::SeqCst);
        hearing.then_some(count)
    }

    fn moved(&self) {
        self.count.fetch_add(1, Ordering::SeqCst);
    }

    /// The listener stopped hearing (`false`) or hears again (`true`): either way, what was read
    /// before may have been ended by an event that was never heard.
    fn hearing(&self, on: bool) {
        if on {
            self.moved();
            self.hearing.send_replace(true);
        } else {
            self.hearing.send_replace(false);
            self.moved();
        }
    }
}

/// What the listener does with a payload that arrived on one channel.
type Handler = Box<dyn Fn(&str) + Send + Sync>;

impl Relay {
    /// Spawns the publisher and the listener for `handlers` (channel → what to do with another
    /// instance's payload); `origin` names this instance in what it publishes. The listener
    /// reconnects by itself.
    fn start(
        conn: &DatabaseConnection,
        origin: String,
        handlers: Vec<(&'static str, Handler)>,
        epoch: Arc<AuthEpoch>,
    ) -> Self {
        let pool = conn.get_postgres_connection_pool().clone();
        let (outbox, mut queue) = mpsc::unbounded_channel::<(&'static str, String)>();
        let publisher_pool = pool.clone();
        tokio::spawn(async move {
            while let Some((channel, payload)) = queue.recv().await {
                if let Err(error) = sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(channel)
                    .bind(&payload)
                    .execute(&publisher_pool)
                    .await
                {
                    tracing::warn!(%error, channel, "cannot publish an event to other instances");
                }
            }
        });
        tokio::spawn(async move {
            let channels: Vec<&'static str> = handlers.iter().map(|(c, _)| *c).collect();
            let handlers: HashMap<&'static str, Handler> = handlers.into_iter().collect();
            loop {
                let mut listener = match PgListener::connect_with(&pool).await {
                    Ok(l) => l,
                    Err(error) => {
                        tracing::error!(%error, "cannot LISTEN for events; retrying");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        continue;
                    }
                };
                if let Err(error) = listener.listen_all(channels.iter().copied()).await {
                    tracing::error!(%error, "cannot LISTEN for events; retrying");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    continue;
                }
                epoch.hearing(true);
                loop {
                    match listener.recv().await {
                        Ok(n) => {
                            if let Some(handle) = handlers.get(n.channel()) {
                                handle(n.payload());
                            }
                        }
                        Err(error) => {
                            // Notifications sent until a new listener is subscribed are lost:
                            // credentials read before are no longer trusted, and none is kept
                            // until then (subscribers re-read the database when they hear
                            // nothing for a while, so a lost notification delays them but loses
                            // nothing). A new listener, not PgListener's own reconnection on the
                            // next recv, so that the moment it hears again is known.
                            epoch.hearing(false);
                            tracing::warn!(%error, "event listener failed; retrying");
                            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                            break;
                        }
                    }
                }
            }
        });
        Self { origin, outbox }
    }

    fn publish<E: Serialize>(&self, channel: &'static str, event: E) {
        let envelope = Envelope {
            origin: self.origin.clone(),
            event,
        };
        if let Ok(payload) = serde_json::to_string(&envelope) {
            let _ = self.outbox.send((channel, payload));
        }
    }

    /// A handler that decodes another instance's envelope and passes its event to `deliver`.
    fn handler<E: DeserializeOwned>(
        origin: String,
        deliver: impl Fn(E) + Send + Sync + 'static,
    ) -> Handler {
        Box::new(
            move |payload| match serde_json::from_str::<Envelope<E>>(payload) {
                Ok(env) if env.origin != origin => deliver(env.event),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "unreadable event from another instance"),
            },
        )
    }
}

/// Both buses for `conn`'s backend. With PostgreSQL they share one [`Relay`]. Must run inside a
/// Tokio runtime.
pub fn buses_for(conn: &DatabaseConnection) -> (EventBus, ReplyBus) {
    let events = EventBus::default();
    let replies = ReplyBus::in_process();
    if conn.get_database_backend() != DbBackend::Postgres {
        return (events, replies);
    }
    // Until the listener is subscribed, other instances' sign-in events may be missed.
    let events = EventBus {
        epoch: Arc::new(AuthEpoch::new(false)),
        ..events
    };
    // The handlers skip what this instance published itself, so they know its origin.
    let origin = core_domain::ids::new_id();
    let local_events = events.messages.clone();
    let local_auth = events.auth.clone();
    let local_epoch = Arc::clone(&events.epoch);
    let local_changes = events.changes.clone();
    let local_replies = Arc::clone(&replies.followers);
    let relay = Relay::start(
        conn,
        origin.clone(),
        vec![
            (
                MESSAGE_CHANNEL,
                Relay::handler(origin.clone(), move |e: MessageEvent| {
                    let _ = local_events.send(e);
                }),
            ),
            (
                AUTH_CHANNEL,
                Relay::handler(origin.clone(), move |e: AuthEvent| {
                    local_epoch.moved();
                    let _ = local_auth.send(e);
                }),
            ),
            (
                CHANGE_CHANNEL,
                Relay::handler(origin.clone(), move |e: ChangeEvent| {
                    let _ = local_changes.send(e);
                }),
            ),
            (
                REPLY_CHANNEL,
                Relay::handler(origin, move |e: ReplyEvent| {
                    deliver(&local_replies, Arc::new(e));
                }),
            ),
        ],
        Arc::clone(&events.epoch),
    );
    (
        EventBus {
            relay: Some(relay.clone()),
            ..events
        },
        ReplyBus {
            relay: Some(relay),
            ..replies
        },
    )
}

/// Something happened to a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageEvent {
    pub conversation_id: String,
    /// The conversation's owner, so a subscriber can filter without a query.
    pub owner_id: Option<String>,
    pub message_id: String,
}

/// A credential stopped being valid: whoever holds it must stop being served, on every instance
/// (an open WebSocket is closed with it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthEvent {
    /// One session ended (logout, revoked).
    SessionEnded { session_id: String },
    /// Every session of a user ended, but one (`except`: the caller's own, after a password
    /// change), and their personal API tokens too when `tokens` is set.
    SessionsEnded {
        user_id: String,
        except: Option<String>,
    },
    /// The user may not be served as they were: deactivated, deleted, or their role changed.
    UserChanged { user_id: String },
    /// A personal API token was revoked.
    TokenRevoked { token_id: String },
}

/// A record changed (was created, or its status moved): subscribers that follow records of this
/// kind re-read it by id, under the reader's own access rules, and send what they are allowed
/// to see. The event itself carries no content, so nothing private crosses the bus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeEvent {
    /// What changed, e.g. `notification`, `analysis`, `contract_analysis`, `upload`.
    pub kind: String,
    /// Its database id.
    pub id: String,
    /// Whose it is, so a subscriber can skip other users' records without a query.
    pub owner_id: Option<String>,
}

/// Which changes of a kind a subscriber follows.
#[derive(Debug, Clone)]
pub enum Wanted {
    /// Those of one record.
    Id(String),
    /// Those of one user's records.
    OwnedBy(String),
}

impl Wanted {
    fn picks(&self, event: &ChangeEvent) -> bool {
        match self {
            Wanted::Id(id) => event.id == *id,
            Wanted::OwnedBy(owner) => event.owner_id.as_deref() == Some(owner.as_str()),
        }
    }
}

/// Message events ("a message was stored"), for `messageAdded` subscribers on any instance,
/// sign-in events (a session or user stopped being valid), for open sockets on any instance, and
/// record changes (notifications, job status) for their subscriptions on any instance.
#[derive(Clone)]
pub struct EventBus {
    messages: broadcast::Sender<MessageEvent>,
    auth: broadcast::Sender<AuthEvent>,
    changes: broadcast::Sender<ChangeEvent>,
    /// Moved by every sign-in event, published here or heard from another instance.
    epoch: Arc<AuthEpoch>,
    relay: Option<Relay>,
}

impl EventBus {
    /// An in-process bus: what SQLite (one instance) needs.
    pub fn new(capacity: usize) -> Self {
        let (messages, _) = broadcast::channel(capacity);
        let (auth, _) = broadcast::channel(capacity);
        let (changes, _) = broadcast::channel(capacity);
        Self {
            messages,
            auth,
            changes,
            // One instance hears everything it publishes.
            epoch: Arc::new(AuthEpoch::new(true)),
            relay: None,
        }
    }

    /// Publishes to whoever listens now, here and on other instances; with no subscribers the
    /// event is simply dropped.
    pub fn publish_message(&self, event: MessageEvent) {
        if let Some(relay) = &self.relay {
            relay.publish(MESSAGE_CHANNEL, &event);
        }
        let _ = self.messages.send(event);
    }

    pub fn subscribe_messages(&self) -> broadcast::Receiver<MessageEvent> {
        self.messages.subscribe()
    }

    /// Tells every instance that a credential stopped being valid. Publish after the change is
    /// committed: this instance stops trusting what it read before at once, and a read made
    /// afterwards must find the change.
    pub fn publish_auth(&self, event: AuthEvent) {
        self.epoch.moved();
        if let Some(relay) = &self.relay {
            relay.publish(AUTH_CHANNEL, &event);
        }
        let _ = self.auth.send(event);
    }

    /// Whether credentials read earlier may still be trusted ([`AuthEpoch`]).
    pub fn auth_epoch(&self) -> &AuthEpoch {
        &self.epoch
    }

    pub fn subscribe_auth(&self) -> broadcast::Receiver<AuthEvent> {
        self.auth.subscribe()
    }

    /// Tells subscribers on every instance that a record changed. Publish after the change is
    /// committed, so a subscriber that re-reads it finds it.
    pub fn publish_change(&self, event: ChangeEvent) {
        if let Some(relay) = &self.relay {
            relay.publish(CHANGE_CHANNEL, &event);
        }
        let _ = self.changes.send(event);
    }

    pub fn subscribe_changes(&self) -> broadcast::Receiver<ChangeEvent> {
        self.changes.subscribe()
    }

    /// The changes of `kind` that `wanted` picks, as they are published on any instance. The
    /// subscription starts at this call, so a caller that reads the record afterwards misses no
    /// change in between. A subscriber that falls behind skips what it missed (logged under
    /// `subscription`, the GraphQL field); the stream ends with the bus.
    pub fn changes(
        &self,
        kind: &'static str,
        wanted: Wanted,
        subscription: &'static str,
    ) -> impl futures::Stream<Item = ChangeEvent> + Send + use<> {
        let mut events = self.changes.subscribe();
        async_stream::stream! {
            loop {
                match events.recv().await {
                    Ok(e) if e.kind == kind && wanted.picks(&e) => yield e,
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(skipped = n, subscription, "a subscriber lagged");
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        }
    }

    /// How many receivers of change events (subscriptions such as `uploadUpdated`) are live on
    /// this instance.
    pub fn change_subscribers(&self) -> usize {
        self.changes.receiver_count()
    }

    /// How many `messageAdded` subscriptions are live on this instance.
    pub fn message_subscribers(&self) -> usize {
        self.messages.receiver_count()
    }

    /// Resolves once events published by other instances reach this one (at once in process).
    pub async fn listening(&self) {
        let mut hearing = self.epoch.hearing.subscribe();
        let _ = hearing.wait_for(|h| *h).await;
    }
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new(1024)
    }
}

// ---------------------------------------------------------------------------------------------
// Reply streams
// ---------------------------------------------------------------------------------------------

/// Something happened to a reply being generated. Offsets count Unicode scalar values of the
/// message content: a `Delta` is the text between `start` and `start + text.chars().count()`,
/// so a follower can drop what it has already seen and notice what it missed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t")]
pub enum ReplyEvent {
    Delta {
        message_id: String,
        start: usize,
        text: String,
    },
    /// The reply reached its final state, which is in the database.
    Finished { message_id: String },
}

impl ReplyEvent {
    pub fn message_id(&self) -> &str {
        match self {
            ReplyEvent::Delta { message_id, .. } | ReplyEvent::Finished { message_id } => {
                message_id
            }
        }
    }
}

type Followers = Mutex<HashMap<String, broadcast::Sender<Arc<ReplyEvent>>>>;

/// Carries reply events to followers, per message, in process and (with PostgreSQL) to every
/// other instance, so a follower connected to any instance sees every reply.
#[derive(Clone)]
pub struct ReplyBus {
    followers: Arc<Followers>,
    relay: Option<Relay>,
}

impl ReplyBus {
    /// An in-process bus.
    pub fn in_process() -> Self {
        Self {
            followers: Arc::new(Mutex::new(HashMap::new())),
            relay: None,
        }
    }

    /// Delivers to this instance's followers of the message and, with PostgreSQL, to the others.
    pub fn publish(&self, event: ReplyEvent) {
        if let Some(relay) = &self.relay {
            for part in split_for_notify(&event) {
                relay.publish(REPLY_CHANNEL, part);
            }
        }
        deliver(&self.followers, Arc::new(event));
    }

    /// Starts following one message; events published from now on reach the returned handle.
    pub fn follow(&self, message_id: &str) -> ReplyFollower {
        let mut map = self
            .followers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let receiver = map
            .entry(message_id.to_owned())
            .or_insert_with(|| broadcast::channel(FOLLOWER_CAPACITY).0)
            .subscribe();
        ReplyFollower {
            receiver,
            message_id: message_id.to_owned(),
            followers: Arc::clone(&self.followers),
        }
    }

    /// Messages with at least one follower on this instance (for tests and metrics).
    pub fn followed(&self) -> usize {
        self.followers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

fn deliver(followers: &Followers, event: Arc<ReplyEvent>) {
    let map = followers.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(sender) = map.get(event.message_id()) {
        let _ = sender.send(event);
    }
}

fn split_for_notify(event: &ReplyEvent) -> Vec<ReplyEvent> {
    let ReplyEvent::Delta {
        message_id,
        start,
        text,
    } = event
    else {
        return vec![event.clone()];
    };
    if text.len() <= MAX_NOTIFY_TEXT_BYTES {
        return vec![event.clone()];
    }
    let mut parts = Vec::new();
    let mut offset = *start;
    let mut current = String::new();
    for c in text.chars() {
        if current.len() + c.len_utf8() > MAX_NOTIFY_TEXT_BYTES {
            let n = current.chars().count();
            parts.push(ReplyEvent::Delta {
                message_id: message_id.clone(),
                start: offset,
                text: std::mem::take(&mut current),
            });
            offset += n;
        }
        current.push(c);
    }
    parts.push(ReplyEvent::Delta {
        message_id: message_id.clone(),
        start: offset,
        text: current,
    });
    parts
}

/// One follower of one message. Dropping it forgets the message once nobody follows it.
pub struct ReplyFollower {
    receiver: broadcast::Receiver<Arc<ReplyEvent>>,
    message_id: String,
    followers: Arc<Followers>,
}

impl ReplyFollower {
    pub async fn recv(&mut self) -> Result<Arc<ReplyEvent>, broadcast::error::RecvError> {
        self.receiver.recv().await
    }
}

impl Drop for ReplyFollower {
    fn drop(&mut self) {
        let mut map = self
            .followers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // This follower's receiver still counts until it is dropped, after this body.
        if map
            .get(&self.message_id)
            .is_some_and(|s| s.receiver_count() <= 1)
        {
            map.remove(&self.message_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_read_while_the_listener_was_deaf_is_trusted_after_it_hears_again() {
        let epoch = AuthEpoch::new(false);
        assert_eq!(epoch.current(), None, "not subscribed yet");
        epoch.hearing(true);
        let read = epoch.current().unwrap();
        assert_eq!(epoch.current(), Some(read), "nothing happened since");

        epoch.hearing(false);
        assert_eq!(epoch.current(), None, "events may be missed now");
        epoch.hearing(true);
        assert!(
            epoch.current().is_some_and(|now| now != read),
            "what was read before the gap may have been ended in it"
        );
    }

    #[tokio::test]
    async fn followers_get_their_message_only_and_are_forgotten() {
        let bus = ReplyBus::in_process();
        let mut a = bus.follow("a");
        let b = bus.follow("b");
        bus.publish(ReplyEvent::Finished {
            message_id: "b".into(),
        });
        bus.publish(ReplyEvent::Delta {
            message_id: "a".into(),
            start: 0,
            text: "hi".into(),
        });
        let got = a.recv().await.unwrap();
        assert_eq!(got.message_id(), "a");
        assert_eq!(bus.followed(), 2);
        drop(b);
        drop(a);
        assert_eq!(bus.followed(), 0);
    }

    #[test]
    fn long_deltas_split_at_character_boundaries_with_offsets() {
        let text = "é".repeat(5000);
        let parts = split_for_notify(&ReplyEvent::Delta {
            message_id: "m".into(),
            start: 7,
            text: text.clone(),
        });
        assert!(parts.len() > 1);
        let mut expected_start = 7;
        let mut joined = String::new();
        for p in parts {
            let ReplyEvent::Delta { start, text, .. } = p else {
                panic!("not a delta")
            };
            assert_eq!(start, expected_start);
            expected_start += text.chars().count();
            joined.push_str(&text);
        }
        assert_eq!(joined, text);
    }
}
