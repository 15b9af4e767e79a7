//! OptiMind's workspace (seed 003): subscriptions and their usage counters, projects, generic
//! analyses, uploads, posts, and the five AI business solutions. `learning_paths` also holds
//! Azora's curated paths (`title`, `description`, no owner); their ordered courses are linked in
//! the education migration, which comes after `courses` exists.
//!
//! Statuses and types are stored as text in the seed's spelling (`PENDING`, `TEXT_ANALYSIS`).
//! Confidence scores and probabilities are floats (0..1); `processing_time` is milliseconds.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, boolean, double_null, integer_null, json_binary_null, string, string_null, text,
    text_null, timestamp_with_time_zone, timestamp_with_time_zone_null,
};

use crate::ddl::{
    create_indexes, drop_tables, foreign_key, index, named_index, pk_text, timestamp_now, unique,
};
use crate::m20261121_000001_identity::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Columns every business-solution table shares (same names as in `analyses`).
#[derive(DeriveIden)]
enum Common {
    Id,
    UserId,
    ProjectId,
    Confidence,
    ProcessingTime,
    Status,
    Metadata,
    CreatedAt,
    UpdatedAt,
}

/// A business-solution table: its own columns between the shared ones, owned by a user
/// (cascade) and optionally filed under a project (kept when the project goes). `user_id` is
/// the owner column's definition, since only learning paths may have no owner.
fn solution_table<T>(
    table: T,
    user_id: ColumnDef,
    own_columns: Vec<ColumnDef>,
) -> TableCreateStatement
where
    T: IntoIden,
{
    let table = table.into_iden();
    let mut stmt = Table::create();
    stmt.table(table.clone())
        .col(pk_text(Common::Id))
        .col(user_id)
        .col(string_null(Common::ProjectId));
    for col in own_columns {
        stmt.col(col);
    }
    stmt.col(double_null(Common::Confidence))
        .col(integer_null(Common::ProcessingTime))
        .col(string(Common::Status).default("PENDING"))
        .col(json_binary_null(Common::Metadata))
        .col(timestamp_now(Common::CreatedAt))
        .col(timestamp_now(Common::UpdatedAt))
        .foreign_key(&mut foreign_key(
            table.clone(),
            Common::UserId,
            Users::Table,
            ForeignKeyAction::Cascade,
        ))
        .foreign_key(&mut foreign_key(
            table,
            Common::ProjectId,
            Projects::Table,
            ForeignKeyAction::SetNull,
        ));
    stmt
}

/// The indexes of a business-solution table: the user's list (newest first), project, status.
fn solution_indexes<T>(table: T, list_index: &str) -> [IndexCreateStatement; 3]
where
    T: IntoIden,
{
    let table = table.into_iden();
    [
        named_index(
            list_index,
            table.clone(),
            [Common::UserId, Common::CreatedAt, Common::Id],
        ),
        index(table.clone(), [Common::ProjectId]),
        index(table, [Common::Status]),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Subscriptions::Table)
                    .col(pk_text(Subscriptions::Id))
                    .col(string(Subscriptions::UserId))
                    .col(string(Subscriptions::Plan).default("FREE"))
                    .col(string(Subscriptions::Status).default("ACTIVE"))
                    .col(timestamp_with_time_zone(Subscriptions::CurrentPeriodStart))
                    .col(timestamp_with_time_zone(Subscriptions::CurrentPeriodEnd))
                    .col(boolean(Subscriptions::CancelAtPeriodEnd).default(false))
                    .col(json_binary_null(Subscriptions::Metadata))
                    .col(timestamp_now(Subscriptions::CreatedAt))
                    .col(timestamp_now(Subscriptions::UpdatedAt))
                    .foreign_key(&mut foreign_key(
                        Subscriptions::Table,
                        Subscriptions::UserId,
                        Users::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SubscriptionUsage::Table)
                    .col(pk_text(SubscriptionUsage::Id))
                    .col(string(SubscriptionUsage::SubscriptionId))
                    .col(string(SubscriptionUsage::Metric))
                    // Token counts over a year overflow 32 bits.
                    .col(big_integer(SubscriptionUsage::Value).default(0))
                    .col(string(SubscriptionUsage::Period))
                    .col(timestamp_now(SubscriptionUsage::CreatedAt))
                    // The row is a counter, incremented in place: when it last moved matters.
                    .col(timestamp_now(SubscriptionUsage::UpdatedAt))
                    .foreign_key(&mut foreign_key(
                        SubscriptionUsage::Table,
                        SubscriptionUsage::SubscriptionId,
                        Subscriptions::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Projects::Table)
                    .col(pk_text(Projects::Id))
                    .col(string(Projects::UserId))
                    .col(string(Projects::Name))
                    .col(text_null(Projects::Description))
                    .col(string(Projects::Status).default("ACTIVE"))
                    .col(json_binary_null(Projects::Metadata))
                    .col(timestamp_now(Projects::CreatedAt))
                    .col(timestamp_now(Projects::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Projects::DeletedAt))
                    .foreign_key(&mut foreign_key(
                        Projects::Table,
                        Projects::UserId,
                        Users::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Analyses::Table)
                    .col(pk_text(Analyses::Id))
                    .col(string(Analyses::Type))
                    .col(text(Analyses::Input))
                    .col(json_binary_null(Analyses::Result))
                    .col(double_null(Analyses::Confidence))
                    .col(string(Analyses::Status).default("PENDING"))
                    .col(string(Analyses::UserId))
                    .col(string_null(Analyses::ProjectId))
                    .col(string_null(Analyses::Model))
                    .col(integer_null(Analyses::ProcessingTime))
                    .col(json_binary_null(Analyses::Metadata))
                    .col(timestamp_now(Analyses::CreatedAt))
                    .col(timestamp_now(Analyses::UpdatedAt))
                    .foreign_key(&mut foreign_key(
                        Analyses::Table,
                        Analyses::UserId,
                        Users::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        Analyses::Table,
                        Analyses::ProjectId,
                        Projects::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Uploads::Table)
                    .col(pk_text(Uploads::Id))
                    .col(string(Uploads::Filename))
                    .col(string(Uploads::OriginalName))
                    .col(string(Uploads::Path))
                    // Bytes; files over 2 GiB overflow 32 bits.
                    .col(big_integer(Uploads::Size))
                    .col(string(Uploads::MimeType))
                    .col(string(Uploads::Status).default("PENDING"))
                    .col(string(Uploads::UserId))
                    .col(string_null(Uploads::ProjectId))
                    .col(json_binary_null(Uploads::Metadata))
                    .col(timestamp_with_time_zone_null(Uploads::ProcessedAt))
                    .col(timestamp_now(Uploads::CreatedAt))
                    .col(timestamp_now(Uploads::UpdatedAt))
                    .foreign_key(&mut foreign_key(
                        Uploads::Table,
                        Uploads::UserId,
                        Users::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        Uploads::Table,
                        Uploads::ProjectId,
                        Projects::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Posts::Table)
                    .col(pk_text(Posts::Id))
                    .col(string(Posts::Title))
                    .col(text_null(Posts::Content))
                    .col(text_null(Posts::Excerpt))
                    .col(string(Posts::Slug))
                    .col(boolean(Posts::Published).default(false))
                    .col(string(Posts::AuthorId))
                    .col(boolean(Posts::Featured).default(false))
                    .col(json_binary_null(Posts::Metadata))
                    .col(timestamp_with_time_zone_null(Posts::PublishedAt))
                    .col(timestamp_now(Posts::CreatedAt))
                    .col(timestamp_now(Posts::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Posts::DeletedAt))
                    .foreign_key(&mut foreign_key(
                        Posts::Table,
                        Posts::AuthorId,
                        Users::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(solution_table(
                ContractAnalyses::Table,
                string(Common::UserId),
                vec![
                    string(ContractAnalyses::ContractTitle),
                    string(ContractAnalyses::ContractType),
                    string_null(ContractAnalyses::FileUrl),
                    text_null(ContractAnalyses::ExtractedText),
                    json_binary_null(ContractAnalyses::RiskAssessment),
                    json_binary_null(ContractAnalyses::Clauses),
                    json_binary_null(ContractAnalyses::PlainLanguage),
                    json_binary_null(ContractAnalyses::ComplianceCheck),
                    json_binary_null(ContractAnalyses::Recommendations),
                ],
            ))
            .await?;

        manager
            .create_table(solution_table(
                LocalizationAnalyses::Table,
                string(Common::UserId),
                vec![
                    string(LocalizationAnalyses::ProductName),
                    string(LocalizationAnalyses::TargetMarket),
                    json_binary_null(LocalizationAnalyses::ProductImages),
                    text_null(LocalizationAnalyses::ProductDesc),
                    json_binary_null(LocalizationAnalyses::CulturalAnalysis),
                    json_binary_null(LocalizationAnalyses::VisualAdaptation),
                    json_binary_null(LocalizationAnalyses::MarketStrategy),
                    json_binary_null(LocalizationAnalyses::ComplianceCheck),
                    json_binary_null(LocalizationAnalyses::CompetitorAnalysis),
                ],
            ))
            .await?;

        manager
            .create_table(solution_table(
                CustomerBehaviorAnalyses::Table,
                string(Common::UserId),
                vec![
                    string_null(CustomerBehaviorAnalyses::CustomerSegment),
                    json_binary_null(CustomerBehaviorAnalyses::DataSource),
                    json_binary_null(CustomerBehaviorAnalyses::BehaviorPrediction),
                    json_binary_null(CustomerBehaviorAnalyses::SentimentAnalysis),
                    json_binary_null(CustomerBehaviorAnalyses::JourneyMapping),
                    json_binary_null(CustomerBehaviorAnalyses::Recommendations),
                    double_null(CustomerBehaviorAnalyses::ConversionProbability),
                    double_null(CustomerBehaviorAnalyses::ChurnRisk),
                ],
            ))
            .await?;

        manager
            .create_table(solution_table(
                ComplianceMonitoring::Table,
                string(Common::UserId),
                vec![
                    string(ComplianceMonitoring::BusinessType),
                    string(ComplianceMonitoring::Jurisdiction),
                    json_binary_null(ComplianceMonitoring::Regulations),
                    json_binary_null(ComplianceMonitoring::RiskAssessment),
                    json_binary_null(ComplianceMonitoring::DocumentReviews),
                    json_binary_null(ComplianceMonitoring::ActionPlan),
                    json_binary_null(ComplianceMonitoring::AuditPreparation),
                    json_binary_null(ComplianceMonitoring::TrainingMaterials),
                    timestamp_with_time_zone_null(ComplianceMonitoring::NextReviewDate),
                ],
            ))
            .await?;

        // Unlike the other solutions, a learning path may have no owner: Azora's curated paths
        // belong to the catalogue, not to a user.
        let learning_paths = solution_table(
            LearningPaths::Table,
            string_null(Common::UserId),
            vec![
                string_null(LearningPaths::Title),
                text_null(LearningPaths::Description),
                json_binary_null(LearningPaths::UserProfile),
                json_binary_null(LearningPaths::SkillAssessment),
                json_binary_null(LearningPaths::LearningStyle),
                json_binary_null(LearningPaths::GeneratedPath),
                json_binary_null(LearningPaths::ProgressTracking),
                json_binary_null(LearningPaths::Certifications),
                json_binary_null(LearningPaths::Recommendations),
                timestamp_with_time_zone_null(LearningPaths::EstimatedCompletion),
            ],
        );
        manager.create_table(learning_paths).await?;

        create_indexes(
            manager,
            [
                unique(Subscriptions::Table, [Subscriptions::UserId]),
                unique(
                    SubscriptionUsage::Table,
                    [
                        SubscriptionUsage::SubscriptionId,
                        SubscriptionUsage::Metric,
                        SubscriptionUsage::Period,
                    ],
                ),
                named_index(
                    "idx_projects_user_created",
                    Projects::Table,
                    [Projects::UserId, Projects::CreatedAt, Projects::Id],
                ),
                index(Projects::Table, [Projects::Status]),
                named_index(
                    "idx_analyses_user_created",
                    Analyses::Table,
                    [Analyses::UserId, Analyses::CreatedAt, Analyses::Id],
                ),
                index(Analyses::Table, [Analyses::ProjectId]),
                index(Analyses::Table, [Analyses::Status]),
                index(Analyses::Table, [Analyses::Type]),
                named_index(
                    "idx_uploads_user_created",
                    Uploads::Table,
                    [Uploads::UserId, Uploads::CreatedAt, Uploads::Id],
                ),
                index(Uploads::Table, [Uploads::ProjectId]),
                index(Uploads::Table, [Uploads::Status]),
                unique(Posts::Table, [Posts::Slug]),
                index(Posts::Table, [Posts::AuthorId]),
                index(Posts::Table, [Posts::Published, Posts::PublishedAt]),
            ],
        )
        .await?;
        for (table, list_index) in [
            (
                ContractAnalyses::Table.into_iden(),
                "idx_contract_analyses_user_created",
            ),
            (
                LocalizationAnalyses::Table.into_iden(),
                "idx_localization_analyses_user_created",
            ),
            (
                CustomerBehaviorAnalyses::Table.into_iden(),
                "idx_customer_behavior_analyses_user_created",
            ),
            (
                ComplianceMonitoring::Table.into_iden(),
                "idx_compliance_monitoring_user_created",
            ),
            (
                LearningPaths::Table.into_iden(),
                "idx_learning_paths_user_created",
            ),
        ] {
            create_indexes(manager, solution_indexes(table, list_index)).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            [
                LearningPaths::Table.into_iden(),
                ComplianceMonitoring::Table.into_iden(),
                CustomerBehaviorAnalyses::Table.into_iden(),
                LocalizationAnalyses::Table.into_iden(),
                ContractAnalyses::Table.into_iden(),
                Posts::Table.into_iden(),
                Uploads::Table.into_iden(),
                Analyses::Table.into_iden(),
                Projects::Table.into_iden(),
                SubscriptionUsage::Table.into_iden(),
                Subscriptions::Table.into_iden(),
            ],
        )
        .await
    }
}

#[derive(DeriveIden)]
enum Subscriptions {
    Table,
    Id,
    UserId,
    Plan,
    Status,
    CurrentPeriodStart,
    CurrentPeriodEnd,
    CancelAtPeriodEnd,
    Metadata,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SubscriptionUsage {
    Table,
    Id,
    SubscriptionId,
    Metric,
    Value,
    Period,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
pub(crate) enum Projects {
    Table,
    Id,
    UserId,
    Name,
    Description,
    Status,
    Metadata,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum Analyses {
    Table,
    Id,
    Type,
    Input,
    Result,
    Confidence,
    Status,
    UserId,
    ProjectId,
    Model,
    ProcessingTime,
    Metadata,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Uploads {
    Table,
    Id,
    Filename,
    OriginalName,
    Path,
    Size,
    MimeType,
    Status,
    UserId,
    ProjectId,
    Metadata,
    ProcessedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Posts {
    Table,
    Id,
    Title,
    Content,
    Excerpt,
    Slug,
    Published,
    AuthorId,
    Featured,
    Metadata,
    PublishedAt,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum ContractAnalyses {
    Table,
    ContractTitle,
    ContractType,
    FileUrl,
    ExtractedText,
    RiskAssessment,
    Clauses,
    PlainLanguage,
    ComplianceCheck,
    Recommendations,
}

#[derive(DeriveIden)]
enum LocalizationAnalyses {
    Table,
    ProductName,
    TargetMarket,
    ProductImages,
    ProductDesc,
    CulturalAnalysis,
    VisualAdaptation,
    MarketStrategy,
    ComplianceCheck,
    CompetitorAnalysis,
}

#[derive(DeriveIden)]
enum CustomerBehaviorAnalyses {
    Table,
    CustomerSegment,
    DataSource,
    BehaviorPrediction,
    SentimentAnalysis,
    JourneyMapping,
    Recommendations,
    ConversionProbability,
    ChurnRisk,
}

#[derive(DeriveIden)]
enum ComplianceMonitoring {
    Table,
    BusinessType,
    Jurisdiction,
    Regulations,
    RiskAssessment,
    DocumentReviews,
    ActionPlan,
    AuditPreparation,
    TrainingMaterials,
    NextReviewDate,
}

#[derive(DeriveIden)]
pub(crate) enum LearningPaths {
    Table,
    Title,
    Description,
    UserProfile,
    SkillAssessment,
    LearningStyle,
    GeneratedPath,
    ProgressTracking,
    Certifications,
    Recommendations,
    EstimatedCompletion,
}
