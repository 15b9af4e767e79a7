//! Colloquy's schema, one migration per area, applied in order; foreign keys only point at
//! tables of earlier migrations. A released migration is never edited: changes go into a new one.
//! Every migration's `down` drops what its `up` created, children first.

pub use sea_orm_migration::MigrationStatus;
pub use sea_orm_migration::prelude::*;

mod ddl;
mod m20261121_000001_identity;
mod m20261121_000002_workspace;
mod m20261121_000003_programmes;
mod m20261121_000004_conversations;
mod m20261121_000005_research;
mod m20261121_000006_education;
mod m20261121_000007_finance;
mod m20261121_000008_marketplace;
mod m20261121_000009_infrastructure;
mod m20261121_000010_chat;
mod m20261121_000011_oauth_states;
mod m20261202_000012_reservations;
mod m20261202_000013_disclaimers;
mod m20261202_000014_practice;
mod m20261202_000015_research;
mod m20261202_000016_limits;
mod m20261202_000017_audit;
mod m20261202_000018_workspace;
mod m20261202_000019_files;
mod m20261202_000020_finance;
mod m20261202_000022_analytics;
mod m20261202_000024_learning_paths;
mod m20261202_000025_activity_rollup;
mod m20261202_000026_deferred_set_null;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_identity::Migration),
            Box::new(m20261121_000002_workspace::Migration),
            Box::new(m20261121_000003_programmes::Migration),
            Box::new(m20261121_000004_conversations::Migration),
            Box::new(m20261121_000005_research::Migration),
            Box::new(m20261121_000006_education::Migration),
            Box::new(m20261121_000007_finance::Migration),
            Box::new(m20261121_000008_marketplace::Migration),
            Box::new(m20261121_000009_infrastructure::Migration),
            Box::new(m20261121_000010_chat::Migration),
            Box::new(m20261121_000011_oauth_states::Migration),
            Box::new(m20261202_000012_reservations::Migration),
            Box::new(m20261202_000013_disclaimers::Migration),
            Box::new(m20261202_000014_practice::Migration),
            Box::new(m20261202_000015_research::Migration),
            Box::new(m20261202_000016_limits::Migration),
            Box::new(m20261202_000017_audit::Migration),
            Box::new(m20261202_000018_workspace::Migration),
            Box::new(m20261202_000019_files::Migration),
            Box::new(m20261202_000020_finance::Migration),
            Box::new(m20261202_000022_analytics::Migration),
            Box::new(m20261202_000024_learning_paths::Migration),
            Box::new(m20261202_000025_activity_rollup::Migration),
            Box::new(m20261202_000026_deferred_set_null::Migration),
        ]
    }
}
