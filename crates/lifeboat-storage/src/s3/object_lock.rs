//! Object lock: the `?retention` and `?object-lock` requests OpenDAL 0.59 cannot send, signed
//! with AWS Signature Version 4 (see `sign`) and sent with the backend's HTTP client, and the
//! little XML and RFC 3339 they need.

use super::config::S3Config;
use super::sign::{utc, Signer};
use crate::Retention;
use jiff::{RoundMode, Timestamp, TimestampRound, Unit};
use std::time::SystemTime;

/// The answer to one direct request.
struct Reply {
    status: u16,
    body: String,
    /// `x-amz-object-lock-mode` (HEAD answers).
    mode: Option<String>,
    /// `x-amz-object-lock-retain-until-date` (HEAD answers).
    until: Option<String>,
}

/// A failed object-lock request: the HTTP status (`None` when no answer arrived) and the
/// service's answer or the transport error. The backend classifies it into a storage error.
pub(super) struct LockFailure {
    /// HTTP status of the answer; `None` when the request failed before one arrived.
    pub(super) status: Option<u16>,
    /// The answer's body, or what went wrong.
    pub(super) text: String,
}

impl LockFailure {
    fn answer(status: u16, text: String) -> Self {
        LockFailure {
            status: Some(status),
            text,
        }
    }

    fn transport(text: String) -> Self {
        LockFailure { status: None, text }
    }
}

/// Direct, SigV4-signed requests for the object-lock sub-resources.
pub(super) struct LockApi {
    client: reqwest::Client,
    /// Scheme, host, region and credentials of the signed requests.
    signer: Signer,
    /// Path prefix up to and including the bucket for path-style addressing (`/bucket`), empty
    /// for virtual-host style.
    bucket_path: String,
    /// Key prefix of the repository inside the bucket (no leading or trailing `/`).
    prefix: String,
}

/// `2026-11-22T10:00:00Z`. Rounded *up* to the second so the retention is never shorter than
/// asked.
pub(super) fn rfc3339(t: SystemTime) -> String {
    let t = utc(t);
    let up = TimestampRound::new()
        .smallest(Unit::Second)
        .mode(RoundMode::Ceil);
    // Only within the last second jiff represents can rounding up fail.
    let t = t.round(up).unwrap_or(t);
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Parses an RFC 3339 time with an offset (`YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)`); `None` for
/// anything else and for times before 1970.
pub(super) fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let t: Timestamp = s.trim().parse().ok()?;
    (t >= Timestamp::UNIX_EPOCH).then(|| SystemTime::from(t))
}

/// The text of the first `<tag>…</tag>` in an XML document.
fn xml_tag<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    Some(xml[start..end].trim())
}

impl LockApi {
    /// `None` when the credentials are not given explicitly (configuration or environment):
    /// credentials OpenDAL loads itself (`~/.aws`, instance metadata) are not available here.
    pub(super) fn new(config: &S3Config, client: reqwest::Client) -> Option<Self> {
        let (Some(id), Some(secret)) = (&config.access_key_id, &config.secret_access_key) else {
            return None;
        };
        let endpoint = config
            .endpoint
            .clone()
            .unwrap_or_else(|| format!("https://s3.{}.amazonaws.com", config.region));
        let (scheme, rest) = endpoint.split_once("://")?;
        let host = rest.split('/').next()?.to_string();
        let (host, bucket_path) = if config.virtual_host_style {
            (format!("{}.{host}", config.bucket), String::new())
        } else {
            (host, format!("/{}", config.bucket))
        };
        Some(LockApi {
            client,
            signer: Signer {
                scheme: scheme.to_ascii_lowercase(),
                host,
                region: config.region.clone(),
                access_key_id: id.clone(),
                secret_access_key: secret.clone(),
                session_token: config.session_token.clone(),
            },
            bucket_path,
            prefix: config.prefix.clone(),
        })
    }

    /// The request path of a repository key (or of the bucket for `None`).
    fn path(&self, key: Option<&str>) -> String {
        match key {
            None if self.bucket_path.is_empty() => "/".to_string(),
            None => self.bucket_path.clone(),
            Some(key) if self.prefix.is_empty() => format!("{}/{key}", self.bucket_path),
            Some(key) => format!("{}/{}/{key}", self.bucket_path, self.prefix),
        }
    }

    /// Whether the bucket has object lock enabled: `GET /BUCKET?object-lock`. Any failure
    /// (unreachable service, no lock configuration) is "no".
    pub(super) async fn bucket_lock_enabled(&self) -> bool {
        let path = self.path(None);
        match self.send("GET", &path, "object-lock", Vec::new()).await {
            Ok(r) if r.status == 200 => xml_tag(&r.body, "ObjectLockEnabled") == Some("Enabled"),
            Ok(r) => {
                tracing::debug!(r.status, r.body, "bucket reports no object lock");
                false
            }
            Err(e) => {
                tracing::debug!(error = e, "object-lock probe failed");
                false
            }
        }
    }

    /// Sets the retention of a stored object (`PUT ?retention`).
    pub(super) async fn put_retention(
        &self,
        key: &str,
        mode: &str,
        until: SystemTime,
    ) -> Result<(), LockFailure> {
        let body = format!(
            "<Retention xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Mode>{mode}</Mode>\
             <RetainUntilDate>{}</RetainUntilDate></Retention>",
            rfc3339(until)
        );
        match self
            .send("PUT", &self.path(Some(key)), "retention", body.into_bytes())
            .await
        {
            Ok(r) if (200..300).contains(&r.status) => Ok(()),
            Ok(r) => Err(LockFailure::answer(r.status, r.body)),
            Err(e) => Err(LockFailure::transport(e)),
        }
    }

    /// The retention of a stored object (`GET ?retention`, with a HEAD's
    /// `x-amz-object-lock-*` headers as fallback for services that ignore the sub-resource);
    /// `None` when it carries none.
    pub(super) async fn retention(&self, key: &str) -> Result<Option<Retention>, LockFailure> {
        let path = self.path(Some(key));
        let Reply {
            status, mut body, ..
        } = self
            .send("GET", &path, "retention", Vec::new())
            .await
            .map_err(LockFailure::transport)?;
        let mut fields = (
            xml_tag(&body, "Mode").map(str::to_string),
            xml_tag(&body, "RetainUntilDate").map(str::to_string),
        );
        let is_xml = {
            let t = body.trim_start();
            t.starts_with("<?xml") || t.starts_with("<Retention")
        };
        if status == 200 && !is_xml {
            // A service that ignores `?retention` (moto answers with the object itself): the
            // same fields come as headers of a HEAD.
            let head = self
                .send("HEAD", &path, "", Vec::new())
                .await
                .map_err(LockFailure::transport)?;
            if head.status != 200 {
                return Err(LockFailure::answer(head.status, head.body));
            }
            if head.until.is_none() {
                return Ok(None);
            }
            body = format!("HEAD: mode {:?}, until {:?}", head.mode, head.until);
            fields = (head.mode, head.until);
        }
        match status {
            200 => {
                let mode = fields.0.unwrap_or_else(|| "COMPLIANCE".to_string());
                let until = fields.1.as_deref().and_then(parse_rfc3339).ok_or_else(|| {
                    LockFailure::answer(status, format!("unreadable retention: {body}"))
                })?;
                Ok(Some(Retention {
                    mode,
                    retain_until: until,
                }))
            }
            404 if body.contains("NoSuchKey") => Err(LockFailure::answer(404, body)),
            // No retention on the object (S3: 404 NoSuchObjectLockConfiguration).
            404 => Ok(None),
            _ if body.contains("NoSuchObjectLockConfiguration") => Ok(None),
            _ => Err(LockFailure::answer(status, body)),
        }
    }

    /// Sends one signed request with a sub-resource query (`retention`, `object-lock`) and
    /// returns the status and body.
    async fn send(
        &self,
        method: &str,
        path: &str,
        subresource: &str,
        body: Vec<u8>,
    ) -> std::result::Result<Reply, String> {
        let signed = self
            .signer
            .sign(method, path, subresource, &body, SystemTime::now());
        let url = signed.url;
        let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
        let mut request = self
            .client
            .request(method, &url)
            .header("authorization", signed.authorization);
        for (k, v) in &signed.headers {
            if k != "host" {
                request = request.header(k.as_str(), v.as_str());
            }
        }
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let (mode, until) = (
            header("x-amz-object-lock-mode"),
            header("x-amz-object-lock-retain-until-date"),
        );
        let bytes = response
            .bytes()
            .await
            .map_err(|e| format!("{url}: reading the response: {e}"))?;
        Ok(Reply {
            status,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            mode,
            until,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::sign::uri_encode_path;
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn times_format_and_parse() {
        let t = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        assert_eq!(rfc3339(t), "2026-11-18T11:06:40Z");
        assert_eq!(parse_rfc3339("2026-11-18T11:06:40Z"), Some(t));
        assert_eq!(parse_rfc3339("2026-11-18T13:06:40+02:00"), Some(t));
        assert_eq!(
            parse_rfc3339("2026-11-18T11:06:40.250Z"),
            Some(t + Duration::from_millis(250))
        );
        // Rounded up, never shorter than asked.
        assert_eq!(
            rfc3339(t + Duration::from_millis(1)),
            "2026-11-18T11:06:41Z"
        );
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            parse_rfc3339("2000-02-29T00:00:00Z")
                .map(rfc3339)
                .as_deref(),
            Some("2000-02-29T00:00:00Z")
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(
            xml_tag("<Retention><Mode>GOVERNANCE</Mode></Retention>", "Mode"),
            Some("GOVERNANCE")
        );
        assert_eq!(uri_encode_path("/b/a b+c/d"), "/b/a%20b%2Bc/d");
    }

    #[test]
    fn times_at_the_edges() {
        let t = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        assert_eq!(parse_rfc3339(" 2026-11-18t11:06:40z\n"), Some(t));
        assert_eq!(
            parse_rfc3339("2026-11-18T11:06:40.123456789Z"),
            Some(t + Duration::from_nanos(123_456_789))
        );
        assert_eq!(parse_rfc3339("2026-11-18T11:06:40"), None, "no offset");
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z"), None, "before 1970");
        // Beyond the times jiff represents: the latest one it can ([`Timestamp::MAX`]).
        let far = UNIX_EPOCH + Duration::from_secs(400_000 * 365 * 86_400);
        assert_eq!(rfc3339(far), "9999-12-30T22:00:00Z");
    }
}
