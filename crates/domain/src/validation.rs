//! Validation of user input. Each failure names the input field it is about, so the API can
//! answer BAD_USER_INPUT with `extensions.field` and the client can point at the right box.

/// Input that breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    /// The input field, as the API names it (camelCase).
    pub field: &'static str,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

/// Longest accepted email, per RFC 5321's path limit.
pub const MAX_EMAIL_LEN: usize = 254;
/// Shortest accepted password. Length beats composition rules (NIST SP 800-63B).
pub const MIN_PASSWORD_LEN: usize = 10;
/// Longest accepted password: argon2 takes any length, but a cap keeps hashing cost bounded.
pub const MAX_PASSWORD_LEN: usize = 256;
pub const MAX_NAME_LEN: usize = 100;
pub const MAX_TITLE_LEN: usize = 200;
/// Longest message a user can send, in characters.
pub const MAX_MESSAGE_LEN: usize = 100_000;
pub const MAX_SYSTEM_PROMPT_LEN: usize = 20_000;
/// Longest text a list filter takes (e.g. `titleContains`). A title is at most
/// [`MAX_TITLE_LEN`] characters, so a longer substring could never match; the cap also keeps
/// LIKE patterns far below SQLite's limit (50,000 bytes, "LIKE pattern too complex").
pub const MAX_FILTER_TEXT_LEN: usize = 200;

/// Trims and lower-cases an email and checks its shape: one `@`, a non-empty local part, and a
/// domain with a dot and no empty labels. Deliverability is for a verification mail, not this.
pub fn normalize_email(raw: &str) -> Result<String, ValidationError> {
    let email = raw.trim().to_lowercase();
    let invalid = || ValidationError::new("email", "is not a valid email address");
    if email.is_empty() || email.len() > MAX_EMAIL_LEN {
        return Err(invalid());
    }
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    let labels_ok = domain.split('.').count() >= 2
        && domain.split('.').all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.contains(char::is_whitespace)
        && !local.contains(['@', '"', '(', ')', ',', ':', ';', '<', '>', '[', ']', '\\']);
    if labels_ok && local_ok {
        Ok(email)
    } else {
        Err(invalid())
    }
}

/// Refuses passwords that are too short or too long, that are one repeated character, or that are
/// among the most common passwords. `email` is refused as a password too.
pub fn check_password(password: &str, email: Option<&str>) -> Result<(), ValidationError> {
    let len = password.chars().count();
    if len < MIN_PASSWORD_LEN {
        return Err(ValidationError::new(
            "password",
            format!("must be at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    if len > MAX_PASSWORD_LEN {
        return Err(ValidationError::new(
            "password",
            format!("must be at most {MAX_PASSWORD_LEN} characters"),
        ));
    }
    let lower = password.to_lowercase();
    let mut chars = lower.chars();
    let first = chars.next();
    if chars.all(|c| Some(c) == first) {
        return Err(ValidationError::new("password", "is too easy to guess"));
    }
    if COMMON_PASSWORDS.contains(&lower.as_str())
        || email.is_some_and(|e| e.eq_ignore_ascii_case(password))
    {
        return Err(ValidationError::new("password", "is too easy to guess"));
    }
    Ok(())
}

/// A short list of the passwords attackers try first (all at least `MIN_PASSWORD_LEN` long;
/// shorter ones fail on length anyway).
const COMMON_PASSWORDS: &[&str] = &[
    "1234567890",
    "12345678910",
    "123456789a",
    "0123456789",
    "password12",
    "password123",
    "password1234",
    "qwertyuiop",
    "1q2w3e4r5t",
    "qwerty1234",
    "iloveyou12",
    "letmein123",
    "welcome123",
    "abcdefghij",
    "passw0rd123",
    "administrator",
    "changeme123",
];

/// Trims a display name; empty means none.
pub fn normalize_name(raw: Option<&str>) -> Result<Option<String>, ValidationError> {
    let Some(name) = raw.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if name.chars().count() > MAX_NAME_LEN {
        return Err(ValidationError::new(
            "name",
            format!("must be at most {MAX_NAME_LEN} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(ValidationError::new(
            "name",
            "must not contain control characters",
        ));
    }
    Ok(Some(name.to_owned()))
}

/// Trims a conversation title; it must not be empty.
pub fn normalize_title(raw: &str) -> Result<String, ValidationError> {
    let title = raw.trim();
    if title.is_empty() {
        return Err(ValidationError::new("title", "must not be empty"));
    }
    if title.chars().count() > MAX_TITLE_LEN {
        return Err(ValidationError::new(
            "title",
            format!("must be at most {MAX_TITLE_LEN} characters"),
        ));
    }
    if title.chars().any(char::is_control) {
        return Err(ValidationError::new(
            "title",
            "must not contain control characters",
        ));
    }
    Ok(title.to_owned())
}

/// Message content must have something in it and stay under the size limit.
pub fn check_message_content(content: &str) -> Result<(), ValidationError> {
    if content.trim().is_empty() {
        return Err(ValidationError::new("content", "must not be empty"));
    }
    if content.chars().count() > MAX_MESSAGE_LEN {
        return Err(ValidationError::new(
            "content",
            format!("must be at most {MAX_MESSAGE_LEN} characters"),
        ));
    }
    Ok(())
}

/// A conversation's own system prompt: optional, bounded.
pub fn check_system_prompt(prompt: &str) -> Result<(), ValidationError> {
    if prompt.chars().count() > MAX_SYSTEM_PROMPT_LEN {
        return Err(ValidationError::new(
            "systemPrompt",
            format!("must be at most {MAX_SYSTEM_PROMPT_LEN} characters"),
        ));
    }
    Ok(())
}

/// Free text in a list filter: bounded by [`MAX_FILTER_TEXT_LEN`].
pub fn check_filter_text(field: &'static str, text: &str) -> Result<(), ValidationError> {
    if text.chars().count() > MAX_FILTER_TEXT_LEN {
        return Err(ValidationError::new(
            field,
            format!("must be at most {MAX_FILTER_TEXT_LEN} characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_lowercased_and_checked() {
        assert_eq!(
            normalize_email("  Ada@Example.COM ").unwrap(),
            "ada@example.com"
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "ada@ex..com",
            "ada@-ex.com",
        ] {
            let err = normalize_email(bad).unwrap_err();
            assert_eq!(err.field, "email", "{bad}");
        }
    }

    #[test]
    fn weak_passwords_are_refused() {
        assert!(check_password("short", None).is_err());
        assert!(check_password("aaaaaaaaaaaa", None).is_err());
        assert!(check_password("Password123", None).is_err());
        assert!(check_password("ada@example.com", Some("ada@example.com")).is_err());
        assert!(check_password(&"x1".repeat(200), None).is_err());
        assert!(check_password("correct horse battery", None).is_ok());
    }

    #[test]
    fn titles_and_names() {
        assert_eq!(normalize_title("  Trip plans ").unwrap(), "Trip plans");
        assert_eq!(normalize_title("   ").unwrap_err().field, "title");
        assert_eq!(normalize_name(Some("  ")).unwrap(), None);
        assert_eq!(
            normalize_name(Some(" Ada ")).unwrap().as_deref(),
            Some("Ada")
        );
        assert!(normalize_name(Some("a\u{0}b")).is_err());
    }

    #[test]
    fn message_content() {
        assert!(check_message_content(" \n ").is_err());
        assert!(check_message_content("hi").is_ok());
        assert!(check_message_content(&"x".repeat(MAX_MESSAGE_LEN + 1)).is_err());
    }
}
