//! The `colloquy` binary as an operator uses it: migrations, seeds, the schema, JSON logs, and a
//! graceful stop on SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn colloquy(db: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_colloquy"));
    cmd.env_clear()
        .env("DATABASE_URL", db)
        .env("RUST_LOG", "info")
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(std::env::temp_dir());
    cmd
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run colloquy");
    assert!(
        out.status.success(),
        "colloquy failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn migrate_up_down_status_and_seed() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("cli.db").display());

    let status = run(colloquy(&db).args(["migrate", "status"]));
    assert!(
        status.lines().all(|l| l.starts_with("pending ")),
        "{status}"
    );
    let migrations = status.lines().count();
    assert!(migrations >= 9, "{status}");

    let up = run(colloquy(&db).args(["migrate", "up"]));
    assert!(
        up.contains(&format!("applied {migrations} migration(s)")),
        "{up}"
    );
    let status = run(colloquy(&db).args(["migrate", "status"]));
    assert!(
        status.lines().all(|l| l.starts_with("applied ")),
        "{status}"
    );

    run(colloquy(&db).args(["migrate", "down", "--steps", "2"]));
    let status = run(colloquy(&db).args(["migrate", "status"]));
    assert_eq!(
        status.lines().filter(|l| l.starts_with("pending ")).count(),
        2,
        "{status}"
    );
    run(colloquy(&db).args(["migrate"]));

    let first = run(colloquy(&db).arg("seed"));
    assert!(first.contains("3 demo users"), "{first}");
    let second = run(colloquy(&db).arg("seed"));
    assert!(
        second.contains("0 demo users and 0 conversations created"),
        "seeding twice adds nothing: {second}"
    );
}

#[test]
fn schema_prints_the_sdl() {
    let out = run(Command::new(env!("CARGO_BIN_EXE_colloquy")).arg("schema"));
    assert!(out.contains("type Query"), "{out}");
    assert_eq!(out, gateway::graphql::sdl());
}

#[test]
fn a_bad_setting_names_the_variable() {
    let out = colloquy("sqlite::memory:")
        .env("COLLOQUY_ADDR", "not an address")
        .arg("serve")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("COLLOQUY_ADDR"));
}

#[cfg(unix)]
#[test]
fn serves_with_json_logs_and_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("serve.db").display()
    );
    let mut child = colloquy(&db)
        .env("COLLOQUY_ADDR", "127.0.0.1:0")
        .env("COLLOQUY_LOG_FORMAT", "json")
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut addr = None;
    while addr.is_none() && Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(Duration::from_secs(1)) else {
            continue;
        };
        let json: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|_| panic!("not a JSON log line: {line}"));
        if let Some(msg) = json["message"].as_str()
            && let Some(url) = msg.split("http://").nth(1)
        {
            addr = url.split('/').next().map(str::to_owned);
        }
    }
    let addr = addr.expect("the server logged its address");
    let healthz = std::net::TcpStream::connect(&addr).is_ok();
    assert!(healthz, "the server accepts connections at {addr}");

    // The binary restarted itself, in the same process, with mimalloc's arenas committed on
    // demand (the environment was cleared above, so nothing else set it).
    let environ = std::fs::read(format!("/proc/{}/environ", child.id())).unwrap();
    assert!(
        environ
            .split(|b| *b == 0)
            .any(|var| var == b"MIMALLOC_ARENA_EAGER_COMMIT=0"),
        "the serving process has the allocator option"
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "a SIGTERM stop exits 0, got {status}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
