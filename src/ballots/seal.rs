//! Sealed ballots: the round key and its shares, and sealing and opening a ballot. Pure.
//!
//! When a round opens, a fresh age X25519 key pair is made (the `age` crate, age-encryption.org/v1:
//! X25519, HKDF-SHA-256, ChaCha20-Poly1305). The public key is stored with the round and seals
//! every ballot at cast. The private key is split by Shamir's secret sharing over GF(256) (the
//! `sharks` crate) into one share per trustee, any `threshold` of which rebuild it; the shares are
//! handed out once and the key itself is never stored. At close, the trustees' shares rebuild the
//! key in memory, the ballots are opened, and the key is dropped (zeroised).
//!
//! A sealed ballot is padded to one length per round (that of a ballot rating every department),
//! so its size does not tell how many departments a voter rated.

use std::str::FromStr;

use age::secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use super::model::{Answer, Answers, Question};

/// How a key share is written: this prefix, then hex.
pub const SHARE_PREFIX: &str = "ANSHANG-KEY-SHARE-";

/// One voter's ballot as sealed: a rating per department, with the category to store (empty where
/// the cell is too small to keep one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedBallot {
    pub ratings: Vec<SealedRating>,
    /// Spaces, to the round's fixed length.
    #[serde(default)]
    pub pad: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedRating {
    pub department_id: String,
    pub category: String,
    pub answers: Answers,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("a key share is not one of this service's key shares")]
    BadShare,
    #[error("{needed} key shares are needed, {given} given")]
    TooFewShares { needed: usize, given: usize },
    #[error("these key shares do not open this round's ballots")]
    WrongKey,
    #[error("a sealed ballot could not be opened: {0}")]
    Damaged(String),
    #[error("the round's public key is not an age X25519 key: {0}")]
    PublicKey(String),
    #[error("sealing: {0}")]
    Sealing(String),
}

/// A new round key: its public half (stored with the round) and `trustees` shares of its private
/// half, any `threshold` of which open the round's ballots.
pub fn new_round_key(trustees: u8, threshold: u8) -> (String, Vec<String>) {
    assert!((1..=trustees).contains(&threshold), "1 ≤ threshold ≤ trustees");
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let secret = identity.to_string();
    let shares = sharks::Sharks(threshold)
        .dealer_rng(secret.expose_secret().as_bytes(), &mut rand::rngs::OsRng)
        .take(usize::from(trustees))
        .map(|s| {
            let mut bytes = Vec::from(&s);
            let text = format!("{SHARE_PREFIX}{}", hex::encode_upper(&bytes));
            bytes.zeroize();
            text
        })
        .collect();
    (recipient, shares)
}

/// The longest ballot of a round: every department rated, every question answered with the
/// longest answer, the longest category. Sealed ballots are padded to its length.
fn full_length(department_ids: &[String], questions: &[Question]) -> usize {
    let answers: Answers = questions.iter().map(|q| (q.key.clone(), Answer::BasicallySatisfied)).collect();
    let ratings = department_ids
        .iter()
        .map(|d| SealedRating {
            department_id: d.clone(),
            category: "enterprise_representative".into(),
            answers: answers.clone(),
        })
        .collect();
    serde_json::to_vec(&SealedBallot { ratings, pad: String::new() }).expect("json").len()
}

/// The ballot as sealed: JSON padded with spaces to the round's fixed length.
fn padded(department_ids: &[String], questions: &[Question], ratings: Vec<SealedRating>) -> Vec<u8> {
    let mut ballot = SealedBallot { ratings, pad: String::new() };
    let len = serde_json::to_vec(&ballot).expect("json").len();
    ballot.pad = " ".repeat(full_length(department_ids, questions).saturating_sub(len));
    serde_json::to_vec(&ballot).expect("json")
}

/// Seals a ballot to the round's public key, padded to the round's fixed length. (The age
/// header's length varies at random, independently of the ballot.)
pub fn seal(
    recipient: &str,
    department_ids: &[String],
    questions: &[Question],
    ratings: Vec<SealedRating>,
) -> Result<Vec<u8>, SealError> {
    let recipient = age::x25519::Recipient::from_str(recipient).map_err(|e| SealError::PublicKey(e.to_string()))?;
    let mut plain = padded(department_ids, questions, ratings);
    let sealed = age::encrypt(&recipient, &plain).map_err(|e| SealError::Sealing(e.to_string()));
    plain.zeroize();
    sealed
}

/// The round's private key, rebuilt from key shares; checked against its public key.
pub struct RoundKey(age::x25519::Identity);

impl RoundKey {
    pub fn from_shares(shares: &[String], threshold: u8, recipient: &str) -> Result<RoundKey, SealError> {
        let mut parsed = Vec::new();
        for s in shares.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
            let hex_part = s.strip_prefix(SHARE_PREFIX).ok_or(SealError::BadShare)?;
            let mut bytes = hex::decode(hex_part).map_err(|_| SealError::BadShare)?;
            let share = sharks::Share::try_from(bytes.as_slice()).map_err(|_| SealError::BadShare)?;
            bytes.zeroize();
            parsed.push(share);
        }
        if parsed.len() < usize::from(threshold) {
            return Err(SealError::TooFewShares { needed: usize::from(threshold), given: parsed.len() });
        }
        let mut secret = sharks::Sharks(threshold).recover(parsed.iter()).map_err(|_| SealError::WrongKey)?;
        let identity = std::str::from_utf8(&secret).ok().and_then(|s| age::x25519::Identity::from_str(s).ok());
        secret.zeroize();
        let identity = identity.ok_or(SealError::WrongKey)?;
        if identity.to_public().to_string() != recipient {
            return Err(SealError::WrongKey);
        }
        Ok(RoundKey(identity))
    }

    pub fn open(&self, sealed: &[u8]) -> Result<SealedBallot, SealError> {
        let mut plain = age::decrypt(&self.0, sealed).map_err(|e| SealError::Damaged(e.to_string()))?;
        let ballot = serde_json::from_slice(&plain).map_err(|e| SealError::Damaged(e.to_string()));
        plain.zeroize();
        ballot
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ballots::model::default_questions;

    fn rating(d: &str, a: Answer) -> SealedRating {
        SealedRating {
            department_id: d.into(),
            category: "enterprise_served".into(),
            answers: default_questions().into_iter().map(|q| (q.key, a)).collect(),
        }
    }

    #[test]
    fn any_two_of_three_shares_open_a_ballot_one_does_not_and_sizes_are_equal() {
        let (recipient, shares) = new_round_key(3, 2);
        assert_eq!(shares.len(), 3);
        let depts: Vec<String> = ["d1", "d2", "d3"].iter().map(|s| s.to_string()).collect();
        let one = seal(&recipient, &depts, &default_questions(), vec![rating("d1", Answer::Satisfied)]).unwrap();
        let three = seal(
            &recipient,
            &depts,
            &default_questions(),
            depts.iter().map(|d| rating(d, Answer::Dissatisfied)).collect(),
        )
        .unwrap();
        let rated = |n: usize| {
            padded(&depts, &default_questions(), depts[..n].iter().map(|d| rating(d, Answer::Satisfied)).collect())
                .len()
        };
        assert_eq!(rated(1), rated(3), "the size says nothing about the departments rated");
        assert!(!String::from_utf8_lossy(&one).contains("satisfied"));
        for pair in [[0, 1], [1, 2], [0, 2]] {
            let key =
                RoundKey::from_shares(&[shares[pair[0]].clone(), shares[pair[1]].clone()], 2, &recipient).unwrap();
            assert_eq!(key.open(&one).unwrap().ratings, vec![rating("d1", Answer::Satisfied)]);
            assert_eq!(key.open(&three).unwrap().ratings.len(), 3);
        }
        assert!(matches!(
            RoundKey::from_shares(&shares[..1], 2, &recipient),
            Err(SealError::TooFewShares { needed: 2, given: 1 })
        ));
        // Shares of another round's key: refused, never a wrong opening.
        let (other_recipient, other) = new_round_key(3, 2);
        assert!(RoundKey::from_shares(&other[..2], 2, &recipient).is_err());
        assert!(RoundKey::from_shares(&shares[..2], 2, &other_recipient).is_err());
        assert!(matches!(
            RoundKey::from_shares(&["not a share".into(), shares[0].clone()], 2, &recipient),
            Err(SealError::BadShare)
        ));
        // No share holds the key, nor the public key.
        let key_text = recipient.clone();
        assert!(shares.iter().all(|s| !s.contains(&key_text) && !s.contains("AGE-SECRET-KEY")));
    }
}
