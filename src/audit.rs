//! The audit trail's key. Complaint events and the admin log are hash-chained with
//! HMAC-SHA256 under a key kept outside the database (`auth.audit_key`, `auth.audit_key_file`,
//! or `<data_dir>/audit.key`, like the JWT secret): someone who can write the database but does
//! not hold the key cannot recompute a chain over a forged history.
//!
//! The key is loaded once per process when the database is opened (`app::open_database`) and
//! installed here, so every writer of the trail seals with it.

use std::sync::{Arc, RwLock};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

static KEY: RwLock<Option<Arc<Vec<u8>>>> = RwLock::new(None);

/// Makes `key` the process's audit key.
pub fn install(key: Vec<u8>) {
    *KEY.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(key));
}

fn key() -> Arc<Vec<u8>> {
    KEY.read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .expect("the audit key is installed when the database is opened (app::open_database)")
}

/// The seal of `message`: HMAC-SHA256 under the audit key, hex.
pub fn seal(message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(&key()).expect("HMAC takes keys of any length");
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

/// Names the key without revealing it (stored with a sealed chain, so that a start with another
/// key is noticed).
pub fn key_id() -> String {
    key_id_of(&key())
}

/// The id of any key (a restore checks the key it puts back against the restored trail's seal).
pub fn key_id_of(key: &[u8]) -> String {
    let digest = Sha256::new().chain_update(b"anshang/audit-key-id\0").chain_update(key).finalize();
    hex::encode(&digest[..8])
}

/// Length-prefixed concatenation: no two different field lists give the same bytes.
pub fn fields_message(fields: &[&str], flag: Option<bool>) -> Vec<u8> {
    let mut out = Vec::new();
    for f in fields {
        out.extend_from_slice(&(f.len() as u64).to_be_bytes());
        out.extend_from_slice(f.as_bytes());
    }
    if let Some(b) = flag {
        out.push(b as u8);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_depend_on_the_key() {
        install(b"k1-0123456789abcdef0123456789abcdef".to_vec());
        let (a, id_a) = (seal(b"event"), key_id());
        install(b"k2-0123456789abcdef0123456789abcdef".to_vec());
        assert_ne!(seal(b"event"), a);
        assert_ne!(key_id(), id_a);
        assert_eq!(seal(b"event").len(), 64);
        assert_ne!(fields_message(&["ab", "c"], None), fields_message(&["a", "bc"], None));
    }
}
