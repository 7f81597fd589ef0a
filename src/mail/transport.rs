//! Where email goes: an SMTP relay (lettre; STARTTLS/TLS and auth from the URL), or — with no
//! SMTP configured — `.eml` files under `<data_dir>/outbox/` so a zero-setup run still shows
//! every message.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::{FileTransport, Message, SmtpTransport, Transport};

use super::outbox::OutboxRow;
use crate::config::Settings;

pub enum Mailer {
    Smtp(Box<SmtpTransport>),
    Files(PathBuf),
}

impl Mailer {
    pub fn from_settings(settings: &Settings) -> Result<Mailer, String> {
        if settings.mail.smtp_url.is_empty() {
            return Ok(Mailer::Files(settings.data_dir().join("outbox")));
        }
        let transport = SmtpTransport::from_url(&settings.mail.smtp_url)
            .map_err(|e| format!("mail.smtp_url: {e}"))?
            .timeout(Some(Duration::from_secs(15)))
            .build();
        Ok(Mailer::Smtp(Box::new(transport)))
    }

    pub fn describe(&self) -> String {
        match self {
            Mailer::Smtp(_) => "SMTP".into(),
            Mailer::Files(dir) => format!(".eml files in {}", dir.display()),
        }
    }

    /// Sends one queued message. The error text never contains the body.
    pub fn send(&self, row: &OutboxRow, from: &Mailbox) -> Result<(), String> {
        let message = build(row, from)?;
        match self {
            Mailer::Smtp(t) => t.send(&message).map(|_| ()).map_err(|e| format!("SMTP: {e}")),
            Mailer::Files(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| format!("outbox directory: {e}"))?;
                FileTransport::new(dir).send(&message).map(|_| ()).map_err(|e| format!("writing .eml: {e}"))
            }
        }
    }
}

/// A multipart/alternative message (plain text and HTML) with its own Message-ID.
pub fn build(row: &OutboxRow, from: &Mailbox) -> Result<Message, String> {
    let to: Mailbox = row.recipient.parse().map_err(|_| "the recipient address is not valid".to_string())?;
    let text = row.text_body.clone().ok_or("the message body was already purged")?;
    let html = row.html_body.clone().ok_or("the message body was already purged")?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(row.subject.clone())
        .message_id(Some(row.message_id.clone()))
        .multipart(
            MultiPart::alternative()
                .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(text))
                .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(html)),
        )
        .map_err(|e| format!("building the message: {e}"))
}
