//! Delivery of confirmation and password-reset links. There is no mail server: each link is
//! written to the server log (INFO) and, when configured, POSTed as JSON to a webhook.

/// Where links go.
#[derive(Clone)]
pub struct Outbox {
    webhook: Option<String>,
    client: reqwest::Client,
    /// In-process receiver (embedders and tests).
    sink: Option<std::sync::mpsc::Sender<Message>>,
}

/// One link to deliver.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Message {
    /// `confirmation` or `reset`.
    pub kind: &'static str,
    /// Recipient.
    pub email: String,
    /// Secret token.
    pub token: String,
    /// Token id.
    #[serde(rename = "tokenId")]
    pub token_id: String,
    /// The configured URL with `token` and `tokenId` appended (absent when none is configured).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Seconds since the epoch after which the token is refused.
    pub expires: u64,
}

impl Outbox {
    /// An outbox posting to `webhook` (http:// only) if given.
    pub fn new(webhook: Option<String>) -> Outbox {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Outbox { webhook, client, sink: None }
    }

    /// An outbox that also hands every message to the returned receiver.
    pub fn channel() -> (Outbox, std::sync::mpsc::Receiver<Message>) {
        let (tx, rx) = std::sync::mpsc::channel();
        (Outbox { sink: Some(tx), ..Outbox::new(None) }, rx)
    }

    /// Logs the link and posts it to the webhook in the background (failures are logged).
    pub fn send(&self, message: Message) {
        // The link is the mail this server cannot send: logging it is the point.
        tracing::info!(kind = message.kind, email = %message.email, token = %message.token, token_id = %message.token_id,
            url = message.url.as_deref().unwrap_or(""), "email link (no mail server: delivered to the log)");
        if let Some(sink) = &self.sink {
            let _ = sink.send(message.clone());
        }
        let Some(webhook) = self.webhook.clone() else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("email webhook skipped: no async runtime");
            return;
        };
        let client = self.client.clone();
        runtime.spawn(async move {
            match client.post(&webhook).json(&message).send().await {
                Ok(r) if r.status().is_success() => {}
                Ok(r) => tracing::warn!(status = %r.status(), "email webhook refused the {} link", message.kind),
                Err(e) => tracing::warn!("email webhook failed: {e}"),
            }
        });
    }
}

/// `base?token=…&tokenId=…` (or `&…` when `base` already has a query).
pub fn link(base: &str, token: &str, token_id: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}token={token}&tokenId={token_id}")
}
