//! Relay connections. Every list is `first/after/last/before` with keyset cursors, a default page
//! of 20 and a maximum of 100 (see `core_domain::pagination`), and `totalCount`, which is counted
//! only when asked for (one grouped statement for all parents).

use async_graphql::OutputType;
use async_graphql::connection::{Connection, Edge, EmptyFields};
use core_domain::pagination::PageArgs;

use crate::error::ApiResult;

/// Validated Relay arguments.
pub fn page_args(
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> ApiResult<PageArgs> {
    Ok(PageArgs::new(first, after, last, before)?)
}

/// Builds a connection from a page, with `cursor` giving each row's cursor text.
pub fn connection<Row, Node, Fields>(
    page: Page<Row>,
    fields: Fields,
    cursor: impl Fn(&Row) -> String,
    node: impl Fn(Row) -> Node,
) -> Connection<String, Node, Fields, EmptyFields>
where
    Node: OutputType,
    Fields: async_graphql::ObjectType,
{
    let mut conn =
        Connection::with_additional_fields(page.has_previous_page, page.has_next_page, fields);
    conn.edges = page
        .items
        .into_iter()
        .map(|row| Edge::new(cursor(&row), node(row)))
        .collect();
    conn
}

/// The cursor text of a row at (`at`, `id`) in the ordering called `ordering`.
pub fn cursor(ordering: &str, at: chrono::DateTime<chrono::Utc>, id: &str) -> String {
    persistence::cursor::Cursor {
        at,
        id: id.to_owned(),
    }
    .encode(ordering)
}
pub use persistence::Page;
