//! One-time messages (contact verification, password reset) and how they leave the server.
//!
//! A token in such a message is a credential: whoever reads it can verify the address or reset
//! the password. So it goes only where `COLLOQUY_MAIL` says: an SMTP server (`smtp://`,
//! `smtps://`, through `lettre`), or, only when chosen explicitly for development, a file or
//! standard output. By default (`off`) it is delivered nowhere and never logged; the log only says
//! that a message was issued. Delivery runs off the request's path: a slow or failing mail server
//! delays no request and is logged as a warning. The last few messages are kept in memory so
//! end-to-end tests can read them. The database only ever holds the tokens' hashes.

use std::collections::VecDeque;
use std::io::Write as _;
use std::sync::Mutex;

use lettre::message::{Mailbox, Message, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::platform::config::{MailConfig, MailDelivery};

/// How many sent messages are kept for [`Outbox::last_to`].
const KEPT: usize = 256;

/// Why a one-time token was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    VerifyContact,
    ResetPassword,
}

impl Purpose {
    fn subject(self) -> &'static str {
        match self {
            Purpose::VerifyContact => "Verify your contact address",
            Purpose::ResetPassword => "Reset your password",
        }
    }

    fn body(self, token: &str) -> String {
        match self {
            Purpose::VerifyContact => format!(
                "Someone added this address to a Colloquy account.\n\n\
                 To confirm it, use this code with verifyContactMethod:\n\n{token}\n\n\
                 If it was not you, ignore this message."
            ),
            Purpose::ResetPassword => format!(
                "Someone asked to reset the password of the Colloquy account with this address.\n\n\
                 To choose a new password, use this code with resetPassword within the hour:\n\n\
                 {token}\n\nIf it was not you, ignore this message: your password stays as it is."
            ),
        }
    }
}

#[derive(Clone)]
pub struct Sent {
    pub to: String,
    pub purpose: Purpose,
    pub token: String,
}

enum Delivery {
    Off,
    Smtp {
        transport: Box<AsyncSmtpTransport<Tokio1Executor>>,
        from: Box<Mailbox>,
    },
    File(std::path::PathBuf),
    Stdout,
}

/// The outbox: delivers one-time messages as configured.
pub struct Outbox {
    delivery: Delivery,
    sent: Mutex<VecDeque<Sent>>,
}

impl Outbox {
    /// An outbox for `config`; an SMTP URL or sender that does not parse is an error at start-up
    /// rather than a lost message later.
    pub fn new(config: &MailConfig) -> anyhow::Result<Self> {
        let delivery =
            match &config.delivery {
                MailDelivery::Off => Delivery::Off,
                MailDelivery::Smtp(url) => Delivery::Smtp {
                    transport: Box::new(
                        AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                            .map_err(|e| {
                                anyhow::anyhow!("COLLOQUY_MAIL is not a usable SMTP URL: {e}")
                            })?
                            .build(),
                    ),
                    from: Box::new(config.from.parse().map_err(|e| {
                        anyhow::anyhow!("COLLOQUY_MAIL_FROM is not a mailbox: {e}")
                    })?),
                },
                MailDelivery::File(path) => Delivery::File(path.clone()),
                MailDelivery::Stdout => Delivery::Stdout,
            };
        Ok(Self {
            delivery,
            sent: Mutex::new(VecDeque::new()),
        })
    }

    /// Sends `token` to `to` for `purpose`, in the background.
    pub fn send(&self, to: &str, purpose: Purpose, token: &str) {
        match &self.delivery {
            Delivery::Off => tracing::info!(
                ?purpose,
                "one-time token issued; no mailer is configured (COLLOQUY_MAIL), so it was not delivered"
            ),
            Delivery::Smtp { transport, from } => {
                match build(from, to, purpose, token) {
                    Ok(message) => {
                        let transport = transport.as_ref().clone();
                        tokio::spawn(async move {
                            if let Err(error) = transport.send(message).await {
                                tracing::warn!(%error, ?purpose, "cannot deliver a one-time message");
                            }
                        });
                    }
                    Err(error) => tracing::warn!(%error, "cannot build a one-time message"),
                }
                tracing::info!(?purpose, "one-time message queued for SMTP delivery");
            }
            Delivery::File(path) => {
                let line = serde_json::json!({
                    "to": to,
                    "subject": purpose.subject(),
                    "token": token,
                    "at": core_domain::time::now(),
                });
                let written = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .and_then(|mut f| writeln!(f, "{line}"));
                if let Err(error) = written {
                    tracing::warn!(%error, path = %path.display(), "cannot write the development outbox");
                }
            }
            Delivery::Stdout => {
                println!(
                    "[development outbox] to {to}: {} — {token}",
                    purpose.subject()
                );
            }
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

fn build(from: &Mailbox, to: &str, purpose: Purpose, token: &str) -> anyhow::Result<Message> {
    Ok(Message::builder()
        .from(from.clone())
        .to(to.parse()?)
        .subject(purpose.subject())
        .header(ContentType::TEXT_PLAIN)
        .body(purpose.body(token))?)
}
