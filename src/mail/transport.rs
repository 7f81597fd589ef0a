//! Where email goes: an SMTP relay (lettre; STARTTLS/TLS and auth from the URL), or — with no
//! SMTP configured — `.eml` files under `<data_dir>/outbox/` so a zero-setup run still shows
//! every message.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::{FileTransport, Message, SmtpTransport, Transport};

use super::outbox::OutboxRow;
use crate::config::Settings;

/// Why a message could not be sent (never its body or the code it carries).
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("mail.smtp_url: {0}")]
    SmtpUrl(lettre::transport::smtp::Error),
    #[error("the recipient address is not valid")]
    Recipient,
    #[error("the message body was already purged")]
    Purged,
    #[error("building the message: {0}")]
    Build(lettre::error::Error),
    #[error("SMTP: {0}")]
    Smtp(lettre::transport::smtp::Error),
    #[error("outbox directory: {0}")]
    Directory(std::io::Error),
    #[error("writing .eml: {0}")]
    File(lettre::transport::file::Error),
}

pub enum Mailer {
    Smtp(Box<SmtpTransport>),
    Files(PathBuf),
}

impl Mailer {
    pub fn from_settings(settings: &Settings) -> Result<Mailer, SendError> {
        if settings.mail.smtp_url.is_empty() {
            return Ok(Mailer::Files(settings.data_dir().join("outbox")));
        }
        let transport = SmtpTransport::from_url(&settings.mail.smtp_url)
            .map_err(SendError::SmtpUrl)?
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
    pub fn send(&self, row: &OutboxRow, from: &Mailbox) -> Result<(), SendError> {
        let message = build(row, from)?;
        match self {
            Mailer::Smtp(t) => t.send(&message).map(|_| ()).map_err(SendError::Smtp),
            Mailer::Files(dir) => {
                std::fs::create_dir_all(dir).map_err(SendError::Directory)?;
                FileTransport::new(dir).send(&message).map(|_| ()).map_err(SendError::File)
            }
        }
    }
}

/// A multipart/alternative message (plain text and HTML) with its own Message-ID.
pub fn build(row: &OutboxRow, from: &Mailbox) -> Result<Message, SendError> {
    let to: Mailbox = row.recipient.parse().map_err(|_| SendError::Recipient)?;
    let text = row.text_body.clone().ok_or(SendError::Purged)?;
    let html = row.html_body.clone().ok_or(SendError::Purged)?;
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
        .map_err(SendError::Build)
}
