//! Opaque bearer tokens: sessions, personal API tokens, email verification, password reset.
//!
//! A token is a kind prefix followed by 256 random bits from the operating system, encoded as
//! base64url without padding (43 characters): `cq_pat_3q2-7wK...`. The prefix tells a human, a
//! log scrubber or a secret scanner what leaked, and lets the server reject a token of the wrong
//! kind before any database look-up.
//!
//! Conventions:
//! - The plaintext is shown to its owner once; only [`hash_token`] of it is stored, and the
//!   [`IssuedToken::display_prefix`] is what a UI lists to tell tokens apart.
//! - Look-ups go by hash (`WHERE token_hash = ?`), so the comparison happens in the database
//!   index and needs no constant-time code; [`constant_time_eq`] is for the rare comparison of
//!   two secrets in memory.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::TryRngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::AuthError;

/// Random bytes per token: 256 bits.
const TOKEN_BYTES: usize = 32;
/// Length of the base64url (no padding) encoding of [`TOKEN_BYTES`].
const TOKEN_BODY_LEN: usize = 43;
/// Characters of the random part included in [`IssuedToken::display_prefix`].
const DISPLAY_CHARS: usize = 4;

/// What a token grants; each kind has its own prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// A login session (`cq_s_`).
    Session,
    /// A personal API token for scripts and integrations (`cq_pat_`).
    PersonalAccess,
    /// A one-time email verification link (`cq_ev_`).
    EmailVerification,
    /// A one-time password reset link (`cq_pr_`).
    PasswordReset,
    /// A practice-programme invitation link (`cq_inv_`).
    Invitation,
}

impl TokenKind {
    /// Every kind, for exhaustive checks.
    pub const ALL: [TokenKind; 5] = [
        TokenKind::Session,
        TokenKind::PersonalAccess,
        TokenKind::EmailVerification,
        TokenKind::PasswordReset,
        TokenKind::Invitation,
    ];

    /// The prefix every token of this kind starts with.
    pub const fn prefix(self) -> &'static str {
        match self {
            TokenKind::Session => "cq_s_",
            TokenKind::PersonalAccess => "cq_pat_",
            TokenKind::EmailVerification => "cq_ev_",
            TokenKind::PasswordReset => "cq_pr_",
            TokenKind::Invitation => "cq_inv_",
        }
    }

    /// The kind of a presented token, or `None` when it is not a well-formed Colloquy token
    /// (unknown prefix, or a random part that is not 43 base64url characters).
    pub fn of(token: &str) -> Option<TokenKind> {
        TokenKind::ALL.into_iter().find(|kind| {
            token
                .strip_prefix(kind.prefix())
                .is_some_and(is_well_formed_body)
        })
    }

    /// Issues a new random token of this kind.
    pub fn issue(self) -> Result<IssuedToken, AuthError> {
        let mut bytes = [0u8; TOKEN_BYTES];
        OsRng
            .try_fill_bytes(&mut bytes)
            .map_err(AuthError::Random)?;
        let body = URL_SAFE_NO_PAD.encode(bytes);
        let plaintext = format!("{}{body}", self.prefix());
        let display_prefix = format!("{}{}", self.prefix(), &body[..DISPLAY_CHARS]);
        Ok(IssuedToken {
            kind: self,
            hash: hash_token(&plaintext),
            plaintext,
            display_prefix,
        })
    }
}

fn is_well_formed_body(body: &str) -> bool {
    body.len() == TOKEN_BODY_LEN
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A freshly issued token: give `plaintext` to the user once, store `hash` and
/// `display_prefix`.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The token's kind.
    pub kind: TokenKind,
    /// The full token; never stored, never logged.
    pub plaintext: String,
    /// [`hash_token`] of `plaintext`, the value to store and look up by.
    pub hash: String,
    /// The kind prefix and the first 4 random characters (`cq_pat_3q2-`), safe to show in a
    /// list of tokens; 24 bits say nothing useful about the remaining 232.
    pub display_prefix: String,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("kind", &self.kind)
            .field("plaintext", &"<redacted>")
            .field("hash", &self.hash)
            .field("display_prefix", &self.display_prefix)
            .finish()
    }
}

/// SHA-256 of a token, as 64 lowercase hex characters.
///
/// A fast, unsalted hash is the right tool here, unlike for passwords: a token carries 256 bits
/// of entropy, so nobody can guess their way to a preimage however fast the hash is, and a
/// deterministic hash is what lets the server find the row by an indexed look-up.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compares two secrets in time that depends only on their lengths, not their contents.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn issued_tokens_carry_their_prefix_and_256_bits() {
        for kind in TokenKind::ALL {
            let token = kind.issue().unwrap();
            assert!(token.plaintext.starts_with(kind.prefix()));
            let body = &token.plaintext[kind.prefix().len()..];
            assert_eq!(body.len(), 43);
            assert_eq!(URL_SAFE_NO_PAD.decode(body).unwrap().len(), 32);
            assert_eq!(token.kind, kind);
            assert_eq!(TokenKind::of(&token.plaintext), Some(kind));
        }
    }

    #[test]
    fn prefixes_are_the_documented_ones_and_distinct() {
        let prefixes: Vec<_> = TokenKind::ALL.iter().map(|k| k.prefix()).collect();
        assert_eq!(
            prefixes,
            ["cq_s_", "cq_pat_", "cq_ev_", "cq_pr_", "cq_inv_"]
        );
        for (i, a) in prefixes.iter().enumerate() {
            for b in &prefixes[i + 1..] {
                assert!(!a.starts_with(b) && !b.starts_with(a), "{a} / {b}");
            }
        }
    }

    #[test]
    fn display_prefix_is_kind_prefix_and_four_chars() {
        let token = TokenKind::PersonalAccess.issue().unwrap();
        assert_eq!(token.display_prefix.len(), "cq_pat_".len() + 4);
        assert!(token.plaintext.starts_with(&token.display_prefix));
    }

    #[test]
    fn hash_is_sha256_hex_of_the_whole_token() {
        let token = TokenKind::Session.issue().unwrap();
        assert_eq!(token.hash, hash_token(&token.plaintext));
        assert_eq!(token.hash.len(), 64);
        // Known answer: SHA-256("abc").
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn tokens_do_not_repeat() {
        let seen: HashSet<_> = (0..1000)
            .map(|_| TokenKind::Session.issue().unwrap().plaintext)
            .collect();
        assert_eq!(seen.len(), 1000);
    }

    #[test]
    fn malformed_tokens_have_no_kind() {
        let good = TokenKind::Session.issue().unwrap().plaintext;
        let body = &good["cq_s_".len()..];
        for bad in [
            String::new(),
            "cq_s_".to_owned(),
            format!("cq_x_{body}"),
            format!("cq_s_{}", &body[1..]),
            format!("cq_s_{body}A"),
            format!("cq_s_{}=", &body[1..]),
            format!("cq_s_{}+", &body[1..]),
            format!("CQ_S_{body}"),
            format!(" {good}"),
            body.to_owned(),
        ] {
            assert_eq!(TokenKind::of(&bad), None, "{bad:?}");
        }
    }

    #[test]
    fn debug_does_not_show_the_plaintext() {
        let token = TokenKind::PasswordReset.issue().unwrap();
        let shown = format!("{token:?}");
        assert!(!shown.contains(&token.plaintext));
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn constant_time_eq_compares_contents_and_lengths() {
        assert!(constant_time_eq(b"same", b"same"));
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"same", b"sane"));
        assert!(!constant_time_eq(b"same", b"same "));
        assert!(!constant_time_eq(b"", b"x"));
    }
}
