//! Relay connections. Every list is `first/after/last/before` with a default page of 20 and a
//! maximum of 100 (see `core_domain::pagination`), and `totalCount`. Lists read from the
//! database page with keyset cursors and count only when asked for (one grouped statement for
//! all parents); lists that are loaded whole anyway (a message's children and siblings, the
//! small catalogue) page in memory with [`page_in_memory`], under the same rules.

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Object, OutputType};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use core_domain::pagination::{PageArgs, PageDirection};

use crate::error::{ApiError, ApiResult};

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
    // The same text as `persistence::cursor::Cursor::encode` (which decodes it), built without
    // cloning the id or allocating the joined text: a cursor is made for every row of a page.
    use std::io::Write;
    let mut digits = [0u8; 20];
    let mut unwritten = &mut digits[..];
    // An i64 has at most 20 characters, so this cannot fail.
    let _ = write!(unwritten, "{}", at.timestamp_micros());
    let written = 20 - unwritten.len();
    super::ids::encode_parts(&[
        ordering.as_bytes(),
        b"|",
        &digits[..written],
        b"|",
        id.as_bytes(),
    ])
}
pub use persistence::Page;

/// `totalCount` of a list loaded whole: already known.
pub struct KnownTotal(pub usize);

#[Object]
impl KnownTotal {
    async fn total_count(&self) -> u64 {
        self.0 as u64
    }
}

/// The opaque cursor of the item `id` in the in-memory list called `list`: base64url of
/// `list|id`, so a cursor from another list is refused.
pub fn list_cursor(list: &str, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{list}|{id}"))
}

/// A connection over a list read whole (the small catalogue, a message's versions): one page of
/// it under `args` ([`page_in_memory`]), `total` built from the list's length.
pub fn list_connection<Row, Node, Fields>(
    items: Vec<Row>,
    args: &PageArgs,
    list: &str,
    id: impl Fn(&Row) -> &str,
    total: impl FnOnce(usize) -> Fields,
    node: impl Fn(Row) -> Node,
) -> ApiResult<Connection<String, Node, Fields, EmptyFields>>
where
    Node: OutputType,
    Fields: async_graphql::ObjectType,
{
    let (page, n) = page_in_memory(items, args, list, &id)?;
    Ok(connection(
        page,
        total(n),
        |row| list_cursor(list, id(row)),
        node,
    ))
}

/// One page of `items` (the whole list, in order) under `args`, and the list's length. `id`
/// names each item; a cursor is [`list_cursor`] of an item of this list, anything else is
/// BAD_USER_INPUT on `after` (or `before`). As with keyset pages, the page starts after
/// `after` (or ends before `before`), and `hasPreviousPage` / `hasNextPage` say whether items
/// lie beyond it on either side.
pub fn page_in_memory<T>(
    items: Vec<T>,
    args: &PageArgs,
    list: &str,
    id: impl Fn(&T) -> &str,
) -> ApiResult<(Page<T>, usize)> {
    let total = items.len();
    let size = usize::try_from(args.size).unwrap_or(usize::MAX);
    let field = match args.direction {
        PageDirection::Forward => "after",
        PageDirection::Backward => "before",
    };
    let position = match &args.cursor {
        None => None,
        Some(cursor) => Some(
            items
                .iter()
                .position(|item| list_cursor(list, id(item)) == *cursor)
                .ok_or_else(|| ApiError::bad_input(field, "is not a cursor from this list"))?,
        ),
    };
    let (start, end) = match args.direction {
        PageDirection::Forward => {
            let start = position.map_or(0, |p| p + 1);
            (start, start.saturating_add(size).min(total))
        }
        PageDirection::Backward => {
            let end = position.unwrap_or(total);
            (end.saturating_sub(size), end)
        }
    };
    let page = Page {
        has_previous_page: start > 0,
        has_next_page: end < total,
        items: items.into_iter().skip(start).take(end - start).collect(),
    };
    Ok((page, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(args: PageArgs) -> ApiResult<(Vec<&'static str>, bool, bool)> {
        let items = vec!["a", "b", "c", "d", "e"];
        let (page, total) = page_in_memory(items, &args, "letters", |s| s)?;
        assert_eq!(total, 5);
        Ok((page.items, page.has_previous_page, page.has_next_page))
    }

    fn args(
        first: Option<i32>,
        after: Option<&str>,
        last: Option<i32>,
        before: Option<&str>,
    ) -> PageArgs {
        let cursor = |id: Option<&str>| id.map(|id| list_cursor("letters", id));
        PageArgs::new(first, cursor(after), last, cursor(before)).unwrap()
    }

    #[test]
    fn a_cursor_is_what_the_store_decodes() {
        let at = chrono::DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap();
        let text = cursor("messages.created_at.asc", at, "abc123");
        let expected = persistence::cursor::Cursor {
            at,
            id: "abc123".into(),
        };
        assert_eq!(text, expected.encode("messages.created_at.asc"));
        let long_id = "x".repeat(400);
        let decoded = persistence::cursor::Cursor::decode(&cursor("o", at, &long_id), "o").unwrap();
        assert_eq!(decoded.id, long_id);
        assert_eq!(decoded.at, at);
    }

    #[test]
    fn pages_forwards_and_backwards_like_keyset_lists() {
        assert_eq!(
            page(args(Some(2), None, None, None)).unwrap(),
            (vec!["a", "b"], false, true)
        );
        assert_eq!(
            page(args(Some(2), Some("b"), None, None)).unwrap(),
            (vec!["c", "d"], true, true)
        );
        assert_eq!(
            page(args(Some(9), Some("d"), None, None)).unwrap(),
            (vec!["e"], true, false)
        );
        assert_eq!(page(args(None, None, None, None)).unwrap().0.len(), 5);
        assert_eq!(
            page(args(None, None, Some(2), None)).unwrap(),
            (vec!["d", "e"], true, false)
        );
        assert_eq!(
            page(args(None, None, Some(2), Some("c"))).unwrap(),
            (vec!["a", "b"], false, true)
        );
        assert_eq!(
            page(args(Some(0), None, None, None)).unwrap(),
            (vec![], false, true)
        );
    }

    #[test]
    fn a_cursor_of_another_list_or_item_is_refused() {
        let foreign =
            PageArgs::new(Some(1), Some(list_cursor("numbers", "a")), None, None).unwrap();
        let e = page(foreign).unwrap_err();
        assert_eq!(e.code(), "BAD_USER_INPUT");
        let gone = PageArgs::new(None, None, Some(1), Some(list_cursor("letters", "z"))).unwrap();
        let ApiError::BadInput(v) = page(gone).unwrap_err() else {
            panic!("expected bad input")
        };
        assert_eq!(v.field, "before");
    }
}
