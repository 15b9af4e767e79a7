# Colloquy's daily commands. `just --list` shows them all.

set dotenv-load := false

# Serve the playground with demo data on the embedded SQLite database.
run:
    cargo run

# Run every test (SQLite; PostgreSQL too when TEST_DATABASE_URL is set).
test:
    cargo test

# Run every test against the local PostgreSQL as well, and require it.
test-pg:
    TEST_DATABASE_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test} COLLOQUY_REQUIRE_POSTGRES=1 cargo test

# Regenerate the committed GraphQL schema.
schema:
    cargo run -q -- schema > schema.graphql

# Apply, revert or list migrations (e.g. `just migrate status`).
migrate *args:
    cargo run -q -- migrate {{args}}

# Load the seed data (idempotent).
seed:
    cargo run -q -- seed

# The nested read over HTTP against the release server, side by side with hand-written SQL (the
# floor): 2,000 users × 10 conversations × 20 messages on SQLite, or on PostgreSQL with
# TEST_DATABASE_URL or `just bench --postgres URL`; `--small` (200 users), `--users N`, `--secs S`.
bench *args:
    cargo build --release -p gateway
    cargo bench -p colloquy-tests --bench http -- {{args}}
    cargo bench -p colloquy-tests --bench analytics --profile dev

# Analytics at scale (PostgreSQL, TEST_DATABASE_URL): 10 M usage rows (`--rows N` for another
# count) and 1 M messages in 100 k conversations (`--messages N`), a 90-day DAY usage query's and
# activity query's p50 from the raw rows and from the daily rollups; the bench database is
# dropped at the end. Dev profile: the time measured is PostgreSQL's.
bench-analytics *args:
    cargo bench -p colloquy-tests --bench analytics --profile dev -- {{args}}

# The same read in process, GraphQL schema vs hand-written SQL, no HTTP (SQLite, and PostgreSQL with TEST_DATABASE_URL).
bench-inproc:
    cargo bench -p colloquy-tests --bench nested

# What CI runs: fmt, clippy, and all tests on SQLite and PostgreSQL.
ci:
    bash .ci/run

# Time the gateway adds to a provider's first delta, and 1,000 concurrent followed streams.
bench-stream:
    cargo bench -p colloquy-tests --bench stream
