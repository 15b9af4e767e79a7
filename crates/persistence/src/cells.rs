//! Positional decoding of the hot sparse reads (the nested read's conversations and messages).
//!
//! Why: SeaORM finds each column of each row by name (a hash and a string compare per value),
//! and its `Option<T>` decoding builds an error message, the column's name formatted, for every
//! NULL before turning it into `None`. On a nested read of 300 rows that was a tenth of the
//! server's CPU (issue 8's profile of the small read). A sparse read knows the position of every
//! column it selected ([`Layout`]), so each value is decoded straight from the driver's row by
//! index, as `Option<T>`, with the same sqlx decoding SeaORM uses: the values are identical.

use sea_orm::sqlx::{self, Row as _};
use sea_orm::{DbErr, QueryResult};

use crate::stored::{Spelled, Text};

/// Where each column of an entity is in a sparse read's select list, by the column's
/// discriminant (`Column::X as usize`); entities have fewer than 32 columns.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    index: [u8; 32],
}

const ABSENT: u8 = u8::MAX;

impl Layout {
    /// The layout of a select list of `columns`, given as discriminants in select order.
    pub fn of(columns: impl IntoIterator<Item = usize>) -> Self {
        let mut index = [ABSENT; 32];
        for (position, column) in columns.into_iter().enumerate() {
            if let (Some(slot), Ok(position)) = (index.get_mut(column), u8::try_from(position)) {
                *slot = position;
            }
        }
        Self { index }
    }

    /// The position of `column` (a discriminant), when it was read.
    pub fn position(&self, column: usize) -> Option<usize> {
        match self.index.get(column) {
            Some(&p) if p != ABSENT => Some(usize::from(p)),
            _ => None,
        }
    }

    /// `column` of `row`; `T::default()` when the read did not select it (the sparse model's
    /// placeholder, which its reader never looks at).
    pub fn get<T: Cell + Default>(&self, row: &QueryResult, column: usize) -> Result<T, DbErr> {
        match self.position(column) {
            Some(i) => T::decode(row, i),
            None => Ok(T::default()),
        }
    }

    /// `column` of `row`, which every read of this kind selects.
    pub fn require<T: Cell>(&self, row: &QueryResult, column: usize) -> Result<T, DbErr> {
        match self.position(column) {
            Some(i) => T::decode(row, i),
            None => Err(DbErr::Type(format!("column {column} was not read"))),
        }
    }
}

/// Declares `$name`, a set of `$column`s (an entity's `Column` enum) that a sparse read asks
/// for: bits by discriminant, `const` so a reader's fixed columns can be a constant.
#[macro_export]
macro_rules! column_set {
    ($(#[$doc:meta])* $name:ident, $column:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $name(u32);

        impl $name {
            pub const ALL: Self = Self(u32::MAX);
            pub const NONE: Self = Self(0);

            pub const fn with(self, column: $column) -> Self {
                Self(self.0 | 1 << column as u32)
            }

            /// The columns of both sets.
            pub const fn union(self, other: Self) -> Self {
                Self(self.0 | other.0)
            }

            pub const fn contains(self, column: $column) -> bool {
                self.0 & (1 << column as u32) != 0
            }

            /// The set as bits, to carry it through code that does not know these columns.
            pub const fn bits(self) -> u32 {
                self.0
            }

            pub const fn from_bits(bits: u32) -> Self {
                Self(bits)
            }

            pub fn is_all(self) -> bool {
                <$column as sea_orm::Iterable>::iter().all(|c| self.contains(c))
            }

            /// The columns in the set, in the entity's order.
            pub fn columns(self) -> Vec<$column> {
                <$column as sea_orm::Iterable>::iter()
                    .filter(|c| self.contains(*c))
                    .collect()
            }
        }
    };
}

/// A value decoded from a row by position.
pub trait Cell: Sized {
    fn decode(row: &QueryResult, index: usize) -> Result<Self, DbErr>;
}

/// A nullable value at `index`, decoded by sqlx's decoder for `T`, as SeaORM decodes it.
///
/// Without sqlx's type check (`try_get_unchecked`): a sparse read selects columns whose types
/// the migrations fix, and the check (the column's type looked up, compared with `T`'s, its
/// type info cloned and dropped) cost a fifth of decoding (the small read's profile under 16
/// clients: `Row::try_get` 14% of the server's CPU inclusive, the check about 4%). The decoders
/// still refuse what they cannot read (text that is not UTF-8, an integer of the wrong width
/// that does not fit, a malformed timestamp), and every sparse read is tested on both
/// databases against the whole model read.
fn nullable<T>(row: &QueryResult, index: usize) -> Result<Option<T>, DbErr>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
    T: for<'r> sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    borrowed::<Option<T>>(row, index)
}

/// A value at `index` that may borrow from the row (`Option<&str>`), decoded as [`nullable`]
/// decodes.
fn borrowed<'r, T>(row: &'r QueryResult, index: usize) -> Result<T, DbErr>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Decode<'r, sqlx::Sqlite>,
{
    let decoded = if let Some(row) = row.try_as_pg_row() {
        row.try_get_unchecked::<T, _>(index)
    } else if let Some(row) = row.try_as_sqlite_row() {
        row.try_get_unchecked::<T, _>(index)
    } else {
        return Err(DbErr::Type(
            "positional decoding needs a sqlx row".to_owned(),
        ));
    };
    decoded.map_err(|e| DbErr::Type(format!("column {index}: {e}")))
}

fn present<T>(value: Option<T>, index: usize) -> Result<T, DbErr> {
    value.ok_or_else(|| DbErr::Type(format!("column {index} is NULL")))
}

macro_rules! cells {
    ($($t:ty),+) => {$(
        impl Cell for $t {
            fn decode(row: &QueryResult, index: usize) -> Result<Self, DbErr> {
                present(nullable::<$t>(row, index)?, index)
            }
        }

        impl Cell for Option<$t> {
            fn decode(row: &QueryResult, index: usize) -> Result<Self, DbErr> {
                nullable::<$t>(row, index)
            }
        }
    )+};
}

cells!(String, bool, i32, i64, chrono::DateTime<chrono::Utc>);

impl<T: Spelled> Cell for Text<T> {
    /// Read in place: an enum's spelling is never copied out of the row.
    fn decode(row: &QueryResult, index: usize) -> Result<Self, DbErr> {
        let text = present(borrowed::<Option<&str>>(row, index)?, index)?;
        T::from_spelling(text)
            .map(Text)
            .map_err(|e| DbErr::Type(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layout_finds_each_read_column_and_only_those() {
        let layout = Layout::of([4, 0, 7]);
        assert_eq!(layout.position(4), Some(0));
        assert_eq!(layout.position(0), Some(1));
        assert_eq!(layout.position(7), Some(2));
        assert_eq!(layout.position(1), None);
        assert_eq!(layout.position(40), None, "out of range is absent");
    }
}
