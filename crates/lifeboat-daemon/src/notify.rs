//! Notifications: each event goes to every `[notifications.NAME]` that wants it, as a JSON
//! POST (or Slack's `{"text"}`) or on a command's standard input. Delivery runs in its own
//! task, retried with exponential backoff from 1 s; a notification that still fails is
//! logged and counted (`lifeboat_notification_failures_total`) and never blocks a job.

use crate::metrics::Metrics;
use lifeboat_config::{Channel, Notification};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// One event.
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    /// `backup_failed`, `crash_detected`, … (the `events` names).
    pub event: String,
    /// When (RFC 3339).
    pub time: String,
    /// This machine.
    pub host: String,
    /// What it is about: a source, drill, repository or schedule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The job id, when a job caused it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<i64>,
    /// A one-line summary.
    pub message: String,
    /// What to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Event {
    /// An event named `event` about `subject`.
    pub fn new(event: &str, subject: Option<&str>, message: impl Into<String>) -> Event {
        Event {
            event: event.to_string(),
            time: jiff::Timestamp::now().to_string(),
            host: lifeboat_core::host::hostname(),
            subject: subject.map(str::to_string),
            job: None,
            message: message.into(),
            hint: None,
        }
    }
}

/// Sends events to the configured notifications.
#[derive(Clone)]
pub struct Notifier {
    channels: Arc<Vec<Notification>>,
    metrics: Arc<Metrics>,
    client: reqwest::Client,
}

impl Notifier {
    /// A notifier for `channels`.
    pub fn new(channels: Vec<Notification>, metrics: Arc<Metrics>) -> Notifier {
        Notifier {
            channels: Arc::new(channels),
            metrics,
            client: reqwest::Client::new(),
        }
    }

    /// Sends `event` to every notification that wants it, in the background.
    pub fn send(&self, event: Event) {
        tracing::info!(event = %event.event, subject = ?event.subject, "{}", event.message);
        for n in self.channels.iter() {
            if !n.events.iter().any(|e| *e == event.event) {
                continue;
            }
            let n = n.clone();
            let event = event.clone();
            let client = self.client.clone();
            let metrics = self.metrics.clone();
            let Ok(handle) = tokio::runtime::Handle::try_current() else {
                tracing::warn!("notification {} not sent: no runtime", n.name);
                continue;
            };
            handle.spawn(async move {
                let mut wait = Duration::from_secs(1);
                for attempt in 1..=n.attempts {
                    match deliver(&client, &n, &event).await {
                        Ok(()) => return,
                        Err(e) if attempt == n.attempts => {
                            tracing::error!(
                                notification = %n.name,
                                event = %event.event,
                                "notification failed after {attempt} attempt(s): {e}"
                            );
                            metrics.notification_failed(&n.name);
                        }
                        Err(e) => {
                            tracing::warn!(notification = %n.name, "attempt {attempt} failed: {e}; retrying in {wait:?}");
                            tokio::time::sleep(wait).await;
                            wait *= 2;
                        }
                    }
                }
            });
        }
    }
}

async fn deliver(client: &reqwest::Client, n: &Notification, event: &Event) -> Result<(), String> {
    let body = serde_json::to_vec(event).map_err(|e| e.to_string())?;
    match &n.channel {
        Channel::Webhook { url, slack } => {
            let body = if *slack {
                let mut text = format!(
                    "lifeboat on {}: {} — {}",
                    event.host, event.event, event.message
                );
                if let Some(h) = &event.hint {
                    text.push_str(&format!(" (hint: {h})"));
                }
                serde_json::to_vec(&serde_json::json!({ "text": text }))
                    .map_err(|e| e.to_string())?
            } else {
                body
            };
            let r = client
                .post(url)
                .header("content-type", "application/json")
                .timeout(n.timeout)
                .body(body)
                .send()
                .await
                .map_err(|e| format!("POST {url}: {e}"))?;
            if r.status().is_success() {
                Ok(())
            } else {
                Err(format!("POST {url}: HTTP {}", r.status()))
            }
        }
        Channel::Command { command } => {
            let mut child = tokio::process::Command::new(&command[0])
                .args(&command[1..])
                .env("LIFEBOAT_EVENT", &event.event)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| format!("starting {}: {e}", command[0]))?;
            if let Some(mut stdin) = child.stdin.take() {
                let _ = stdin.write_all(&body).await;
            }
            match tokio::time::timeout(n.timeout, child.wait()).await {
                Ok(Ok(s)) if s.success() => Ok(()),
                Ok(Ok(s)) => Err(format!("{} exited with {s}", command[0])),
                Ok(Err(e)) => Err(format!("{}: {e}", command[0])),
                Err(_) => Err(format!(
                    "{} did not finish within {:?}",
                    command[0], n.timeout
                )),
            }
        }
    }
}
