//! One-time voting codes: 80 random bits as 16 base-32 symbols plus a check symbol, printed
//! `ABCD-EFGH-JKMN-PQRS-T` so they survive being read over the phone. Only the SHA-256 of the
//! normalised code is stored. Pure.

use rand::Rng;
use sha2::{Digest, Sha256};

/// Crockford's base 32 (no I, L, O, U).
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const PAYLOAD: usize = 16;

fn value(c: u8) -> Option<u32> {
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u32)
}

/// Luhn mod 32 over the payload: catches every single wrong symbol and every swap of two
/// adjacent payload symbols except `0`↔`Z` (Luhn's blind spot, like 09↔90 in decimal). A
/// mistake it misses still names a code nobody holds, refused like any other.
fn check_symbol(payload: &[u8]) -> u8 {
    let mut sum = 0u32;
    for (i, &c) in payload.iter().rev().enumerate() {
        let v = value(c).expect("alphabet symbol");
        let v = if i % 2 == 0 { v * 2 } else { v };
        sum += v / 32 + v % 32;
    }
    ALPHABET[((32 - sum % 32) % 32) as usize]
}

/// A new code, in display form.
pub fn generate() -> String {
    let mut rng = rand::rngs::OsRng;
    let payload: Vec<u8> = (0..PAYLOAD).map(|_| ALPHABET[rng.gen_range(0..32)]).collect();
    let mut all = payload.clone();
    all.push(check_symbol(&payload));
    all.chunks(4).map(|c| std::str::from_utf8(c).expect("ascii")).collect::<Vec<_>>().join("-")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("a voting code has 17 letters and digits")]
    Length,
    #[error("this is not a valid voting code: please check for a typing mistake")]
    Check,
}

/// What a person typed → the canonical 17 symbols: blanks and dashes dropped, lower case
/// accepted, O read as 0 and I/L as 1. The check symbol must match.
pub fn normalise(typed: &str) -> Result<String, CodeError> {
    let mut out = Vec::with_capacity(PAYLOAD + 1);
    for ch in typed.chars() {
        if ch.is_whitespace() || ch == '-' {
            continue;
        }
        let c = match ch.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        };
        if !c.is_ascii() || value(c as u8).is_none() || out.len() > PAYLOAD {
            return Err(if out.len() > PAYLOAD { CodeError::Length } else { CodeError::Check });
        }
        out.push(c as u8);
    }
    if out.len() != PAYLOAD + 1 {
        return Err(CodeError::Length);
    }
    if check_symbol(&out[..PAYLOAD]) != out[PAYLOAD] {
        return Err(CodeError::Check);
    }
    Ok(String::from_utf8(out).expect("ascii"))
}

pub fn hash(normalised: &str) -> String {
    hex::encode(Sha256::digest(format!("anshang/ballot-code\0{normalised}")))
}

/// A random receipt, unrelated to the code: 20 base-32 symbols.
pub fn receipt() -> String {
    let mut rng = rand::rngs::OsRng;
    let s: Vec<u8> = (0..20).map(|_| ALPHABET[rng.gen_range(0..32)]).collect();
    s.chunks(5).map(|c| std::str::from_utf8(c).expect("ascii")).collect::<Vec<_>>().join("-")
}

/// A random row id (128 bits), unrelated to anything else.
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    rand::Rng::fill(&mut rand::rngs::OsRng, &mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn codes_tolerate_how_people_type_them() {
        let code = generate();
        assert_eq!(code.len(), 21);
        let canonical = normalise(&code).unwrap();
        assert_eq!(normalise(&code.to_lowercase().replace('-', " ")).unwrap(), canonical);
        assert_eq!(hash(&canonical).len(), 64);
    }

    #[test]
    fn every_single_typo_and_adjacent_swap_is_caught() {
        let canonical = normalise(&generate()).unwrap().into_bytes();
        for i in 0..canonical.len() {
            for &c in ALPHABET.iter() {
                if c != canonical[i] {
                    let mut typo = canonical.clone();
                    typo[i] = c;
                    assert_eq!(normalise(std::str::from_utf8(&typo).unwrap()), Err(CodeError::Check));
                }
            }
        }
        // Every adjacent swap of two payload symbols, at every position: caught, but for the
        // one pair Luhn mod 32 cannot see.
        let base = &canonical[..PAYLOAD];
        for i in 0..PAYLOAD - 1 {
            for &a in ALPHABET.iter() {
                for &b in ALPHABET.iter() {
                    if a == b {
                        continue;
                    }
                    let mut payload = base.to_vec();
                    payload[i] = a;
                    payload[i + 1] = b;
                    let mut swapped = payload.clone();
                    swapped.swap(i, i + 1);
                    let blind_spot = matches!((a, b), (b'0', b'Z') | (b'Z', b'0'));
                    assert_eq!(
                        check_symbol(&payload) == check_symbol(&swapped),
                        blind_spot,
                        "{} <-> {} at {i}",
                        a as char,
                        b as char
                    );
                }
            }
        }
    }

    proptest! {
        #[test]
        fn normalise_never_panics(s in "\\PC{0,40}") {
            let _ = normalise(&s);
        }

        #[test]
        fn generated_codes_always_verify(_i in 0..200u32) {
            prop_assert!(normalise(&generate()).is_ok());
        }
    }
}
