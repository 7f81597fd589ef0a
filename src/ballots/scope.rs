//! A code's scope — the voter's category and the departments the code may rate — sealed under a
//! key derived from the code itself. Pure.
//!
//! The credential row keeps only the code's hash, its round, whether it is spent and this sealed
//! scope: a database administrator cannot read which category or departments a code belongs
//! to, so a credential cannot be matched to a roll entry with a rare combination of them, and
//! "spent" says nothing about who voted. Whoever holds the code opens its scope: the voter, when
//! the page asks which departments apply and when the ballot is cast.
//!
//! Construction (no home-made cryptography): key = HKDF-SHA-256 (RFC 5869) of the normalised
//! code, salted with the round id; ChaCha20-Poly1305 (RFC 8439) with a random 96-bit nonce and
//! the round id as associated data. The plaintext has a fixed length — one byte of category and
//! a bitmap over the round's departments (at most 100) — so its size says nothing either. A code
//! has 80 random bits: guessing a key is as hard as guessing the code.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hkdf::Hkdf;
use rand::RngCore;
use sha2::Sha256;

use super::model::Category;

/// Enough bits for the most departments a round can have (100).
const BITMAP_BYTES: usize = 13;
const SEALED: &str = "v1:";
/// Credentials issued before scopes were sealed: `v0:` and the scope as JSON.
const LEGACY: &str = "v0:";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub category: Category,
    /// Department ids, in the order of `round_departments`.
    pub departments: Vec<String>,
}

fn cipher(code: &str, round_id: &str) -> ChaCha20Poly1305 {
    let mut key = [0u8; 32];
    Hkdf::<Sha256>::new(Some(round_id.as_bytes()), code.as_bytes())
        .expand(b"anshang ballot credential scope v1", &mut key)
        .expect("32 bytes is a valid HKDF-SHA-256 length");
    ChaCha20Poly1305::new(Key::from_slice(&key))
}

/// Seals `scope` for the normalised `code` of round `round_id`, whose departments (every one, in
/// a fixed order: sorted ids) are `round_departments`.
pub fn seal(code: &str, round_id: &str, round_departments: &[String], scope: &Scope) -> String {
    assert!(round_departments.len() <= BITMAP_BYTES * 8, "a round has at most 100 departments");
    let mut plain = [0u8; 1 + BITMAP_BYTES];
    plain[0] = Category::ALL.iter().position(|c| *c == scope.category).expect("a category") as u8;
    for d in &scope.departments {
        if let Some(i) = round_departments.iter().position(|r| r == d) {
            plain[1 + i / 8] |= 1 << (i % 8);
        }
    }
    let mut nonce = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let sealed = cipher(code, round_id)
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: &plain, aad: round_id.as_bytes() })
        .expect("encrypting a short message cannot fail");
    format!("{SEALED}{}{}", hex::encode(nonce), hex::encode(sealed))
}

/// Opens a stored scope with the normalised `code`; None if it was sealed for another code or
/// round, or is damaged.
pub fn open(code: &str, round_id: &str, round_departments: &[String], stored: &str) -> Option<Scope> {
    if let Some(json) = stored.strip_prefix(LEGACY) {
        #[derive(serde::Deserialize)]
        struct Legacy {
            category: String,
            departments: Vec<String>,
        }
        let l: Legacy = serde_json::from_str(json).ok()?;
        return Some(Scope { category: Category::parse(&l.category)?, departments: l.departments });
    }
    let bytes = hex::decode(stored.strip_prefix(SEALED)?).ok()?;
    if bytes.len() < 12 {
        return None;
    }
    let (nonce, sealed) = bytes.split_at(12);
    let plain = cipher(code, round_id)
        .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad: round_id.as_bytes() })
        .ok()?;
    if plain.len() != 1 + BITMAP_BYTES {
        return None;
    }
    let category = *Category::ALL.get(usize::from(plain[0]))?;
    let departments = round_departments
        .iter()
        .enumerate()
        .filter(|(i, _)| plain[1 + i / 8] & (1 << (i % 8)) != 0)
        .map(|(_, d)| d.clone())
        .collect();
    Some(Scope { category, departments })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depts(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("{i:08}-dept")).collect()
    }

    #[test]
    fn only_the_code_opens_its_scope_and_every_scope_looks_alike() {
        let round = depts(100);
        let a = Scope {
            category: Category::ConductMonitor,
            departments: vec![round[0].clone(), round[57].clone(), round[99].clone()],
        };
        let b = Scope { category: Category::EnterpriseServed, departments: vec![round[3].clone()] };
        let sa = seal("ABCDEFGHJKMNPQRST", "r1", &round, &a);
        let sb = seal("0123456789ABCDEFG", "r1", &round, &b);
        assert_eq!(open("ABCDEFGHJKMNPQRST", "r1", &round, &sa), Some(a.clone()));
        assert_eq!(open("0123456789ABCDEFG", "r1", &round, &sb), Some(b));
        // Another code, another round, a changed byte: nothing.
        assert_eq!(open("0123456789ABCDEFG", "r1", &round, &sa), None);
        assert_eq!(open("ABCDEFGHJKMNPQRST", "r2", &round, &sa), None);
        let mut damaged = sa.clone().into_bytes();
        let last = damaged.len() - 1;
        damaged[last] = if damaged[last] == b'0' { b'1' } else { b'0' };
        assert_eq!(open("ABCDEFGHJKMNPQRST", "r1", &round, &String::from_utf8(damaged).unwrap()), None);
        // The same length whatever the scope; nothing readable; a new nonce each time.
        assert_eq!(sa.len(), sb.len());
        assert!(!sa.contains("dept") && !sa.contains("monitor"));
        assert_ne!(seal("ABCDEFGHJKMNPQRST", "r1", &round, &a), sa);
    }

    #[test]
    fn credentials_issued_before_sealing_still_open() {
        let stored = r#"v0:{"category":"enterprise_served","departments":["d1","d2"]}"#;
        assert_eq!(
            open("any", "r", &[], stored),
            Some(Scope { category: Category::EnterpriseServed, departments: vec!["d1".into(), "d2".into()] })
        );
    }
}
