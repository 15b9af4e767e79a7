//! The education area's use cases and access rules.
//!
//! - Everyone signed in sees PUBLISHED and ARCHIVED courses; a DRAFT is seen by its educator and
//!   admins only (anyone else gets null / NOT_FOUND, exactly as for a missing course).
//! - EDUCATOR and ADMIN users write courses; only a course's own educator (or an admin) changes
//!   it, adds modules and assessments, and sees and grades its learners' submissions.
//! - Learners enrol in published courses, complete modules, and submit assessments of courses
//!   they are enrolled in. Passing mints the AZR reward once per (learner, assessment), in the
//!   grading's transaction.

use std::collections::HashMap;

use core_domain::Role;
use core_domain::education::{
    self as rules, AssessmentType, CourseStatus, EnrollmentStatus, Grade,
};
use core_domain::finance::Difficulty;
use core_domain::pagination::PageArgs;
use persistence::education::{
    self as store, CourseScope, NewAssessment, NewCourse, NewModule, NewSubmission,
};
use persistence::notifications::{self, NewNotification};
use persistence::sea_orm::TransactionTrait;
use persistence::{Db, Page, StoreError};
use serde_json::{Value, json};

use crate::accounts::Caller;
use crate::error::{ApiError, ApiResult};
use crate::finance::service::{MiningActivity, mint_reward, publish_wallet_changed};
use crate::platform::audit;
use crate::platform::events::{ChangeEvent, EventBus};

pub use persistence::education::{
    Assessment, Course, CourseModule, Enrollment, LearningPath, Submission,
};

/// What `createCourse` was given.
#[derive(Debug, Clone)]
pub struct CourseDraft {
    pub title: String,
    pub slug: Option<String>,
    pub description: String,
    pub level: Difficulty,
    pub category: Option<String>,
    pub tags: Vec<String>,
}

/// What `addCourseModule` was given.
#[derive(Debug, Clone)]
pub struct ModuleDraft {
    pub course_id: String,
    pub title: String,
    pub description: Option<String>,
    pub content: Option<String>,
    pub position: Option<i32>,
    pub required: bool,
    pub duration_minutes: Option<i32>,
}

/// What `updateCourse` changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct CourseUpdate {
    pub title: Option<String>,
    pub description: Option<String>,
    pub level: Option<Difficulty>,
    /// An empty category clears it.
    pub category: Option<String>,
    pub tags: Option<Vec<String>>,
}

/// What `updateCourseModule` changes; `None` leaves a field as it is, an empty text clears it.
#[derive(Debug, Clone, Default)]
pub struct ModuleUpdate {
    pub title: Option<String>,
    pub description: Option<String>,
    pub content: Option<String>,
    pub required: Option<bool>,
    pub duration_minutes: Option<i32>,
}

/// What `deleteCourse` did: a course nobody enrolled in is deleted; one with learners is
/// archived, so their enrolments, results and rewards stay theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CourseRemoval {
    Deleted,
    Archived,
}

/// What `createLearningPath` was given.
#[derive(Debug, Clone)]
pub struct PathDraft {
    pub title: String,
    pub description: Option<String>,
    pub course_ids: Vec<String>,
    pub published: bool,
}

/// What `updateLearningPath` changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct PathUpdate {
    pub title: Option<String>,
    /// An empty text clears it.
    pub description: Option<String>,
    /// Replaces the courses, in this order.
    pub course_ids: Option<Vec<String>>,
    pub published: Option<bool>,
}

/// Most courses in one learning path.
const MAX_PATH_COURSES: usize = 50;

/// A reader's progress along a path: how many of its courses (those they can see) they have
/// completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathProgress {
    pub completed: usize,
    pub total: usize,
}

/// What `createAssessment` was given.
#[derive(Debug, Clone)]
pub struct AssessmentDraft {
    pub course_id: String,
    pub module_id: Option<String>,
    pub kind: AssessmentType,
    pub title: String,
    pub questions: Value,
    pub pass_mark: Option<i32>,
    pub difficulty: Difficulty,
    pub max_score: Option<i32>,
}

/// A graded (or submitted) attempt, and the reward it minted, if any.
#[derive(Debug, Clone)]
pub struct Graded {
    pub submission: Submission,
    pub reward: Option<MiningActivity>,
}

pub struct EducationService {
    db: Db,
    events: EventBus,
}

fn is_admin(caller: &Caller) -> bool {
    caller.actor.role == Role::Admin
}

fn writes_courses(caller: &Caller) -> bool {
    matches!(caller.actor.role, Role::Educator | Role::Admin)
}

/// Whether the caller may see `course`.
pub fn can_see(caller: Option<&Caller>, course: &Course) -> bool {
    if course.status != CourseStatus::Draft.as_str() {
        return true;
    }
    caller.is_some_and(|c| is_admin(c) || course.instructor_id.as_deref() == Some(&c.actor.user_id))
}

/// Whether the caller may see the curated `path`: published ones, or their own, or (admins)
/// every one.
pub fn can_see_path(caller: Option<&Caller>, path: &LearningPath) -> bool {
    path.published_at.is_some()
        || caller
            .is_some_and(|c| is_admin(c) || path.author_id.as_deref() == Some(&c.actor.user_id))
}

/// Whether the caller teaches `course` (its educator, or an admin).
pub fn teaches(caller: &Caller, course: &Course) -> bool {
    is_admin(caller) || course.instructor_id.as_deref() == Some(caller.actor.user_id.as_str())
}

fn text(value: String, field: &'static str, max: usize) -> ApiResult<String> {
    let value = value.trim().to_owned();
    if value.is_empty() {
        return Err(ApiError::bad_input(field, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(ApiError::bad_input(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(value)
}

fn check_description(description: String) -> ApiResult<String> {
    let description = description.trim().to_owned();
    if description.chars().count() > 10_000 {
        return Err(ApiError::bad_input(
            "description",
            "must be at most 10000 characters",
        ));
    }
    Ok(description)
}

fn check_tags(tags: Vec<String>) -> ApiResult<Vec<String>> {
    if tags.len() > 20 || tags.iter().any(|t| t.trim().is_empty() || t.len() > 50) {
        return Err(ApiError::bad_input(
            "tags",
            "up to 20 tags of 1 to 50 characters",
        ));
    }
    Ok(tags.into_iter().map(|t| t.trim().to_owned()).collect())
}

fn check_content(content: Option<&String>) -> ApiResult<()> {
    if content.is_some_and(|c| c.chars().count() > 100_000) {
        return Err(ApiError::bad_input(
            "content",
            "must be at most 100000 characters",
        ));
    }
    Ok(())
}

fn check_duration(minutes: Option<i32>) -> ApiResult<()> {
    if minutes.is_some_and(|d| !(0..=10_000).contains(&d)) {
        return Err(ApiError::bad_input("durationMinutes", "must be 0 to 10000"));
    }
    Ok(())
}

/// An optional text input: `None` leaves the field, an empty text clears it.
fn clearable(value: Option<String>) -> Option<Option<String>> {
    value.map(|v| Some(v.trim().to_owned()).filter(|v| !v.is_empty()))
}

fn slugify(title: &str) -> String {
    let mut slug = String::new();
    for c in title.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').chars().take(80).collect()
}

fn store_err(e: impl Into<StoreError>) -> ApiError {
    ApiError::from(e.into())
}

impl EducationService {
    pub fn new(db: Db, events: EventBus) -> Self {
        Self { db, events }
    }

    fn notified(&self, user_id: &str, id: String) {
        self.events.publish_change(ChangeEvent {
            kind: "notification".into(),
            id,
            owner_id: Some(user_id.to_owned()),
        });
    }

    /// Tells the learner's `walletUpdated` subscribers of a committed reward; answers the activity.
    fn rewarded(
        &self,
        learner: &str,
        reward: Option<(MiningActivity, String)>,
    ) -> Option<MiningActivity> {
        let (activity, wallet_id) = reward?;
        publish_wallet_changed(&self.events, &wallet_id, learner);
        Some(activity)
    }

    /// The course `id` if the caller may see it.
    pub async fn course(&self, caller: Option<&Caller>, id: &str) -> ApiResult<Option<Course>> {
        Ok(store::course(self.db.conn(), id)
            .await?
            .filter(|c| can_see(caller, c)))
    }

    /// Visible courses among `ids`.
    pub async fn courses_by_ids(
        &self,
        caller: Option<&Caller>,
        ids: &[String],
    ) -> ApiResult<Vec<Course>> {
        Ok(store::courses_by_ids(self.db.conn(), ids)
            .await?
            .into_iter()
            .filter(|c| can_see(caller, c))
            .collect())
    }

    fn scope(caller: Option<&Caller>) -> CourseScope {
        match caller {
            Some(c) if is_admin(c) => CourseScope {
                all: true,
                author: None,
            },
            Some(c) => CourseScope {
                all: false,
                author: Some(c.actor.user_id.clone()),
            },
            None => CourseScope::default(),
        }
    }

    /// A page of the courses the caller sees, newest first.
    pub async fn courses(
        &self,
        caller: Option<&Caller>,
        args: &PageArgs,
    ) -> ApiResult<Page<Course>> {
        Ok(store::page_courses(self.db.conn(), &Self::scope(caller), args).await?)
    }

    pub async fn count_courses(&self, caller: Option<&Caller>) -> ApiResult<u64> {
        Ok(store::count_courses(self.db.conn(), &Self::scope(caller)).await?)
    }

    pub fn course_ordering() -> &'static str {
        store::COURSES_NEWEST.name
    }

    pub fn submission_ordering() -> &'static str {
        store::SUBMISSIONS_NEWEST.name
    }

    /// A course the caller teaches: NOT_FOUND when they cannot see it, FORBIDDEN when they may
    /// see it but do not teach it.
    async fn taught(&self, caller: &Caller, course_id: &str) -> ApiResult<Course> {
        let course = self
            .course(Some(caller), course_id)
            .await?
            .ok_or(ApiError::NotFound)?;
        if !teaches(caller, &course) {
            return Err(ApiError::Forbidden(
                "only the course's educator may change it",
            ));
        }
        Ok(course)
    }

    /// Creates a DRAFT course taught by the caller (EDUCATOR or ADMIN).
    pub async fn create_course(&self, caller: &Caller, draft: CourseDraft) -> ApiResult<Course> {
        if !writes_courses(caller) {
            return Err(ApiError::Forbidden("only educators write courses"));
        }
        let title = text(draft.title, "title", 200)?;
        let description = check_description(draft.description)?;
        let slug = match draft.slug {
            Some(s) => {
                let s = s.trim().to_owned();
                if s.is_empty()
                    || s.len() > 80
                    || !s
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                {
                    return Err(ApiError::bad_input(
                        "slug",
                        "must be 1 to 80 lowercase letters, digits and dashes",
                    ));
                }
                s
            }
            None => {
                let base = slugify(&title);
                let base = if base.is_empty() {
                    "course".to_owned()
                } else {
                    base
                };
                format!("{base}-{}", &core_domain::ids::new_id()[..6])
            }
        };
        let tags = check_tags(draft.tags)?;
        let txn = self.db.conn().begin().await.map_err(store_err)?;
        let course = store::create_course(
            &txn,
            NewCourse {
                slug,
                title,
                description,
                level: draft.level.as_str().to_owned(),
                category: draft
                    .category
                    .map(|c| c.trim().to_owned())
                    .filter(|c| !c.is_empty()),
                tags,
                instructor_id: caller.actor.user_id.clone(),
            },
        )
        .await?;
        audit::record(
            &txn,
            Some(&caller.actor.user_id),
            "education.course_created",
            "Course",
            &course.id,
            json!({ "title": course.title, "slug": course.slug }),
        )
        .await?;
        txn.commit().await.map_err(store_err)?;
        Ok(course)
    }

    /// Moves a course the caller teaches to `status` (the rule is `CourseStatus::can_move_to`).
    pub async fn set_course_status(
        &self,
        caller: &Caller,
        course_id: &str,
        status: CourseStatus,
    ) -> ApiResult<Course> {
        let course = self.taught(caller, course_id).await?;
        let from: CourseStatus = course
            .status
            .parse()
            .map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?;
        if from == status {
            return Ok(course);
        }
        if !from.can_move_to(status) {
            return Err(ApiError::bad_input(
                "status",
                format!("a {from} course cannot become {status}"),
            ));
        }
        let txn = self.db.conn().begin().await.map_err(store_err)?;
        if !store::move_course(&txn, course_id, from.as_str(), status.as_str()).await? {
            txn.rollback().await.map_err(store_err)?;
            return Err(ApiError::Conflict(
                "the course changed meanwhile; try again".into(),
            ));
        }
        audit::record(
            &txn,
            Some(&caller.actor.user_id),
            "education.course_status_set",
            "Course",
            course_id,
            json!({ "from": from.as_str(), "to": status.as_str() }),
        )
        .await?;
        txn.commit().await.map_err(store_err)?;
        store::course(self.db.conn(), course_id)
            .await?
            .ok_or(ApiError::NotFound)
    }

    /// Adds a module to a course the caller teaches (at the end unless `position` is given).
    pub async fn add_module(&self, caller: &Caller, draft: ModuleDraft) -> ApiResult<CourseModule> {
        let course = self.taught(caller, &draft.course_id).await?;
        let title = text(draft.title, "title", 200)?;
        check_content(draft.content.as_ref())?;
        check_duration(draft.duration_minutes)?;
        let txn = self.db.conn().begin().await.map_err(store_err)?;
        store::touch_course(&txn, &course.id).await?;
        let position = match draft.position {
            Some(p) if p >= 0 => p,
            Some(_) => return Err(ApiError::bad_input("position", "must not be negative")),
            None => store::next_position(&txn, &course.id).await?,
        };
        let module = store::add_module(
            &txn,
            NewModule {
                course_id: course.id.clone(),
                title,
                description: draft.description,
                content: draft.content,
                position,
                required: draft.required,
                duration_minutes: draft.duration_minutes,
            },
        )
        .await?;
        audit::record(
            &txn,
            Some(&caller.actor.user_id),
            "education.module_added",
            "CourseModule",
            &module.id,
            json!({ "courseId": course.id, "title": module.title }),
        )
        .await?;
        txn.commit().await.map_err(store_err)?;
        Ok(module)
    }

    /// Creates an assessment in a course the caller teaches.
    pub async fn create_assessment(
        &self,
        caller: &Caller,
        draft: AssessmentDraft,
    ) -> ApiResult<Assessment> {
        let course = self.taught(caller, &draft.course_id).await?;
        let title = text(draft.title, "title", 200)?;
        rules::check_questions(&draft.questions, draft.kind)
            .map_err(|e| ApiError::bad_input("questions", e.to_string()))?;
        let pass_mark = draft.pass_mark.unwrap_or(60);
        if !(1..=100).contains(&pass_mark) {
            return Err(ApiError::bad_input(
                "passMark",
                "must be a percentage from 1 to 100",
            ));
        }
        if let Some(module_id) = &draft.module_id {
            let module = store::module(self.db.conn(), module_id).await?;
            if module.is_none_or(|m| m.course_id != course.id) {
                return Err(ApiError::bad_input(
                    "moduleId",
                    "is not a module of this course",
                ));
            }
        }
        let max_score = if draft.kind.auto_graded() {
            rules::max_score(&draft.questions) as i32
        } else {
            let max = draft.max_score.unwrap_or(100);
            if !(1..=10_000).contains(&max) {
                return Err(ApiError::bad_input("maxScore", "must be 1 to 10000"));
            }
            max
        };
        if max_score == 0 {
            return Err(ApiError::bad_input(
                "questions",
                "a quiz or exam needs questions",
            ));
        }
        let txn = self.db.conn().begin().await.map_err(store_err)?;
        let row = store::create_assessment(
            &txn,
            NewAssessment {
                author_id: caller.actor.user_id.clone(),
                course_id: course.id.clone(),
                module_id: draft.module_id,
                kind: draft.kind.as_str().to_owned(),
                title,
                questions: draft.questions,
                max_score,
                pass_mark,
                difficulty: draft.difficulty.as_str().to_owned(),
            },
        )
        .await?;
        audit::record(
            &txn,
            Some(&caller.actor.user_id),
            "education.assessment_created",
            "Assessment",
            &row.id,
            json!({ "courseId": course.id, "type": row.r#type, "title": row.title }),
        )
        .await?;
        txn.commit().await.map_err(store_err)?;
        Ok(row)
    }

    /// The assessment `id` if the caller may see its course.
    pub async fn assessment(
        &self,
        caller: Option<&Caller>,
        id: &str,
    ) -> ApiResult<Option<(Assessment, Course)>> {
        let Some(a) = store::assessment(self.db.conn(), id).await? else {
            return Ok(None);
        };
        Ok(self.course(caller, &a.course_id).await?.map(|c| (a, c)))
    }

    /// Assessments among `ids` whose course the caller may see, with the course: two
    /// statements whatever the number of ids.
    pub async fn assessments_by_ids(
        &self,
        caller: Option<&Caller>,
        ids: &[String],
    ) -> ApiResult<Vec<(Assessment, Course)>> {
        let rows = store::assessments_by_ids(self.db.conn(), ids).await?;
        let courses = self
            .courses_by_id(caller, rows.iter().map(|a| a.course_id.clone()))
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|a| courses.get(&a.course_id).cloned().map(|c| (a, c)))
            .collect())
    }

    /// Modules among `ids` whose course the caller may see: two statements.
    pub async fn modules_by_ids(
        &self,
        caller: Option<&Caller>,
        ids: &[String],
    ) -> ApiResult<Vec<CourseModule>> {
        let rows = store::modules_by_ids(self.db.conn(), ids).await?;
        let courses = self
            .courses_by_id(caller, rows.iter().map(|m| m.course_id.clone()))
            .await?;
        Ok(rows
            .into_iter()
            .filter(|m| courses.contains_key(&m.course_id))
            .collect())
    }

    /// The courses among `ids` the caller may see, by id, in one statement.
    async fn courses_by_id(
        &self,
        caller: Option<&Caller>,
        ids: impl Iterator<Item = String>,
    ) -> ApiResult<HashMap<String, Course>> {
        let mut ids: Vec<String> = ids.collect();
        ids.sort();
        ids.dedup();
        Ok(self
            .courses_by_ids(caller, &ids)
            .await?
            .into_iter()
            .map(|c| (c.id.clone(), c))
            .collect())
    }

    /// A course the caller authors (its educator, or an admin); NOT_FOUND for anyone else, as
    /// if it did not exist, since only its authors manage it.
    async fn authored(&self, caller: &Caller, course_id: &str) -> ApiResult<Course> {
        store::course(self.db.conn(), course_id)
            .await?
            .filter(|c| teaches(caller, c))
            .ok_or(ApiError::NotFound)
    }

    /// A module of a course the caller authors, with its course; NOT_FOUND otherwise.
    async fn authored_module(
        &self,
        caller: &Caller,
        module_id: &str,
    ) -> ApiResult<(CourseModule, Course)> {
        let module = store::module(self.db.conn(), module_id)
            .await?
            .ok_or(ApiError::NotFound)?;
        let course = self.authored(caller, &module.course_id).await?;
        Ok((module, course))
    }

    /// Changes a course's title, description, level, category or tags.
    pub async fn update_course(
        &self,
        caller: &Caller,
        course_id: &str,
        update: CourseUpdate,
    ) -> ApiResult<Course> {
        let course = self.authored(caller, course_id).await?;
        let changes = store::CourseChanges {
            title: update.title.map(|t| text(t, "title", 200)).transpose()?,
            description: update.description.map(check_description).transpose()?,
            level: update.level.map(|l| l.as_str().to_owned()),
            category: clearable(update.category),
            tags: update.tags.map(check_tags).transpose()?,
        };
        let mut changed: Vec<&str> = Vec::new();
        for (name, set) in [
            ("title", changes.title.is_some()),
            ("description", changes.description.is_some()),
            ("level", changes.level.is_some()),
            ("category", changes.category.is_some()),
            ("tags", changes.tags.is_some()),
        ] {
            if set {
                changed.push(name);
            }
        }
        let txn = self.db.conn().begin().await.map_err(store_err)?;
        store::update_course(&txn, &course.id, changes).await?;
        audit::record(
            &txn,
            Some(&caller.actor.user_id),
            "education.course_updated",
            "Course",
            &course.id,
            json!({ "fields": changed }),
        )
        .await?;
        txn.commit().await.map_err(store_err)?;
        store::course(self.db.conn(), &course.id)
            .await?
            .ok_or(ApiError::NotFound)
    }

    /// Removes a course: deleted with its modules and assessments when nobody ever enrolled,
    /// archived otherwise (closed to new enrolments; its learners keep their enrolments,
    /// submissions and rewards). Answers what happened and, when archived, the course.
    pub async fn delete_course(
        &self,
        caller: &Caller,
        course_id: &str,
    ) -> ApiResult<(CourseRemoval, Option<Course>)> {
        let course = self.authored(caller, course_id).await?;
        let txn = self.db.conn().begin().await.map_err(store_err)?;
        // Write first (SQLite: take the write lock before reading the enrolments).
        store::touch_course(&txn, &course.id).await?;
        let learners = store::enrollments_in(&txn, &course.id).await?.len();
        let removal = if learners == 0 {
            if !store::delete_course(&txn, &course.id).await? {
                txn.rollback().await.map_err(store_err)?;
                return Err(ApiError::NotFound);
            }
            CourseRemoval::Deleted
        } else {
            if course.status != CourseStatus::Archived.as_str() {
                store::move_course(
                    &txn,
                    &course.id,
                    &course.status,
                    CourseStatus::Archived.as_str(),
                )
                .await?;
            }
            CourseRemoval::Archived
        };
        audit::record(
            &txn,
            Some(&caller.actor.user_id),
            match removal {
                CourseRemoval::Deleted => "education.course_deleted",
                CourseRemoval::Archived => "education.course_archived",
            },
            "Course",
            &course.id,
            json!({ "title": course.title, "learners": learners }),
        )
        .await?;
        txn.commit().await.map_err(store_err)?;
        let kept = match removal {
            CourseRemoval::Deleted => None,
            CourseRemoval::Archived => store::course(self.db.conn(), &course.id).await?,
        };
        Ok((removal, kept))
    }

    /// Changes a module's title, description, content, whether it is required, or its length.
    /// Making a module required or optional changes its learners' progress, so that is
    /// recomputed in the same transaction.
    pub async fn update_module(
        &self,
        caller: &Caller,
        module_id: &str,
        update: ModuleUpdate,
    ) -> ApiResult<CourseModule> {
        let (module, course) = self.authored_module(caller, module_id).await?;
        check_content(update.content.as_ref())?;
        check_duration(update.duration_minutes)?;
        let changes = store::ModuleChanges {
            title: update.title.map(|t| text(t, "title", 200)).transpose()?,
            description: clearable(update.description),
            content: clearable(update.content),
            required: update.required,
            duration_minutes: update.duration_minutes.map(Some),
        };
        let requirement_changed = changes.required.is_some_and(|r| r != module.required);
        let txn = self.db.conn().begin().await.map_err(store_err)?;
        store::touch_course(&txn, &course.id).await?;
        store::update_module(&txn, &module.id, changes).await?;
        if requirement_changed {
            Self::recompute_progress(&txn, &course.id).await?;
        }
        audit::record(
            &txn,
            Some(&caller.actor.user_id),
            "education.module_updated",
            "CourseModule",
            &module.id,
            json!({ "courseId": course.id }),
        )
        .await?;
        txn.commit().await.map_err(store_err)?;
        store::module(self.db.conn(), &module.id)
            .await?
            .ok_or(ApiError::NotFound)
    }

    /// Deletes a module (its assessments stay with the course); its learners' progress is
    /// recomputed over the modules left. Answers the course.
    pub async fn delete_module(&self, caller: &Caller, module_id: &str) -> ApiResult<Course> {
        let (module, course) = self.authored_module(caller, module_id).await?;
        let txn = self.db.conn().begin().await.map_err(store_err)?;
        store::touch_course(&txn, &course.id).await?;
        if !store::delete_module(&txn, &module.id).await? {
            txn.rollback().await.map_err(store_err)?;
            return Err(ApiError::NotFound);
        }
        let left = store::modules_of(&txn, std::slice::from_ref(&course.id))
            .await?
            .remove(&course.id)
            .unwrap_or_default();
        let order: Vec<String> = left.into_iter().map(|m| m.id).collect();
        store::set_module_positions(&txn, &course.id, &order).await?;
        Self::recompute_progress(&txn, &course.id).await?;
        audit::record(
            &txn,
            Some(&caller.actor.user_id),
            "education.module_deleted",
            "CourseModule",
            &module.id,
            json!({ "courseId": course.id, "title": module.title }),
        )
        .await?;
        txn.commit().await.map_err(store_err)?;
        store::course(self.db.conn(), &course.id)
            .await?
            .ok_or(ApiError::NotFound)
    }

    /// Puts a course's modules in the order of `module_ids`, which must name every module of
    /// the course exactly once; all positions are rewritten in one transaction.
    pub async fn reorder_modules(
        &self,
        caller: &Caller,
        course_id: &str,
        module_ids: Vec<String>,
    ) -> ApiResult<Vec<CourseModule>> {
        let course = self.authored(caller, course_id).await?;
        let txn = self.db.conn().begin().await.map_err(store_err)?;
        store::touch_course(&txn, &course.id).await?;
        let modules = store::modules_of(&txn, std::slice::from_ref(&course.id))
            .await?
            .remove(&course.id)
            .unwrap_or_default();
        let mut given = module_ids.clone();
        given.sort();
        given.dedup();
        let mut current: Vec<String> = modules.iter().map(|m| m.id.clone()).collect();
        current.sort();
        if given.len() != module_ids.len() || given != current {
            txn.rollback().await.map_err(store_err)?;
            return Err(ApiError::bad_input(
                "moduleIds",
                "must list every module of the course exactly once, and nothing else",
            ));
        }
        store::set_module_positions(&txn, &course.id, &module_ids).await?;
        audit::record(
            &txn,
            Some(&caller.actor.user_id),
            "education.modules_reordered",
            "Course",
            &course.id,
            json!({ "modules": module_ids.len() }),
        )
        .await?;
        txn.commit().await.map_err(store_err)?;
        Ok(
            store::modules_of(self.db.conn(), std::slice::from_ref(&course.id))
                .await?
                .remove(&course.id)
                .unwrap_or_default(),
        )
    }

    /// Recomputes the progress of every enrolment in a course from its required modules (after
    /// they changed), on `txn`.
    async fn recompute_progress(
        txn: &impl persistence::sea_orm::ConnectionTrait,
        course_id: &str,
    ) -> ApiResult<()> {
        let enrollments = store::enrollments_in(txn, course_id).await?;
        if enrollments.is_empty() {
            return Ok(());
        }
        let modules = store::modules_of(txn, &[course_id.to_owned()])
            .await?
            .remove(course_id)
            .unwrap_or_default();
        let ids: Vec<String> = enrollments.iter().map(|e| e.id.clone()).collect();
        let done = store::completed_modules(txn, &ids).await?;
        let required: Vec<&CourseModule> = modules.iter().filter(|m| m.required).collect();
        for e in &enrollments {
            let finished = done.get(&e.id).map(Vec::as_slice).unwrap_or_default();
            let progress = rules::progress_percent(
                required.iter().filter(|m| finished.contains(&m.id)).count(),
                required.len(),
            );
            if progress != e.progress {
                store::set_progress(txn, &e.id, progress).await?;
            }
        }
        Ok(())
    }

    /// A page of the caller's enrolments, newest first (only those in `status` when given).
    pub async fn my_enrollments(
        &self,
        caller: &Caller,
        status: Option<EnrollmentStatus>,
        args: &PageArgs,
    ) -> ApiResult<Page<Enrollment>> {
        let filter = store::EnrollmentFilter {
            status: status.map(|s| s.as_str().to_owned()),
        };
        Ok(store::page_enrollments(self.db.conn(), &caller.actor.user_id, &filter, args).await?)
    }

    pub async fn count_my_enrollments(
        &self,
        caller: &Caller,
        status: Option<EnrollmentStatus>,
    ) -> ApiResult<u64> {
        let filter = store::EnrollmentFilter {
            status: status.map(|s| s.as_str().to_owned()),
        };
        Ok(store::count_enrollments(self.db.conn(), &caller.actor.user_id, &filter).await?)
    }

    pub fn enrollment_ordering() -> &'static str {
        store::ENROLLMENTS_NEWEST.name
    }

    // -----------------------------------------------------------------------------------------
    // Curated learning paths
    // -----------------------------------------------------------------------------------------

    fn path_scope(caller: Option<&Caller>) -> store::PathScope {
        match caller {
            Some(c) if is_admin(c) => store::PathScope {
                all: true,
                author: None,
            },
            Some(c) => store::PathScope {
                all: false,
                author: Some(c.actor.user_id.clone()),
            },
            None => store::PathScope::default(),
        }
    }

    /// A page of the curated paths the caller sees, newest first.
    pub async fn learning_paths(
        &self,
        caller: Option<&Caller>,
        args: &PageArgs,
    ) -> ApiResult<Page<LearningPath>> {
        Ok(store::page_paths(self.db.conn(), &Self::path_scope(caller), args).await?)
    }

    pub async fn count_learning_paths(&self, caller: Option<&Caller>) -> ApiResult<u64> {
        Ok(store::count_paths(self.db.conn(), &Self::path_scope(caller)).await?)
    }

    pub fn path_ordering() -> &'static str {
        store::PATHS_NEWEST.name
    }

    /// The curated path `id` if the caller may see it.
    pub async fn learning_path(
        &self,
        caller: Option<&Caller>,
        id: &str,
    ) -> ApiResult<Option<LearningPath>> {
        Ok(store::path(self.db.conn(), id)
            .await?
            .filter(|p| can_see_path(caller, p)))
    }

    /// Visible curated paths among `ids`.
    pub async fn learning_paths_by_ids(
        &self,
        caller: Option<&Caller>,
        ids: &[String],
    ) -> ApiResult<Vec<LearningPath>> {
        Ok(store::paths_by_ids(self.db.conn(), ids)
            .await?
            .into_iter()
            .filter(|p| can_see_path(caller, p))
            .collect())
    }

    /// Checks a path's course list: each course once, every one visible to the caller
    /// (NOT_FOUND otherwise, as for a course that does not exist).
    async fn path_courses(
        &self,
        caller: &Caller,
        course_ids: Vec<String>,
    ) -> ApiResult<Vec<String>> {
        if course_ids.len() > MAX_PATH_COURSES {
            return Err(ApiError::bad_input(
                "courseIds",
                format!("at most {MAX_PATH_COURSES} courses"),
            ));
        }
        let mut unique = course_ids.clone();
        unique.sort();
        unique.dedup();
        if unique.len() != course_ids.len() {
            return Err(ApiError::bad_input("courseIds", "lists a course twice"));
        }
        let found = self.courses_by_ids(Some(caller), &unique).await?;
        if found.len() != unique.len() {
            return Err(ApiError::NotFound);
        }
        Ok(course_ids)
    }

    /// Curates a learning path of courses, in order (EDUCATOR or ADMIN); a draft until
    /// published.
    pub async fn create_learning_path(
        &self,
        caller: &Caller,
        draft: PathDraft,
    ) -> ApiResult<LearningPath> {
        if !writes_courses(caller) {
            return Err(ApiError::Forbidden("only educators curate learning paths"));
        }
        let title = text(draft.title, "title", 200)?;
        let description =
            clearable(draft.description.map(check_description).transpose()?).flatten();
        let course_ids = self.path_courses(caller, draft.course_ids).await?;
        let txn = self.db.conn().begin().await.map_err(store_err)?;
        let path = store::create_path(
            &txn,
            store::NewPath {
                title,
                description,
                author_id: caller.actor.user_id.clone(),
                published: draft.published,
            },
        )
        .await?;
        store::set_path_courses(&txn, &path.id, &course_ids).await?;
        audit::record(
            &txn,
            Some(&caller.actor.user_id),
            "education.learning_path_created",
            "LearningPath",
            &path.id,
            json!({ "title": path.title, "courses": course_ids.len(), "published": draft.published }),
        )
        .await?;
        txn.commit().await.map_err(store_err)?;
        Ok(path)
    }

    /// Changes a curated path the caller authored (or any, for an admin); NOT_FOUND for
    /// anyone else.
    pub async fn update_learning_path(
        &self,
        caller: &Caller,
        id: &str,
        update: PathUpdate,
    ) -> ApiResult<LearningPath> {
        let path = store::path(self.db.conn(), id)
            .await?
            .filter(|p| {
                is_admin(caller) || p.author_id.as_deref() == Some(caller.actor.user_id.as_str())
            })
            .ok_or(ApiError::NotFound)?;
        let changes = store::PathChanges {
            title: update.title.map(|t| text(t, "title", 200)).transpose()?,
            description: clearable(update.description.map(check_description).transpose()?),
            published: update.published,
        };
        let courses = match update.course_ids {
            Some(ids) => Some(self.path_courses(caller, ids).await?),
            None => None,
        };
        let txn = self.db.conn().begin().await.map_err(store_err)?;
        store::update_path(&txn, &path.id, changes).await?;
        if let Some(courses) = &courses {
            store::set_path_courses(&txn, &path.id, courses).await?;
        }
        audit::record(
            &txn,
            Some(&caller.actor.user_id),
            "education.learning_path_updated",
            "LearningPath",
            &path.id,
            json!({ "courses": courses.as_ref().map(Vec::len), "published": update.published }),
        )
        .await?;
        txn.commit().await.map_err(store_err)?;
        store::path(self.db.conn(), &path.id)
            .await?
            .ok_or(ApiError::NotFound)
    }

    /// The reader's progress along a path whose visible courses are `courses`, from their
    /// enrolments in them.
    pub fn path_progress(courses: &[Course], enrollments: &[Enrollment]) -> PathProgress {
        let completed = courses
            .iter()
            .filter(|c| {
                enrollments.iter().any(|e| {
                    e.course_id == c.id && Self::enrollment_status(e) == EnrollmentStatus::Completed
                })
            })
            .count();
        PathProgress {
            completed,
            total: courses.len(),
        }
    }

    /// Enrols the caller in a published course (again: their enrolment as it is).
    pub async fn enroll(&self, caller: &Caller, course_id: &str) -> ApiResult<Enrollment> {
        let course = self
            .course(Some(caller), course_id)
            .await?
            .ok_or(ApiError::NotFound)?;
        if course.status != CourseStatus::Published.as_str() {
            return Err(ApiError::bad_input("courseId", "is not open for enrolment"));
        }
        let me = &caller.actor.user_id;
        let txn = self.db.conn().begin().await.map_err(store_err)?;
        // The course's row first: a deletion in progress finishes before (then this refuses) or
        // waits until this enrolment is committed (then it counts it and archives the course), so
        // a confirmed enrolment is never deleted with its course.
        if !store::hold_published_course(&txn, course_id).await? {
            txn.rollback().await.map_err(store_err)?;
            return Err(ApiError::bad_input("courseId", "is not open for enrolment"));
        }
        let (enrollment, new) = store::enroll(&txn, me, course_id).await?;
        if !new {
            txn.rollback().await.map_err(store_err)?;
            return Ok(enrollment);
        }
        audit::record(
            &txn,
            Some(me),
            "education.enrolled",
            "Enrollment",
            &enrollment.id,
            json!({ "courseId": course.id }),
        )
        .await?;
        let notice = notifications::create(
            &txn,
            NewNotification {
                user_id: me.clone(),
                kind: "COURSE".into(),
                title: "Enrolled".into(),
                body: format!("You are enrolled in {}.", course.title),
                data: Some(json!({ "courseId": course.id, "enrollmentId": enrollment.id })),
            },
        )
        .await?;
        txn.commit().await.map_err(store_err)?;
        self.notified(me, notice.id);
        Ok(enrollment)
    }

    /// Marks a module of a course the caller is enrolled in as done; the enrolment completes
    /// when every required module is.
    pub async fn complete_module(&self, caller: &Caller, module_id: &str) -> ApiResult<Enrollment> {
        let db = self.db.conn();
        let me = &caller.actor.user_id;
        let module = store::module(db, module_id)
            .await?
            .ok_or(ApiError::NotFound)?;
        let enrollment = store::enrollment_of(db, me, &module.course_id)
            .await?
            .ok_or(ApiError::NotFound)?;
        let txn = db.begin().await.map_err(store_err)?;
        store::complete_module(&txn, &enrollment.id, module_id).await?;
        let modules = store::modules_of(&txn, std::slice::from_ref(&module.course_id))
            .await?
            .remove(&module.course_id)
            .unwrap_or_default();
        let done = store::completed_modules(&txn, std::slice::from_ref(&enrollment.id))
            .await?
            .remove(&enrollment.id)
            .unwrap_or_default();
        let required: Vec<&CourseModule> = modules.iter().filter(|m| m.required).collect();
        let progress = rules::progress_percent(
            required.iter().filter(|m| done.contains(&m.id)).count(),
            required.len(),
        );
        store::set_progress(&txn, &enrollment.id, progress).await?;
        audit::record(
            &txn,
            Some(me),
            "education.module_completed",
            "Enrollment",
            &enrollment.id,
            json!({ "moduleId": module_id, "progress": progress }),
        )
        .await?;
        txn.commit().await.map_err(store_err)?;
        store::enrollment_of(db, me, &module.course_id)
            .await?
            .ok_or(ApiError::NotFound)
    }

    /// Submits the caller's answers to an assessment of a course they are enrolled in. Quizzes
    /// and exams are graded now (and a pass mints the reward, once); assignments wait for the
    /// educator.
    pub async fn submit(
        &self,
        caller: &Caller,
        assessment_id: &str,
        answers: Value,
    ) -> ApiResult<Graded> {
        let db = self.db.conn();
        let me = &caller.actor.user_id;
        let (assessment, course) = self
            .assessment(Some(caller), assessment_id)
            .await?
            .ok_or(ApiError::NotFound)?;
        let enrolled = store::enrollment_of(db, me, &course.id).await?;
        if enrolled.is_none() {
            return Err(ApiError::Forbidden(
                "enrol in the course before submitting its assessments",
            ));
        }
        if serde_json::to_vec(&answers).map_or(0, |b| b.len()) > 100_000 {
            return Err(ApiError::bad_input(
                "answers",
                "must be at most 100 kB of JSON",
            ));
        }
        let kind: AssessmentType = assessment
            .r#type
            .parse()
            .map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?;
        let grade = if kind.auto_graded() {
            if !answers.is_array() {
                return Err(ApiError::bad_input(
                    "answers",
                    "must be an array of the chosen option indexes, in question order",
                ));
            }
            Some(rules::grade(&assessment.questions, &answers))
        } else {
            None
        };
        let pass_mark = u32::try_from(assessment.pass_mark).unwrap_or(100);
        let txn = db.begin().await.map_err(store_err)?;
        let submission = store::create_submission(
            &txn,
            NewSubmission {
                assessment_id: assessment.id.clone(),
                user_id: me.clone(),
                answers,
                grade: grade.map(|g| (g.score as i32, g.max_score as i32, g.passes(pass_mark))),
            },
        )
        .await?;
        audit::record(
            &txn,
            Some(me),
            "education.assessment_submitted",
            "AssessmentSubmission",
            &submission.id,
            json!({ "assessmentId": assessment.id, "score": submission.score, "passed": submission.passed }),
        )
        .await?;
        let mut notices = Vec::new();
        let mut reward = None;
        if let Some(grade) = grade {
            let (n, r) = self
                .graded_effects(&txn, &assessment, &course, me, grade, pass_mark)
                .await?;
            notices.extend(n);
            reward = r;
        }
        txn.commit().await.map_err(store_err)?;
        for id in notices {
            self.notified(me, id);
        }
        let reward = self.rewarded(me, reward);
        Ok(Graded { submission, reward })
    }

    /// What a grade does in its transaction: tells the learner, and mints the reward on a pass.
    async fn graded_effects(
        &self,
        txn: &impl persistence::sea_orm::ConnectionTrait,
        assessment: &Assessment,
        course: &Course,
        learner: &str,
        grade: Grade,
        pass_mark: u32,
    ) -> ApiResult<(Vec<String>, Option<(MiningActivity, String)>)> {
        let passed = grade.passes(pass_mark);
        let notice = notifications::create(
            txn,
            NewNotification {
                user_id: learner.to_owned(),
                kind: "GRADE".into(),
                title: if passed {
                    "Assessment passed"
                } else {
                    "Assessment graded"
                }
                .into(),
                body: format!(
                    "{}: {} of {} ({}%).",
                    assessment.title,
                    grade.score,
                    grade.max_score,
                    grade.percent()
                ),
                data: Some(json!({ "assessmentId": assessment.id, "passed": passed })),
            },
        )
        .await?;
        let mut notices = vec![notice.id];
        let mut reward = None;
        if passed {
            let difficulty: Difficulty = assessment
                .difficulty
                .parse()
                .unwrap_or(Difficulty::Beginner);
            if let Some((activity, row, notice)) = mint_reward(
                txn,
                learner,
                &course.id,
                &assessment.id,
                difficulty,
                grade.percent(),
            )
            .await?
            {
                notices.push(notice);
                reward = Some((activity, row.wallet_id));
            }
        }
        Ok((notices, reward))
    }

    /// Grades a SUBMITTED submission of a course the caller teaches; NOT_FOUND for any other
    /// (another educator's learners are not theirs to see).
    pub async fn grade(
        &self,
        caller: &Caller,
        submission_id: &str,
        score: i32,
        feedback: Option<String>,
    ) -> ApiResult<Graded> {
        let db = self.db.conn();
        let submission = store::submission(db, submission_id)
            .await?
            .ok_or(ApiError::NotFound)?;
        let assessment = store::assessment(db, &submission.assessment_id)
            .await?
            .ok_or(ApiError::NotFound)?;
        let course = store::course(db, &assessment.course_id)
            .await?
            .ok_or(ApiError::NotFound)?;
        if !teaches(caller, &course) {
            return Err(ApiError::NotFound);
        }
        let max = assessment.max_score.unwrap_or(100);
        if !(0..=max).contains(&score) {
            return Err(ApiError::bad_input("score", format!("must be 0 to {max}")));
        }
        let feedback = feedback
            .map(|f| f.trim().to_owned())
            .filter(|f| !f.is_empty());
        if feedback
            .as_ref()
            .is_some_and(|f| f.chars().count() > 10_000)
        {
            return Err(ApiError::bad_input(
                "feedback",
                "must be at most 10000 characters",
            ));
        }
        let grade = Grade {
            score: score as u32,
            max_score: max as u32,
        };
        let pass_mark = u32::try_from(assessment.pass_mark).unwrap_or(100);
        let passed = grade.passes(pass_mark);
        let txn = db.begin().await.map_err(store_err)?;
        if !store::grade_submission(
            &txn,
            submission_id,
            score,
            max,
            passed,
            feedback,
            &caller.actor.user_id,
        )
        .await?
        {
            txn.rollback().await.map_err(store_err)?;
            return Err(ApiError::Conflict(
                "the submission is graded already".into(),
            ));
        }
        audit::record(
            &txn,
            Some(&caller.actor.user_id),
            "education.submission_graded",
            "AssessmentSubmission",
            submission_id,
            json!({ "score": score, "maxScore": max, "passed": passed }),
        )
        .await?;
        let (notices, reward) = self
            .graded_effects(
                &txn,
                &assessment,
                &course,
                &submission.user_id,
                grade,
                pass_mark,
            )
            .await?;
        txn.commit().await.map_err(store_err)?;
        for id in notices {
            self.notified(&submission.user_id, id);
        }
        let reward = self.rewarded(&submission.user_id, reward);
        let submission = store::submission(db, submission_id)
            .await?
            .ok_or(ApiError::NotFound)?;
        Ok(Graded { submission, reward })
    }

    /// Submissions among `ids` the caller may see: their own, or those of courses they teach.
    pub async fn submissions_by_ids(
        &self,
        caller: Option<&Caller>,
        ids: &[String],
    ) -> ApiResult<Vec<Submission>> {
        let Some(caller) = caller else {
            return Ok(Vec::new());
        };
        let rows = store::submissions_by_ids(self.db.conn(), ids).await?;
        let me = &caller.actor.user_id;
        // Others' submissions: visible to the educator of their course, read in two statements.
        let theirs: Vec<String> = rows
            .iter()
            .filter(|s| &s.user_id != me)
            .map(|s| s.assessment_id.clone())
            .collect();
        let taught: HashMap<String, Course> = if theirs.is_empty() {
            HashMap::new()
        } else {
            self.assessments_by_ids(Some(caller), &theirs)
                .await?
                .into_iter()
                .filter(|(_, c)| teaches(caller, c))
                .map(|(a, c)| (a.id, c))
                .collect()
        };
        Ok(rows
            .into_iter()
            .filter(|s| &s.user_id == me || taught.contains_key(&s.assessment_id))
            .collect())
    }

    /// Enrolments among `ids` the caller may see: their own, or their courses' learners'.
    pub async fn enrollments_by_ids(
        &self,
        caller: Option<&Caller>,
        ids: &[String],
    ) -> ApiResult<Vec<Enrollment>> {
        let Some(caller) = caller else {
            return Ok(Vec::new());
        };
        let rows = store::enrollments_by_ids(self.db.conn(), ids).await?;
        let me = &caller.actor.user_id;
        // Others' enrolments: visible to their course's educator, whose courses are read at once.
        let courses = self
            .courses_by_id(
                Some(caller),
                rows.iter()
                    .filter(|e| &e.user_id != me)
                    .map(|e| e.course_id.clone()),
            )
            .await?;
        Ok(rows
            .into_iter()
            .filter(|e| {
                &e.user_id == me
                    || courses
                        .get(&e.course_id)
                        .is_some_and(|c| teaches(caller, c))
            })
            .collect())
    }

    /// Whether an enrolment is ACTIVE or COMPLETED (for the API's enum).
    pub fn enrollment_status(e: &Enrollment) -> EnrollmentStatus {
        e.status.parse().unwrap_or(EnrollmentStatus::Active)
    }
}
