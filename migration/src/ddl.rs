//! Building blocks shared by the migrations, so that every table follows the same conventions:
//!
//! - primary keys are text chosen by the application (cuid2 or a slug), never database sequences;
//! - timestamps are `timestamp with time zone`, written in UTC by the application; the
//!   `CURRENT_TIMESTAMP` default only covers rows inserted by hand;
//! - every foreign key references `id`, is named `fk_<table>_<column>` and gets an index;
//! - indexes are named `idx_<table>_<columns>`, unique ones `uq_<table>_<columns>`, which keeps
//!   names unique across the whole database (PostgreSQL requires it).
//!
//! Migrations are never edited once released, so neither are these helpers: a change of
//! convention goes into new helpers used by new migrations.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{string, timestamp_with_time_zone};

/// Every foreign key points at the referenced table's `id` column.
#[derive(DeriveIden)]
enum Ref {
    Id,
}

/// A text primary key.
pub(crate) fn pk_text<T: IntoIden>(col: T) -> ColumnDef {
    string(col).primary_key().take()
}

/// A non-null UTC timestamp defaulting to now (`created_at`, `updated_at`, `started_at`).
pub(crate) fn timestamp_now<T: IntoIden>(col: T) -> ColumnDef {
    timestamp_with_time_zone(col)
        .default(Expr::current_timestamp())
        .take()
}

/// A foreign key `fk_<table>_<col>` from `table.col` to `ref_table.id`.
pub(crate) fn foreign_key<T, C, R>(
    table: T,
    col: C,
    ref_table: R,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement
where
    T: IntoIden,
    C: IntoIden,
    R: IntoIden,
{
    let table = table.into_iden();
    let col = col.into_iden();
    ForeignKey::create()
        .name(format!("fk_{table}_{col}"))
        .from(table, col)
        .to(ref_table, Ref::Id)
        .on_delete(on_delete)
        .take()
}

/// A plain index named `idx_<table>_<cols>`.
pub(crate) fn index<T, C, I>(table: T, cols: I) -> IndexCreateStatement
where
    T: IntoIden,
    C: IntoIden,
    I: IntoIterator<Item = C>,
{
    build_index("idx", table, cols)
}

/// A unique index named `uq_<table>_<cols>`.
pub(crate) fn unique<T, C, I>(table: T, cols: I) -> IndexCreateStatement
where
    T: IntoIden,
    C: IntoIden,
    I: IntoIterator<Item = C>,
{
    build_index("uq", table, cols).unique().take()
}

/// An index with an explicit name, for indexes the application refers to by a shorter name
/// (keyset-pagination indexes such as `idx_conversations_user_created`).
pub(crate) fn named_index<T, C, I>(name: &str, table: T, cols: I) -> IndexCreateStatement
where
    T: IntoIden,
    C: IntoIden,
    I: IntoIterator<Item = C>,
{
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for col in cols {
        stmt.col(col.into_iden());
    }
    stmt
}

fn build_index<T, C, I>(prefix: &str, table: T, cols: I) -> IndexCreateStatement
where
    T: IntoIden,
    C: IntoIden,
    I: IntoIterator<Item = C>,
{
    let table = table.into_iden();
    let cols: Vec<DynIden> = cols.into_iter().map(IntoIden::into_iden).collect();
    let joined = cols
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("_");
    named_index(&format!("{prefix}_{table}_{joined}"), table, cols)
}

/// Creates every index in order.
pub(crate) async fn create_indexes<I>(manager: &SchemaManager<'_>, indexes: I) -> Result<(), DbErr>
where
    I: IntoIterator<Item = IndexCreateStatement>,
{
    for stmt in indexes {
        manager.create_index(stmt).await?;
    }
    Ok(())
}

/// Drops tables in the order given (callers list them children first); their indexes and foreign
/// keys go with them.
pub(crate) async fn drop_tables<I>(manager: &SchemaManager<'_>, tables: I) -> Result<(), DbErr>
where
    I: IntoIterator<Item = DynIden>,
{
    for table in tables {
        manager
            .drop_table(Table::drop().table(table).to_owned())
            .await?;
    }
    Ok(())
}
