//! Education (Azora): courses and their ordered modules, enrolments with per-module progress,
//! assessments as their educator wrote them, and learners' submissions. Access is decided above
//! (the gateway's education service); these are the reads and writes.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use core_domain::pagination::PageArgs;
use core_domain::{ids, time};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, Select, TryInsertResult,
};

use crate::cursor::Keyset;
use crate::entity::{
    assessment_submissions, assessments, course_modules, courses, enrollments,
    learning_path_courses, learning_paths, module_progress,
};
use crate::{Page, StoreError};

pub use assessment_submissions::Model as Submission;
pub use assessments::Model as Assessment;
pub use course_modules::Model as CourseModule;
pub use courses::Model as Course;
pub use enrollments::Model as Enrollment;
pub use learning_paths::Model as LearningPath;

/// A course to create, as a DRAFT.
#[derive(Debug, Clone)]
pub struct NewCourse {
    pub slug: String,
    pub title: String,
    pub description: String,
    pub level: String,
    pub category: Option<String>,
    pub tags: Vec<String>,
    pub instructor_id: String,
}

pub async fn create_course(
    db: &impl ConnectionTrait,
    new: NewCourse,
) -> Result<Course, StoreError> {
    let now = time::now();
    let row = Course {
        id: ids::new_id(),
        slug: new.slug,
        title: new.title,
        description: new.description,
        level: new.level,
        category: new.category,
        tags: serde_json::json!(new.tags),
        language: "en".into(),
        instructor_id: Some(new.instructor_id),
        thumbnail_url: None,
        duration_minutes: None,
        price: 0,
        currency: "AZR".into(),
        status: "DRAFT".into(),
        published_at: None,
        created_at: now,
        updated_at: now,
    };
    courses::Entity::insert(courses::ActiveModel {
        id: Set(row.id.clone()),
        slug: Set(row.slug.clone()),
        title: Set(row.title.clone()),
        description: Set(row.description.clone()),
        level: Set(row.level.clone()),
        category: Set(row.category.clone()),
        tags: Set(row.tags.clone()),
        language: Set(row.language.clone()),
        instructor_id: Set(row.instructor_id.clone()),
        thumbnail_url: Set(None),
        duration_minutes: Set(None),
        price: Set(0),
        currency: Set(row.currency.clone()),
        status: Set(row.status.clone()),
        published_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_without_returning(db)
    .await
    .map_err(|e| StoreError::conflict_or_db(e, "slug"))?;
    Ok(row)
}

pub async fn course(db: &impl ConnectionTrait, id: &str) -> Result<Option<Course>, StoreError> {
    Ok(courses::Entity::find_by_id(id.to_owned()).one(db).await?)
}

pub async fn course_by_slug(
    db: &impl ConnectionTrait,
    slug: &str,
) -> Result<Option<Course>, StoreError> {
    Ok(courses::Entity::find()
        .filter(courses::Column::Slug.eq(slug))
        .one(db)
        .await?)
}

pub async fn courses_by_ids(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<Vec<Course>, StoreError> {
    crate::rows::by_ids::<courses::Entity>(db, ids).await
}

/// Moves the course from `from` to `to` if it is still `from`; whether it moved.
pub async fn move_course(
    db: &impl ConnectionTrait,
    id: &str,
    from: &str,
    to: &str,
) -> Result<bool, StoreError> {
    let now = time::now();
    let mut update = courses::Entity::update_many()
        .col_expr(courses::Column::Status, Expr::value(to))
        .col_expr(courses::Column::UpdatedAt, Expr::value(now))
        .filter(courses::Column::Id.eq(id))
        .filter(courses::Column::Status.eq(from));
    if to == "PUBLISHED" {
        update = update.col_expr(courses::Column::PublishedAt, Expr::value(now));
    }
    Ok(update.exec(db).await?.rows_affected == 1)
}

/// Which courses a reader sees: published and archived ones, plus, for an educator, their own
/// drafts (`author`), or everything (`all`, for admins).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct CourseScope {
    pub all: bool,
    pub author: Option<String>,
}

fn visible(scope: &CourseScope) -> Select<courses::Entity> {
    let select = courses::Entity::find();
    if scope.all {
        return select;
    }
    let mut cond = Condition::any().add(courses::Column::Status.is_in(["PUBLISHED", "ARCHIVED"]));
    if let Some(author) = &scope.author {
        cond = cond.add(courses::Column::InstructorId.eq(author.clone()));
    }
    select.filter(cond)
}

/// Newest first.
pub const COURSES_NEWEST: Keyset<courses::Column> = Keyset {
    name: "courses.created_at.desc",
    at: courses::Column::CreatedAt,
    id: courses::Column::Id,
    descending: true,
};

pub async fn page_courses(
    db: &impl ConnectionTrait,
    scope: &CourseScope,
    args: &PageArgs,
) -> Result<Page<Course>, StoreError> {
    let rows = COURSES_NEWEST.apply(visible(scope), args)?.all(db).await?;
    Ok(Keyset::<courses::Column>::page(args, rows))
}

pub async fn count_courses(
    db: &impl ConnectionTrait,
    scope: &CourseScope,
) -> Result<u64, StoreError> {
    Ok(visible(scope).count(db).await?)
}

/// A module to add to a course.
#[derive(Debug, Clone)]
pub struct NewModule {
    pub course_id: String,
    pub title: String,
    pub description: Option<String>,
    pub content: Option<String>,
    pub position: i32,
    pub required: bool,
    pub duration_minutes: Option<i32>,
}

pub async fn add_module(
    db: &impl ConnectionTrait,
    new: NewModule,
) -> Result<CourseModule, StoreError> {
    let now = time::now();
    let row = CourseModule {
        id: ids::new_id(),
        course_id: new.course_id,
        title: new.title,
        description: new.description,
        content: new.content,
        video_url: None,
        position: new.position,
        duration_minutes: new.duration_minutes,
        created_at: now,
        updated_at: now,
        required: new.required,
    };
    course_modules::Entity::insert(course_modules::ActiveModel {
        id: Set(row.id.clone()),
        course_id: Set(row.course_id.clone()),
        title: Set(row.title.clone()),
        description: Set(row.description.clone()),
        content: Set(row.content.clone()),
        video_url: Set(None),
        position: Set(row.position),
        duration_minutes: Set(row.duration_minutes),
        created_at: Set(now),
        updated_at: Set(now),
        required: Set(row.required),
    })
    .exec_without_returning(db)
    .await?;
    Ok(row)
}

pub async fn modules_by_ids(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<Vec<CourseModule>, StoreError> {
    crate::rows::by_ids::<course_modules::Entity>(db, ids).await
}

pub async fn module(
    db: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<CourseModule>, StoreError> {
    Ok(course_modules::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?)
}

/// The modules of each course, in order, in one statement.
pub async fn modules_of(
    db: &impl ConnectionTrait,
    course_ids: &[String],
) -> Result<HashMap<String, Vec<CourseModule>>, StoreError> {
    let mut out: HashMap<String, Vec<CourseModule>> = HashMap::new();
    if course_ids.is_empty() {
        return Ok(out);
    }
    let rows = course_modules::Entity::find()
        .filter(course_modules::Column::CourseId.is_in(course_ids.iter().cloned()))
        .order_by_asc(course_modules::Column::Position)
        .order_by_asc(course_modules::Column::CreatedAt)
        .order_by_asc(course_modules::Column::Id)
        .all(db)
        .await?;
    for m in rows {
        out.entry(m.course_id.clone()).or_default().push(m);
    }
    Ok(out)
}

/// Marks a course changed now. Run first in a transaction that reads the course's modules
/// before it writes: on SQLite, a transaction that has only read cannot take the write lock
/// while another connection writes (SQLITE_BUSY at once, whatever the busy timeout); one that
/// writes first waits its turn instead.
pub async fn touch_course(db: &impl ConnectionTrait, course_id: &str) -> Result<(), StoreError> {
    courses::Entity::update_many()
        .col_expr(courses::Column::UpdatedAt, Expr::value(time::now()))
        .filter(courses::Column::Id.eq(course_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Locks a published course's row for an enrolment (a no-op update: PostgreSQL's row lock, which
/// a deletion's or archiving's [`touch_course`] waits for and makes wait; SQLite's write lock):
/// false when the course is not published (any more) or gone.
pub async fn hold_published_course(
    db: &impl ConnectionTrait,
    course_id: &str,
) -> Result<bool, StoreError> {
    let res = courses::Entity::update_many()
        .col_expr(courses::Column::Status, Expr::col(courses::Column::Status))
        .filter(courses::Column::Id.eq(course_id))
        .filter(courses::Column::Status.eq("PUBLISHED"))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// The next position at the end of a course.
pub async fn next_position(db: &impl ConnectionTrait, course_id: &str) -> Result<i32, StoreError> {
    let n = course_modules::Entity::find()
        .filter(course_modules::Column::CourseId.eq(course_id))
        .count(db)
        .await?;
    Ok(i32::try_from(n).unwrap_or(i32::MAX))
}

/// An assessment to create.
#[derive(Debug, Clone)]
pub struct NewAssessment {
    pub author_id: String,
    pub course_id: String,
    pub module_id: Option<String>,
    pub kind: String,
    pub title: String,
    pub questions: serde_json::Value,
    pub max_score: i32,
    pub pass_mark: i32,
    pub difficulty: String,
}

pub async fn create_assessment(
    db: &impl ConnectionTrait,
    new: NewAssessment,
) -> Result<Assessment, StoreError> {
    let now = time::now();
    let row = Assessment {
        id: ids::new_id(),
        user_id: new.author_id,
        course_id: new.course_id,
        module_id: new.module_id,
        r#type: new.kind,
        title: new.title,
        questions: new.questions,
        answers: None,
        score: None,
        max_score: Some(new.max_score),
        passed: None,
        status: "PUBLISHED".into(),
        feedback: None,
        submitted_at: None,
        graded_at: None,
        created_at: now,
        updated_at: now,
        pass_mark: new.pass_mark,
        difficulty: new.difficulty,
    };
    assessments::Entity::insert(assessments::ActiveModel {
        id: Set(row.id.clone()),
        user_id: Set(row.user_id.clone()),
        course_id: Set(row.course_id.clone()),
        module_id: Set(row.module_id.clone()),
        r#type: Set(row.r#type.clone()),
        title: Set(row.title.clone()),
        questions: Set(row.questions.clone()),
        answers: Set(None),
        score: Set(None),
        max_score: Set(row.max_score),
        passed: Set(None),
        status: Set(row.status.clone()),
        feedback: Set(None),
        submitted_at: Set(None),
        graded_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        pass_mark: Set(row.pass_mark),
        difficulty: Set(row.difficulty.clone()),
    })
    .exec_without_returning(db)
    .await?;
    Ok(row)
}

pub async fn assessments_by_ids(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<Vec<Assessment>, StoreError> {
    crate::rows::by_ids::<assessments::Entity>(db, ids).await
}

pub async fn assessment(
    db: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<Assessment>, StoreError> {
    Ok(assessments::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?)
}

/// The assessments of each course, oldest first, in one statement.
pub async fn assessments_of(
    db: &impl ConnectionTrait,
    course_ids: &[String],
) -> Result<HashMap<String, Vec<Assessment>>, StoreError> {
    let mut out: HashMap<String, Vec<Assessment>> = HashMap::new();
    if course_ids.is_empty() {
        return Ok(out);
    }
    let rows = assessments::Entity::find()
        .filter(assessments::Column::CourseId.is_in(course_ids.iter().cloned()))
        .order_by_asc(assessments::Column::CreatedAt)
        .order_by_asc(assessments::Column::Id)
        .all(db)
        .await?;
    for a in rows {
        out.entry(a.course_id.clone()).or_default().push(a);
    }
    Ok(out)
}

/// Enrols the user in the course, unless they are already: their enrolment, and whether it is
/// new.
pub async fn enroll(
    db: &impl ConnectionTrait,
    user_id: &str,
    course_id: &str,
) -> Result<(Enrollment, bool), StoreError> {
    let now = time::now();
    let inserted = enrollments::Entity::insert(enrollments::ActiveModel {
        id: Set(ids::new_id()),
        user_id: Set(user_id.to_owned()),
        course_id: Set(course_id.to_owned()),
        status: Set("ACTIVE".into()),
        progress: Set(0),
        completed_at: Set(None),
        last_accessed_at: Set(Some(now)),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict_do_nothing_on([enrollments::Column::UserId, enrollments::Column::CourseId])
    .exec_without_returning(db)
    .await?;
    let row = enrollment_of(db, user_id, course_id)
        .await?
        .ok_or_else(|| StoreError::Db(sea_orm::DbErr::RecordNotFound("enrollment".into())))?;
    Ok((
        row,
        matches!(inserted, TryInsertResult::Inserted(n) if n > 0),
    ))
}

pub async fn enrollment_of(
    db: &impl ConnectionTrait,
    user_id: &str,
    course_id: &str,
) -> Result<Option<Enrollment>, StoreError> {
    Ok(enrollments::Entity::find()
        .filter(enrollments::Column::UserId.eq(user_id))
        .filter(enrollments::Column::CourseId.eq(course_id))
        .one(db)
        .await?)
}

/// The user's enrolments among `course_ids`, in one statement.
pub async fn enrollments_of(
    db: &impl ConnectionTrait,
    user_id: &str,
    course_ids: &[String],
) -> Result<Vec<Enrollment>, StoreError> {
    if course_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(enrollments::Entity::find()
        .filter(enrollments::Column::UserId.eq(user_id))
        .filter(enrollments::Column::CourseId.is_in(course_ids.iter().cloned()))
        .all(db)
        .await?)
}

pub async fn enrollments_by_ids(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<Vec<Enrollment>, StoreError> {
    crate::rows::by_ids::<enrollments::Entity>(db, ids).await
}

/// Records a completed module (once).
pub async fn complete_module(
    db: &impl ConnectionTrait,
    enrollment_id: &str,
    module_id: &str,
) -> Result<(), StoreError> {
    module_progress::Entity::insert(module_progress::ActiveModel {
        enrollment_id: Set(enrollment_id.to_owned()),
        module_id: Set(module_id.to_owned()),
        completed_at: Set(time::now()),
    })
    .on_conflict_do_nothing_on([
        module_progress::Column::EnrollmentId,
        module_progress::Column::ModuleId,
    ])
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The modules each enrolment has completed, in one statement.
pub async fn completed_modules(
    db: &impl ConnectionTrait,
    enrollment_ids: &[String],
) -> Result<HashMap<String, Vec<String>>, StoreError> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    if enrollment_ids.is_empty() {
        return Ok(out);
    }
    let rows = module_progress::Entity::find()
        .filter(module_progress::Column::EnrollmentId.is_in(enrollment_ids.iter().cloned()))
        .order_by_asc(module_progress::Column::CompletedAt)
        .all(db)
        .await?;
    for r in rows {
        out.entry(r.enrollment_id).or_default().push(r.module_id);
    }
    Ok(out)
}

/// Sets an enrolment's progress, and completes it at 100%.
pub async fn set_progress(
    db: &impl ConnectionTrait,
    enrollment_id: &str,
    progress: i32,
) -> Result<(), StoreError> {
    let now = time::now();
    enrollments::Entity::update_many()
        .col_expr(enrollments::Column::Progress, Expr::value(progress))
        .col_expr(enrollments::Column::LastAccessedAt, Expr::value(now))
        .col_expr(enrollments::Column::UpdatedAt, Expr::value(now))
        .filter(enrollments::Column::Id.eq(enrollment_id))
        .exec(db)
        .await?;
    if progress >= 100 {
        enrollments::Entity::update_many()
            .col_expr(enrollments::Column::Status, Expr::value("COMPLETED"))
            .col_expr(enrollments::Column::CompletedAt, Expr::value(now))
            .filter(enrollments::Column::Id.eq(enrollment_id))
            .filter(enrollments::Column::Status.ne("COMPLETED"))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// A submission to record.
#[derive(Debug, Clone)]
pub struct NewSubmission {
    pub assessment_id: String,
    pub user_id: String,
    pub answers: serde_json::Value,
    /// Set for auto-graded submissions.
    pub grade: Option<(i32, i32, bool)>,
}

pub async fn create_submission(
    db: &impl ConnectionTrait,
    new: NewSubmission,
) -> Result<Submission, StoreError> {
    let now = time::now();
    let graded = new.grade.is_some();
    let row = Submission {
        id: ids::new_id(),
        assessment_id: new.assessment_id,
        user_id: new.user_id,
        answers: Some(new.answers),
        score: new.grade.map(|g| g.0),
        max_score: new.grade.map(|g| g.1),
        passed: new.grade.map(|g| g.2),
        status: if graded { "GRADED" } else { "SUBMITTED" }.into(),
        feedback: None,
        graded_by: None,
        submitted_at: now,
        graded_at: graded.then_some(now),
        created_at: now,
        updated_at: now,
    };
    assessment_submissions::Entity::insert(assessment_submissions::ActiveModel {
        id: Set(row.id.clone()),
        assessment_id: Set(row.assessment_id.clone()),
        user_id: Set(row.user_id.clone()),
        answers: Set(row.answers.clone()),
        score: Set(row.score),
        max_score: Set(row.max_score),
        passed: Set(row.passed),
        status: Set(row.status.clone()),
        feedback: Set(None),
        graded_by: Set(None),
        submitted_at: Set(now),
        graded_at: Set(row.graded_at),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_without_returning(db)
    .await?;
    Ok(row)
}

pub async fn submission(
    db: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<Submission>, StoreError> {
    Ok(assessment_submissions::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?)
}

pub async fn submissions_by_ids(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<Vec<Submission>, StoreError> {
    crate::rows::by_ids::<assessment_submissions::Entity>(db, ids).await
}

/// Grades a SUBMITTED submission (once: `WHERE status = 'SUBMITTED'`); whether it was.
pub async fn grade_submission(
    db: &impl ConnectionTrait,
    id: &str,
    score: i32,
    max_score: i32,
    passed: bool,
    feedback: Option<String>,
    grader: &str,
) -> Result<bool, StoreError> {
    let now = time::now();
    let res = assessment_submissions::Entity::update_many()
        .col_expr(assessment_submissions::Column::Score, Expr::value(score))
        .col_expr(
            assessment_submissions::Column::MaxScore,
            Expr::value(max_score),
        )
        .col_expr(assessment_submissions::Column::Passed, Expr::value(passed))
        .col_expr(
            assessment_submissions::Column::Feedback,
            Expr::value(feedback),
        )
        .col_expr(
            assessment_submissions::Column::GradedBy,
            Expr::value(grader),
        )
        .col_expr(
            assessment_submissions::Column::Status,
            Expr::value("GRADED"),
        )
        .col_expr(assessment_submissions::Column::GradedAt, Expr::value(now))
        .col_expr(assessment_submissions::Column::UpdatedAt, Expr::value(now))
        .filter(assessment_submissions::Column::Id.eq(id))
        .filter(assessment_submissions::Column::Status.eq("SUBMITTED"))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Whose submissions a list shows: everyone's (the assessment's educator) or one learner's.
pub type SubmissionFilter = Option<String>;

fn submissions_filtered(filter: &SubmissionFilter) -> Select<assessment_submissions::Entity> {
    let select = assessment_submissions::Entity::find();
    match filter {
        Some(user) => select.filter(assessment_submissions::Column::UserId.eq(user.clone())),
        None => select,
    }
}

/// Newest first.
pub const SUBMISSIONS_NEWEST: Keyset<assessment_submissions::Column> = Keyset {
    name: "assessment_submissions.created_at.desc",
    at: assessment_submissions::Column::CreatedAt,
    id: assessment_submissions::Column::Id,
    descending: true,
};

/// One page of submissions per assessment, in one statement.
pub async fn submissions_for(
    db: &impl ConnectionTrait,
    assessment_ids: &[String],
    filter: &SubmissionFilter,
    args: &PageArgs,
) -> Result<HashMap<String, Page<Submission>>, StoreError> {
    crate::cursor::batch::pages_by_parent(
        db,
        submissions_filtered(filter),
        assessment_submissions::Column::AssessmentId,
        assessment_ids,
        &SUBMISSIONS_NEWEST,
        args,
        |s: &Submission| s.assessment_id.as_str(),
    )
    .await
}

pub async fn submission_counts(
    db: &impl ConnectionTrait,
    assessment_ids: &[String],
    filter: &SubmissionFilter,
) -> Result<HashMap<String, u64>, StoreError> {
    crate::rows::counts_by_parent(
        db,
        submissions_filtered(filter),
        assessment_submissions::Column::AssessmentId,
        assessment_ids,
    )
    .await
}

pub fn submission_cursor_at(s: &Submission) -> DateTime<Utc> {
    s.created_at
}

/// Which of a user's enrolments a list holds: all of them, or those in one status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct EnrollmentFilter {
    pub status: Option<String>,
}

/// Newest first.
pub const ENROLLMENTS_NEWEST: Keyset<enrollments::Column> = Keyset {
    name: "enrollments.created_at.desc",
    at: enrollments::Column::CreatedAt,
    id: enrollments::Column::Id,
    descending: true,
};

fn own_enrollments(user_id: &str, filter: &EnrollmentFilter) -> Select<enrollments::Entity> {
    let select = enrollments::Entity::find().filter(enrollments::Column::UserId.eq(user_id));
    match &filter.status {
        Some(status) => select.filter(enrollments::Column::Status.eq(status.clone())),
        None => select,
    }
}

/// One page of the user's enrolments, newest first.
pub async fn page_enrollments(
    db: &impl ConnectionTrait,
    user_id: &str,
    filter: &EnrollmentFilter,
    args: &PageArgs,
) -> Result<Page<Enrollment>, StoreError> {
    let rows = ENROLLMENTS_NEWEST
        .apply(own_enrollments(user_id, filter), args)?
        .all(db)
        .await?;
    Ok(Keyset::<enrollments::Column>::page(args, rows))
}

pub async fn count_enrollments(
    db: &impl ConnectionTrait,
    user_id: &str,
    filter: &EnrollmentFilter,
) -> Result<u64, StoreError> {
    Ok(own_enrollments(user_id, filter).count(db).await?)
}

/// Every enrolment in a course (to recompute their progress when its modules change).
pub async fn enrollments_in(
    db: &impl ConnectionTrait,
    course_id: &str,
) -> Result<Vec<Enrollment>, StoreError> {
    Ok(enrollments::Entity::find()
        .filter(enrollments::Column::CourseId.eq(course_id))
        .all(db)
        .await?)
}

/// What `updateCourse` changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct CourseChanges {
    pub title: Option<String>,
    pub description: Option<String>,
    pub level: Option<String>,
    /// `Some(None)` clears the category.
    pub category: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
}

pub async fn update_course(
    db: &impl ConnectionTrait,
    id: &str,
    changes: CourseChanges,
) -> Result<(), StoreError> {
    let mut update = courses::Entity::update_many()
        .col_expr(courses::Column::UpdatedAt, Expr::value(time::now()))
        .filter(courses::Column::Id.eq(id));
    if let Some(v) = changes.title {
        update = update.col_expr(courses::Column::Title, Expr::value(v));
    }
    if let Some(v) = changes.description {
        update = update.col_expr(courses::Column::Description, Expr::value(v));
    }
    if let Some(v) = changes.level {
        update = update.col_expr(courses::Column::Level, Expr::value(v));
    }
    if let Some(v) = changes.category {
        update = update.col_expr(courses::Column::Category, Expr::value(v));
    }
    if let Some(v) = changes.tags {
        update = update.col_expr(courses::Column::Tags, Expr::value(serde_json::json!(v)));
    }
    update.exec(db).await?;
    Ok(())
}

/// Deletes a course with its modules and assessments (the foreign keys cascade); whether it
/// existed.
pub async fn delete_course(db: &impl ConnectionTrait, id: &str) -> Result<bool, StoreError> {
    Ok(courses::Entity::delete_by_id(id.to_owned())
        .exec(db)
        .await?
        .rows_affected
        == 1)
}

/// What `updateCourseModule` changes; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct ModuleChanges {
    pub title: Option<String>,
    pub description: Option<Option<String>>,
    pub content: Option<Option<String>>,
    pub required: Option<bool>,
    pub duration_minutes: Option<Option<i32>>,
}

pub async fn update_module(
    db: &impl ConnectionTrait,
    id: &str,
    changes: ModuleChanges,
) -> Result<(), StoreError> {
    let mut update = course_modules::Entity::update_many()
        .col_expr(course_modules::Column::UpdatedAt, Expr::value(time::now()))
        .filter(course_modules::Column::Id.eq(id));
    if let Some(v) = changes.title {
        update = update.col_expr(course_modules::Column::Title, Expr::value(v));
    }
    if let Some(v) = changes.description {
        update = update.col_expr(course_modules::Column::Description, Expr::value(v));
    }
    if let Some(v) = changes.content {
        update = update.col_expr(course_modules::Column::Content, Expr::value(v));
    }
    if let Some(v) = changes.required {
        update = update.col_expr(course_modules::Column::Required, Expr::value(v));
    }
    if let Some(v) = changes.duration_minutes {
        update = update.col_expr(course_modules::Column::DurationMinutes, Expr::value(v));
    }
    update.exec(db).await?;
    Ok(())
}

/// Deletes a module: learners' completions of it go with it (cascade), its assessments stay with
/// the course (their module is cleared). Whether it existed.
pub async fn delete_module(db: &impl ConnectionTrait, id: &str) -> Result<bool, StoreError> {
    Ok(course_modules::Entity::delete_by_id(id.to_owned())
        .exec(db)
        .await?
        .rows_affected
        == 1)
}

/// Gives the modules `ids` (of `course_id`) the positions 0, 1, 2, ... in that order.
pub async fn set_module_positions(
    db: &impl ConnectionTrait,
    course_id: &str,
    ids: &[String],
) -> Result<(), StoreError> {
    let now = time::now();
    for (position, id) in ids.iter().enumerate() {
        course_modules::Entity::update_many()
            .col_expr(
                course_modules::Column::Position,
                Expr::value(i32::try_from(position).unwrap_or(i32::MAX)),
            )
            .col_expr(course_modules::Column::UpdatedAt, Expr::value(now))
            .filter(course_modules::Column::Id.eq(id.clone()))
            .filter(course_modules::Column::CourseId.eq(course_id))
            .exec(db)
            .await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Curated learning paths: `learning_paths` rows with `curated` set (no `user_id`, so the
// workspace, which reads SkillPath runs by owner, never sees them), and their ordered courses.
// ---------------------------------------------------------------------------------------------

/// A curated path to create.
#[derive(Debug, Clone)]
pub struct NewPath {
    pub title: String,
    pub description: Option<String>,
    pub author_id: String,
    pub published: bool,
}

fn curated() -> Select<learning_paths::Entity> {
    learning_paths::Entity::find().filter(learning_paths::Column::Curated.eq(true))
}

pub async fn create_path(
    db: &impl ConnectionTrait,
    new: NewPath,
) -> Result<LearningPath, StoreError> {
    let now = time::now();
    let row = LearningPath {
        id: ids::new_id(),
        user_id: None,
        project_id: None,
        title: Some(new.title),
        description: new.description,
        user_profile: None,
        skill_assessment: None,
        learning_style: None,
        generated_path: None,
        progress_tracking: None,
        certifications: None,
        recommendations: None,
        estimated_completion: None,
        confidence: None,
        processing_time: None,
        // A curated path is complete as written; whether learners see it is `published_at`.
        status: "COMPLETED".into(),
        metadata: None,
        created_at: now,
        updated_at: now,
        curated: true,
        author_id: Some(new.author_id),
        published_at: new.published.then_some(now),
    };
    learning_paths::Entity::insert(learning_paths::ActiveModel::from(row.clone()))
        .exec_without_returning(db)
        .await?;
    Ok(row)
}

/// What `updateLearningPath` changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct PathChanges {
    pub title: Option<String>,
    /// `Some(None)` clears it.
    pub description: Option<Option<String>>,
    pub published: Option<bool>,
}

pub async fn update_path(
    db: &impl ConnectionTrait,
    id: &str,
    changes: PathChanges,
) -> Result<(), StoreError> {
    let now = time::now();
    let mut update = learning_paths::Entity::update_many()
        .col_expr(learning_paths::Column::UpdatedAt, Expr::value(now))
        .filter(learning_paths::Column::Id.eq(id))
        .filter(learning_paths::Column::Curated.eq(true));
    if let Some(v) = changes.title {
        update = update.col_expr(learning_paths::Column::Title, Expr::value(v));
    }
    if let Some(v) = changes.description {
        update = update.col_expr(learning_paths::Column::Description, Expr::value(v));
    }
    match changes.published {
        Some(true) => {
            // Publishing again keeps the first publication time.
            update = update.col_expr(
                learning_paths::Column::PublishedAt,
                Expr::col(learning_paths::Column::PublishedAt).if_null(now),
            );
        }
        Some(false) => {
            update = update.col_expr(
                learning_paths::Column::PublishedAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            );
        }
        None => {}
    }
    update.exec(db).await?;
    Ok(())
}

/// Replaces a path's courses with `course_ids`, in that order.
pub async fn set_path_courses(
    db: &impl ConnectionTrait,
    path_id: &str,
    course_ids: &[String],
) -> Result<(), StoreError> {
    learning_path_courses::Entity::delete_many()
        .filter(learning_path_courses::Column::LearningPathId.eq(path_id))
        .exec(db)
        .await?;
    if course_ids.is_empty() {
        return Ok(());
    }
    let now = time::now();
    let rows = course_ids
        .iter()
        .enumerate()
        .map(|(i, c)| learning_path_courses::ActiveModel {
            learning_path_id: Set(path_id.to_owned()),
            course_id: Set(c.clone()),
            position: Set(i32::try_from(i).unwrap_or(i32::MAX)),
            created_at: Set(now),
        });
    learning_path_courses::Entity::insert_many(rows)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

pub async fn path(db: &impl ConnectionTrait, id: &str) -> Result<Option<LearningPath>, StoreError> {
    Ok(curated()
        .filter(learning_paths::Column::Id.eq(id))
        .one(db)
        .await?)
}

pub async fn paths_by_ids(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<Vec<LearningPath>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(curated()
        .filter(learning_paths::Column::Id.is_in(ids.iter().cloned()))
        .all(db)
        .await?)
}

/// Which curated paths a reader sees: published ones, plus their own drafts (`author`), or all
/// of them (`all`, for admins).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct PathScope {
    pub all: bool,
    pub author: Option<String>,
}

fn visible_paths(scope: &PathScope) -> Select<learning_paths::Entity> {
    let select = curated();
    if scope.all {
        return select;
    }
    let mut cond = Condition::any().add(learning_paths::Column::PublishedAt.is_not_null());
    if let Some(author) = &scope.author {
        cond = cond.add(learning_paths::Column::AuthorId.eq(author.clone()));
    }
    select.filter(cond)
}

/// Newest first.
pub const PATHS_NEWEST: Keyset<learning_paths::Column> = Keyset {
    name: "learning_paths.created_at.desc",
    at: learning_paths::Column::CreatedAt,
    id: learning_paths::Column::Id,
    descending: true,
};

pub async fn page_paths(
    db: &impl ConnectionTrait,
    scope: &PathScope,
    args: &PageArgs,
) -> Result<Page<LearningPath>, StoreError> {
    let rows = PATHS_NEWEST
        .apply(visible_paths(scope), args)?
        .all(db)
        .await?;
    Ok(Keyset::<learning_paths::Column>::page(args, rows))
}

pub async fn count_paths(db: &impl ConnectionTrait, scope: &PathScope) -> Result<u64, StoreError> {
    Ok(visible_paths(scope).count(db).await?)
}

/// The course ids of each path, in order, in one statement.
pub async fn path_courses_of(
    db: &impl ConnectionTrait,
    path_ids: &[String],
) -> Result<HashMap<String, Vec<String>>, StoreError> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    if path_ids.is_empty() {
        return Ok(out);
    }
    let rows = learning_path_courses::Entity::find()
        .filter(learning_path_courses::Column::LearningPathId.is_in(path_ids.iter().cloned()))
        .order_by_asc(learning_path_courses::Column::Position)
        .order_by_asc(learning_path_courses::Column::CourseId)
        .all(db)
        .await?;
    for r in rows {
        out.entry(r.learning_path_id).or_default().push(r.course_id);
    }
    Ok(out)
}
