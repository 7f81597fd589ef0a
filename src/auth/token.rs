//! Login tokens: HS256 JWTs with a pinned algorithm, a per-purpose issuer and a short life.

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::roles::Role;
use crate::error::ApiError;

/// Issuer of staff login tokens. Other purposes get other issuers, so a token made for one
/// purpose is never accepted for another.
pub const LOGIN_ISSUER: &str = "anshang/login";

/// Issuer of the investor's tracking-page session (set after the number and code were checked).
pub const TRACKING_ISSUER: &str = "anshang/tracking";

/// The tracking page's session: which complaint, and the access code's hash it was opened with.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrackingClaims {
    /// The tracking number.
    pub sub: String,
    pub code_hash: String,
    pub iss: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dept: Option<String>,
    /// Set while the account still holds a one-time password.
    #[serde(default)]
    pub pwc: bool,
    pub iss: String,
    pub iat: i64,
    /// Issue time in milliseconds: an account change made even in the same second as the
    /// token invalidates it.
    #[serde(default)]
    pub iat_ms: i64,
    pub nbf: i64,
    pub exp: i64,
}

pub struct TokenKeys {
    encoding: EncodingKey,
    /// The current key first, then earlier ones still accepted during a rotation.
    decoding: Vec<DecodingKey>,
    ttl: Duration,
}

impl TokenKeys {
    pub fn new(secret: &[u8], ttl_minutes: i64) -> Self {
        Self::with_previous(secret, &[], ttl_minutes)
    }

    /// Signs with `secret`; also verifies tokens signed with any of `previous`, so rotating the
    /// key logs nobody out.
    pub fn with_previous(secret: &[u8], previous: &[Vec<u8>], ttl_minutes: i64) -> Self {
        let mut decoding = vec![DecodingKey::from_secret(secret)];
        decoding.extend(previous.iter().map(|p| DecodingKey::from_secret(p)));
        TokenKeys { encoding: EncodingKey::from_secret(secret), decoding, ttl: Duration::minutes(ttl_minutes) }
    }

    pub fn issue(
        &self,
        user_id: &str,
        role: Role,
        department_id: Option<&str>,
        must_change_password: bool,
        now: DateTime<Utc>,
    ) -> Result<(String, DateTime<Utc>), ApiError> {
        let expires = now + self.ttl;
        let claims = Claims {
            sub: user_id.to_string(),
            role,
            dept: department_id.map(str::to_string),
            pwc: must_change_password,
            iss: LOGIN_ISSUER.to_string(),
            iat: now.timestamp(),
            iat_ms: now.timestamp_millis(),
            nbf: now.timestamp(),
            exp: expires.timestamp(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| ApiError::internal("signing token", e))?;
        Ok((token, expires))
    }

    /// Any failure — expired, not yet valid, forged, wrong issuer or algorithm — is a 401
    /// whose message does not echo the token.
    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        self.decode(token, LOGIN_ISSUER)
    }

    /// A tracking-page session for `minutes`.
    pub fn issue_tracking(
        &self,
        tracking_number: &str,
        code_hash: &str,
        now: DateTime<Utc>,
        minutes: i64,
    ) -> Result<String, ApiError> {
        let claims = TrackingClaims {
            sub: tracking_number.to_string(),
            code_hash: code_hash.to_string(),
            iss: TRACKING_ISSUER.to_string(),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: (now + Duration::minutes(minutes)).timestamp(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| ApiError::internal("signing token", e))
    }

    pub fn verify_tracking(&self, token: &str) -> Result<TrackingClaims, ApiError> {
        self.decode(token, TRACKING_ISSUER)
    }

    fn decode<C: serde::de::DeserializeOwned>(&self, token: &str, issuer: &str) -> Result<C, ApiError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[issuer]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 30;
        let mut last = ApiError::Unauthenticated("the token is not valid");
        for key in &self.decoding {
            match jsonwebtoken::decode::<C>(token, key, &validation) {
                Ok(data) => return Ok(data.claims),
                Err(e) if matches!(e.kind(), jsonwebtoken::errors::ErrorKind::ExpiredSignature) => {
                    return Err(ApiError::Unauthenticated("the token has expired; sign in again"));
                }
                Err(_) => last = ApiError::Unauthenticated("the token is not valid"),
            }
        }
        Err(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tracking_session_is_not_a_login_and_back() {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef", 60);
        let now = Utc::now();
        let tracking = keys.issue_tracking("TS-2026-000001", "abc", now, 30).unwrap();
        assert_eq!(keys.verify_tracking(&tracking).unwrap().sub, "TS-2026-000001");
        assert!(keys.verify(&tracking).is_err(), "a tracking session accepted as a login");
        let (login, _) = keys.issue("u1", Role::Admin, None, false, now).unwrap();
        assert!(keys.verify_tracking(&login).is_err(), "a login accepted as a tracking session");
    }

    #[test]
    fn round_trip_and_rejections() {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef", 60);
        let now = Utc::now();
        let (token, _) = keys.issue("u1", Role::Admin, None, false, now).unwrap();
        let claims = keys.verify(&token).unwrap();
        assert_eq!(claims.sub, "u1");
        assert_eq!(claims.role, Role::Admin);

        let other = TokenKeys::new(b"ffffffffffffffffffffffffffffffff", 60);
        assert!(other.verify(&token).is_err(), "forged signature accepted");

        let (old, _) = keys.issue("u1", Role::Admin, None, false, now - Duration::hours(3)).unwrap();
        assert!(matches!(keys.verify(&old), Err(ApiError::Unauthenticated(m)) if m.contains("expired")));
    }

    #[test]
    fn rotation_accepts_the_previous_key_and_signs_with_the_new() {
        let old = TokenKeys::new(b"old-secret-old-secret-old-secret-0", 60);
        let (token, _) = old.issue("u1", Role::Admin, None, false, Utc::now()).unwrap();
        let rotated = TokenKeys::with_previous(
            b"new-secret-new-secret-new-secret-0",
            &[b"old-secret-old-secret-old-secret-0".to_vec()],
            60,
        );
        assert_eq!(rotated.verify(&token).unwrap().sub, "u1");
        let (fresh, _) = rotated.issue("u2", Role::Admin, None, false, Utc::now()).unwrap();
        assert!(old.verify(&fresh).is_err(), "new tokens use the new key");
        let after = TokenKeys::new(b"new-secret-new-secret-new-secret-0", 60);
        assert!(after.verify(&token).is_err(), "once the old key is dropped its tokens end");
    }
}
