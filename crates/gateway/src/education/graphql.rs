//! Education over GraphQL: `courses`, `course(id)`, each course's `modules`, `assessments` and
//! the caller's `myEnrollment`; an assessment's `submissions` (the educator: everyone's; a
//! learner: their own); and the mutations `createCourse`, `setCourseStatus`, `addCourseModule`,
//! `createAssessment`, `enroll`, `completeModule`, `submitAssessment`, `gradeSubmission`.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::loaders::{
    AssessmentsOf, CompletedOf, CourseRow, EnrollmentOf, ModulesOf, PathCoursesOf,
};
use super::service::{
    self, AssessmentDraft, CourseDraft, CourseUpdate, EducationService, ModuleDraft, ModuleUpdate,
    PathDraft, PathUpdate, can_see, teaches,
};
use crate::accounts::graphql::{User, user_link};
use crate::error::{ApiError, ApiResult};
use crate::finance::graphql::MiningActivity;
use crate::graphql::connection::{connection, cursor, page_args};
use crate::graphql::context::{ContextExt, load_one};
use crate::graphql::ids::{self, Kind};
use crate::graphql::pages::{Columns, CountKey, PageKey, PageQuery, count, page};
use crate::graphql::scalars::Json;

fn education<'a>(ctx: &'a Context<'_>) -> ApiResult<&'a EducationService> {
    Ok(&ctx.services()?.education)
}

fn corrupt(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(anyhow::anyhow!("{e}"))
}

/// A course's life: DRAFT (seen by its educator), PUBLISHED (open to everyone), ARCHIVED
/// (kept, closed to new enrolments).
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "CourseStatus", remote = "core_domain::education::CourseStatus")]
pub enum CourseStatus {
    Draft,
    Published,
    Archived,
}

/// How hard a course or an assessment is.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "Difficulty", remote = "core_domain::finance::Difficulty")]
pub enum Difficulty {
    Beginner,
    Intermediate,
    Advanced,
}

/// QUIZ and EXAM are graded automatically; an ASSIGNMENT by the course's educator.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(
    name = "AssessmentType",
    remote = "core_domain::education::AssessmentType"
)]
pub enum AssessmentType {
    Quiz,
    Exam,
    Assignment,
}

/// SUBMITTED until graded, then GRADED.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(
    name = "SubmissionStatus",
    remote = "core_domain::education::SubmissionStatus"
)]
pub enum SubmissionStatus {
    Submitted,
    Graded,
}

/// ACTIVE until every required module is done, then COMPLETED.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(
    name = "EnrollmentStatus",
    remote = "core_domain::education::EnrollmentStatus"
)]
pub enum EnrollmentStatus {
    Active,
    Completed,
    Dropped,
}

/// A course of the catalogue.
#[derive(Clone)]
pub struct Course(pub Arc<service::Course>);

impl From<service::Course> for Course {
    fn from(c: service::Course) -> Self {
        Course(Arc::new(c))
    }
}

#[Object]
impl Course {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Course, &self.0.id)
    }
    async fn slug(&self) -> &str {
        &self.0.slug
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn level(&self) -> ApiResult<Difficulty> {
        let d: core_domain::finance::Difficulty = self.0.level.parse().map_err(corrupt)?;
        Ok(d.into())
    }
    async fn category(&self) -> Option<&str> {
        self.0.category.as_deref()
    }
    async fn tags(&self) -> Vec<String> {
        self.0
            .tags
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
    async fn status(&self) -> ApiResult<CourseStatus> {
        let s: core_domain::education::CourseStatus = self.0.status.parse().map_err(corrupt)?;
        Ok(s.into())
    }
    async fn instructor_id(&self) -> Option<ID> {
        self.0
            .instructor_id
            .as_deref()
            .map(|id| ids::encode(Kind::User, id))
    }
    /// The educator who wrote it, while their account exists.
    async fn instructor(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        user_link(ctx, self.0.instructor_id.as_deref()).await
    }
    async fn published_at(&self) -> Option<DateTime<Utc>> {
        self.0.published_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Its modules, in order.
    async fn modules(&self, ctx: &Context<'_>) -> ApiResult<Vec<CourseModule>> {
        let rows = load_one(&ctx.loaders()?.education.rows, ModulesOf(self.0.id.clone())).await?;
        Ok(rows
            .map(|r| {
                r.iter()
                    .cloned()
                    .map(|m| CourseModule(Arc::new(m)))
                    .collect()
            })
            .unwrap_or_default())
    }
    /// Its quizzes, exams and assignments.
    async fn assessments(&self, ctx: &Context<'_>) -> ApiResult<Vec<Assessment>> {
        let rows = load_one(
            &ctx.loaders()?.education.rows,
            AssessmentsOf(self.0.id.clone()),
        )
        .await?;
        Ok(rows
            .map(|r| {
                r.iter()
                    .cloned()
                    .map(|a| Assessment {
                        row: Arc::new(a),
                        course: Arc::clone(&self.0),
                    })
                    .collect()
            })
            .unwrap_or_default())
    }
    /// Your enrolment in it, if you are enrolled.
    async fn my_enrollment(&self, ctx: &Context<'_>) -> ApiResult<Option<Enrollment>> {
        let Some(caller) = ctx.request()?.caller.as_ref() else {
            return Ok(None);
        };
        let key = EnrollmentOf {
            user_id: caller.actor.user_id.clone(),
            course_id: self.0.id.clone(),
        };
        Ok(load_one(&ctx.loaders()?.education.rows, key)
            .await?
            .map(Enrollment))
    }
}

/// A unit of a course's content.
#[derive(Clone)]
pub struct CourseModule(pub Arc<service::CourseModule>);

#[Object]
impl CourseModule {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::CourseModule, &self.0.id)
    }
    async fn course_id(&self) -> ID {
        ids::encode(Kind::Course, &self.0.course_id)
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// Markdown.
    async fn content(&self) -> Option<&str> {
        self.0.content.as_deref()
    }
    /// Its place in the course (ascending).
    async fn position(&self) -> i32 {
        self.0.position
    }
    /// Whether completing the course needs it.
    async fn required(&self) -> bool {
        self.0.required
    }
    async fn duration_minutes(&self) -> Option<i32> {
        self.0.duration_minutes
    }
}

/// A quiz, exam or assignment of a course.
#[derive(Clone)]
pub struct Assessment {
    pub row: Arc<service::Assessment>,
    pub course: Arc<service::Course>,
}

#[Object]
impl Assessment {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Assessment, &self.row.id)
    }
    async fn course_id(&self) -> ID {
        ids::encode(Kind::Course, &self.row.course_id)
    }
    async fn module_id(&self) -> Option<ID> {
        self.row
            .module_id
            .as_deref()
            .map(|id| ids::encode(Kind::CourseModule, id))
    }
    #[graphql(name = "type")]
    async fn kind(&self) -> ApiResult<AssessmentType> {
        let t: core_domain::education::AssessmentType = self.row.r#type.parse().map_err(corrupt)?;
        Ok(t.into())
    }
    async fn title(&self) -> &str {
        &self.row.title
    }
    async fn difficulty(&self) -> ApiResult<Difficulty> {
        let d: core_domain::finance::Difficulty = self.row.difficulty.parse().map_err(corrupt)?;
        Ok(d.into())
    }
    /// Percent of `maxScore` needed to pass.
    async fn pass_mark(&self) -> i32 {
        self.row.pass_mark
    }
    async fn max_score(&self) -> Option<i32> {
        self.row.max_score
    }
    /// The questions: `[{prompt, options, points}]`; the course's educator also sees each
    /// `answer` (the correct option's index).
    async fn questions(&self, ctx: &Context<'_>) -> ApiResult<Json> {
        let caller = ctx.request()?.caller.as_ref();
        if caller.is_some_and(|c| teaches(c, &self.course)) {
            Ok(Json(self.row.questions.clone()))
        } else {
            Ok(Json(core_domain::education::without_answers(
                &self.row.questions,
            )))
        }
    }
    /// Submissions: the course's educator sees every learner's; a learner their own.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn submissions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<SubmissionConnection> {
        let args = page_args(first, after, last, before)?;
        let caller = ctx.request()?.require()?;
        let filter = if teaches(caller, &self.course) {
            None
        } else {
            Some(caller.actor.user_id.clone())
        };
        let loader = &ctx.loaders()?.education.submission_pages;
        let rows = page(
            loader,
            PageKey {
                parent: self.row.id.clone(),
                query: Arc::new(PageQuery {
                    filter: filter.clone(),
                    order: (),
                    args,
                    columns: Columns::ALL,
                }),
            },
        )
        .await?;
        let total = SubmissionTotal(CountKey {
            parent: self.row.id.clone(),
            filter: Arc::new(filter),
        });
        let name = EducationService::submission_ordering();
        Ok(connection(
            rows,
            total,
            |s| cursor(name, s.created_at, &s.id),
            AssessmentSubmission,
        ))
    }
}

/// `totalCount` of an assessment's submissions the caller may see.
pub struct SubmissionTotal(CountKey<Option<String>>);

#[Object]
impl SubmissionTotal {
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        count(&ctx.loaders()?.education.submission_pages, self.0.clone()).await
    }
}

pub type SubmissionConnection =
    Connection<String, AssessmentSubmission, SubmissionTotal, EmptyFields>;

/// A learner's attempt at an assessment.
#[derive(Clone)]
pub struct AssessmentSubmission(pub Arc<service::Submission>);

impl From<service::Submission> for AssessmentSubmission {
    fn from(s: service::Submission) -> Self {
        AssessmentSubmission(Arc::new(s))
    }
}

#[Object]
impl AssessmentSubmission {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::AssessmentSubmission, &self.0.id)
    }
    async fn assessment_id(&self) -> ID {
        ids::encode(Kind::Assessment, &self.0.assessment_id)
    }
    async fn user_id(&self) -> ID {
        ids::encode(Kind::User, &self.0.user_id)
    }
    async fn learner(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        user_link(ctx, Some(&self.0.user_id)).await
    }
    async fn answers(&self) -> Option<Json> {
        self.0.answers.clone().map(Json)
    }
    async fn score(&self) -> Option<i32> {
        self.0.score
    }
    async fn max_score(&self) -> Option<i32> {
        self.0.max_score
    }
    /// Null until graded.
    async fn passed(&self) -> Option<bool> {
        self.0.passed
    }
    async fn status(&self) -> ApiResult<SubmissionStatus> {
        let s: core_domain::education::SubmissionStatus = self.0.status.parse().map_err(corrupt)?;
        Ok(s.into())
    }
    async fn feedback(&self) -> Option<&str> {
        self.0.feedback.as_deref()
    }
    async fn submitted_at(&self) -> DateTime<Utc> {
        self.0.submitted_at
    }
    async fn graded_at(&self) -> Option<DateTime<Utc>> {
        self.0.graded_at
    }
}

/// A learner's enrolment in a course, with their progress.
#[derive(Clone)]
pub struct Enrollment(pub Arc<service::Enrollment>);

impl From<service::Enrollment> for Enrollment {
    fn from(e: service::Enrollment) -> Self {
        Enrollment(Arc::new(e))
    }
}

#[Object]
impl Enrollment {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Enrollment, &self.0.id)
    }
    async fn course_id(&self) -> ID {
        ids::encode(Kind::Course, &self.0.course_id)
    }
    async fn user_id(&self) -> ID {
        ids::encode(Kind::User, &self.0.user_id)
    }
    /// The course enrolled in (an archived course stays readable to its learners).
    async fn course(&self, ctx: &Context<'_>) -> ApiResult<Option<Course>> {
        let caller = ctx.request()?.caller.as_ref();
        let row = load_one(
            &ctx.loaders()?.education.rows,
            CourseRow(self.0.course_id.clone()),
        )
        .await?;
        Ok(row
            .filter(|c| can_see(caller, c))
            .map(|c| Course((*c).clone().into())))
    }
    async fn status(&self) -> EnrollmentStatus {
        EducationService::enrollment_status(&self.0).into()
    }
    /// Percent of the required modules done.
    async fn progress(&self) -> i32 {
        self.0.progress
    }
    /// The modules completed, in the order they were.
    async fn completed_module_ids(&self, ctx: &Context<'_>) -> ApiResult<Vec<ID>> {
        let rows = load_one(
            &ctx.loaders()?.education.rows,
            CompletedOf(self.0.id.clone()),
        )
        .await?;
        Ok(rows
            .map(|r| {
                r.iter()
                    .map(|id| ids::encode(Kind::CourseModule, id))
                    .collect()
            })
            .unwrap_or_default())
    }
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.0.completed_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A curated learning path: courses in the order to take them, written by an educator.
#[derive(Clone)]
pub struct LearningPath(pub Arc<service::LearningPath>);

impl From<service::LearningPath> for LearningPath {
    fn from(p: service::LearningPath) -> Self {
        LearningPath(Arc::new(p))
    }
}

/// Your progress along a learning path.
#[derive(SimpleObject)]
pub struct LearningPathProgress {
    /// Courses of the path you have completed.
    pub completed_courses: i32,
    /// Courses in the path (those you can see).
    pub total_courses: i32,
    /// completedCourses / totalCourses, as a whole percentage (0 for an empty path).
    pub percent: i32,
}

impl LearningPath {
    /// The path's courses the caller can see, in order.
    async fn visible_courses(&self, ctx: &Context<'_>) -> ApiResult<Vec<Arc<service::Course>>> {
        let caller = ctx.request()?.caller.as_ref();
        let loader = &ctx.loaders()?.education.rows;
        let ids = load_one(loader, PathCoursesOf(self.0.id.clone()))
            .await?
            .unwrap_or_default();
        let rows = loader
            .load_many(ids.iter().map(|id| CourseRow(id.clone())))
            .await
            .map_err(ApiError::from)?;
        Ok(ids
            .iter()
            .filter_map(|id| rows.get(&CourseRow(id.clone())).cloned())
            .filter(|c| can_see(caller, c))
            .collect())
    }
}

#[Object]
impl LearningPath {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::LearningPath, &self.0.id)
    }
    async fn title(&self) -> &str {
        self.0.title.as_deref().unwrap_or_default()
    }
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    async fn author_id(&self) -> Option<ID> {
        self.0
            .author_id
            .as_deref()
            .map(|id| ids::encode(Kind::User, id))
    }
    /// The educator who curated it, while their account exists.
    async fn author(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        user_link(ctx, self.0.author_id.as_deref()).await
    }
    /// Whether learners see it (a draft is seen by its author and admins only).
    async fn published(&self) -> bool {
        self.0.published_at.is_some()
    }
    async fn published_at(&self) -> Option<DateTime<Utc>> {
        self.0.published_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// The courses in the order to take them (those you can see).
    async fn courses(&self, ctx: &Context<'_>) -> ApiResult<Vec<Course>> {
        Ok(self
            .visible_courses(ctx)
            .await?
            .into_iter()
            .map(Course)
            .collect())
    }
    /// Your progress: the path's courses you have completed, from your enrolments; null when
    /// signed out.
    async fn my_progress(&self, ctx: &Context<'_>) -> ApiResult<Option<LearningPathProgress>> {
        let Some(caller) = ctx.request()?.caller.as_ref() else {
            return Ok(None);
        };
        let courses = self.visible_courses(ctx).await?;
        let me = caller.actor.user_id.clone();
        let enrollments = ctx
            .loaders()?
            .education
            .rows
            .load_many(courses.iter().map(|c| EnrollmentOf {
                user_id: me.clone(),
                course_id: c.id.clone(),
            }))
            .await
            .map_err(ApiError::from)?;
        let courses: Vec<service::Course> = courses.iter().map(|c| (**c).clone()).collect();
        let enrollments: Vec<service::Enrollment> =
            enrollments.values().map(|e| (**e).clone()).collect();
        let p = EducationService::path_progress(&courses, &enrollments);
        // An empty path is 0% done.
        let percent = (p.completed * 100).checked_div(p.total).unwrap_or(0) as i32;
        Ok(Some(LearningPathProgress {
            completed_courses: p.completed as i32,
            total_courses: p.total as i32,
            percent,
        }))
    }
}

/// `totalCount` of the curated paths the caller sees.
pub struct LearningPathTotal;

#[Object]
impl LearningPathTotal {
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        let caller = ctx.request()?.caller.as_ref();
        education(ctx)?.count_learning_paths(caller).await
    }
}

pub type LearningPathConnection = Connection<String, LearningPath, LearningPathTotal, EmptyFields>;

/// Visible curated paths among `ids`, for `node(id:)`.
pub async fn learning_paths_by_ids(
    ctx: &Context<'_>,
    ids: &[String],
) -> ApiResult<HashMap<String, LearningPath>> {
    let caller = ctx.request()?.caller.as_ref();
    let rows = education(ctx)?.learning_paths_by_ids(caller, ids).await?;
    Ok(rows.into_iter().map(|p| (p.id.clone(), p.into())).collect())
}

/// `totalCount` of the courses the caller sees.
pub struct CourseTotal;

#[Object]
impl CourseTotal {
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        let caller = ctx.request()?.caller.as_ref();
        education(ctx)?.count_courses(caller).await
    }
}

pub type CourseConnection = Connection<String, Course, CourseTotal, EmptyFields>;

/// Narrows `myEnrollments`.
#[derive(InputObject, Default)]
pub struct EnrollmentFilter {
    /// Only enrolments in this status.
    pub status: Option<EnrollmentStatus>,
}

/// `totalCount` of the caller's enrolments under the list's filter.
pub struct EnrollmentTotal(Option<EnrollmentStatus>);

#[Object]
impl EnrollmentTotal {
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        let caller = ctx.request()?.require()?;
        education(ctx)?
            .count_my_enrollments(caller, self.0.map(Into::into))
            .await
    }
}

pub type EnrollmentConnection = Connection<String, Enrollment, EnrollmentTotal, EmptyFields>;

/// Visible courses among `ids`, for `node(id:)`.
pub async fn courses_by_ids(
    ctx: &Context<'_>,
    ids: &[String],
) -> ApiResult<HashMap<String, Course>> {
    let caller = ctx.request()?.caller.as_ref();
    let rows = education(ctx)?.courses_by_ids(caller, ids).await?;
    Ok(rows.into_iter().map(|c| (c.id.clone(), c.into())).collect())
}

/// Assessments of visible courses among `ids`, for `node(id:)`.
pub async fn assessments_by_ids(
    ctx: &Context<'_>,
    ids: &[String],
) -> ApiResult<HashMap<String, Assessment>> {
    let caller = ctx.request()?.caller.as_ref();
    let rows = education(ctx)?.assessments_by_ids(caller, ids).await?;
    Ok(rows
        .into_iter()
        .map(|(a, c)| {
            let id = a.id.clone();
            let assessment = Assessment {
                row: Arc::new(a),
                course: Arc::new(c),
            };
            (id, assessment)
        })
        .collect())
}

/// Modules of visible courses among `ids`, for `node(id:)`.
pub async fn modules_by_ids(
    ctx: &Context<'_>,
    ids: &[String],
) -> ApiResult<HashMap<String, CourseModule>> {
    let caller = ctx.request()?.caller.as_ref();
    let rows = education(ctx)?.modules_by_ids(caller, ids).await?;
    Ok(rows
        .into_iter()
        .map(|m| (m.id.clone(), CourseModule(Arc::new(m))))
        .collect())
}

/// Submissions among `ids` the caller may see, for `node(id:)`.
pub async fn submissions_by_ids(
    ctx: &Context<'_>,
    ids: &[String],
) -> ApiResult<HashMap<String, AssessmentSubmission>> {
    let caller = ctx.request()?.caller.as_ref();
    let rows = education(ctx)?.submissions_by_ids(caller, ids).await?;
    Ok(rows.into_iter().map(|s| (s.id.clone(), s.into())).collect())
}

/// Enrolments among `ids` the caller may see, for `node(id:)`.
pub async fn enrollments_by_ids(
    ctx: &Context<'_>,
    ids: &[String],
) -> ApiResult<HashMap<String, Enrollment>> {
    let caller = ctx.request()?.caller.as_ref();
    let rows = education(ctx)?.enrollments_by_ids(caller, ids).await?;
    Ok(rows.into_iter().map(|e| (e.id.clone(), e.into())).collect())
}

#[derive(Default)]
pub struct EducationQuery;

#[Object]
impl EducationQuery {
    /// The courses you can see, newest first: published and archived ones, and, for an
    /// educator, their own drafts.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn courses(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<CourseConnection> {
        let args = page_args(first, after, last, before)?;
        let caller = ctx.request()?.caller.as_ref();
        let page = education(ctx)?.courses(caller, &args).await?;
        let name = EducationService::course_ordering();
        Ok(connection(
            page,
            CourseTotal,
            |c| cursor(name, c.created_at, &c.id),
            Course::from,
        ))
    }

    /// The courses you are enrolled in, newest enrolment first, each with its course and your
    /// progress; `filter.status` keeps those ACTIVE, COMPLETED or DROPPED.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn my_enrollments(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<EnrollmentFilter>,
    ) -> ApiResult<EnrollmentConnection> {
        let args = page_args(first, after, last, before)?;
        let caller = ctx.request()?.require()?;
        let status = filter.and_then(|f| f.status);
        let page = education(ctx)?
            .my_enrollments(caller, status.map(Into::into), &args)
            .await?;
        let name = EducationService::enrollment_ordering();
        Ok(connection(
            page,
            EnrollmentTotal(status),
            |e| cursor(name, e.created_at, &e.id),
            Enrollment::from,
        ))
    }

    /// Curated learning paths, newest first: published ones, and your own drafts (admins: all).
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn learning_paths(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<LearningPathConnection> {
        let args = page_args(first, after, last, before)?;
        let caller = ctx.request()?.caller.as_ref();
        let page = education(ctx)?.learning_paths(caller, &args).await?;
        let name = EducationService::path_ordering();
        Ok(connection(
            page,
            LearningPathTotal,
            |p| cursor(name, p.created_at, &p.id),
            LearningPath::from,
        ))
    }

    /// A curated learning path; null when it does not exist or is someone else's draft.
    async fn learning_path(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<LearningPath>> {
        let Some(id) = ids::decode_lookup(&id, Kind::LearningPath, "id")? else {
            return Ok(None);
        };
        let caller = ctx.request()?.caller.as_ref();
        Ok(education(ctx)?
            .learning_path(caller, &id)
            .await?
            .map(LearningPath::from))
    }

    /// A course; null when it does not exist or is someone else's draft.
    async fn course(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<Course>> {
        let Some(id) = ids::decode_lookup(&id, Kind::Course, "id")? else {
            return Ok(None);
        };
        let caller = ctx.request()?.caller.as_ref();
        Ok(education(ctx)?.course(caller, &id).await?.map(Course::from))
    }
}

#[derive(InputObject)]
pub struct CreateCourseInput {
    /// Up to 200 characters.
    pub title: String,
    /// Lowercase letters, digits and dashes; made from the title when left out.
    pub slug: Option<String>,
    #[graphql(default)]
    pub description: String,
    #[graphql(default_with = "Difficulty::Beginner")]
    pub level: Difficulty,
    pub category: Option<String>,
    #[graphql(default)]
    pub tags: Vec<String>,
}

#[derive(SimpleObject)]
pub struct CreateCoursePayload {
    pub course: Course,
}

#[derive(InputObject)]
pub struct SetCourseStatusInput {
    pub course_id: ID,
    /// DRAFT → PUBLISHED → ARCHIVED (an archived course may be published again).
    pub status: CourseStatus,
}

#[derive(SimpleObject)]
pub struct SetCourseStatusPayload {
    pub course: Course,
}

#[derive(InputObject)]
pub struct AddCourseModuleInput {
    pub course_id: ID,
    pub title: String,
    pub description: Option<String>,
    /// Markdown.
    pub content: Option<String>,
    /// At the end when left out.
    pub position: Option<i32>,
    #[graphql(default = true)]
    pub required: bool,
    pub duration_minutes: Option<i32>,
}

#[derive(SimpleObject)]
pub struct AddCourseModulePayload {
    pub module: CourseModule,
}

#[derive(InputObject)]
pub struct CreateAssessmentInput {
    pub course_id: ID,
    pub module_id: Option<ID>,
    #[graphql(name = "type")]
    pub kind: AssessmentType,
    pub title: String,
    /// `[{prompt, options, answer, points}]`: quizzes and exams need `options` and `answer` (the
    /// correct option's index); `points` defaults to 1.
    pub questions: Json,
    /// Percent needed to pass (default 60).
    pub pass_mark: Option<i32>,
    #[graphql(default_with = "Difficulty::Beginner")]
    pub difficulty: Difficulty,
    /// For assignments: the highest score (default 100). Quizzes and exams sum their points.
    pub max_score: Option<i32>,
}

#[derive(SimpleObject)]
pub struct CreateAssessmentPayload {
    pub assessment: Assessment,
}

#[derive(InputObject)]
pub struct EnrollInput {
    pub course_id: ID,
}

#[derive(SimpleObject)]
pub struct EnrollPayload {
    pub enrollment: Enrollment,
}

#[derive(InputObject)]
pub struct CompleteModuleInput {
    pub module_id: ID,
}

#[derive(SimpleObject)]
pub struct CompleteModulePayload {
    pub enrollment: Enrollment,
}

#[derive(InputObject)]
pub struct SubmitAssessmentInput {
    pub assessment_id: ID,
    /// For quizzes and exams, the chosen option's index per question, in order; for an
    /// assignment, any JSON.
    pub answers: Json,
}

#[derive(SimpleObject)]
pub struct SubmitAssessmentPayload {
    pub submission: AssessmentSubmission,
    /// The AZR reward this pass minted; null when it did not pass or was rewarded before.
    pub reward: Option<MiningActivity>,
}

#[derive(InputObject)]
pub struct GradeSubmissionInput {
    pub submission_id: ID,
    /// 0 to the assessment's maxScore.
    pub score: i32,
    pub feedback: Option<String>,
}

#[derive(SimpleObject)]
pub struct GradeSubmissionPayload {
    pub submission: AssessmentSubmission,
    /// The AZR reward the learner earned by this grade, if any.
    pub reward: Option<MiningActivity>,
}

#[derive(InputObject)]
pub struct UpdateCourseInput {
    pub course_id: ID,
    /// Up to 200 characters.
    pub title: Option<String>,
    /// Up to 10000 characters.
    pub description: Option<String>,
    pub level: Option<Difficulty>,
    /// An empty category clears it.
    pub category: Option<String>,
    /// Replaces the tags: up to 20 of 1 to 50 characters.
    pub tags: Option<Vec<String>>,
}

#[derive(SimpleObject)]
pub struct UpdateCoursePayload {
    pub course: Course,
}

#[derive(InputObject)]
pub struct DeleteCourseInput {
    pub course_id: ID,
}

/// What removing a course did.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "service::CourseRemoval")]
pub enum CourseRemovalOutcome {
    /// Nobody had enrolled: the course, its modules and assessments are gone.
    Deleted,
    /// Learners had enrolled: the course is archived (closed to new enrolments) and they keep
    /// their enrolments, results and rewards.
    Archived,
}

#[derive(SimpleObject)]
pub struct DeleteCoursePayload {
    pub deleted_course_id: ID,
    pub outcome: CourseRemovalOutcome,
    /// The archived course; null when it was deleted.
    pub course: Option<Course>,
}

#[derive(InputObject)]
pub struct UpdateCourseModuleInput {
    pub module_id: ID,
    /// Up to 200 characters.
    pub title: Option<String>,
    /// An empty text clears it.
    pub description: Option<String>,
    /// Markdown, up to 100000 characters; an empty text clears it.
    pub content: Option<String>,
    /// Whether completing the course needs this module (its learners' progress follows).
    pub required: Option<bool>,
    /// 0 to 10000.
    pub duration_minutes: Option<i32>,
}

#[derive(SimpleObject)]
pub struct UpdateCourseModulePayload {
    pub module: CourseModule,
}

#[derive(InputObject)]
pub struct DeleteCourseModuleInput {
    pub module_id: ID,
}

#[derive(SimpleObject)]
pub struct DeleteCourseModulePayload {
    pub deleted_module_id: ID,
    /// The course, with its remaining modules renumbered.
    pub course: Course,
}

#[derive(InputObject)]
pub struct ReorderCourseModulesInput {
    pub course_id: ID,
    /// Every module of the course, once each, in the new order.
    pub module_ids: Vec<ID>,
}

#[derive(SimpleObject)]
pub struct ReorderCourseModulesPayload {
    /// The course's modules in their new order.
    pub modules: Vec<CourseModule>,
}

#[derive(InputObject)]
pub struct CreateLearningPathInput {
    /// Up to 200 characters.
    pub title: String,
    pub description: Option<String>,
    /// The courses in the order to take them (each once; up to 50), courses you can see.
    pub course_ids: Vec<ID>,
    /// Publish at once (learners see it); a draft otherwise.
    #[graphql(default)]
    pub published: bool,
}

#[derive(SimpleObject)]
pub struct CreateLearningPathPayload {
    pub learning_path: LearningPath,
}

#[derive(InputObject)]
pub struct UpdateLearningPathInput {
    pub learning_path_id: ID,
    /// Up to 200 characters.
    pub title: Option<String>,
    /// An empty text clears it.
    pub description: Option<String>,
    /// Replaces the courses, in this order.
    pub course_ids: Option<Vec<ID>>,
    /// Publish (true) or take back to a draft (false).
    pub published: Option<bool>,
}

#[derive(SimpleObject)]
pub struct UpdateLearningPathPayload {
    pub learning_path: LearningPath,
}

#[derive(Default)]
pub struct EducationMutation;

#[Object]
impl EducationMutation {
    /// Writes a new course as a DRAFT (educators and admins).
    async fn create_course(
        &self,
        ctx: &Context<'_>,
        input: CreateCourseInput,
    ) -> ApiResult<CreateCoursePayload> {
        let draft = CourseDraft {
            title: input.title,
            slug: input.slug,
            description: input.description,
            level: input.level.into(),
            category: input.category,
            tags: input.tags,
        };
        let caller = ctx.request()?.require()?;
        let row = education(ctx)?.create_course(caller, draft).await?;
        Ok(CreateCoursePayload { course: row.into() })
    }

    /// Publishes or archives a course you teach.
    async fn set_course_status(
        &self,
        ctx: &Context<'_>,
        input: SetCourseStatusInput,
    ) -> ApiResult<SetCourseStatusPayload> {
        let id = ids::decode(&input.course_id, Kind::Course, "courseId")?;
        let caller = ctx.request()?.require()?;
        let row = education(ctx)?
            .set_course_status(caller, &id, input.status.into())
            .await?;
        Ok(SetCourseStatusPayload { course: row.into() })
    }

    /// Changes a course you author (its educator, or an admin).
    async fn update_course(
        &self,
        ctx: &Context<'_>,
        input: UpdateCourseInput,
    ) -> ApiResult<UpdateCoursePayload> {
        let id = ids::decode(&input.course_id, Kind::Course, "courseId")?;
        let update = CourseUpdate {
            title: input.title,
            description: input.description,
            level: input.level.map(Into::into),
            category: input.category,
            tags: input.tags,
        };
        let caller = ctx.request()?.require()?;
        let row = education(ctx)?.update_course(caller, &id, update).await?;
        Ok(UpdateCoursePayload { course: row.into() })
    }

    /// Removes a course you author: deleted when nobody enrolled, archived otherwise so its
    /// learners keep their records.
    async fn delete_course(
        &self,
        ctx: &Context<'_>,
        input: DeleteCourseInput,
    ) -> ApiResult<DeleteCoursePayload> {
        let id = ids::decode(&input.course_id, Kind::Course, "courseId")?;
        let caller = ctx.request()?.require()?;
        let (outcome, course) = education(ctx)?.delete_course(caller, &id).await?;
        Ok(DeleteCoursePayload {
            deleted_course_id: input.course_id,
            outcome: outcome.into(),
            course: course.map(Course::from),
        })
    }

    /// Changes a module of a course you author.
    async fn update_course_module(
        &self,
        ctx: &Context<'_>,
        input: UpdateCourseModuleInput,
    ) -> ApiResult<UpdateCourseModulePayload> {
        let id = ids::decode(&input.module_id, Kind::CourseModule, "moduleId")?;
        let update = ModuleUpdate {
            title: input.title,
            description: input.description,
            content: input.content,
            required: input.required,
            duration_minutes: input.duration_minutes,
        };
        let caller = ctx.request()?.require()?;
        let row = education(ctx)?.update_module(caller, &id, update).await?;
        Ok(UpdateCourseModulePayload {
            module: CourseModule(Arc::new(row)),
        })
    }

    /// Deletes a module of a course you author; its assessments stay with the course.
    async fn delete_course_module(
        &self,
        ctx: &Context<'_>,
        input: DeleteCourseModuleInput,
    ) -> ApiResult<DeleteCourseModulePayload> {
        let id = ids::decode(&input.module_id, Kind::CourseModule, "moduleId")?;
        let caller = ctx.request()?.require()?;
        let course = education(ctx)?.delete_module(caller, &id).await?;
        Ok(DeleteCourseModulePayload {
            deleted_module_id: input.module_id,
            course: course.into(),
        })
    }

    /// Puts the modules of a course you author in a new order, all at once.
    async fn reorder_course_modules(
        &self,
        ctx: &Context<'_>,
        input: ReorderCourseModulesInput,
    ) -> ApiResult<ReorderCourseModulesPayload> {
        let id = ids::decode(&input.course_id, Kind::Course, "courseId")?;
        let module_ids = input
            .module_ids
            .iter()
            .map(|m| ids::decode(m, Kind::CourseModule, "moduleIds"))
            .collect::<ApiResult<Vec<_>>>()?;
        let caller = ctx.request()?.require()?;
        let rows = education(ctx)?
            .reorder_modules(caller, &id, module_ids)
            .await?;
        Ok(ReorderCourseModulesPayload {
            modules: rows
                .into_iter()
                .map(|m| CourseModule(Arc::new(m)))
                .collect(),
        })
    }

    /// Curates a learning path: courses in order (educators and admins).
    async fn create_learning_path(
        &self,
        ctx: &Context<'_>,
        input: CreateLearningPathInput,
    ) -> ApiResult<CreateLearningPathPayload> {
        let course_ids = input
            .course_ids
            .iter()
            .map(|c| ids::decode(c, Kind::Course, "courseIds"))
            .collect::<ApiResult<Vec<_>>>()?;
        let draft = PathDraft {
            title: input.title,
            description: input.description,
            course_ids,
            published: input.published,
        };
        let caller = ctx.request()?.require()?;
        let row = education(ctx)?.create_learning_path(caller, draft).await?;
        Ok(CreateLearningPathPayload {
            learning_path: row.into(),
        })
    }

    /// Changes a learning path you curated (admins: any): its text, courses, or publication.
    async fn update_learning_path(
        &self,
        ctx: &Context<'_>,
        input: UpdateLearningPathInput,
    ) -> ApiResult<UpdateLearningPathPayload> {
        let id = ids::decode(
            &input.learning_path_id,
            Kind::LearningPath,
            "learningPathId",
        )?;
        let course_ids = input
            .course_ids
            .map(|list| {
                list.iter()
                    .map(|c| ids::decode(c, Kind::Course, "courseIds"))
                    .collect::<ApiResult<Vec<_>>>()
            })
            .transpose()?;
        let update = PathUpdate {
            title: input.title,
            description: input.description,
            course_ids,
            published: input.published,
        };
        let caller = ctx.request()?.require()?;
        let row = education(ctx)?
            .update_learning_path(caller, &id, update)
            .await?;
        Ok(UpdateLearningPathPayload {
            learning_path: row.into(),
        })
    }

    /// Adds a module to a course you teach.
    async fn add_course_module(
        &self,
        ctx: &Context<'_>,
        input: AddCourseModuleInput,
    ) -> ApiResult<AddCourseModulePayload> {
        let draft = ModuleDraft {
            course_id: ids::decode(&input.course_id, Kind::Course, "courseId")?,
            title: input.title,
            description: input.description,
            content: input.content,
            position: input.position,
            required: input.required,
            duration_minutes: input.duration_minutes,
        };
        let caller = ctx.request()?.require()?;
        let row = education(ctx)?.add_module(caller, draft).await?;
        Ok(AddCourseModulePayload {
            module: CourseModule(Arc::new(row)),
        })
    }

    /// Adds a quiz, exam or assignment to a course you teach.
    async fn create_assessment(
        &self,
        ctx: &Context<'_>,
        input: CreateAssessmentInput,
    ) -> ApiResult<CreateAssessmentPayload> {
        let draft = AssessmentDraft {
            course_id: ids::decode(&input.course_id, Kind::Course, "courseId")?,
            module_id: ids::decode_opt(input.module_id.as_ref(), Kind::CourseModule, "moduleId")?,
            kind: input.kind.into(),
            title: input.title,
            questions: input.questions.0,
            pass_mark: input.pass_mark,
            difficulty: input.difficulty.into(),
            max_score: input.max_score,
        };
        let caller = ctx.request()?.require()?;
        let service = education(ctx)?;
        let row = service.create_assessment(caller, draft).await?;
        let course = service
            .course(Some(caller), &row.course_id)
            .await?
            .ok_or(ApiError::NotFound)?;
        Ok(CreateAssessmentPayload {
            assessment: Assessment {
                row: Arc::new(row),
                course: Arc::new(course),
            },
        })
    }

    /// Enrols you in a published course.
    async fn enroll(&self, ctx: &Context<'_>, input: EnrollInput) -> ApiResult<EnrollPayload> {
        let id = ids::decode(&input.course_id, Kind::Course, "courseId")?;
        let caller = ctx.request()?.require()?;
        let row = education(ctx)?.enroll(caller, &id).await?;
        Ok(EnrollPayload {
            enrollment: row.into(),
        })
    }

    /// Marks a module of a course you are enrolled in as done.
    async fn complete_module(
        &self,
        ctx: &Context<'_>,
        input: CompleteModuleInput,
    ) -> ApiResult<CompleteModulePayload> {
        let id = ids::decode(&input.module_id, Kind::CourseModule, "moduleId")?;
        let caller = ctx.request()?.require()?;
        let row = education(ctx)?.complete_module(caller, &id).await?;
        Ok(CompleteModulePayload {
            enrollment: row.into(),
        })
    }

    /// Submits your answers; quizzes and exams are graded at once, and a first pass mints your
    /// AZR reward.
    async fn submit_assessment(
        &self,
        ctx: &Context<'_>,
        input: SubmitAssessmentInput,
    ) -> ApiResult<SubmitAssessmentPayload> {
        let id = ids::decode(&input.assessment_id, Kind::Assessment, "assessmentId")?;
        let caller = ctx.request()?.require()?;
        let out = education(ctx)?.submit(caller, &id, input.answers.0).await?;
        Ok(SubmitAssessmentPayload {
            submission: out.submission.into(),
            reward: out.reward.map(MiningActivity::from),
        })
    }

    /// Grades a submission to an assessment of a course you teach.
    async fn grade_submission(
        &self,
        ctx: &Context<'_>,
        input: GradeSubmissionInput,
    ) -> ApiResult<GradeSubmissionPayload> {
        let id = ids::decode(
            &input.submission_id,
            Kind::AssessmentSubmission,
            "submissionId",
        )?;
        let caller = ctx.request()?.require()?;
        let out = education(ctx)?
            .grade(caller, &id, input.score, input.feedback)
            .await?;
        Ok(GradeSubmissionPayload {
            submission: out.submission.into(),
            reward: out.reward.map(MiningActivity::from),
        })
    }
}
