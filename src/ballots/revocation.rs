//! Replacing a lost code without tying codes to voters. Pure.
//!
//! Nothing stored links a code to its roll entry (its scope is sealed under the code itself), so
//! a code whose holder lost it could not be found to cancel it. Each round therefore gets a
//! *revocation key*: an age X25519 key pair (the `age` crate: X25519, HKDF-SHA-256,
//! ChaCha20-Poly1305) made when the round is created. Its public half is stored with the round;
//! its private half is shown once to the officer who created the round and never stored.
//!
//! Every code issued carries a *roll tag*: its roll entry's id, encrypted to that public half
//! (randomised: two tags of one entry look unrelated). Only the private half opens the tags, so
//! the officer who holds it, replacing a lost code, finds the unspent code of the voter named
//! and cancels it. A tag is erased when its code is spent and when the round closes, so it never
//! sits beside a spent code in the database.

use std::str::FromStr;

use age::secrecy::ExposeSecret;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RevocationError {
    #[error("this is not a revocation key (it starts with AGE-SECRET-KEY-)")]
    NotAKey,
    #[error("this revocation key belongs to another round")]
    OtherRound,
    #[error("the round's revocation public key is not an age X25519 key: {0}")]
    PublicKey(String),
    #[error("sealing a roll tag: {0}")]
    Sealing(String),
}

/// A new revocation key pair: (public half, to store with the round; private half, to show once).
pub fn new_key() -> (String, String) {
    let identity = age::x25519::Identity::generate();
    (identity.to_public().to_string(), identity.to_string().expose_secret().to_string())
}

/// A roll entry's id sealed to the round's revocation public key, hex-encoded.
pub fn tag(recipient: &str, roll_entry_id: &str) -> Result<String, RevocationError> {
    let recipient =
        age::x25519::Recipient::from_str(recipient).map_err(|e| RevocationError::PublicKey(e.to_string()))?;
    age::encrypt(&recipient, roll_entry_id.as_bytes())
        .map(hex::encode)
        .map_err(|e| RevocationError::Sealing(e.to_string()))
}

/// A round's private revocation key, checked against its public half.
pub struct RevocationKey(age::x25519::Identity);

impl RevocationKey {
    pub fn parse(typed: &str, recipient: &str) -> Result<RevocationKey, RevocationError> {
        let identity = age::x25519::Identity::from_str(typed.trim()).map_err(|_| RevocationError::NotAKey)?;
        if identity.to_public().to_string() != recipient {
            return Err(RevocationError::OtherRound);
        }
        Ok(RevocationKey(identity))
    }

    /// The roll entry id inside a tag; None for a tag this key does not open.
    pub fn entry_of(&self, tag: &str) -> Option<String> {
        let sealed = hex::decode(tag).ok()?;
        let plain = age::decrypt(&self.0, &sealed).ok()?;
        String::from_utf8(plain).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_rounds_own_key_opens_its_tags_and_tags_of_one_entry_differ() {
        let (recipient, secret) = new_key();
        let (other_recipient, other_secret) = new_key();
        let a = tag(&recipient, "entry-1").unwrap();
        let b = tag(&recipient, "entry-1").unwrap();
        assert_ne!(a, b, "randomised: two tags of one entry cannot be matched");
        assert!(!a.contains(&hex::encode("entry-1")));
        let key = RevocationKey::parse(&secret, &recipient).unwrap();
        assert_eq!(key.entry_of(&a).as_deref(), Some("entry-1"));
        assert_eq!(key.entry_of(&tag(&other_recipient, "entry-1").unwrap()), None);
        assert_eq!(key.entry_of("not hex"), None);
        assert_eq!(RevocationKey::parse(&other_secret, &recipient).err(), Some(RevocationError::OtherRound));
        assert_eq!(RevocationKey::parse("ANSHANG-KEY-SHARE-00", &recipient).err(), Some(RevocationError::NotAKey));
    }
}
