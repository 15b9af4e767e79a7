//! The `colloquy` command line: `serve` (the default), `migrate up|down|status`, `seed`, `schema`,
//! `keys rotate`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::app;
use crate::graphql;
use crate::platform::config::Config;
use crate::platform::{seed, telemetry};

#[derive(Parser, Debug)]
#[command(
    name = "colloquy",
    version,
    about = "One GraphQL gateway for five AI-conversation apps"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Apply migrations, load the seeds and serve GraphQL (the default).
    Serve,
    /// Manage the database schema.
    Migrate {
        #[command(subcommand)]
        action: Option<MigrateAction>,
    },
    /// Load the seed data (idempotent).
    Seed,
    /// Print the GraphQL schema as SDL.
    Schema,
    /// Manage the master key ring that encrypts users' provider keys.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeysAction {
    /// Put a new master key in front of the ring and re-encrypt every stored provider key under
    /// it. The ring is written back to `<COLLOQUY_DATA_DIR>/master.key`, or printed when it comes
    /// from COLLOQUY_MASTER_KEY (set the printed text there). The old keys stay in the ring, so
    /// instances still holding the old ring keep working until they get the new one.
    Rotate,
}

#[derive(Subcommand, Debug)]
pub enum MigrateAction {
    /// Apply pending migrations (the default).
    Up {
        /// Apply only this many.
        #[arg(long)]
        steps: Option<u32>,
    },
    /// Revert applied migrations, newest first.
    Down {
        #[arg(long, default_value_t = 1)]
        steps: u32,
    },
    /// List migrations and whether each is applied.
    Status,
}

/// Parses arguments, runs the command, and turns failure into a message and exit code 1.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Schema) = cli.command {
        // No configuration, database or logging needed to print the schema.
        print!("{}", graphql::sdl());
        return ExitCode::SUCCESS;
    }
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let _traces = telemetry::init_with_traces(&config.log, config.ops.otel_endpoint.as_deref());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command.unwrap_or(Command::Serve), config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => app::serve(config).await,
        Command::Schema => {
            print!("{}", graphql::sdl());
            Ok(())
        }
        Command::Seed => {
            let db = app::connect(&config).await?;
            let model = app::default_model(&config)?;
            let report =
                seed::load_with_disclaimers(&db, config.seed.dir.as_deref(), &model).await?;
            println!("{report}");
            Ok(())
        }
        Command::Keys {
            action: KeysAction::Rotate,
        } => {
            let db = app::connect(&config).await?;
            let rotated = crate::chat::keys::rotate(&db, &config.chat).await?;
            println!(
                "re-encrypted {} stored key(s) under master key {}",
                rotated.reencrypted, rotated.active_key_id
            );
            match rotated.written_to {
                Some(path) => println!("the new ring is in {}", path.display()),
                None => println!(
                    "set COLLOQUY_MASTER_KEY to the new ring on every instance:\n{}",
                    rotated.ring_text
                ),
            }
            Ok(())
        }
        Command::Migrate { action } => {
            let db = persistence::Db::connect(&config.database).await?;
            match action.unwrap_or(MigrateAction::Up { steps: None }) {
                MigrateAction::Up { steps } => {
                    let n = db.migrate_up(steps).await?;
                    println!("applied {n} migration(s)");
                }
                MigrateAction::Down { steps } => {
                    db.migrate_down(steps).await?;
                    println!("reverted {steps} migration(s)");
                }
                MigrateAction::Status => {
                    for m in db.migration_status().await? {
                        println!(
                            "{} {}",
                            if m.applied { "applied" } else { "pending" },
                            m.name
                        );
                    }
                }
            }
            Ok(())
        }
    }
}
