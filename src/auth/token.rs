//! Login tokens: HS256 JWTs with a pinned algorithm, a per-purpose issuer and a short life.

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::roles::Role;
use crate::error::ApiError;

/// Issuer of staff login tokens. Other purposes get other issuers, so a token made for one
/// purpose is never accepted for another.
pub const LOGIN_ISSUER: &str = "anshang/login";

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
    pub nbf: i64,
    pub exp: i64,
}

pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl: Duration,
}

impl TokenKeys {
    pub fn new(secret: &[u8], ttl_minutes: i64) -> Self {
        TokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            ttl: Duration::minutes(ttl_minutes),
        }
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
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[LOGIN_ISSUER]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 30;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    ApiError::Unauthenticated("the token has expired; sign in again")
                }
                _ => ApiError::Unauthenticated("the token is not valid"),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
