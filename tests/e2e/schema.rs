//! The committed `schema.graphql` is what the server serves.

#[test]
fn schema_graphql_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema.graphql");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let served = gateway::graphql::sdl();
    assert!(
        committed == served,
        "schema.graphql is out of date with the code. Regenerate it with `just schema` \
         (or `cargo run -q -- schema > schema.graphql`) and commit it."
    );
}
