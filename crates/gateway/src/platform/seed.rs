//! Seed data: the files under `seeds/` (built into the binary; `COLLOQUY_SEEDS_DIR` reads them
//! from a directory instead), loaded idempotently: running the loader twice changes nothing the
//! second time. Catalogue rows (personas, rooms) are upserted by id so edited seed files update
//! them; demo users are created once by email and never overwritten, so a changed password or
//! deleted demo conversation stays as the user left it. Disclaimer versions
//! (`disclaimers.json`, loaded by `serve` and `colloquy seed`, not by [`load`] alone) are
//! published once each, in file order (the last is current), and a demo user who has accepted
//! none accepts the current one, so the demo accounts chat at once while new accounts accept it
//! first.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use anyhow::Context as _;
use core_domain::enums::{MessageRole, MessageStatus, PromptType, Role};
use core_domain::time;
use persistence::Db;
use persistence::conversations::{self, NewConversation};
use persistence::entity::{persona_rooms, personas, rooms};
use persistence::messages::{self, NewMessage};
use persistence::practice::{self, NewInvitation, PresetFields, ScenarioFields};
use persistence::users::{self, NewUser};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};
use serde::Deserialize;

const PERSONAS: &str = include_str!("../../../../seeds/personas.json");
const ROOMS: &str = include_str!("../../../../seeds/rooms.json");
const USERS: &str = include_str!("../../../../seeds/users.json");
const DISCLAIMERS: &str = include_str!("../../../../seeds/disclaimers.json");
const AZORA_USERS: &str = include_str!("../../../../seeds/azora_users.json");

#[derive(Deserialize)]
struct DisclaimerSeed {
    version: String,
    text: String,
}

const SCENARIOS: &str = include_str!("../../../../seeds/scenarios.json");
const QUOTA_PRESETS: &str = include_str!("../../../../seeds/quota_presets.json");
const INVITATIONS: &str = include_str!("../../../../seeds/invitations.json");

/// A practice scenario. A `null` model is the server's default model when the scenario is first
/// seeded (Claude with an Anthropic key, gpt-4o-mini with an OpenAI key, else `local-echo`).
#[derive(Deserialize)]
struct ScenarioSeed {
    slug: String,
    name: String,
    description: String,
    partner_persona: String,
    partner_system_prompt: String,
    coach_system_prompt: String,
    partner_model: Option<String>,
    coach_model: Option<String>,
}

#[derive(Deserialize)]
struct PresetSeed {
    name: String,
    label: String,
    description: Option<String>,
    tokens: i64,
    is_default: bool,
    sort_order: i32,
}

/// A demo invitation with a documented token (it is a demo, like the demo passwords).
#[derive(Deserialize)]
struct InvitationSeed {
    token: String,
    label: Option<String>,
    scenario: Option<String>,
    preset: String,
    created_by: String,
    expires_in_days: i64,
}

#[derive(Deserialize)]
struct PersonaSeed {
    id: String,
    name: String,
    tone: String,
    voice: String,
    description: String,
    system_prompt: String,
    tags: Vec<String>,
    default_model: Option<String>,
    #[serde(default)]
    avatar_url: Option<String>,
    #[serde(default)]
    default_rooms: Vec<String>,
}

#[derive(Deserialize)]
struct RoomSeed {
    id: String,
    name: String,
    description: String,
    purpose: String,
    sample_prompt: String,
    tags: Vec<String>,
    prompt_type: String,
    features: serde_json::Value,
    #[serde(default)]
    supported_personas: Vec<String>,
}

#[derive(Deserialize)]
struct UserSeed {
    email: String,
    name: Option<String>,
    role: String,
    password: String,
    #[serde(default)]
    conversations: Vec<ConversationSeed>,
}

#[derive(Deserialize)]
struct ConversationSeed {
    title: String,
    model: Option<String>,
    system_prompt: Option<String>,
    #[serde(default)]
    persona_id: Option<String>,
    #[serde(default)]
    room_id: Option<String>,
    messages: Vec<MessageSeed>,
}

#[derive(Deserialize)]
struct MessageSeed {
    role: String,
    content: String,
}

/// What a run of the loader did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SeedReport {
    pub personas: usize,
    pub rooms: usize,
    pub links: usize,
    pub users_created: usize,
    pub conversations_created: usize,
    pub disclaimers_published: usize,
    pub scenarios: usize,
    pub presets_created: usize,
    pub invitations_created: usize,
}

impl fmt::Display for SeedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} personas and {} rooms up to date ({} links), {} demo users and {} conversations created; \
             {} practice scenarios up to date, {} quota presets and {} demo invitations created, \
             {} disclaimer versions published",
            self.personas,
            self.rooms,
            self.links,
            self.users_created,
            self.conversations_created,
            self.scenarios,
            self.presets_created,
            self.invitations_created,
            self.disclaimers_published
        )
    }
}

fn read(dir: Option<&Path>, name: &str, built_in: &'static str) -> anyhow::Result<String> {
    match dir {
        Some(dir) => {
            let path = dir.join(name);
            std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read seed file {}", path.display()))
        }
        None => Ok(built_in.to_owned()),
    }
}

fn parse<T: serde::de::DeserializeOwned>(name: &str, text: &str) -> anyhow::Result<T> {
    serde_json::from_str(text).with_context(|| format!("seed file {name} is malformed"))
}

/// What `serve` (with `COLLOQUY_SEED`) and `colloquy seed` load: the disclaimer versions of
/// `disclaimers.json`, then the demo data ([`load`]), whose users accept the current one.
/// `default_model` as in [`load_with`].
pub async fn load_with_disclaimers(
    db: &Db,
    dir: Option<&Path>,
    default_model: &str,
) -> anyhow::Result<SeedReport> {
    let published = publish_disclaimers(db, dir).await?;
    let mut report = load_with(db, dir, default_model).await?;
    report.disclaimers_published = published;
    Ok(report)
}

/// Publishes each version of `disclaimers.json` that was never published, in file order (the
/// last one is then current); returns how many were new. Kept apart from [`load`] so demo data
/// alone (as tests load it) requires no disclaimer of anyone.
pub async fn publish_disclaimers(db: &Db, dir: Option<&Path>) -> anyhow::Result<usize> {
    let disclaimers: Vec<DisclaimerSeed> = parse(
        "disclaimers.json",
        &read(dir, "disclaimers.json", DISCLAIMERS)?,
    )?;
    let mut published = 0;
    for d in &disclaimers {
        if persistence::disclaimers::publish_if_new(db.conn(), &d.version, &d.text).await? {
            published += 1;
        }
    }
    Ok(published)
}

/// Loads every seed file (scenarios without a model get `local-echo`, see [`load_with`]); a demo
/// user who has accepted no disclaimer accepts the current one, when one is published.
pub async fn load(db: &Db, dir: Option<&Path>) -> anyhow::Result<SeedReport> {
    load_with(db, dir, ai_providers::LOCAL_MODEL).await
}

/// Loads every seed file; scenarios that name no model are first seeded with `default_model`
/// (the server's default model, so they run on `local-echo` when no provider key is set).
pub async fn load_with(
    db: &Db,
    dir: Option<&Path>,
    default_model: &str,
) -> anyhow::Result<SeedReport> {
    let personas: Vec<PersonaSeed> =
        parse("personas.json", &read(dir, "personas.json", PERSONAS)?)?;
    let rooms: Vec<RoomSeed> = parse("rooms.json", &read(dir, "rooms.json", ROOMS)?)?;
    let users: Vec<UserSeed> = parse("users.json", &read(dir, "users.json", USERS)?)?;
    let mut report = SeedReport::default();
    load_catalogue(db, &personas, &rooms, &mut report).await?;
    let current = persistence::disclaimers::current(db.conn()).await?;
    for user in &users {
        load_user(db, user, current.as_ref(), &mut report).await?;
    }
    // Azora's demo users (the built-in file; they are not counted in the report), its
    // marketplace (skills, jobs, the student's skills, application and notifications) and its
    // education and wallets (courses, enrolments, ledger-funded wallets, a mining reward).
    let azora: Vec<UserSeed> = parse("azora_users.json", AZORA_USERS)?;
    for user in &azora {
        load_user(db, user, current.as_ref(), &mut SeedReport::default()).await?;
    }
    crate::marketplace::seed::load(db).await?;
    crate::education::seed::load(db).await?;
    let scenarios: Vec<ScenarioSeed> =
        parse("scenarios.json", &read(dir, "scenarios.json", SCENARIOS)?)?;
    let presets: Vec<PresetSeed> = parse(
        "quota_presets.json",
        &read(dir, "quota_presets.json", QUOTA_PRESETS)?,
    )?;
    let invitations: Vec<InvitationSeed> = parse(
        "invitations.json",
        &read(dir, "invitations.json", INVITATIONS)?,
    )?;
    load_practice(
        db,
        &scenarios,
        &presets,
        &invitations,
        default_model,
        &mut report,
    )
    .await?;
    let projects = crate::workspace::seed::load(db, dir).await?;
    if projects > 0 {
        tracing::info!(projects, "demo workspace projects loaded");
    }
    Ok(report)
}

async fn load_practice(
    db: &Db,
    scenarios: &[ScenarioSeed],
    presets: &[PresetSeed],
    invitations: &[InvitationSeed],
    default_model: &str,
    report: &mut SeedReport,
) -> anyhow::Result<()> {
    let conn = db.conn();
    for s in scenarios {
        practice::seed_scenario(
            conn,
            ScenarioFields {
                name: s.name.clone(),
                slug: s.slug.clone(),
                description: s.description.clone(),
                partner_persona: s.partner_persona.clone(),
                partner_system_prompt: s.partner_system_prompt.clone(),
                coach_system_prompt: s.coach_system_prompt.clone(),
                partner_model: s
                    .partner_model
                    .clone()
                    .unwrap_or_else(|| default_model.to_owned()),
                coach_model: s
                    .coach_model
                    .clone()
                    .unwrap_or_else(|| default_model.to_owned()),
            },
        )
        .await?;
        report.scenarios += 1;
    }
    for p in presets {
        let created = practice::seed_preset(
            conn,
            PresetFields {
                name: p.name.clone(),
                label: p.label.clone(),
                description: p.description.clone(),
                tokens: p.tokens,
                is_default: p.is_default,
                sort_order: p.sort_order,
            },
        )
        .await?;
        report.presets_created += usize::from(created);
    }
    for i in invitations {
        let email = core_domain::validation::normalize_email(&i.created_by)?;
        let creator = users::find_by_email(conn, &email)
            .await?
            .with_context(|| format!("seed invitation: no user {}", i.created_by))?;
        let preset = practice::preset_by_name(conn, &i.preset)
            .await?
            .with_context(|| format!("seed invitation: no quota preset {}", i.preset))?;
        let scenario_id = match &i.scenario {
            Some(slug) => Some(
                practice::scenario_by_slug(conn, slug)
                    .await?
                    .with_context(|| format!("seed invitation: no scenario {slug}"))?
                    .id,
            ),
            None => None,
        };
        let created = practice::seed_invitation(
            conn,
            NewInvitation {
                token_hash: auth::tokens::hash_token(&i.token),
                label: i.label.clone(),
                scenario_id,
                quota: practice::quota_json(
                    practice::quota_tokens(&preset.quota),
                    Some(&preset.label),
                ),
                expires_at: time::now() + chrono::Duration::days(i.expires_in_days),
                created_by_id: creator.id,
            },
        )
        .await?;
        report.invitations_created += usize::from(created);
    }
    Ok(())
}

async fn load_catalogue(
    db: &Db,
    personas: &[PersonaSeed],
    rooms: &[RoomSeed],
    report: &mut SeedReport,
) -> anyhow::Result<()> {
    let now = time::now();
    for p in personas {
        let row = personas::ActiveModel {
            id: Set(p.id.clone()),
            name: Set(p.name.clone()),
            tone: Set(p.tone.clone()),
            voice: Set(p.voice.clone()),
            description: Set(p.description.clone()),
            system_prompt: Set(p.system_prompt.clone()),
            tags: Set(serde_json::json!(p.tags)),
            default_model: Set(p.default_model.clone()),
            avatar_url: Set(p.avatar_url.clone()),
            created_at: Set(now),
            updated_at: Set(now),
            // An admin's retirement survives reseeding (not among the updated columns).
            retired_at: sea_orm::ActiveValue::NotSet,
        };
        use personas::Column as C;
        personas::Entity::insert(row)
            .on_conflict(
                OnConflict::column(C::Id)
                    .update_columns([
                        C::Name,
                        C::Tone,
                        C::Voice,
                        C::Description,
                        C::SystemPrompt,
                        C::Tags,
                        C::DefaultModel,
                        C::AvatarUrl,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(db.conn())
            .await?;
        report.personas += 1;
    }
    for r in rooms {
        let prompt_type = r.prompt_type.parse::<PromptType>().with_context(|| {
            format!(
                "room {} has an unknown prompt_type {:?}",
                r.id, r.prompt_type
            )
        })?;
        let row = rooms::ActiveModel {
            id: Set(r.id.clone()),
            name: Set(r.name.clone()),
            description: Set(r.description.clone()),
            purpose: Set(r.purpose.clone()),
            sample_prompt: Set(r.sample_prompt.clone()),
            tags: Set(serde_json::json!(r.tags)),
            prompt_type: Set(prompt_type.into()),
            features: Set(r.features.clone()),
            created_at: Set(now),
            updated_at: Set(now),
            // An admin's retirement survives reseeding (not among the updated columns).
            retired_at: sea_orm::ActiveValue::NotSet,
        };
        use rooms::Column as C;
        rooms::Entity::insert(row)
            .on_conflict(
                OnConflict::column(C::Id)
                    .update_columns([
                        C::Name,
                        C::Description,
                        C::Purpose,
                        C::SamplePrompt,
                        C::Tags,
                        C::PromptType,
                        C::Features,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(db.conn())
            .await?;
        report.rooms += 1;
    }
    // One join table for what the seeds kept as two arrays: a link exists when either side names
    // the other; it is a default when the persona lists the room among its defaultRooms.
    let mut links: BTreeSet<(String, String, bool)> = BTreeSet::new();
    for p in personas {
        for room in &p.default_rooms {
            links.insert((p.id.clone(), room.clone(), true));
        }
    }
    for r in rooms {
        for persona in &r.supported_personas {
            if !links.contains(&(persona.clone(), r.id.clone(), true)) {
                links.insert((persona.clone(), r.id.clone(), false));
            }
        }
    }
    for (persona_id, room_id, is_default) in links {
        let row = persona_rooms::ActiveModel {
            persona_id: Set(persona_id),
            room_id: Set(room_id),
            is_default: Set(is_default),
            created_at: Set(now),
        };
        use persona_rooms::Column as C;
        persona_rooms::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([C::PersonaId, C::RoomId])
                    .update_column(C::IsDefault)
                    .to_owned(),
            )
            .exec_without_returning(db.conn())
            .await?;
        report.links += 1;
    }
    Ok(())
}

async fn load_user(
    db: &Db,
    seed: &UserSeed,
    disclaimer: Option<&persistence::disclaimers::DisclaimerVersion>,
    report: &mut SeedReport,
) -> anyhow::Result<()> {
    let role: Role = seed
        .role
        .parse()
        .with_context(|| format!("seed user {} has an unknown role", seed.email))?;
    let email = core_domain::validation::normalize_email(&seed.email)?;
    let user = match users::find_by_email(db.conn(), &email).await? {
        Some(u) => u,
        None => {
            let password = seed.password.clone();
            let hash =
                tokio::task::spawn_blocking(move || auth::password::hash_password(&password))
                    .await??;
            report.users_created += 1;
            users::create(
                db.conn(),
                NewUser {
                    email: Some(email),
                    name: seed.name.clone(),
                    password_hash: Some(hash),
                    role,
                },
            )
            .await?
        }
    };
    // A demo account is ready to chat: it accepts the current disclaimer unless it has accepted
    // one already (then it is left as it is, like the rest of a demo user's state).
    if let Some(d) = disclaimer
        && !user.disclaimer_accepted
    {
        users::accept_disclaimer(db.conn(), &user.id, &d.version).await?;
    }
    for c in &seed.conversations {
        let exists = persistence::entity::conversations::Entity::find()
            .filter(persistence::entity::conversations::Column::UserId.eq(user.id.clone()))
            .filter(persistence::entity::conversations::Column::Title.eq(c.title.clone()))
            .one(db.conn())
            .await?
            .is_some();
        if exists {
            continue;
        }
        let conversation = conversations::create(
            db.conn(),
            NewConversation {
                user_id: Some(user.id.clone()),
                title: Some(c.title.clone()),
                model: c.model.clone(),
                system_prompt: c.system_prompt.clone(),
                persona_id: c.persona_id.clone(),
                room_id: c.room_id.clone(),
            },
        )
        .await?;
        let mut parent: Option<String> = None;
        for m in &c.messages {
            let role: MessageRole = m
                .role
                .parse()
                .with_context(|| format!("seed message role {:?}", m.role))?;
            let stored = messages::append(
                db.conn(),
                vec![NewMessage {
                    conversation_id: conversation.id.clone(),
                    user_id: (role == MessageRole::User).then(|| user.id.clone()),
                    parent_id: parent.clone(),
                    role,
                    content: m.content.clone(),
                    status: MessageStatus::Complete,
                    model: (role == MessageRole::Assistant)
                        .then(|| c.model.clone())
                        .flatten(),
                    provider: None,
                }],
            )
            .await?;
            parent = stored.first().map(|s| s.id.clone());
        }
        report.conversations_created += 1;
    }
    Ok(())
}
