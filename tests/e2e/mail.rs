//! One-time tokens leave the server by mail, not by the log: with `COLLOQUY_MAIL=smtp://...` a
//! password reset is delivered through SMTP (to a local fake server speaking the protocol) and
//! the token it carries resets the password once.

use std::time::Duration;

use colloquy_tests::{TestApp, e2e_backend};
use gateway::platform::config::{MailConfig, MailDelivery};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// A minimal SMTP server on 127.0.0.1: accepts every message and hands over its DATA.
async fn fake_smtp() -> (u16, mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 fake ESMTP\r\n").await.ok();
                while let Ok(Some(line)) = lines.next_line().await {
                    let verb = line
                        .split_whitespace()
                        .next()
                        .unwrap_or("")
                        .to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" => b"250-fake\r\n250 8BITMIME\r\n",
                        "HELO" | "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 OK\r\n",
                        "DATA" => {
                            write.write_all(b"354 go ahead\r\n").await.ok();
                            let mut data = String::new();
                            while let Ok(Some(l)) = lines.next_line().await {
                                if l == "." {
                                    break;
                                }
                                data.push_str(&l);
                                data.push('\n');
                            }
                            let _ = tx.send(data);
                            b"250 queued\r\n"
                        }
                        "QUIT" => {
                            write.write_all(b"221 bye\r\n").await.ok();
                            break;
                        }
                        _ => b"502 not implemented\r\n",
                    };
                    write.write_all(reply).await.ok();
                }
            });
        }
    });
    (port, rx)
}

e2e_backend!(
    password_reset_tokens_are_mailed_over_smtp,
    |backend| async move {
        let (port, mut inbox) = fake_smtp().await;
        let Some(app) = TestApp::spawn_with(backend, |c| {
            c.auth.mail = MailConfig {
                delivery: MailDelivery::Smtp(format!("smtp://127.0.0.1:{port}")),
                from: "Colloquy <no-reply@colloquy.test>".into(),
            };
        })
        .await
        else {
            return;
        };
        app.register("ada@example.com").await;
        let asked = app
            .query(
                None,
                "mutation($e: String!) { requestPasswordReset(input: { email: $e }) { success } }",
                json!({ "e": "ada@example.com" }),
            )
            .await;
        assert_eq!(asked["requestPasswordReset"]["success"], true);
        let mail = tokio::time::timeout(Duration::from_secs(20), inbox.recv())
            .await
            .expect("a message reaches the SMTP server in time")
            .expect("a message");
        assert!(mail.contains("To: ada@example.com"), "{mail}");
        assert!(mail.contains("Subject: Reset your password"), "{mail}");
        let token = mail
            .split_whitespace()
            .find(|w| w.starts_with("cq_pr_"))
            .expect("the reset token is in the message")
            .to_owned();

        let reset = "mutation($i: ResetPasswordInput!) { resetPassword(input: $i) { success } }";
        let done = app
            .query(
                None,
                reset,
                json!({ "i": { "token": token, "newPassword": "a brand new passphrase" } }),
            )
            .await;
        assert_eq!(done["resetPassword"]["success"], true);
        let login = app
        .query(
            None,
            "mutation { login(input: { email: \"ada@example.com\", password: \"a brand new passphrase\" }) { token } }",
            json!({}),
        )
        .await;
        assert!(login["login"]["token"].is_string());
        // Single use: the mailed token does not work twice.
        let again = app
            .error_code(
                None,
                reset,
                json!({ "i": { "token": token, "newPassword": "yet another passphrase" } }),
            )
            .await;
        assert_eq!(again, "BAD_USER_INPUT");
    }
);
