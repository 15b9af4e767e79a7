//! argon2id password and PIN hashing.
//!
//! Hashes are PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`): the algorithm, its
//! parameters and a fresh 128-bit salt live inside the string, so one text column holds
//! everything and hashes made under older parameters still verify (see [`needs_rehash`]).
//!
//! Conventions:
//! - A wrong password is `Ok(false)`; a stored hash that cannot be parsed is an error, because it
//!   means corrupt data, not a failed login.
//! - When the account does not exist, call [`dummy_verify`] so that the answer takes as long as
//!   for a real account and response times do not reveal which emails are registered.
//! - Hashing takes tens of milliseconds of CPU by design: async callers run these functions on
//!   a blocking thread (`tokio::task::spawn_blocking`).
//! - The admin PIN uses the same hashing; only its format is checked first (4 to 12 digits).
//!   A PIN has little entropy, so attempts against it must be rate-limited by the caller.

use argon2::password_hash::{self, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::TryRngCore;
use rand::rngs::OsRng;

use crate::AuthError;

/// argon2id memory cost in KiB (19 MiB).
///
/// With [`T_COST`] and [`P_COST`] this is OWASP's recommended argon2id configuration
/// (Password Storage Cheat Sheet: m=19456 KiB, t=2, p=1). It keeps one hash around 20 ms of one
/// core and 19 MiB of memory, which a two-core server can afford per login while an attacker
/// with a stolen table pays the same memory per guess, which is what makes GPUs unhelpful.
pub const M_COST_KIB: u32 = 19_456;
/// argon2id iterations over memory; see [`M_COST_KIB`].
pub const T_COST: u32 = 2;
/// argon2id lanes; one, because the server handles many logins in parallel rather than one
/// login on many cores. See [`M_COST_KIB`].
pub const P_COST: u32 = 1;

/// Salt length in bytes: 128 bits, the PHC recommendation.
const SALT_LEN: usize = 16;

/// Shortest and longest accepted PIN, in digits.
pub const PIN_MIN_DIGITS: usize = 4;
/// See [`PIN_MIN_DIGITS`].
pub const PIN_MAX_DIGITS: usize = 12;

const PARAMS: Params = match Params::new(M_COST_KIB, T_COST, P_COST, None) {
    Ok(params) => params,
    // Evaluated at compile time: invalid constants fail the build, never a login.
    Err(_) => panic!("invalid argon2 parameters"),
};

/// A hash (of the tests' `DUMMY_PASSWORD`) under the current parameters, verified by
/// [`dummy_verify`]. A constant rather than computed at start-up so the first unknown-account
/// login is not slower than the rest; a test checks that its parameters match the constants
/// above.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$W0H2oFguYKDvrvUd01M5qg$DatQufMifHDyXVtxxvmZ1lNG++k8cIEpdQ/Q8oMhAAc";

fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, PARAMS)
}

/// Hashes a password with argon2id and a fresh random salt, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    let mut salt = [0u8; SALT_LEN];
    OsRng.try_fill_bytes(&mut salt).map_err(AuthError::Random)?;
    let salt = SaltString::encode_b64(&salt).map_err(AuthError::Hashing)?;
    let hash = hasher()
        .hash_password(password.as_bytes(), &salt)
        .map_err(AuthError::Hashing)?;
    Ok(hash.to_string())
}

/// Checks a password against a stored PHC hash.
///
/// `Ok(false)` for a wrong password; [`AuthError::MalformedHash`] when `stored` is not a
/// complete argon2 PHC string. The hash's own parameters are used, so hashes made before a
/// parameter change keep working.
pub fn verify_password(password: &str, stored: &str) -> Result<bool, AuthError> {
    let parsed = PasswordHash::new(stored).map_err(AuthError::MalformedHash)?;
    if parsed.salt.is_none() || parsed.hash.is_none() {
        return Err(AuthError::MalformedHash(
            password_hash::Error::PhcStringField,
        ));
    }
    match hasher().verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(password_hash::Error::Password) => Ok(false),
        Err(other) => Err(AuthError::MalformedHash(other)),
    }
}

/// Spends the time of one [`verify_password`] call and discards the result.
///
/// Call it with the submitted password when the account does not exist (or has no password),
/// so that "no such user" and "wrong password" take the same time.
pub fn dummy_verify(password: &str) {
    // The outcome is irrelevant; only the work done matters. Mixing the submitted password in
    // keeps the hashed input the same length as on the real path.
    let _ = verify_password(password, DUMMY_HASH);
}

/// Whether a stored hash should be replaced by a fresh [`hash_password`] at the next successful
/// login: it is not argon2id, or was made under other parameters, or cannot be parsed.
pub fn needs_rehash(stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return true;
    };
    if parsed.algorithm != Algorithm::Argon2id.ident() {
        return true;
    }
    match Params::try_from(&parsed) {
        Ok(params) => {
            params.m_cost() != M_COST_KIB
                || params.t_cost() != T_COST
                || params.p_cost() != P_COST
                || parsed.version != Some(Version::V0x13.into())
        }
        Err(_) => true,
    }
}

/// Whether `pin` is 4 to 12 ASCII digits.
pub fn is_valid_pin(pin: &str) -> bool {
    (PIN_MIN_DIGITS..=PIN_MAX_DIGITS).contains(&pin.len())
        && pin.bytes().all(|b| b.is_ascii_digit())
}

/// Hashes an admin PIN after checking its format ([`AuthError::InvalidPin`] otherwise).
pub fn hash_pin(pin: &str) -> Result<String, AuthError> {
    if !is_valid_pin(pin) {
        return Err(AuthError::InvalidPin);
    }
    hash_password(pin)
}

/// Checks an admin PIN against its stored hash.
///
/// A PIN that is not 4 to 12 digits is [`AuthError::InvalidPin`] (it cannot match any stored
/// PIN, and telling the user so leaks nothing); a wrong PIN is `Ok(false)`.
pub fn verify_pin(pin: &str, stored: &str) -> Result<bool, AuthError> {
    if !is_valid_pin(pin) {
        return Err(AuthError::InvalidPin);
    }
    verify_password(pin, stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DUMMY_PASSWORD: &str = "colloquy dummy password";

    #[test]
    fn hash_then_verify() {
        let hash = hash_password("correct horse battery staple").unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_password("correct horse battery staple", &hash).unwrap());
        assert!(!verify_password("correct horse battery stapler", &hash).unwrap());
        assert!(!verify_password("", &hash).unwrap());
    }

    #[test]
    fn salts_differ_between_hashes_of_the_same_password() {
        let a = hash_password("same").unwrap();
        let b = hash_password("same").unwrap();
        assert_ne!(a, b);
        assert!(verify_password("same", &a).unwrap());
        assert!(verify_password("same", &b).unwrap());
    }

    #[test]
    fn malformed_stored_hash_is_an_error_not_a_mismatch() {
        for stored in [
            "",
            "plaintext",
            "$argon2id$v=19$m=19456,t=2,p=1",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0",
            "$scrypt$ln=15,r=8,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo",
        ] {
            assert!(
                matches!(
                    verify_password("x", stored),
                    Err(AuthError::MalformedHash(_))
                ),
                "{stored:?}"
            );
        }
    }

    #[test]
    fn hashes_under_older_parameters_still_verify_and_need_rehash() {
        let old = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8 * 1024, 1, 1, None).unwrap(),
        );
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let stored = old.hash_password(b"pw", &salt).unwrap().to_string();
        assert!(verify_password("pw", &stored).unwrap());
        assert!(!verify_password("pw2", &stored).unwrap());
        assert!(needs_rehash(&stored));
        assert!(!needs_rehash(&hash_password("pw").unwrap()));
        assert!(needs_rehash("garbage"));
    }

    #[test]
    fn dummy_hash_matches_the_current_parameters() {
        assert!(!needs_rehash(DUMMY_HASH));
        assert!(verify_password(DUMMY_PASSWORD, DUMMY_HASH).unwrap());
        dummy_verify("anything");
    }

    #[test]
    fn pins_are_four_to_twelve_digits() {
        for ok in ["0000", "1234", "123456789012"] {
            assert!(is_valid_pin(ok), "{ok}");
        }
        for bad in ["", "123", "1234567890123", "12a4", "12 34", "١٢٣٤", "+1234"] {
            assert!(!is_valid_pin(bad), "{bad}");
            assert!(matches!(hash_pin(bad), Err(AuthError::InvalidPin)));
        }
    }

    #[test]
    fn pin_round_trip() {
        let hash = hash_pin("4821").unwrap();
        assert!(verify_pin("4821", &hash).unwrap());
        assert!(!verify_pin("4822", &hash).unwrap());
        assert!(matches!(
            verify_pin("48a1", &hash),
            Err(AuthError::InvalidPin)
        ));
    }
}
