//! Keyset pagination. Every list is ordered by a timestamp column and then the id, which is unique,
//! so the pair is a total order; a cursor is that pair from the last row of a page, plus the name
//! of the ordering it belongs to, so a cursor from one ordering is refused by another. Reading a
//! page costs one indexed range scan however deep the page is (no OFFSET).
//!
//! Timestamps are always written by the application (see `core_domain::time::now`), never by a
//! database default, so every stored value has one encoding and compares correctly on SQLite,
//! where timestamps are text.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use core_domain::pagination::{PageArgs, PageDirection};
use sea_orm::sea_query::{Expr, ExprTrait, IntoCondition};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect, Select,
};

use crate::{Page, StoreError};

/// A position in an ordering: the sort timestamp and id of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub at: DateTime<Utc>,
    pub id: String,
}

impl Cursor {
    /// Opaque text for the API: base64url of `ordering|micros|id`.
    pub fn encode(&self, ordering: &str) -> String {
        URL_SAFE_NO_PAD.encode(format!(
            "{ordering}|{}|{}",
            self.at.timestamp_micros(),
            self.id
        ))
    }

    /// Parses a cursor issued for `ordering`; anything else is `InvalidCursor`.
    pub fn decode(text: &str, ordering: &str) -> Result<Self, StoreError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| StoreError::InvalidCursor)?;
        let raw = String::from_utf8(bytes).map_err(|_| StoreError::InvalidCursor)?;
        let mut parts = raw.splitn(3, '|');
        let (Some(tag), Some(micros), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(StoreError::InvalidCursor);
        };
        if tag != ordering || id.is_empty() {
            return Err(StoreError::InvalidCursor);
        }
        let micros: i64 = micros.parse().map_err(|_| StoreError::InvalidCursor)?;
        let at = DateTime::from_timestamp_micros(micros).ok_or(StoreError::InvalidCursor)?;
        Ok(Self {
            at,
            id: id.to_owned(),
        })
    }
}

/// An ordering of one table: its timestamp column, id column and direction.
#[derive(Debug, Clone, Copy)]
pub struct Keyset<C> {
    /// The name cursors carry, e.g. `conversations.updated_at.desc`.
    pub name: &'static str,
    pub at: C,
    pub id: C,
    pub descending: bool,
}

impl<C: ColumnTrait> Keyset<C> {
    /// Rows strictly after `cursor` in reading order (`ascending` after any reversal for `last`).
    pub fn after(&self, cursor: &Cursor, ascending: bool) -> Condition {
        let (at, id) = (Expr::col(self.at), Expr::col(self.id));
        let at_v = cursor.at;
        let id_v = cursor.id.clone();
        let beyond: (Expr, Expr) = if ascending {
            (at.clone().gt(at_v), id.clone().gt(id_v.clone()))
        } else {
            (at.clone().lt(at_v), id.clone().lt(id_v.clone()))
        };
        Condition::any().add(beyond.0).add(
            Condition::all()
                .add(at.eq(at_v))
                .add(beyond.1)
                .into_condition(),
        )
    }

    /// Whether a page is read in ascending column order: forward pages follow the ordering,
    /// backward (`last`) pages read it in reverse and are flipped back afterwards.
    pub fn reads_ascending(&self, direction: PageDirection) -> bool {
        (direction == PageDirection::Forward) != self.descending
    }

    fn order(ascending: bool) -> Order {
        if ascending { Order::Asc } else { Order::Desc }
    }

    /// Applies the cursor, the order and a limit of `size + 1` (the extra row tells whether
    /// another page exists) to `select`.
    pub fn apply<E: EntityTrait<Column = C>>(
        &self,
        select: Select<E>,
        args: &PageArgs,
    ) -> Result<Select<E>, StoreError> {
        let ascending = self.reads_ascending(args.direction);
        let mut select = select;
        if let Some(text) = &args.cursor {
            let cursor = Cursor::decode(text, self.name)?;
            select = select.filter(self.after(&cursor, ascending));
        }
        Ok(select
            .order_by(self.at, Self::order(ascending))
            .order_by(self.id, Self::order(ascending))
            .limit(args.size + 1))
    }

    /// Turns the rows fetched by [`Keyset::apply`] into a page in the ordering's direction.
    pub fn page<T>(args: &PageArgs, mut rows: Vec<T>) -> Page<T> {
        let size = usize::try_from(args.size).unwrap_or(usize::MAX);
        let more = rows.len() > size;
        rows.truncate(size);
        let had_cursor = args.cursor.is_some();
        match args.direction {
            PageDirection::Forward => Page {
                items: rows,
                has_next_page: more,
                has_previous_page: had_cursor,
            },
            PageDirection::Backward => {
                rows.reverse();
                Page {
                    items: rows,
                    has_next_page: had_cursor,
                    has_previous_page: more,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_other_orderings() {
        let c = Cursor {
            at: core_domain::time::now(),
            id: "abc123".into(),
        };
        let text = c.encode("messages.created_at.asc");
        assert_eq!(Cursor::decode(&text, "messages.created_at.asc").unwrap(), c);
        assert!(matches!(
            Cursor::decode(&text, "conversations.created_at.desc"),
            Err(StoreError::InvalidCursor)
        ));
        assert!(matches!(
            Cursor::decode("not base64!", "x"),
            Err(StoreError::InvalidCursor)
        ));
        assert!(matches!(
            Cursor::decode(&URL_SAFE_NO_PAD.encode("x|nan|id"), "x"),
            Err(StoreError::InvalidCursor)
        ));
    }
}

/// Pages of many parents' children in one statement: `ROW_NUMBER() OVER (PARTITION BY parent
/// ORDER BY at, id)` numbers each parent's rows in reading order and the outer query keeps the
/// first `size + 1` of each. Supported by SQLite (3.25+) and PostgreSQL alike.
pub mod batch {
    use std::collections::HashMap;

    use sea_orm::sea_query::{Alias, Asterisk, Expr, ExprTrait, Query, WindowStatement};
    use sea_orm::{
        ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryTrait, Select,
    };

    use super::{Cursor, Keyset};
    use crate::{Page, StoreError};
    use core_domain::pagination::PageArgs;

    /// Reads one page per parent. `select` carries the caller's filters; `parent_of` reads the
    /// parent id from a row. Parents with no rows get an empty page.
    pub async fn pages_by_parent<E, C>(
        db: &impl ConnectionTrait,
        select: Select<E>,
        parent: C,
        parents: &[String],
        keyset: &Keyset<C>,
        args: &PageArgs,
        parent_of: impl Fn(&E::Model) -> &str,
    ) -> Result<HashMap<String, Page<E::Model>>, StoreError>
    where
        E: EntityTrait<Column = C>,
        C: ColumnTrait,
        E::Model: FromQueryResult,
    {
        let mut pages: HashMap<String, Page<E::Model>> = HashMap::new();
        if parents.is_empty() {
            return Ok(pages);
        }
        let ascending = keyset.reads_ascending(args.direction);
        let order = if ascending {
            sea_orm::Order::Asc
        } else {
            sea_orm::Order::Desc
        };
        let mut select = select.filter(parent.is_in(parents.iter().cloned()));
        if let Some(text) = &args.cursor {
            let cursor = Cursor::decode(text, keyset.name)?;
            select = select.filter(keyset.after(&cursor, ascending));
        }
        let mut inner = select.into_query();
        inner.expr_window_as(
            Expr::cust("ROW_NUMBER()"),
            WindowStatement::partition_by(parent)
                .order_by(keyset.at, order.clone())
                .order_by(keyset.id, order)
                .to_owned(),
            Alias::new("page_rank"),
        );
        let outer = Query::select()
            .column(Asterisk)
            .from_subquery(inner, Alias::new("ranked"))
            .and_where(Expr::col(Alias::new("page_rank")).lte(args.size + 1))
            .order_by(Alias::new("page_rank"), sea_orm::Order::Asc)
            .to_owned();
        let statement = db.get_database_backend().build(&outer);
        let rows = E::find().from_raw_sql(statement).all(db).await?;

        let mut grouped: HashMap<String, Vec<E::Model>> = HashMap::new();
        for row in rows {
            grouped
                .entry(parent_of(&row).to_owned())
                .or_default()
                .push(row);
        }
        for id in parents {
            let rows = grouped.remove(id).unwrap_or_default();
            pages.insert(id.clone(), Keyset::<C>::page(args, rows));
        }
        Ok(pages)
    }
}
