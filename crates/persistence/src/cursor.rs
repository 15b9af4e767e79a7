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
mod batch_tests;

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

/// Pages of many parents' children in one statement whose cost is the pages' rows, not the
/// children's: each parent's page is read by its own index range scan of at most `size + 1`
/// entries (the `(parent, at, id)` indexes serve every ordering, forwards or backwards), however
/// many children a parent has.
///
/// The parent ids are bound as ONE parameter, so the statement's text is the same for any number
/// of parents: it is prepared once per connection and never nears a bound-parameter limit.
///
/// PostgreSQL, a LATERAL join over the array of parents:
///
/// ```sql
/// SELECT "t".* FROM unnest($n::text[]) AS "p"("parent_id") CROSS JOIN LATERAL (
///   SELECT "messages"."id", ... FROM "messages"
///   WHERE <filters> AND <cursor> AND "messages"."conversation_id" = "p"."parent_id"
///   ORDER BY "messages"."created_at" ASC, "messages"."id" ASC LIMIT $k) AS "t"
/// ```
///
/// The nested loop emits each parent's rows together, in the subquery's order.
///
/// SQLite has no LATERAL; its equivalent is a correlated `rowid IN (...)` list, which SQLite
/// evaluates once per parent with the same index range scan (covering: the index holds the rowid),
/// then reads the table rows by rowid:
///
/// ```sql
/// SELECT "t".* FROM json_each(?) AS "p" JOIN "messages" AS "t" ON "t".rowid IN (
///   SELECT "messages".rowid FROM "messages"
///   WHERE <filters> AND <cursor> AND "messages"."conversation_id" = "p"."value"
///   ORDER BY "messages"."created_at" ASC, "messages"."id" ASC LIMIT ?)
/// ORDER BY "t"."created_at" ASC, "t"."id" ASC
/// ```
///
/// The rows of one parent come out of the `IN` list in rowid order, hence the outer `ORDER BY`;
/// rows are grouped by parent afterwards, so only the order within a parent matters.
pub mod batch {
    use std::collections::{HashMap, HashSet};

    use sea_orm::sea_query::{Alias, Expr, ExprTrait};
    use sea_orm::{
        ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, FromQueryResult, QueryResult,
        QueryTrait, Select, Statement, Value,
    };

    use super::Keyset;
    use crate::cells::Layout;
    use crate::{Page, StoreError};
    use core_domain::pagination::PageArgs;

    /// Reads one page per parent. `select` carries the caller's filters; `parent_of` reads the
    /// parent id from a row. Parents with no rows get an empty page; a parent listed twice gets
    /// one page.
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
        read(
            db,
            select,
            None,
            parent,
            parents,
            keyset,
            args,
            |row| E::Model::from_query_result(row, ""),
            parent_of,
        )
        .await
    }

    /// [`pages_by_parent`] reading only `columns` (the parent, ordering and id columns are
    /// always added: rows are grouped by the first, cursors are made of the others) into a lean
    /// `T` instead of the whole model: for hot paths whose callers need a few fields. Decoding
    /// is a large share of a page's cost when rows are wide (16 columns per message, most of
    /// them unused by a listing).
    #[allow(clippy::too_many_arguments)]
    pub async fn pages_by_parent_columns<E, C, T>(
        db: &impl ConnectionTrait,
        select: Select<E>,
        columns: &[C],
        parent: C,
        parents: &[String],
        keyset: &Keyset<C>,
        args: &PageArgs,
        parent_of: impl Fn(&T) -> &str,
    ) -> Result<HashMap<String, Page<T>>, StoreError>
    where
        E: EntityTrait<Column = C>,
        C: ColumnTrait,
        T: FromQueryResult,
    {
        read(
            db,
            select,
            Some(columns),
            parent,
            parents,
            keyset,
            args,
            |row| T::from_query_result(row, ""),
            parent_of,
        )
        .await
    }

    /// [`pages_by_parent_columns`] decoding each row with `decode`, told the row and where each
    /// column is in it ([`Layout`], by the column's place in its enum): for a model read sparsely
    /// (the asked columns decoded by position, the rest left at placeholders the caller never
    /// reads), where the full model type is what the rest of the code handles.
    #[allow(clippy::too_many_arguments)]
    pub async fn pages_by_parent_decoded<E, C, T>(
        db: &impl ConnectionTrait,
        select: Select<E>,
        columns: &[C],
        parent: C,
        parents: &[String],
        keyset: &Keyset<C>,
        args: &PageArgs,
        decode: impl Fn(&QueryResult, &Layout) -> Result<T, DbErr>,
        parent_of: impl Fn(&T) -> &str,
    ) -> Result<HashMap<String, Page<T>>, StoreError>
    where
        E: EntityTrait<Column = C>,
        C: ColumnTrait,
    {
        let layout = Layout::of(
            selected(parent, keyset, columns)
                .into_iter()
                .filter_map(|c| C::iter().position(|each| each.as_str() == c.as_str())),
        );
        read(
            db,
            select,
            Some(columns),
            parent,
            parents,
            keyset,
            args,
            |row| decode(row, &layout),
            parent_of,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn read<E, C, T>(
        db: &impl ConnectionTrait,
        select: Select<E>,
        columns: Option<&[C]>,
        parent: C,
        parents: &[String],
        keyset: &Keyset<C>,
        args: &PageArgs,
        decode: impl Fn(&QueryResult) -> Result<T, DbErr>,
        parent_of: impl Fn(&T) -> &str,
    ) -> Result<HashMap<String, Page<T>>, StoreError>
    where
        E: EntityTrait<Column = C>,
        C: ColumnTrait,
    {
        let mut pages: HashMap<String, Page<T>> = HashMap::with_capacity(parents.len());
        if parents.is_empty() {
            return Ok(pages);
        }
        let parents = distinct(parents);
        let statement = statement(
            db.get_database_backend(),
            select,
            columns,
            parent,
            &parents,
            keyset,
            args,
        )?;
        let rows = db.query_all_raw(statement).await?;

        // Each parent's rows arrive together and in reading order; deal them into one slot per
        // parent (the index borrows the ids, so no key is allocated per row).
        let slot_of: HashMap<&str, usize> = parents
            .iter()
            .enumerate()
            .map(|(i, p)| (p.as_str(), i))
            .collect();
        let mut slots: Vec<Vec<T>> = Vec::new();
        slots.resize_with(parents.len(), Vec::new);
        for row in rows {
            let row = decode(&row)?;
            if let Some(&i) = slot_of.get(parent_of(&row)) {
                slots[i].push(row);
            }
        }
        for (id, rows) in parents.into_iter().zip(slots) {
            pages.insert(id, Keyset::<C>::page(args, rows));
        }
        Ok(pages)
    }

    /// `parents` without repeats, first occurrence first (a repeated parent would read its page
    /// twice and then see twice the rows).
    fn distinct(parents: &[String]) -> Vec<String> {
        let mut seen = HashSet::with_capacity(parents.len());
        parents
            .iter()
            .filter(|p| seen.insert(p.as_str()))
            .cloned()
            .collect()
    }

    /// The select list of a sparse read asking for `asked`, in order: the parent, ordering and
    /// id columns first, then the asked ones, each once.
    fn selected<C: ColumnTrait>(parent: C, keyset: &Keyset<C>, asked: &[C]) -> Vec<C> {
        let mut all: Vec<C> = Vec::with_capacity(asked.len() + 3);
        for c in [parent, keyset.at, keyset.id]
            .into_iter()
            .chain(asked.iter().copied())
        {
            if !all.iter().any(|seen| seen.as_str() == c.as_str()) {
                all.push(c);
            }
        }
        all
    }

    /// The one statement that reads every parent's page (see the module documentation).
    pub(crate) fn statement<E, C>(
        backend: DbBackend,
        select: Select<E>,
        columns: Option<&[C]>,
        parent: C,
        parents: &[String],
        keyset: &Keyset<C>,
        args: &PageArgs,
    ) -> Result<Statement, StoreError>
    where
        E: EntityTrait<Column = C>,
        C: ColumnTrait,
    {
        let table = E::default();
        // The caller's filters, the cursor, the order and `LIMIT size + 1`, exactly as a single
        // page is read; then the correlation with the parent row of the outer query.
        let mut inner = keyset.apply(select, args)?.into_query();
        let p = Alias::new("p");
        // The columns read: all, or the asked ones plus those grouping and cursors need.
        let columns: Option<Vec<C>> = columns.map(|asked| selected(parent, keyset, asked));
        match backend {
            DbBackend::Postgres => {
                if let Some(columns) = &columns {
                    inner.clear_selects();
                    for &c in columns {
                        inner.column((E::default(), c));
                    }
                }
                inner.and_where(
                    Expr::col((table, parent)).equals((p.clone(), Alias::new("parent_id"))),
                );
                let built = backend.build(&inner);
                let mut values = built.values.map(|v| v.0).unwrap_or_default();
                values.push(Value::from(parents.to_vec()));
                let sql = format!(
                    "SELECT \"t\".* FROM unnest(${}::text[]) AS \"p\"(\"parent_id\") \
                     CROSS JOIN LATERAL ({}) AS \"t\"",
                    values.len(),
                    built.sql
                );
                Ok(Statement::from_sql_and_values(backend, sql, values))
            }
            _ => {
                let name = table.table_name();
                inner
                    .clear_selects()
                    .expr(Expr::cust(format!("\"{name}\".rowid")))
                    .and_where(Expr::col((table, parent)).equals((p, Alias::new("value"))));
                let built = backend.build(&inner);
                let parents_json = serde_json::to_string(parents)
                    .map_err(|e| DbErr::Custom(format!("parent ids as JSON: {e}")))?;
                let mut values = vec![Value::from(parents_json)];
                values.extend(built.values.map(|v| v.0).unwrap_or_default());
                let order = if keyset.reads_ascending(args.direction) {
                    "ASC"
                } else {
                    "DESC"
                };
                let outer_columns = match &columns {
                    None => "\"t\".*".to_owned(),
                    Some(columns) => columns
                        .iter()
                        .map(|c| format!("\"t\".\"{}\"", c.as_str()))
                        .collect::<Vec<_>>()
                        .join(", "),
                };
                let sql = format!(
                    "SELECT {outer_columns} FROM json_each(?) AS \"p\" JOIN \"{name}\" AS \"t\" \
                     ON \"t\".rowid IN ({}) ORDER BY \"t\".\"{}\" {order}, \"t\".\"{}\" {order}",
                    built.sql,
                    keyset.at.as_str(),
                    keyset.id.as_str(),
                );
                Ok(Statement::from_sql_and_values(backend, sql, values))
            }
        }
    }
}
