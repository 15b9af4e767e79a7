//! Users: accounts of every role, guests included. Soft-deleted users (`deleted_at`) are invisible
//! here; only admin tooling reads them.

use core_domain::enums::Role;
use core_domain::{ids, time};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use crate::StoreError;
use crate::entity::users::{self, Column, Entity};

pub use users::Model as User;

/// What a new account starts with.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: Option<String>,
    pub name: Option<String>,
    pub password_hash: Option<String>,
    pub role: Role,
}

/// Inserts a user; an email already taken answers `Conflict("email")` (the unique index decides,
/// so two simultaneous sign-ups cannot both win).
pub async fn create(db: &impl ConnectionTrait, new: NewUser) -> Result<User, StoreError> {
    let now = time::now();
    let model = users::ActiveModel {
        id: Set(ids::new_id()),
        email: Set(new.email),
        name: Set(new.name),
        avatar_url: Set(None),
        role: Set(new.role.into()),
        is_active: Set(true),
        password_hash: Set(new.password_hash),
        disclaimer_accepted: Set(false),
        disclaimer_accepted_at: Set(None),
        disclaimer_version: Set(None),
        last_login_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
    };
    model
        .insert(db)
        .await
        .map_err(|e| StoreError::conflict_or_db(e, "email"))
}

/// A live (not soft-deleted) user by id.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<User>, StoreError> {
    Ok(Entity::find_by_id(id.to_owned())
        .filter(Column::DeletedAt.is_null())
        .one(db)
        .await?)
}

/// A live user by normalised email.
pub async fn find_by_email(
    db: &impl ConnectionTrait,
    email: &str,
) -> Result<Option<User>, StoreError> {
    Ok(Entity::find()
        .filter(Column::Email.eq(email))
        .filter(Column::DeletedAt.is_null())
        .one(db)
        .await?)
}

/// Live users by id, in one statement (for dataloaders).
pub async fn by_ids(db: &impl ConnectionTrait, ids: &[String]) -> Result<Vec<User>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(Entity::find()
        .filter(Column::Id.is_in(ids.iter().cloned()))
        .filter(Column::DeletedAt.is_null())
        .all(db)
        .await?)
}

/// Records a successful sign-in; returns its time.
pub async fn record_login(
    db: &impl ConnectionTrait,
    id: &str,
) -> Result<chrono::DateTime<chrono::Utc>, StoreError> {
    let now = time::now();
    Entity::update_many()
        .col_expr(Column::LastLoginAt, sea_orm::sea_query::Expr::value(now))
        .col_expr(Column::UpdatedAt, sea_orm::sea_query::Expr::value(now))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(now)
}

/// One page of all live users, oldest first (admin listing).
pub async fn page(
    db: &impl ConnectionTrait,
    args: &core_domain::pagination::PageArgs,
) -> Result<crate::Page<User>, StoreError> {
    let keyset = keyset();
    let rows = keyset
        .apply(Entity::find().filter(Column::DeletedAt.is_null()), args)?
        .all(db)
        .await?;
    Ok(crate::cursor::Keyset::<Column>::page(args, rows))
}

/// The ordering of the admin user list.
pub fn keyset() -> crate::cursor::Keyset<Column> {
    crate::cursor::Keyset {
        name: "users.created_at.asc",
        at: Column::CreatedAt,
        id: Column::Id,
        descending: false,
    }
}

/// How many live users there are.
pub async fn count(db: &impl ConnectionTrait) -> Result<u64, StoreError> {
    use sea_orm::PaginatorTrait;
    Ok(Entity::find()
        .filter(Column::DeletedAt.is_null())
        .count(db)
        .await?)
}

/// Sets columns of a live user and `updated_at`; false when there is no such user.
async fn update_columns(
    db: &impl ConnectionTrait,
    id: &str,
    values: Vec<(Column, sea_orm::sea_query::SimpleExpr)>,
) -> Result<bool, StoreError> {
    let mut update = Entity::update_many()
        .col_expr(
            Column::UpdatedAt,
            sea_orm::sea_query::Expr::value(time::now()),
        )
        .filter(Column::Id.eq(id))
        .filter(Column::DeletedAt.is_null());
    for (col, value) in values {
        update = update.col_expr(col, value);
    }
    Ok(update.exec(db).await?.rows_affected == 1)
}

/// What a guest gains when it becomes a USER (progressive sign-up). Fields left `None` keep
/// their value.
#[derive(Debug, Clone, Default)]
pub struct Upgrade {
    pub email: Option<String>,
    pub password_hash: Option<String>,
    pub name: Option<String>,
    pub avatar_url: Option<String>,
}

/// Turns a guest into a USER in place, keeping its id and everything it owns. An email already
/// taken answers `Conflict("email")`.
pub async fn upgrade_guest(
    db: &impl ConnectionTrait,
    id: &str,
    upgrade: Upgrade,
) -> Result<bool, StoreError> {
    use sea_orm::sea_query::Expr;
    let mut values = vec![(Column::Role, Expr::value(Role::User.as_str()))];
    if let Some(email) = upgrade.email {
        values.push((Column::Email, Expr::value(email)));
    }
    if let Some(hash) = upgrade.password_hash {
        values.push((Column::PasswordHash, Expr::value(hash)));
    }
    if let Some(name) = upgrade.name {
        values.push((Column::Name, Expr::value(name)));
    }
    if let Some(url) = upgrade.avatar_url {
        values.push((Column::AvatarUrl, Expr::value(url)));
    }
    let mut update = Entity::update_many()
        .col_expr(Column::UpdatedAt, Expr::value(time::now()))
        .filter(Column::Id.eq(id))
        .filter(Column::Role.eq(Role::Guest.as_str()))
        .filter(Column::DeletedAt.is_null());
    for (col, value) in values {
        update = update.col_expr(col, value);
    }
    let res = update
        .exec(db)
        .await
        .map_err(|e| StoreError::conflict_or_db(e, "email"))?;
    Ok(res.rows_affected == 1)
}

pub async fn set_password_hash(
    db: &impl ConnectionTrait,
    id: &str,
    hash: String,
) -> Result<bool, StoreError> {
    update_columns(
        db,
        id,
        vec![(Column::PasswordHash, sea_orm::sea_query::Expr::value(hash))],
    )
    .await
}

pub async fn set_role(db: &impl ConnectionTrait, id: &str, role: Role) -> Result<bool, StoreError> {
    update_columns(
        db,
        id,
        vec![(Column::Role, sea_orm::sea_query::Expr::value(role.as_str()))],
    )
    .await
}

pub async fn set_active(
    db: &impl ConnectionTrait,
    id: &str,
    active: bool,
) -> Result<bool, StoreError> {
    update_columns(
        db,
        id,
        vec![(Column::IsActive, sea_orm::sea_query::Expr::value(active))],
    )
    .await
}

/// Records that the user accepted disclaimer `version` now.
pub async fn accept_disclaimer(
    db: &impl ConnectionTrait,
    id: &str,
    version: &str,
) -> Result<bool, StoreError> {
    use sea_orm::sea_query::Expr;
    update_columns(
        db,
        id,
        vec![
            (Column::DisclaimerAccepted, Expr::value(true)),
            (Column::DisclaimerAcceptedAt, Expr::value(time::now())),
            (Column::DisclaimerVersion, Expr::value(version)),
        ],
    )
    .await
}

/// Soft-deletes a user: invisible from now on, sessions and tokens dead with it (they only
/// authenticate live users).
pub async fn soft_delete(db: &impl ConnectionTrait, id: &str) -> Result<bool, StoreError> {
    update_columns(
        db,
        id,
        vec![(
            Column::DeletedAt,
            sea_orm::sea_query::Expr::value(time::now()),
        )],
    )
    .await
}
