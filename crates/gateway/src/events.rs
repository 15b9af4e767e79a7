//! The event buses: how a change made by one request reaches subscribers. [`EventBus`] carries
//! message events in process (a tokio broadcast channel); a subscriber that falls too far behind
//! is told it lagged rather than slowing the publisher. [`ReplyBus`] carries the deltas of replies
//! being generated, per message, in process or across instances through PostgreSQL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use persistence::sea_orm::sqlx::{self, postgres::PgListener};
use persistence::sea_orm::{DatabaseConnection, DbBackend};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};

/// Something happened to a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageEvent {
    pub conversation_id: String,
    /// The conversation's owner, so a subscriber can filter without a query.
    pub owner_id: Option<String>,
    pub message_id: String,
}

#[derive(Debug, Clone)]
pub struct EventBus {
    messages: broadcast::Sender<MessageEvent>,
}

impl EventBus {
    pub fn new(capacity: usize) -> Self {
        let (messages, _) = broadcast::channel(capacity);
        Self { messages }
    }

    /// Publishes to whoever listens now; with no subscribers the event is simply dropped.
    pub fn publish_message(&self, event: MessageEvent) {
        let _ = self.messages.send(event);
    }

    pub fn subscribe_messages(&self) -> broadcast::Receiver<MessageEvent> {
        self.messages.subscribe()
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

/// The PostgreSQL channel reply events travel on between instances.
const REPLY_CHANNEL: &str = "colloquy_replies";
/// NOTIFY payloads must stay under 8000 bytes; longer deltas are split.
const MAX_NOTIFY_TEXT_BYTES: usize = 6000;
/// Events a follower may fall behind by before it is told it lagged (it then re-reads).
const FOLLOWER_CAPACITY: usize = 256;

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

#[derive(Serialize, Deserialize)]
struct Envelope {
    /// The instance that published, which already delivered the event to its own followers.
    origin: String,
    event: ReplyEvent,
}

type Followers = Mutex<HashMap<String, broadcast::Sender<Arc<ReplyEvent>>>>;

/// Carries reply events to followers, per message. One type, two ways across instances:
/// in-process only (SQLite: one instance), or in-process plus PostgreSQL `LISTEN/NOTIFY`, so
/// a follower connected to any instance sees every reply. Delivery within an instance is
/// immediate either way; NOTIFY is sent in publish order by one task, off the generator's path.
#[derive(Clone)]
pub struct ReplyBus {
    followers: Arc<Followers>,
    remote: Remote,
}

#[derive(Clone)]
enum Remote {
    InProcess,
    Postgres {
        origin: String,
        outbox: mpsc::UnboundedSender<String>,
    },
}

impl ReplyBus {
    /// An in-process bus.
    pub fn in_process() -> Self {
        Self {
            followers: Arc::new(Mutex::new(HashMap::new())),
            remote: Remote::InProcess,
        }
    }

    /// The bus for `conn`'s backend: with PostgreSQL, spawns the publisher and the listener
    /// (which reconnects by itself). Must run inside a Tokio runtime.
    pub fn for_database(conn: &DatabaseConnection) -> Self {
        if conn.get_database_backend() != DbBackend::Postgres {
            return Self::in_process();
        }
        let pool = conn.get_postgres_connection_pool().clone();
        let origin = core_domain::ids::new_id();
        let (outbox, mut queue) = mpsc::unbounded_channel::<String>();
        let followers = Arc::new(Mutex::new(HashMap::new()));
        let publisher_pool = pool.clone();
        tokio::spawn(async move {
            while let Some(payload) = queue.recv().await {
                if let Err(error) = sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(REPLY_CHANNEL)
                    .bind(&payload)
                    .execute(&publisher_pool)
                    .await
                {
                    tracing::warn!(%error, "cannot publish a reply event to other instances");
                }
            }
        });
        let listening = Arc::clone(&followers);
        let me = origin.clone();
        tokio::spawn(async move {
            let mut listener = match PgListener::connect_with(&pool).await {
                Ok(l) => l,
                Err(error) => {
                    tracing::error!(%error, "cannot LISTEN for reply events; followers on this instance only see local replies");
                    return;
                }
            };
            if let Err(error) = listener.listen(REPLY_CHANNEL).await {
                tracing::error!(%error, "cannot LISTEN for reply events");
                return;
            }
            loop {
                match listener.recv().await {
                    Ok(n) => match serde_json::from_str::<Envelope>(n.payload()) {
                        Ok(env) if env.origin != me => deliver(&listening, Arc::new(env.event)),
                        Ok(_) => {}
                        Err(error) => tracing::warn!(%error, "unreadable reply event"),
                    },
                    Err(error) => {
                        // Followers re-read the database when they hear nothing for a while, so a
                        // lost notification delays them but loses nothing.
                        tracing::warn!(%error, "reply listener failed; retrying");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                }
            }
        });
        Self {
            followers,
            remote: Remote::Postgres { origin, outbox },
        }
    }

    /// Delivers to this instance's followers of the message and, with PostgreSQL, to the others.
    pub fn publish(&self, event: ReplyEvent) {
        if let Remote::Postgres { origin, outbox } = &self.remote {
            for part in split_for_notify(&event) {
                let envelope = Envelope {
                    origin: origin.clone(),
                    event: part,
                };
                if let Ok(payload) = serde_json::to_string(&envelope) {
                    let _ = outbox.send(payload);
                }
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
