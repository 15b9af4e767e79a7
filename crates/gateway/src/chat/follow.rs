//! Following a reply: replay what was produced after the follower's position, then live deltas,
//! until the reply ends. Positions are character offsets into the content, so a follower drops
//! anything it has already seen and, when it notices a gap (a lagged channel, an event lost
//! between instances), re-reads the text instead of skipping it. Nothing is lost or repeated, and
//! since generators publish only saved text (see `generate`), nothing a follower saw is lost in a
//! crash either: `seq` never goes backwards.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use core_domain::enums::MessageStatus;
use futures::Stream;
use persistence::messages as store;

use super::service::ChatService;
use crate::error::{ApiError, ApiResult};
use crate::platform::events::ReplyEvent;

/// With nothing heard for this long a follower re-reads the row: the generator may be on an
/// instance that stopped, or a notification may have been lost.
const RESYNC_AFTER: Duration = Duration::from_secs(2);
/// How soon a follower waiting on a gap re-reads the saved text.
const GAP_RETRY: Duration = Duration::from_millis(100);

/// One piece of a followed reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyChunk {
    pub message_id: String,
    /// The character offset in the content where this chunk ends: resume with `afterSeq: seq`.
    pub seq: usize,
    pub delta: String,
    pub status: MessageStatus,
    pub error: Option<String>,
    /// Set on the last chunk, once the reply is COMPLETE, FAILED or CANCELLED.
    pub done: bool,
}

fn chunk(message_id: &str, seq: usize, delta: String) -> ReplyChunk {
    ReplyChunk {
        message_id: message_id.to_owned(),
        seq,
        delta,
        status: MessageStatus::Streaming,
        error: None,
        done: false,
    }
}

/// Removes the pending deltas that now continue the text at `pos` and returns the new text
/// they hold (advancing `pos`), if any.
fn take_contiguous(pending: &mut BTreeMap<usize, String>, pos: &mut usize) -> Option<String> {
    let mut out = String::new();
    while let Some(entry) = pending.first_entry() {
        let start = *entry.key();
        if start > *pos {
            break;
        }
        let text = entry.remove();
        let end = start + text.chars().count();
        if end > *pos {
            out.extend(text.chars().skip(*pos - start));
            *pos = end;
        }
    }
    (!out.is_empty()).then_some(out)
}

struct Snapshot {
    content: String,
    /// Status and error once the reply ended.
    ended: Option<(MessageStatus, Option<String>)>,
}

impl ChatService {
    async fn snapshot(&self, message_id: &str) -> ApiResult<Snapshot> {
        let live = self.live_map().get(message_id).map(|l| {
            l.text
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
        });
        if let Some(content) = live {
            return Ok(Snapshot {
                content,
                ended: None,
            });
        }
        let row = store::find(self.db.conn(), message_id)
            .await?
            .ok_or(ApiError::NotFound)?;
        let status: MessageStatus = *row.status;
        Ok(Snapshot {
            content: row.content,
            ended: (status != MessageStatus::Streaming).then_some((status, row.error)),
        })
    }

    /// The reply's chunks after `after_seq` (from the start when `None`), then live ones.
    pub fn follow(
        self: &Arc<Self>,
        message_id: String,
        after_seq: Option<usize>,
    ) -> impl Stream<Item = ApiResult<ReplyChunk>> + Send + use<> {
        let service = Arc::clone(self);
        async_stream::stream! {
            // Follow first, read second: whatever is published after the read is in the channel.
            let mut follower = service.bus.follow(&message_id);
            let mut pos = after_seq.unwrap_or(0);
            // Deltas that start beyond `pos`, kept until the text before them is known (the
            // saved text of a reply generated elsewhere lags behind its live deltas).
            let mut pending: BTreeMap<usize, String> = BTreeMap::new();
            // When the oldest gap opened: the saved text is re-read GAP_RETRY after that, however
            // steadily later deltas arrive (a timeout reset by every delta would never fire while
            // the reply streams, and the follower would see nothing until it ended).
            let mut gap_since: Option<tokio::time::Instant> = None;
            let mut resync = true;
            loop {
                if resync {
                    resync = false;
                    let snap = match service.snapshot(&message_id).await {
                        Ok(s) => s,
                        Err(e) => {
                            yield Err(e);
                            break;
                        }
                    };
                    let len = snap.content.chars().count();
                    if len > pos {
                        let delta: String = snap.content.chars().skip(pos).collect();
                        pos = len;
                        yield Ok(chunk(&message_id, pos, delta));
                    }
                    if let Some((status, error)) = snap.ended {
                        // Never below what the follower asked for: followers are only sent saved
                        // text, so the row holds at least `pos` characters unless `afterSeq` was
                        // made up, and a made-up position is not worth going backwards for.
                        yield Ok(ReplyChunk {
                            message_id: message_id.clone(),
                            seq: len.max(pos),
                            delta: String::new(),
                            status,
                            error,
                            done: true,
                        });
                        break;
                    }
                }
                if let Some(delta) = take_contiguous(&mut pending, &mut pos) {
                    yield Ok(chunk(&message_id, pos, delta));
                }
                let wait = if pending.is_empty() {
                    gap_since = None;
                    RESYNC_AFTER
                } else {
                    let since = *gap_since.get_or_insert_with(tokio::time::Instant::now);
                    let left = GAP_RETRY.saturating_sub(since.elapsed());
                    if left.is_zero() {
                        gap_since = None;
                        resync = true;
                        continue;
                    }
                    left
                };
                match tokio::time::timeout(wait, follower.recv()).await {
                    Ok(Ok(event)) => match &*event {
                        ReplyEvent::Delta { start, text, .. } => {
                            let end = start + text.chars().count();
                            if end <= pos {
                                continue;
                            }
                            if *start > pos {
                                pending.insert(*start, text.clone());
                                continue;
                            }
                            let delta: String = text.chars().skip(pos - start).collect();
                            pos = end;
                            yield Ok(chunk(&message_id, pos, delta));
                        }
                        ReplyEvent::Finished { .. } => resync = true,
                    },
                    // Lagged, closed, quiet or waiting on a gap: the row (or the live buffer)
                    // knows the truth.
                    Ok(Err(_)) | Err(_) => resync = true,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_deltas_join_once_the_gap_is_filled() {
        let mut pending = BTreeMap::new();
        pending.insert(5, "fgh".to_owned());
        pending.insert(8, "ij".to_owned());
        pending.insert(20, "late".to_owned());
        let mut pos = 3;
        assert_eq!(take_contiguous(&mut pending, &mut pos), None);
        pos = 6; // the saved text reached "abcdef"
        assert_eq!(
            take_contiguous(&mut pending, &mut pos).as_deref(),
            Some("ghij")
        );
        assert_eq!(pos, 10);
        assert_eq!(pending.len(), 1);
    }
}
