//! External identities (002 `ExternalIdentity`) and 002's "merge on conflict".
//!
//! (`provider`, `external_id`) is unique, so one provider account belongs to exactly one user,
//! while a user may link several, even several of one provider. When a guest signs in with an
//! identity that already belongs to another user, [`merge_guest`] moves everything the guest owns
//! to that user and deletes the guest, in one transaction.

use core_domain::{ids, time};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionSession, TransactionTrait,
};

use crate::StoreError;
use crate::entity::external_identities::{self, Column, Entity};
use crate::entity::users;

pub use external_identities::Model as ExternalIdentity;

pub async fn find(
    db: &impl ConnectionTrait,
    provider: &str,
    external_id: &str,
) -> Result<Option<ExternalIdentity>, StoreError> {
    Ok(Entity::find()
        .filter(Column::Provider.eq(provider))
        .filter(Column::ExternalId.eq(external_id))
        .one(db)
        .await?)
}

/// Links an identity to a user; an identity already linked answers `Conflict("identity")`.
pub async fn link(
    db: &impl ConnectionTrait,
    user_id: &str,
    provider: &str,
    external_id: &str,
    email: Option<String>,
) -> Result<ExternalIdentity, StoreError> {
    external_identities::ActiveModel {
        id: Set(ids::new_id()),
        user_id: Set(user_id.to_owned()),
        provider: Set(provider.to_owned()),
        external_id: Set(external_id.to_owned()),
        email: Set(email),
        created_at: Set(time::now()),
    }
    .insert(db)
    .await
    .map_err(|e| StoreError::conflict_or_db(e, "identity"))
}

pub async fn list(
    db: &impl ConnectionTrait,
    user_id: &str,
) -> Result<Vec<ExternalIdentity>, StoreError> {
    Ok(Entity::find()
        .filter(Column::UserId.eq(user_id))
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .all(db)
        .await?)
}

/// Removes one of `user_id`'s identities; false when it is not theirs.
pub async fn unlink(
    db: &impl ConnectionTrait,
    user_id: &str,
    id: &str,
) -> Result<bool, StoreError> {
    let res = Entity::delete_many()
        .filter(Column::Id.eq(id))
        .filter(Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Every column that points at a user, with the other columns of a unique key it is part of
/// (`Some(&[])`: one row per user). A row whose unique key the target already holds stays with the guest and goes with
/// it (the target's own row wins); every other row moves. Keep this list complete: the merge test
/// checks that no row points at a deleted guest.
pub const USER_REFERENCES: &[(&str, &str, Option<&[&str]>)] = &[
    ("conversations", "user_id", None),
    ("messages", "user_id", None),
    ("journals", "user_id", None),
    ("usage_logs", "user_id", None),
    ("invitations", "linked_user_id", None),
    ("invitations", "created_by_id", None),
    ("observation_notes", "researcher_id", None),
    ("telemetry_events", "user_id", None),
    ("external_identities", "user_id", None),
    ("tokens", "user_id", None),
    ("api_keys", "user_id", None),
    ("user_profiles", "user_id", Some(&[])),
    ("subscriptions", "user_id", Some(&[])),
    ("projects", "user_id", None),
    ("analyses", "user_id", None),
    ("uploads", "user_id", None),
    ("posts", "author_id", None),
    ("contract_analyses", "user_id", None),
    ("localization_analyses", "user_id", None),
    ("customer_behavior_analyses", "user_id", None),
    ("compliance_monitoring", "user_id", None),
    ("learning_paths", "user_id", None),
    ("courses", "instructor_id", None),
    ("enrollments", "user_id", Some(&["course_id"])),
    ("assessments", "user_id", None),
    ("wallets", "user_id", Some(&["currency"])),
    ("mining_activities", "user_id", Some(&["assessment_id"])),
    ("assessment_submissions", "user_id", None),
    ("assessment_submissions", "graded_by", None),
    // A money mutation's key stays the guest's first result when the target used it too.
    ("idempotency_keys", "user_id", Some(&["key"])),
    ("payments", "user_id", Some(&["idempotency_key"])),
    ("jobs", "posted_by_id", None),
    ("job_applications", "user_id", Some(&["job_id"])),
    ("user_skills", "user_id", Some(&["skill_id"])),
    ("notifications", "user_id", None),
    ("events", "user_id", None),
    ("safety_incidents", "reporter_id", None),
    ("safety_incidents", "subject_user_id", None),
    ("safety_incidents", "assigned_to_id", None),
    // Other sign-ins the guest started: the same person, so they finish for the target.
    ("oauth_states", "guest_user_id", None),
    // A guest cannot publish (admins only), but the list covers every reference.
    ("disclaimer_versions", "created_by", None),
];

/// Moves everything `guest_id` owns to `target_id` and deletes the guest, in one transaction.
/// Contact methods keep their values (unique across users, so they cannot clash) but give up
/// being primary where the target already has a primary of that type. The guest's sessions end
/// with it.
pub async fn merge_guest<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    guest_id: &str,
    target_id: &str,
) -> Result<(), StoreError> {
    let txn = db.begin().await?;
    for (table, column, key) in USER_REFERENCES {
        let mut update = Query::update();
        update
            .table(Alias::new(*table))
            .value(Alias::new(*column), target_id)
            .and_where(Expr::col(Alias::new(*column)).eq(guest_id));
        if let Some(key) = key {
            // Skip rows whose unique key the target already holds.
            let mut clash = Query::select();
            clash
                .expr(Expr::val(1))
                .from_as(Alias::new(*table), Alias::new("theirs"))
                .and_where(Expr::col((Alias::new("theirs"), Alias::new(*column))).eq(target_id));
            for k in key.iter() {
                clash.and_where(
                    Expr::col((Alias::new("theirs"), Alias::new(*k)))
                        .equals((Alias::new(*table), Alias::new(*k))),
                );
            }
            update.and_where(Expr::exists(clash).not());
        }
        txn.execute(&update).await?;
    }
    // Contact methods: demote the guest's primaries that would clash, then move them all.
    let mut demote = Query::update();
    let mut target_primary = Query::select();
    target_primary
        .expr(Expr::val(1))
        .from_as(Alias::new("contact_methods"), Alias::new("theirs"))
        .and_where(Expr::col((Alias::new("theirs"), Alias::new("user_id"))).eq(target_id))
        .and_where(Expr::col((Alias::new("theirs"), Alias::new("is_primary"))).eq(true))
        .and_where(
            Expr::col((Alias::new("theirs"), Alias::new("type")))
                .equals((Alias::new("contact_methods"), Alias::new("type"))),
        );
    demote
        .table(Alias::new("contact_methods"))
        .value(Alias::new("is_primary"), false)
        .and_where(Expr::col(Alias::new("user_id")).eq(guest_id))
        .and_where(Expr::exists(target_primary));
    txn.execute(&demote).await?;
    let mut move_contacts = Query::update();
    move_contacts
        .table(Alias::new("contact_methods"))
        .value(Alias::new("user_id"), target_id)
        .and_where(Expr::col(Alias::new("user_id")).eq(guest_id));
    txn.execute(&move_contacts).await?;

    users::Entity::delete_by_id(guest_id.to_owned())
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}
