//! The event bus: how a change made by one request reaches subscribers. In-process (a tokio
//! broadcast channel) for now; a subscriber that falls too far behind is told it lagged rather
//! than slowing the publisher.

use tokio::sync::broadcast;

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
