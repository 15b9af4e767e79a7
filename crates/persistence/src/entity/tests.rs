//! Checks the entities against the schema the migrations build: every table has an entity, and
//! every entity column exists with the same type and nullability (on SQLite and PostgreSQL, see
//! `test-db`); then writes and reads the core graph through the
//! entities, which exercises the relations and the timestamp hooks.

use std::collections::{BTreeMap, BTreeSet};

use migration::{Migrator, MigratorTrait};
use sea_orm::sea_query::ColumnType;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, Database, DatabaseConnection,
    DbBackend, EntityTrait, IdenStatic, Iterable, ModelTrait, QueryFilter, Statement,
};

use core_domain::enums::{ConversationStatus, MessageRole, MessageStatus, PromptType, Role};

use super::{conversations, messages, persona_rooms, personas, rooms, users};

/// (declared type, nullable) of each column of a table, as the database reports them.
type Columns = BTreeMap<String, (String, bool)>;

/// How each backend spells the column types the entities use.
fn declared_type(backend: DbBackend, col_type: &ColumnType) -> &'static str {
    let (sqlite, postgres) = match col_type {
        ColumnType::String(_) => ("varchar", "varchar"),
        ColumnType::Text => ("text", "text"),
        ColumnType::Integer => ("integer", "int4"),
        ColumnType::BigInteger => ("integer", "int8"),
        ColumnType::Double => ("double", "float8"),
        ColumnType::Boolean => ("boolean", "bool"),
        ColumnType::TimestampWithTimeZone => ("timestamp_with_timezone_text", "timestamptz"),
        ColumnType::JsonBinary => ("jsonb_text", "jsonb"),
        other => panic!("no entity should use column type {other:?}"),
    };
    match backend {
        DbBackend::Postgres => postgres,
        _ => sqlite,
    }
}

async fn table_names(db: &DatabaseConnection) -> BTreeSet<String> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT table_name AS name FROM information_schema.tables \
             WHERE table_schema = current_schema()"
        }
        _ => "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    };
    db.query_all_raw(Statement::from_string(backend, sql))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get::<String>("", "name").unwrap())
        .filter(|name| name != "seaql_migrations")
        .collect()
}

async fn columns(db: &DatabaseConnection, table: &str) -> Columns {
    let backend = db.get_database_backend();
    let rows = match backend {
        DbBackend::Postgres => {
            db.query_all_raw(Statement::from_sql_and_values(
                backend,
                "SELECT column_name::text AS name, udt_name::text AS ty, \
                 is_nullable = 'YES' AS nullable FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1",
                [table.into()],
            ))
            .await
        }
        _ => {
            db.query_all_raw(Statement::from_sql_and_values(
                backend,
                "SELECT name, type AS ty, \"notnull\" = 0 AS nullable FROM pragma_table_info(?)",
                [table.into()],
            ))
            .await
        }
    };
    rows.unwrap()
        .iter()
        .map(|row| {
            (
                row.try_get::<String>("", "name").unwrap(),
                (
                    row.try_get::<String>("", "ty").unwrap(),
                    row.try_get::<bool>("", "nullable").unwrap(),
                ),
            )
        })
        .collect()
}

/// Differences between an entity and its table, one line each.
async fn check_entity<E>(db: &DatabaseConnection) -> Vec<String>
where
    E: EntityTrait,
{
    let backend = db.get_database_backend();
    let table = E::default().table_name().to_owned();
    let mut actual = columns(db, &table).await;
    let mut problems = Vec::new();
    if actual.is_empty() {
        problems.push(format!("{table}: no such table"));
        return problems;
    }
    for col in E::Column::iter() {
        let name = col.as_str();
        let def = col.def();
        let want_type = declared_type(backend, def.get_column_type());
        match actual.remove(name) {
            None => problems.push(format!("{table}.{name}: not in the table")),
            Some((ty, nullable)) => {
                // SQLite reports some declared types in upper case.
                if !ty.eq_ignore_ascii_case(want_type) {
                    problems.push(format!(
                        "{table}.{name}: table has {ty}, entity {want_type}"
                    ));
                }
                if nullable != def.is_null() {
                    problems.push(format!(
                        "{table}.{name}: table nullable={nullable}, entity nullable={}",
                        def.is_null()
                    ));
                }
            }
        }
    }
    problems.extend(
        actual
            .keys()
            .map(|name| format!("{table}.{name}: missing from the entity")),
    );
    // Selecting every column of the (empty) table proves the generated SQL is valid.
    if let Err(e) = E::find().all(db).await {
        problems.push(format!("{table}: select failed: {e}"));
    }
    problems
}

/// Runs `check_entity` for each named entity module, collecting problems, and yields the table
/// names it covered.
macro_rules! check_entities {
    ($db:expr, $problems:expr, $($table:ident),+ $(,)?) => {{
        $( $problems.extend(check_entity::<super::$table::Entity>($db).await); )+
        [$(stringify!($table)),+].into_iter().map(str::to_owned).collect()
    }};
}

async fn check_schema(db: &DatabaseConnection) {
    let mut problems = Vec::new();
    let entity_tables: BTreeSet<String> = check_entities!(
        db,
        problems,
        ai_jobs,
        analyses,
        api_keys,
        assessment_submissions,
        assessments,
        budget_reservations,
        budgets,
        compliance_monitoring,
        contact_methods,
        contract_analyses,
        conversations,
        course_modules,
        courses,
        customer_behavior_analyses,
        disclaimer_versions,
        enrollments,
        events,
        external_identities,
        idempotency_keys,
        invitations,
        job_applications,
        job_skills,
        jobs,
        journals,
        learning_path_courses,
        learning_paths,
        localization_analyses,
        messages,
        oauth_states,
        mining_activities,
        module_progress,
        notifications,
        observation_notes,
        payments,
        persona_rooms,
        personas,
        posts,
        projects,
        quota_presets,
        rate_limit_windows,
        rooms,
        safety_incidents,
        scenarios,
        security_settings,
        sessions,
        skills,
        subscription_usage,
        subscriptions,
        telemetry_events,
        tokens,
        transactions,
        uploads,
        usage_logs,
        user_profiles,
        user_skills,
        users,
        wallets,
        instances,
        usage_daily,
        activity_daily,
        rollup_state,
    );
    let tables = table_names(db).await;
    for table in tables.difference(&entity_tables) {
        problems.push(format!("{table}: no entity"));
    }
    assert!(
        problems.is_empty(),
        "entities differ from the schema:\n{}",
        problems.join("\n")
    );
}

/// Writes a user, a persona in a room, a conversation and a reply through the entities.
async fn check_core_graph(db: &DatabaseConnection) {
    let user = users::ActiveModel {
        id: Set("u1".to_owned()),
        email: Set(Some("ada@example.com".to_owned())),
        role: Set(Role::User.into()),
        is_active: Set(true),
        disclaimer_accepted: Set(false),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    assert_eq!(
        user.created_at, user.updated_at,
        "insert stamps both timestamps"
    );

    let mut renamed: users::ActiveModel = user.clone().into();
    renamed.name = Set(Some("Ada".to_owned()));
    let renamed = renamed.update(db).await.unwrap();
    assert!(
        renamed.updated_at > user.updated_at,
        "update moves updated_at"
    );
    assert_eq!(renamed.created_at, user.created_at);
    // The hooks use the one clock: microseconds, like every value the stores write (a
    // nanosecond stamp would not round-trip through PostgreSQL and would break cursors).
    for at in [user.created_at, user.updated_at, renamed.updated_at] {
        assert_eq!(
            at.timestamp_subsec_nanos() % 1_000,
            0,
            "{at} is not in microseconds"
        );
    }
    // A timestamp the store set itself is kept, not overwritten by the hook.
    let chosen = core_domain::time::now() - chrono::Duration::days(3);
    let mut stamped: users::ActiveModel = renamed.clone().into();
    stamped.name = Set(Some("Ada L.".to_owned()));
    stamped.updated_at = Set(chosen);
    let stamped = stamped.update(db).await.unwrap();
    assert_eq!(stamped.updated_at, chosen, "the store's updated_at wins");

    personas::ActiveModel {
        id: Set("elara".to_owned()),
        name: Set("Elara".to_owned()),
        tone: Set("warm".to_owned()),
        voice: Set("calm".to_owned()),
        description: Set("A gentle guide".to_owned()),
        system_prompt: Set("You are Elara.".to_owned()),
        tags: Set(serde_json::json!(["reflective"])),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    for room in ["garden", "library"] {
        rooms::ActiveModel {
            id: Set(room.to_owned()),
            name: Set(room.to_owned()),
            description: Set(String::new()),
            purpose: Set(String::new()),
            sample_prompt: Set(String::new()),
            tags: Set(serde_json::json!([])),
            prompt_type: Set(PromptType::ShortForm.into()),
            features: Set(serde_json::json!({})),
            ..Default::default()
        }
        .insert(db)
        .await
        .unwrap();
    }
    persona_rooms::ActiveModel {
        persona_id: Set("elara".to_owned()),
        room_id: Set("garden".to_owned()),
        is_default: Set(true),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();

    let elara = personas::Entity::find_by_id("elara")
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let elara_rooms = elara.find_related(rooms::Entity).all(db).await.unwrap();
    assert_eq!(
        elara_rooms
            .iter()
            .map(|r| r.id.as_str())
            .collect::<Vec<_>>(),
        ["garden"]
    );

    let conversation = conversations::ActiveModel {
        id: Set("c1".to_owned()),
        user_id: Set(Some("u1".to_owned())),
        persona_id: Set(Some("elara".to_owned())),
        room_id: Set(Some("garden".to_owned())),
        title: Set("New Conversation".to_owned()),
        title_is_custom: Set(false),
        status: Set(ConversationStatus::Active.into()),
        started_at: Set(chrono::Utc::now()),
        total_messages: Set(0),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    for (id, parent, role, tokens) in [
        ("m1", None, "USER", None),
        ("m2", Some("m1"), "ASSISTANT", Some(7)),
    ] {
        messages::ActiveModel {
            id: Set(id.to_owned()),
            conversation_id: Set("c1".to_owned()),
            user_id: Set(parent.is_none().then(|| "u1".to_owned())),
            parent_id: Set(parent.map(str::to_owned)),
            role: Set(role.parse::<MessageRole>().unwrap().into()),
            content: Set("…".to_owned()),
            status: Set(MessageStatus::Complete.into()),
            output_tokens: Set(tokens),
            ..Default::default()
        }
        .insert(db)
        .await
        .unwrap();
    }

    let owned = renamed
        .find_related(conversations::Entity)
        .all(db)
        .await
        .unwrap();
    assert_eq!(owned, std::slice::from_ref(&conversation));
    let replies = conversation
        .find_related(messages::Entity)
        .filter(messages::Column::ParentId.eq("m1"))
        .all(db)
        .await
        .unwrap();
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].output_tokens, Some(7));
    let author = replies[0]
        .find_related(users::Entity)
        .one(db)
        .await
        .unwrap();
    assert_eq!(author, None, "AI messages have no user");
}

test_db::backend_tests!(entities_match_the_schema, |backend| async move {
    let Some(test_db) = test_db::TestDb::empty(backend).await else {
        return;
    };
    let db = Database::connect(&test_db.url).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    check_schema(&db).await;
    check_core_graph(&db).await;
    db.close().await.unwrap();
});
