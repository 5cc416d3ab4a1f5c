//! Azure Blob Storage: [`AzureConfig`], from the location `azure://CONTAINER/PREFIX` and the
//! environment, and the OpenDAL operator it builds.

use super::backend::{CloudStorage, Provider};
use crate::runtime::IoRuntime;
use crate::{ErrorKind, Result, StorageError};
use std::fmt;
use std::time::Duration;

const PROVIDER: Provider = Provider {
    name: "Azure Blob Storage",
    container_word: "container",
    credentials_hint: "set AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY or \
                       AZURE_STORAGE_SAS_TOKEN, or AZURE_STORAGE_CONNECTION_STRING",
};

/// Settings of an Azure Blob repository.
#[derive(Clone, Default)]
pub struct AzureConfig {
    /// Container name.
    pub container: String,
    /// Key prefix inside the container (no leading or trailing `/`; may be empty).
    pub prefix: String,
    /// `AZURE_STORAGE_CONNECTION_STRING` (the portal's and Azurite's form); when set, it gives
    /// the account, key or SAS and endpoint.
    pub connection_string: Option<String>,
    /// Storage account: `AZURE_STORAGE_ACCOUNT` (az CLI) or `AZURE_ACCOUNT_NAME` (restic).
    pub account: Option<String>,
    /// Account key: `AZURE_STORAGE_KEY` or `AZURE_ACCOUNT_KEY`.
    pub key: Option<String>,
    /// Shared access signature: `AZURE_STORAGE_SAS_TOKEN` or `AZURE_ACCOUNT_SAS`.
    pub sas_token: Option<String>,
    /// Blob endpoint (default `https://ACCOUNT.blob.core.windows.net`):
    /// `LIFEBOAT_AZURE_ENDPOINT` (for Azurite `http://127.0.0.1:10000/devstoreaccount1`).
    pub endpoint: Option<String>,
}

impl fmt::Debug for AzureConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureConfig")
            .field("container", &self.container)
            .field("prefix", &self.prefix)
            .field("account", &self.account)
            .field("endpoint", &self.endpoint)
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("sas_token", &self.sas_token.as_ref().map(|_| "<redacted>"))
            .field(
                "connection_string",
                &self.connection_string.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

fn env(names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
}

impl AzureConfig {
    /// A configuration for `container` and `prefix`, completed from the environment.
    pub fn from_env(container: &str, prefix: &str) -> AzureConfig {
        AzureConfig {
            container: container.to_string(),
            prefix: prefix.to_string(),
            connection_string: env(&["AZURE_STORAGE_CONNECTION_STRING"]),
            account: env(&["AZURE_STORAGE_ACCOUNT", "AZURE_ACCOUNT_NAME"]),
            key: env(&["AZURE_STORAGE_KEY", "AZURE_ACCOUNT_KEY"]),
            sas_token: env(&["AZURE_STORAGE_SAS_TOKEN", "AZURE_ACCOUNT_SAS"])
                .map(|s| s.trim_start_matches('?').to_string()),
            endpoint: env(&["LIFEBOAT_AZURE_ENDPOINT"]),
        }
    }

    /// `azure://CONTAINER/PREFIX`.
    pub fn location(&self) -> String {
        if self.prefix.is_empty() {
            format!("azure://{}", self.container)
        } else {
            format!("azure://{}/{}", self.container, self.prefix)
        }
    }
}

/// Builds the backend. No request is sent: a wrong container or credentials show up in the
/// first operation's error.
pub fn open(config: &AzureConfig) -> Result<CloudStorage> {
    let location = config.location();
    let fail = |m: String| StorageError::new(ErrorKind::Other, "open", location.clone(), "", m);
    let mut b = match &config.connection_string {
        Some(cs) => opendal::services::Azblob::from_connection_string(cs)
            .map_err(|e| fail(format!("AZURE_STORAGE_CONNECTION_STRING is not valid: {e}")))?,
        None => {
            let Some(account) = &config.account else {
                return Err(StorageError::new(
                    ErrorKind::PermissionDenied,
                    "open",
                    location.clone(),
                    "",
                    format!("no storage account: {}", PROVIDER.credentials_hint),
                ));
            };
            let mut b = opendal::services::Azblob::default().account_name(account);
            if let Some(key) = &config.key {
                b = b.account_key(key);
            }
            if let Some(sas) = &config.sas_token {
                b = b.sas_token(sas);
            }
            b.endpoint(&format!("https://{account}.blob.core.windows.net"))
        }
    };
    if let Some(ep) = &config.endpoint {
        b = b.endpoint(ep.trim_end_matches('/'));
    }
    b = b
        .container(&config.container)
        .root(&format!("/{}", config.prefix));
    let endpoint = config.endpoint.clone().unwrap_or_else(|| {
        config
            .account
            .as_ref()
            .map(|a| format!("https://{a}.blob.core.windows.net"))
            .unwrap_or_else(|| "the connection string's endpoint".into())
    });
    let rt =
        IoRuntime::new("lifeboat-azure").map_err(|e| fail(format!("cannot start I/O: {e}")))?;
    let client = rt
        .http_client(Duration::from_secs(10), Duration::from_secs(120))
        .map_err(|e| fail(format!("cannot build the HTTP client: {e}")))?;
    let op = opendal::Operator::new(b)
        .map_err(|e| fail(format!("invalid Azure Blob Storage configuration: {e}")))?
        .with_context(
            opendal::OperationContext::new().with_http_transport(IoRuntime::transport(client)),
        );
    Ok(CloudStorage::new(
        op,
        rt,
        location,
        config.container.clone(),
        endpoint,
        PROVIDER,
        true,
    ))
}
