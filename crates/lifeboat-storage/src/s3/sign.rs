//! AWS Signature Version 4 for the few S3 requests the backend sends itself (see
//! `object_lock`): the canonical request, the string to sign, the derived signing key and the
//! `Authorization` header.

use jiff::Timestamp;
use std::time::{SystemTime, UNIX_EPOCH};

/// Where signed requests go and the explicit credentials that sign them.
pub(super) struct Signer {
    /// `http` or `https`.
    pub(super) scheme: String,
    /// Host (and port) requests go to; signed as the `host` header.
    pub(super) host: String,
    /// Signing region.
    pub(super) region: String,
    /// Access key id.
    pub(super) access_key_id: String,
    /// Secret access key.
    pub(super) secret_access_key: String,
    /// Session token of temporary credentials (`x-amz-security-token`).
    pub(super) session_token: Option<String>,
}

/// A signed request, ready to send.
pub(super) struct Signed {
    /// The full URL (scheme, host, encoded path, sub-resource query).
    pub(super) url: String,
    /// The signed headers in canonical order, `host` included (HTTP clients set it from the
    /// URL themselves).
    pub(super) headers: Vec<(String, String)>,
    /// The `Authorization` header.
    pub(super) authorization: String,
}

/// Percent-encodes a path for SigV4 (S3: every byte but the unreserved set and `/`).
pub(super) fn uri_encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// A time as a [`Timestamp`] (formatted in UTC), clamped to the range jiff represents
/// ([`Timestamp::MIN`] to [`Timestamp::MAX`], about the years -9999 to 9999).
pub(super) fn utc(t: SystemTime) -> Timestamp {
    Timestamp::try_from(t).unwrap_or(if t < UNIX_EPOCH {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

/// The SigV4 date stamps of a time: (`YYYYMMDD`, `YYYYMMDDTHHMMSSZ`), in UTC.
fn date_stamps(t: SystemTime) -> (String, String) {
    let t = utc(t);
    (
        t.strftime("%Y%m%d").to_string(),
        t.strftime("%Y%m%dT%H%M%SZ").to_string(),
    )
}

impl Signer {
    /// Signs one request for the (unencoded) `path` with an optional sub-resource query
    /// (`retention`, `object-lock`; empty for none) and a body, as of `now`. A non-empty body
    /// gets a signed `Content-MD5`.
    pub(super) fn sign(
        &self,
        method: &str,
        path: &str,
        subresource: &str,
        body: &[u8],
        now: SystemTime,
    ) -> Signed {
        let (date, amz_date) = date_stamps(now);
        let payload_hash = sha256_hex(body);
        let query = if subresource.is_empty() {
            String::new()
        } else {
            format!("{subresource}=")
        };
        let path = uri_encode_path(path);
        let mut headers: Vec<(String, String)> = vec![
            ("host".into(), self.host.clone()),
            ("x-amz-content-sha256".into(), payload_hash.clone()),
            ("x-amz-date".into(), amz_date.clone()),
        ];
        if !body.is_empty() {
            use base64::Engine;
            let md5 = <md5::Md5 as md5::Digest>::digest(body);
            headers.push((
                "content-md5".into(),
                base64::engine::general_purpose::STANDARD.encode(md5),
            ));
        }
        if let Some(token) = &self.session_token {
            headers.push(("x-amz-security-token".into(), token.clone()));
        }
        headers.sort();
        let canonical_headers: String = headers
            .iter()
            .map(|(k, v)| format!("{k}:{}\n", v.trim()))
            .collect();
        let signed_headers = headers
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>()
            .join(";");
        let canonical_request = format!(
            "{method}\n{path}\n{query}\n{canonical_headers}\n{signed_headers}\n{payload_hash}"
        );
        let scope = format!("{date}/{}/s3/aws4_request", self.region);
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            sha256_hex(canonical_request.as_bytes())
        );
        let k_date = hmac_sha256(
            format!("AWS4{}", self.secret_access_key).as_bytes(),
            date.as_bytes(),
        );
        let k_region = hmac_sha256(&k_date, self.region.as_bytes());
        let k_service = hmac_sha256(&k_region, b"s3");
        let k_signing = hmac_sha256(&k_service, b"aws4_request");
        let signature = hex::encode(hmac_sha256(&k_signing, string_to_sign.as_bytes()));
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, \
             Signature={signature}",
            self.access_key_id
        );
        let url = if query.is_empty() {
            format!("{}://{}{path}", self.scheme, self.host)
        } else {
            format!("{}://{}{path}?{query}", self.scheme, self.host)
        };
        Signed {
            url,
            headers,
            authorization,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// The example credentials of the AWS documentation ("Signature Calculations for the
    /// Authorization Header", bucket `examplebucket`, 2013-05-24).
    fn example_signer() -> Signer {
        Signer {
            scheme: "https".into(),
            host: "examplebucket.s3.amazonaws.com".into(),
            region: "us-east-1".into(),
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        }
    }

    /// 2013-05-24T00:00:00Z.
    fn example_time() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_369_353_600)
    }

    #[test]
    fn date_stamps_are_utc() {
        assert_eq!(
            date_stamps(example_time()),
            ("20130524".to_string(), "20130524T000000Z".to_string())
        );
        assert_eq!(
            date_stamps(UNIX_EPOCH + Duration::from_millis(1_795_000_000_999)),
            ("20261118".to_string(), "20261118T110640Z".to_string())
        );
    }

    #[test]
    fn signs_the_documented_example() {
        // AWS's "GET Bucket Lifecycle" example: a sub-resource query on the bucket, no body.
        let s = example_signer().sign("GET", "/", "lifecycle", b"", example_time());
        assert_eq!(s.url, "https://examplebucket.s3.amazonaws.com/?lifecycle=");
        assert_eq!(
            s.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;x-amz-content-sha256;x-amz-date, \
             Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"
        );
        let names: Vec<&str> = s.headers.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["host", "x-amz-content-sha256", "x-amz-date"]);
    }

    #[test]
    fn signs_body_and_session_token() {
        let mut signer = example_signer();
        signer.session_token = Some("tok".into());
        let s = signer.sign("PUT", "/a b/k", "retention", b"<x/>", example_time());
        assert_eq!(
            s.url,
            "https://examplebucket.s3.amazonaws.com/a%20b/k?retention="
        );
        let names: Vec<&str> = s.headers.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "content-md5",
                "host",
                "x-amz-content-sha256",
                "x-amz-date",
                "x-amz-security-token"
            ]
        );
        assert!(s.authorization.contains(
            "SignedHeaders=content-md5;host;x-amz-content-sha256;x-amz-date;x-amz-security-token,"
        ));
    }
}
