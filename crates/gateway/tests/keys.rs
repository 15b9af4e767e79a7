//! `colloquy keys rotate` as an operator runs it: a new master key in front of the ring, every
//! stored provider key re-encrypted under it, the ring written back; keys still decrypt to what
//! users stored, and no longer under the old ring alone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use core_domain::enums::{KeyProvider, Role};
use gateway::chat::keys;
use gateway::platform::config::Config;
use persistence::users::{self, NewUser};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_reencrypts_every_stored_key_under_a_new_master_key() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("keys.db").display());
    let data_dir = dir.path().join("data");
    let mut config = Config::for_tests(&url);
    config.chat.master_key = None;
    config.chat.data_dir = data_dir.clone();
    let db = gateway::app::connect(&config).await.unwrap();
    let old_ring = keys::load_key_ring(&config.chat).unwrap();
    let user = users::create(
        db.conn(),
        NewUser {
            email: Some("ada@example.com".into()),
            name: None,
            password_hash: None,
            role: Role::User,
        },
    )
    .await
    .unwrap();
    let secret = "sk-ant-api03-the-users-own-key";
    keys::add(
        db.conn(),
        &old_ring,
        &user.id,
        KeyProvider::Anthropic,
        None,
        secret,
    )
    .await
    .unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_colloquy"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &url)
        .env("COLLOQUY_DATA_DIR", &data_dir)
        .env("COLLOQUY_SEED", "false")
        .args(["keys", "rotate"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("re-encrypted 1 stored key(s)"), "{stdout}");
    assert!(!stdout.contains(secret));

    let new_ring = keys::load_key_ring(&config.chat).unwrap();
    assert_ne!(new_ring.active_key_id(), old_ring.active_key_id());
    assert_eq!(
        new_ring.key_ids().count(),
        2,
        "the old key stays to decrypt"
    );
    let row = persistence::api_keys::newest_for(db.conn(), &user.id, "anthropic")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.key_id, new_ring.active_key_id());
    let opened = keys::user_key(db.conn(), &new_ring, &user.id, "anthropic")
        .await
        .unwrap();
    assert_eq!(opened.as_deref(), Some(secret));
    assert!(
        keys::user_key(db.conn(), &old_ring, &user.id, "anthropic")
            .await
            .is_err(),
        "the old ring alone no longer opens the re-encrypted key"
    );
}
