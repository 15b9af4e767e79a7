//! Identifiers. New rows get cuid2 ids, like the seeds' `@default(cuid())`, so data brought over
//! from the seed apps keeps its ids and new ids look the same. Personas and rooms keep readable
//! slug ids chosen by whoever writes them.

/// A new collision-resistant id (cuid2, 24 lowercase alphanumeric characters).
pub fn new_id() -> String {
    cuid2::create_id()
}

/// Whether `s` looks like an id this system could have issued or imported: 1 to 64 characters of
/// `[A-Za-z0-9_-]` (cuid, cuid2 and slugs all qualify). Rejecting anything else early keeps junk
/// out of queries and logs.
pub fn is_plausible_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_are_unique_and_plausible() {
        let a = new_id();
        let b = new_id();
        assert_ne!(a, b);
        assert!(is_plausible_id(&a), "{a}");
    }

    #[test]
    fn junk_is_not_an_id() {
        assert!(!is_plausible_id(""));
        assert!(!is_plausible_id("a b"));
        assert!(!is_plausible_id("x'; drop table users; --"));
        assert!(!is_plausible_id(&"a".repeat(65)));
        assert!(is_plausible_id("elara"));
        assert!(is_plausible_id("short-form"));
    }
}
