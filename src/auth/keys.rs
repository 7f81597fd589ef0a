//! Where the token-signing secret comes from: the environment/config, a configured file, or a
//! file generated once under the data directory (mode 0600, never logged).

use std::io::Write;
use std::path::{Path, PathBuf};

use rand::RngCore;

use crate::config::Settings;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read the key file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("cannot create the key file {path}: {source}")]
    Create { path: String, source: std::io::Error },
    #[error("the key file {path} holds fewer than 32 bytes")]
    TooShort { path: String },
}

/// Returns the signing secret, generating `<data_dir>/jwt.key` on first start.
pub fn load_or_create_secret(settings: &Settings) -> Result<Vec<u8>, KeyError> {
    load_or_create(&settings.auth.jwt_secret, &settings.auth.jwt_secret_file, settings.data_dir().join("jwt.key"))
}

/// Returns the audit trail's HMAC key, generating `<data_dir>/audit.key` on first start; the
/// same three sources as the JWT secret.
pub fn load_or_create_audit_key(settings: &Settings) -> Result<Vec<u8>, KeyError> {
    load_or_create(&settings.auth.audit_key, &settings.auth.audit_key_file, settings.data_dir().join("audit.key"))
}

/// Where a key comes from, as the settings say (what a backup copies and a restore puts back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The value is in the configuration or the environment (`auth.jwt_secret`, `auth.audit_key`).
    Inline,
    /// A file the configuration names (`*_file`); never generated.
    ConfiguredFile(PathBuf),
    /// The file generated once under the data directory.
    Generated(PathBuf),
}

impl KeySource {
    fn of(inline: &str, file: &Path, generated: PathBuf) -> KeySource {
        if !inline.is_empty() {
            KeySource::Inline
        } else if !file.as_os_str().is_empty() {
            KeySource::ConfiguredFile(file.to_path_buf())
        } else {
            KeySource::Generated(generated)
        }
    }
}

/// Where the token-signing secret comes from.
pub fn secret_source(settings: &Settings) -> KeySource {
    KeySource::of(&settings.auth.jwt_secret, &settings.auth.jwt_secret_file, settings.data_dir().join("jwt.key"))
}

/// Where the audit key comes from.
pub fn audit_key_source(settings: &Settings) -> KeySource {
    KeySource::of(&settings.auth.audit_key, &settings.auth.audit_key_file, settings.data_dir().join("audit.key"))
}

/// The inline value if set, else the configured file, else `generated` (created on first use).
fn load_or_create(inline: &str, file: &Path, generated: PathBuf) -> Result<Vec<u8>, KeyError> {
    match KeySource::of(inline, file, generated) {
        KeySource::Inline => Ok(inline.as_bytes().to_vec()),
        KeySource::ConfiguredFile(path) => read_secret(&path),
        KeySource::Generated(path) if path.exists() => read_secret(&path),
        KeySource::Generated(path) => create_secret(&path),
    }
}

pub fn read_secret(path: &Path) -> Result<Vec<u8>, KeyError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| KeyError::Read { path: path.display().to_string(), source })?;
    let secret = text.trim().as_bytes().to_vec();
    if secret.len() < 32 {
        return Err(KeyError::TooShort { path: path.display().to_string() });
    }
    Ok(secret)
}

fn create_secret(path: &Path) -> Result<Vec<u8>, KeyError> {
    let err = |source| KeyError::Create { path: path.display().to_string(), source };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let mut bytes = [0u8; 48];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = hex::encode(bytes);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(secret.as_bytes()).map_err(err)?;
            file.sync_all().map_err(err)?;
            Ok(secret.into_bytes())
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_secret(path),
        Err(e) => Err(err(e)),
    }
}
