//! [`S3Config`]: what an S3 repository location and the environment say about the bucket, the
//! credentials and the service's quirks.

use std::fmt;
use std::time::Duration;

/// Region used when neither the configuration nor `AWS_REGION`/`AWS_DEFAULT_REGION` name one.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Everything needed to open an S3 bucket (or a prefix inside one) as a repository.
#[derive(Clone)]
pub struct S3Config {
    /// Endpoint URL (`https://s3.example.com`, `http://127.0.0.1:9000`); `None` means AWS S3
    /// (`https://s3.<region>.amazonaws.com`).
    pub endpoint: Option<String>,
    /// Bucket name.
    pub bucket: String,
    /// Key prefix inside the bucket under which the repository lives (no leading or trailing
    /// `/`; empty for the bucket root).
    pub prefix: String,
    /// Signing region.
    pub region: String,
    /// Access key id; `None` lets OpenDAL load credentials (environment, `~/.aws` files).
    pub access_key_id: Option<String>,
    /// Secret access key, used together with [`Self::access_key_id`].
    pub secret_access_key: Option<String>,
    /// Session token of temporary credentials.
    pub session_token: Option<String>,
    /// Address the bucket as `BUCKET.ENDPOINT` (virtual-host style) instead of `ENDPOINT/BUCKET`.
    pub virtual_host_style: bool,
    /// Send `If-None-Match: *` for `create_new` writes (atomic create). Default true.
    pub conditional_writes: bool,
    /// Let OpenDAL load settings from the environment and `~/.aws/{config,credentials}`.
    /// Default true.
    pub load_aws_config: bool,
    /// Ask the EC2 instance metadata service for credentials when nothing else provides them.
    /// Default false (it is a network call to a link-local address on every machine).
    pub ec2_metadata: bool,
    /// Integrity checksum sent with every PUT: `Some("md5")` (default: `Content-MD5` on single
    /// PUTs, CRC32C on multipart uploads, where S3 accepts no MD5), `Some("crc32c")` (CRC32C
    /// everywhere), or `None` (for services that reject checksum headers).
    pub checksum: Option<String>,
    /// Timeout for establishing a connection.
    pub connect_timeout: Duration,
    /// Timeout for one read of the response (not the whole transfer).
    pub read_timeout: Duration,
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .field("virtual_host_style", &self.virtual_host_style)
            .field("conditional_writes", &self.conditional_writes)
            .field("load_aws_config", &self.load_aws_config)
            .field("ec2_metadata", &self.ec2_metadata)
            .field("checksum", &self.checksum)
            .finish()
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn env_flag(name: &str) -> Option<bool> {
    env(name).map(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
}

impl S3Config {
    /// A configuration with defaults: region [`DEFAULT_REGION`], credentials loaded by OpenDAL,
    /// path-style addressing, conditional writes, MD5 checksums. Nothing is read from the
    /// environment here; see [`Self::with_env`].
    pub fn new(endpoint: Option<&str>, bucket: &str, prefix: &str) -> Self {
        S3Config {
            endpoint: endpoint.map(|e| e.trim_end_matches('/').to_string()),
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
            region: DEFAULT_REGION.to_string(),
            access_key_id: None,
            secret_access_key: None,
            session_token: None,
            virtual_host_style: false,
            conditional_writes: true,
            load_aws_config: true,
            ec2_metadata: false,
            checksum: Some("md5".to_string()),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(120),
        }
    }

    /// Fills the configuration from the environment:
    ///
    /// | variable | effect |
    /// |---|---|
    /// | `LIFEBOAT_S3_ENDPOINT` | endpoint, when the location did not name one (`s3://` form) |
    /// | `AWS_REGION`, `AWS_DEFAULT_REGION` | signing region (default `us-east-1`) |
    /// | `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` | credentials (else `~/.aws/credentials`, profile `AWS_PROFILE`) |
    /// | `LIFEBOAT_S3_VIRTUAL_HOST=1` | virtual-host style addressing |
    /// | `LIFEBOAT_S3_CONDITIONAL_WRITES=0` | the service ignores `If-None-Match`: check-then-write for `create_new` |
    /// | `LIFEBOAT_S3_CHECKSUM=md5\|crc32c\|none` | integrity checksum of PUTs (default `md5`) |
    /// | `LIFEBOAT_S3_EC2_METADATA=1` | allow credentials from the EC2 instance metadata service |
    pub fn with_env(mut self) -> Self {
        if self.endpoint.is_none() {
            self.endpoint =
                env("LIFEBOAT_S3_ENDPOINT").map(|e| e.trim_end_matches('/').to_string());
        }
        if let Some(region) = env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION")) {
            self.region = region;
        }
        if let (Some(id), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
            self.access_key_id = Some(id);
            self.secret_access_key = Some(secret);
            self.session_token = env("AWS_SESSION_TOKEN");
        }
        if let Some(v) = env_flag("LIFEBOAT_S3_VIRTUAL_HOST") {
            self.virtual_host_style = v;
        }
        if let Some(v) = env_flag("LIFEBOAT_S3_CONDITIONAL_WRITES") {
            self.conditional_writes = v;
        }
        if let Some(v) = env_flag("LIFEBOAT_S3_EC2_METADATA") {
            self.ec2_metadata = v;
        }
        if let Some(v) = env("LIFEBOAT_S3_CHECKSUM") {
            self.checksum = match v.to_ascii_lowercase().as_str() {
                "none" | "off" | "0" => None,
                other => Some(other.to_string()),
            };
        }
        self
    }

    /// The location string shown in messages: `s3:ENDPOINT/BUCKET/PREFIX` or `s3://BUCKET/PREFIX`.
    pub fn location(&self) -> String {
        let path = if self.prefix.is_empty() {
            self.bucket.clone()
        } else {
            format!("{}/{}", self.bucket, self.prefix)
        };
        match &self.endpoint {
            Some(endpoint) => format!("s3:{endpoint}/{path}"),
            None => format!("s3://{path}"),
        }
    }

    /// The endpoint as error messages name it (AWS S3 with its region when none is set).
    pub(super) fn endpoint_display(&self) -> String {
        match &self.endpoint {
            Some(e) => e.clone(),
            None => format!("AWS S3 (region {})", self.region),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_strings() {
        let c = S3Config::new(Some("http://127.0.0.1:9000/"), "bkt", "/repo/x/");
        assert_eq!(c.location(), "s3:http://127.0.0.1:9000/bkt/repo/x");
        let c = S3Config::new(None, "bkt", "");
        assert_eq!(c.location(), "s3://bkt");
    }

    #[test]
    fn debug_redacts_secrets() {
        let mut c = S3Config::new(None, "b", "");
        c.secret_access_key = Some("hunter2".into());
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
