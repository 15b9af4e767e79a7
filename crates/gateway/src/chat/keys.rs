//! The server's master key ring and users' own provider keys.
//!
//! A user's key is sealed with AES-256-GCM under the active master key, bound to its `api_keys`
//! row id (a ciphertext copied onto another row does not open), and never leaves the server:
//! only provider, name and the last four characters do.

use std::path::Path;

use anyhow::Context as _;
use auth::KeyRing;
use core_domain::enums::KeyProvider;
use persistence::api_keys::{self, ApiKey, NewApiKey};
use persistence::sea_orm::ConnectionTrait;

use crate::error::{ApiError, ApiResult};
use crate::platform::config::ChatConfig;

/// Providers a user may bring a key for.
pub const USER_KEY_PROVIDERS: [&str; 2] = ["anthropic", "openai"];

const MASTER_KEY_FILE: &str = "master.key";

/// The key ring from `COLLOQUY_MASTER_KEY`, else from `<data dir>/master.key`, else a new one
/// written there (mode 0600) with a warning: keys encrypted under it are lost with the file.
pub fn load_key_ring(config: &ChatConfig) -> anyhow::Result<KeyRing> {
    if let Some(text) = &config.master_key {
        return KeyRing::parse(text).context("COLLOQUY_MASTER_KEY is not a valid key ring");
    }
    let path = config.data_dir.join(MASTER_KEY_FILE);
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read the master key at {}", path.display()))?;
        return KeyRing::parse(&text)
            .with_context(|| format!("{} is not a valid key ring", path.display()));
    }
    let ring = KeyRing::generate().context("cannot generate a master key")?;
    write_secret(&config.data_dir, &path, &ring.to_text())?;
    tracing::warn!(
        path = %path.display(),
        "COLLOQUY_MASTER_KEY is not set: generated a master key; back it up (users' API keys cannot be decrypted without it)"
    );
    Ok(ring)
}

fn write_secret(dir: &Path, path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// What `colloquy keys rotate` did.
pub struct Rotated {
    pub active_key_id: String,
    pub reencrypted: usize,
    /// The file the new ring was written to, or None when it came from COLLOQUY_MASTER_KEY.
    pub written_to: Option<std::path::PathBuf>,
    /// The new ring's text (a secret: printed only when it must be set by hand).
    pub ring_text: String,
}

/// Rotates the master key: a new active key in front of the ring (the old ones kept to decrypt),
/// every stored key re-encrypted under it in one transaction, then the ring saved where it came
/// from. If anything fails before the ring is saved, the database still holds keys sealed under
/// the old ring, which is unchanged.
pub async fn rotate(db: &persistence::Db, config: &ChatConfig) -> anyhow::Result<Rotated> {
    use persistence::sea_orm::TransactionTrait as _;
    let ring = load_key_ring(config)?;
    let rotated = ring.rotate().context("cannot generate a new master key")?;
    let txn = db.conn().begin().await?;
    let rows = api_keys::all(&txn).await?;
    let mut reencrypted = 0;
    for row in rows {
        let plain = ring
            .decrypt_bound(&row.key_id, &row.encrypted_key, &row.id)
            .with_context(|| {
                format!("stored key {} does not open under the current ring", row.id)
            })?;
        let sealed = rotated.encrypt_bound(&plain, &row.id)?;
        api_keys::reseal(&txn, &row.id, &sealed.key_id, &sealed.ciphertext).await?;
        reencrypted += 1;
    }
    // Save the ring before committing: a ring saved with no committed rows still opens every
    // row (it keeps the old keys); rows committed under a ring that was never saved would not.
    let text = rotated.to_text();
    let written_to = if config.master_key.is_some() {
        None
    } else {
        let path = config.data_dir.join(MASTER_KEY_FILE);
        let next = config.data_dir.join(format!("{MASTER_KEY_FILE}.new"));
        let _ = std::fs::remove_file(&next);
        write_secret(&config.data_dir, &next, &text)?;
        std::fs::rename(&next, &path)
            .with_context(|| format!("cannot replace {}", path.display()))?;
        Some(path)
    };
    txn.commit().await?;
    Ok(Rotated {
        active_key_id: rotated.active_key_id().to_owned(),
        reencrypted,
        written_to,
        ring_text: text,
    })
}

/// Stores a user's key, sealed.
pub async fn add(
    db: &impl ConnectionTrait,
    ring: &KeyRing,
    user_id: &str,
    provider: KeyProvider,
    name: Option<String>,
    key: &str,
) -> ApiResult<ApiKey> {
    let key = key.trim();
    if key.len() < 8 || key.len() > 500 || key.chars().any(char::is_whitespace) {
        return Err(ApiError::bad_input("key", "is not an API key"));
    }
    if let Some(n) = &name
        && n.chars().count() > 100
    {
        return Err(ApiError::bad_input(
            "name",
            "must be at most 100 characters",
        ));
    }
    let id = core_domain::ids::new_id();
    let sealed = ring.encrypt_bound(key, &id)?;
    let row = api_keys::insert(
        db,
        NewApiKey {
            id,
            user_id: user_id.to_owned(),
            provider,
            name,
            encrypted_key: sealed.ciphertext,
            key_id: sealed.key_id,
            last4: auth::last4(key),
        },
    )
    .await?;
    Ok(row)
}

/// The user's own key for `provider`, decrypted, if they stored one.
pub async fn user_key(
    db: &impl ConnectionTrait,
    ring: &KeyRing,
    user_id: &str,
    provider: &str,
) -> ApiResult<Option<String>> {
    if !USER_KEY_PROVIDERS.contains(&provider) {
        return Ok(None);
    }
    let Some(row) = api_keys::newest_for(db, user_id, provider).await? else {
        return Ok(None);
    };
    Ok(Some(ring.decrypt_bound(
        &row.key_id,
        &row.encrypted_key,
        &row.id,
    )?))
}
