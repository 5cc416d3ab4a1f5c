//! Bearer tokens: making them, hashing them, and finding the token a request presents.
//!
//! Only `sha256:HEX` of a token is configured. A presented token is hashed and compared with
//! every configured hash in constant time, without stopping at the first match, so the time
//! a request takes says nothing about which hashes exist.

use base64::Engine as _;
use lifeboat_config::{Role, Token};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use subtle::ConstantTimeEq;

/// A new token: `lb_` and 32 random bytes in URL-safe base64.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!(
        "lb_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// The configured form of `token`: `sha256:` and the hex SHA-256 of its bytes.
pub fn hash_token(token: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(token.as_bytes())))
}

/// Who a request is: the token's name and role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The token's name (`[daemon.tokens.NAME]`).
    pub name: String,
    /// Its role.
    pub role: Role,
}

impl Caller {
    /// The operations context of what this caller asks for: the token's name as the actor,
    /// through the API.
    pub fn context(&self) -> lifeboat_ops::Context {
        lifeboat_ops::Context::new(lifeboat_ops::Actor {
            user: self.name.clone(),
            front_end: lifeboat_ops::FrontEnd::Api,
        })
    }
}

/// The configured token whose hash matches `presented`, if any.
pub fn verify(tokens: &BTreeMap<String, Token>, presented: &str) -> Option<Caller> {
    let hash = hash_token(presented);
    let mut found = None;
    for t in tokens.values() {
        let equal: bool = t.hash.as_bytes().ct_eq(hash.as_bytes()).into();
        if equal && found.is_none() {
            found = Some(Caller {
                name: t.name.clone(),
                role: t.role,
            });
        }
    }
    found
}

/// The token in an `Authorization: Bearer TOKEN` header value.
pub fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_only_against_their_hash() {
        let t = new_token();
        assert!(t.starts_with("lb_") && t.len() > 40);
        let mut tokens = BTreeMap::new();
        tokens.insert(
            "ci".to_string(),
            Token {
                name: "ci".into(),
                role: Role::Operator,
                hash: hash_token(&t),
            },
        );
        assert_eq!(verify(&tokens, &t).unwrap().role, Role::Operator);
        assert!(verify(&tokens, "lb_wrong").is_none());
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
    }
}
