//! One-time links that would be emailed (contact verification, password reset). There is no
//! mailer yet, so the outbox writes each message to the log at INFO when
//! `COLLOQUY_LOG_ONE_TIME_TOKENS` is on (development), and keeps the last few in memory so
//! end-to-end tests can read them. Nothing here touches the database: the database only ever
//! holds the tokens' hashes.

use std::collections::VecDeque;
use std::sync::Mutex;

/// How many sent messages are kept for [`Outbox::last_to`].
const KEPT: usize = 256;

/// Why a one-time token was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    VerifyContact,
    ResetPassword,
}

#[derive(Clone)]
pub struct Sent {
    pub to: String,
    pub purpose: Purpose,
    pub token: String,
}

/// The development outbox.
pub struct Outbox {
    log_tokens: bool,
    sent: Mutex<VecDeque<Sent>>,
}

impl Outbox {
    pub fn new(log_tokens: bool) -> Self {
        Self {
            log_tokens,
            sent: Mutex::new(VecDeque::new()),
        }
    }

    pub fn send(&self, to: &str, purpose: Purpose, token: &str) {
        if self.log_tokens {
            tracing::info!(
                to,
                ?purpose,
                token,
                "one-time token (no mailer configured; COLLOQUY_LOG_ONE_TIME_TOKENS=false hides it)"
            );
        } else {
            tracing::info!(to, ?purpose, "one-time token issued (not logged)");
        }
        let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        if sent.len() >= KEPT {
            sent.pop_front();
        }
        sent.push_back(Sent {
            to: to.to_owned(),
            purpose,
            token: token.to_owned(),
        });
    }

    /// The newest token sent to `to` for `purpose`.
    pub fn last_to(&self, to: &str, purpose: Purpose) -> Option<String> {
        let sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        sent.iter()
            .rev()
            .find(|s| s.to == to && s.purpose == purpose)
            .map(|s| s.token.clone())
    }
}
