//! The education area's loaders: a level of courses' modules and assessments, the caller's
//! enrolments in them, an enrolment's completed modules (one statement each per level), and an
//! assessment's submissions through the generic per-parent [`Pages`] loader.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use core_domain::pagination::PageArgs;
use persistence::education::{
    self as store, Assessment, Course, CourseModule, Enrollment, Submission,
};
use persistence::sea_orm::ConnectionTrait;
use persistence::{Db, Page, StoreError};

use crate::graphql::context::batching;
use crate::graphql::pages::{ChildList, Pages};

/// A course's modules, in order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModulesOf(pub String);

/// A course's assessments.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AssessmentsOf(pub String);

/// A user's enrolment in a course.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EnrollmentOf {
    pub user_id: String,
    pub course_id: String,
}

/// A course by id (access is checked by the resolver).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CourseRow(pub String);

/// A curated learning path's course ids, in order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PathCoursesOf(pub String);

/// The modules an enrolment has completed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CompletedOf(pub String);

pub struct EducationRows(Db);

impl Loader<ModulesOf> for EducationRows {
    type Value = Arc<Vec<CourseModule>>;
    type Error = Arc<StoreError>;
    async fn load(
        &self,
        keys: &[ModulesOf],
    ) -> Result<HashMap<ModulesOf, Self::Value>, Self::Error> {
        let ids: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
        let mut rows = store::modules_of(self.0.conn(), &ids).await?;
        Ok(ids
            .into_iter()
            .map(|id| {
                let list = rows.remove(&id).unwrap_or_default();
                (ModulesOf(id), Arc::new(list))
            })
            .collect())
    }
}

impl Loader<AssessmentsOf> for EducationRows {
    type Value = Arc<Vec<Assessment>>;
    type Error = Arc<StoreError>;
    async fn load(
        &self,
        keys: &[AssessmentsOf],
    ) -> Result<HashMap<AssessmentsOf, Self::Value>, Self::Error> {
        let ids: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
        let mut rows = store::assessments_of(self.0.conn(), &ids).await?;
        Ok(ids
            .into_iter()
            .map(|id| {
                let list = rows.remove(&id).unwrap_or_default();
                (AssessmentsOf(id), Arc::new(list))
            })
            .collect())
    }
}

impl Loader<EnrollmentOf> for EducationRows {
    type Value = Arc<Enrollment>;
    type Error = Arc<StoreError>;
    async fn load(
        &self,
        keys: &[EnrollmentOf],
    ) -> Result<HashMap<EnrollmentOf, Self::Value>, Self::Error> {
        let mut by_user: HashMap<&str, Vec<String>> = HashMap::new();
        for k in keys {
            by_user
                .entry(&k.user_id)
                .or_default()
                .push(k.course_id.clone());
        }
        let mut out = HashMap::new();
        for (user, courses) in by_user {
            for e in store::enrollments_of(self.0.conn(), user, &courses).await? {
                let key = EnrollmentOf {
                    user_id: e.user_id.clone(),
                    course_id: e.course_id.clone(),
                };
                out.insert(key, Arc::new(e));
            }
        }
        Ok(out)
    }
}

impl Loader<CourseRow> for EducationRows {
    type Value = Arc<Course>;
    type Error = Arc<StoreError>;
    async fn load(
        &self,
        keys: &[CourseRow],
    ) -> Result<HashMap<CourseRow, Self::Value>, Self::Error> {
        let ids: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
        Ok(store::courses_by_ids(self.0.conn(), &ids)
            .await?
            .into_iter()
            .map(|c| (CourseRow(c.id.clone()), Arc::new(c)))
            .collect())
    }
}

impl Loader<PathCoursesOf> for EducationRows {
    type Value = Arc<Vec<String>>;
    type Error = Arc<StoreError>;
    async fn load(
        &self,
        keys: &[PathCoursesOf],
    ) -> Result<HashMap<PathCoursesOf, Self::Value>, Self::Error> {
        let ids: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
        let mut rows = store::path_courses_of(self.0.conn(), &ids).await?;
        Ok(ids
            .into_iter()
            .map(|id| {
                let list = rows.remove(&id).unwrap_or_default();
                (PathCoursesOf(id), Arc::new(list))
            })
            .collect())
    }
}

impl Loader<CompletedOf> for EducationRows {
    type Value = Arc<Vec<String>>;
    type Error = Arc<StoreError>;
    async fn load(
        &self,
        keys: &[CompletedOf],
    ) -> Result<HashMap<CompletedOf, Self::Value>, Self::Error> {
        let ids: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
        let mut rows = store::completed_modules(self.0.conn(), &ids).await?;
        Ok(ids
            .into_iter()
            .map(|id| {
                let list = rows.remove(&id).unwrap_or_default();
                (CompletedOf(id), Arc::new(list))
            })
            .collect())
    }
}

/// An assessment's submissions (all, or one learner's), newest first.
pub struct AssessmentSubmissions;

impl ChildList for AssessmentSubmissions {
    type Filter = Option<String>;
    type Order = ();
    type Row = Submission;

    async fn pages(
        db: &impl ConnectionTrait,
        parents: &[String],
        filter: &Option<String>,
        _order: (),
        args: &PageArgs,
    ) -> Result<HashMap<String, Page<Submission>>, StoreError> {
        store::submissions_for(db, parents, filter, args).await
    }

    async fn counts(
        db: &impl ConnectionTrait,
        parents: &[String],
        filter: &Option<String>,
    ) -> Result<HashMap<String, u64>, StoreError> {
        store::submission_counts(db, parents, filter).await
    }
}

/// The education area's loaders of one request.
pub struct EducationLoaders {
    pub rows: DataLoader<EducationRows>,
    pub submission_pages: DataLoader<Pages<AssessmentSubmissions>>,
}

impl EducationLoaders {
    pub fn new(db: &Db) -> Self {
        Self {
            rows: batching(EducationRows(db.clone())),
            submission_pages: batching(Pages::new(db.clone())),
        }
    }
}
