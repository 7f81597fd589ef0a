//! Password hashing (Argon2id with the OWASP-recommended parameters) and the password policy.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::Rng;

/// m = 19 MiB, t = 2, p = 1 (OWASP Password Storage Cheat Sheet, Argon2id).
fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(19 * 1024, 2, 1, None).expect("valid params"))
}

pub fn hash_password(password: &str) -> Result<String, anyhow::Error> {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing password: {e}"))
}

pub fn verify_password(password: &str, stored_hash: &str) -> bool {
    match PasswordHash::new(stored_hash) {
        Ok(parsed) => hasher().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// Spends the same time as a real verification, so unknown accounts cannot be told apart
/// from wrong passwords by timing.
pub fn verify_against_dummy(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let hash = DUMMY.get_or_init(|| hash_password("dummy-password-for-timing").expect("hash"));
    let _ = verify_password(password, hash);
}

/// Why a password is refused; the message never repeats the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("must be at least {min} characters long")]
    TooShort { min: usize },
    #[error("must be at most 128 characters long")]
    TooLong,
    #[error("must not repeat a single character")]
    OneCharacter,
}

pub fn check_policy(password: &str, min_length: usize) -> Result<(), PolicyError> {
    let chars = password.chars().count();
    if chars < min_length {
        return Err(PolicyError::TooShort { min: min_length });
    }
    if chars > 128 {
        return Err(PolicyError::TooLong);
    }
    let first = password.chars().next();
    if password.chars().all(|c| Some(c) == first) {
        return Err(PolicyError::OneCharacter);
    }
    Ok(())
}

/// A random password for new accounts, shown once: 20 characters without look-alikes.
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    (0..20).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_verifies_only_the_right_password() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterx", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn policy_names_the_rule() {
        assert!(check_policy("short", 12).unwrap_err().to_string().contains("12"));
        assert!(check_policy("aaaaaaaaaaaaaaa", 12).is_err());
        assert!(check_policy("a reasonable passphrase", 12).is_ok());
        assert_eq!(generate_password().len(), 20);
    }
}
