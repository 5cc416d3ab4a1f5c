//! Object lock: the `?retention` and `?object-lock` requests OpenDAL 0.59 cannot send, signed
//! with AWS Signature Version 4 (see `sign`) and sent with the backend's HTTP client, and the
//! little XML and RFC 3339 they need.

use super::config::S3Config;
use super::sign::Signer;
use crate::Retention;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// (year, month, day) to days since 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// UTC fields of a time: (year, month, day, hour, minute, second).
pub(super) fn utc_fields(t: SystemTime) -> (i64, u32, u32, u32, u32, u32) {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    };
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400) as u32;
    (y, mo, d, s / 3600, s / 60 % 60, s % 60)
}

/// `2026-11-22T10:00:00Z`. Rounded *up* to the second so the retention is never shorter than
/// asked.
pub(super) fn rfc3339(t: SystemTime) -> String {
    let t = match t.duration_since(UNIX_EPOCH) {
        Ok(d) if d.subsec_nanos() > 0 => UNIX_EPOCH + Duration::from_secs(d.as_secs() + 1),
        _ => t,
    };
    let (y, mo, d, h, mi, s) = utc_fields(t);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)`.
fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let s = s.trim();
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    if s.len() < 20 || s.as_bytes()[4] != b'-' || !s.as_bytes()[10].eq_ignore_ascii_case(&b'T') {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &s[19..];
    let mut nanos = 0u32;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        let mut text: String = frac[..digits].chars().take(9).collect();
        while text.len() < 9 {
            text.push('0');
        }
        nanos = text.parse().ok()?;
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            sign * (rest.get(1..3)?.parse::<i64>().ok()? * 3600
                + rest.get(4..6)?.parse::<i64>().ok()? * 60)
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo as u32, d as u32) * 86_400 + h * 3600 + mi * 60 + sec - offset;
    let secs = u64::try_from(secs).ok()?;
    Some(UNIX_EPOCH + Duration::new(secs, nanos))
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
}
