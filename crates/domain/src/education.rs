//! Education rules: a course's life (DRAFT → PUBLISHED → ARCHIVED), assessment types, and the
//! automatic grading of quizzes and exams.

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use crate::enums::UnknownVariant;
use crate::finance::stored_enum;

stored_enum! {
    /// A course's life: written as a DRAFT (seen by its author and admins), PUBLISHED (seen by
    /// everyone, open to enrolment), ARCHIVED (kept for its learners, closed to new ones).
    CourseStatus {
        Draft => "DRAFT",
        Published => "PUBLISHED",
        Archived => "ARCHIVED",
    }
}

impl CourseStatus {
    /// Whether a course may move from `self` to `next`: forward only, and an archived course
    /// may be published again.
    pub fn can_move_to(self, next: CourseStatus) -> bool {
        use CourseStatus::*;
        matches!(
            (self, next),
            (Draft, Published) | (Published, Archived) | (Draft, Archived) | (Archived, Published)
        )
    }
}

stored_enum! {
    /// QUIZ and EXAM are graded automatically from their questions' answers; an ASSIGNMENT is
    /// graded by an educator.
    AssessmentType {
        Quiz => "QUIZ",
        Exam => "EXAM",
        Assignment => "ASSIGNMENT",
    }
}

impl AssessmentType {
    pub fn auto_graded(self) -> bool {
        !matches!(self, AssessmentType::Assignment)
    }
}

stored_enum! {
    /// A submission: SUBMITTED until graded (assignments), then GRADED.
    SubmissionStatus {
        Submitted => "SUBMITTED",
        Graded => "GRADED",
    }
}

stored_enum! {
    /// An enrolment: ACTIVE until every required module is done, then COMPLETED.
    EnrollmentStatus {
        Active => "ACTIVE",
        Completed => "COMPLETED",
        Dropped => "DROPPED",
    }
}

/// Why questions were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuestionError {
    #[error("must be a JSON array of questions")]
    NotAnArray,
    #[error("question {0} needs a non-empty \"prompt\"")]
    NoPrompt(usize),
    #[error("question {0} needs an \"answer\" (the correct option's index) and \"options\"")]
    NoAnswer(usize),
    #[error("question {0}: \"points\" must be a whole number from 1 to 100")]
    BadPoints(usize),
    #[error("at most 100 questions")]
    TooMany,
}

/// Checks questions: an array of `{prompt, options?, answer?, points?}`; quizzes and exams need
/// `options` and `answer` (an index into `options`).
pub fn check_questions(questions: &Value, kind: AssessmentType) -> Result<(), QuestionError> {
    let list = questions.as_array().ok_or(QuestionError::NotAnArray)?;
    if list.len() > 100 {
        return Err(QuestionError::TooMany);
    }
    for (i, q) in list.iter().enumerate() {
        let n = i + 1;
        if q["prompt"].as_str().is_none_or(|p| p.trim().is_empty()) {
            return Err(QuestionError::NoPrompt(n));
        }
        if !q["points"].is_null() && !q["points"].as_u64().is_some_and(|p| (1..=100).contains(&p)) {
            return Err(QuestionError::BadPoints(n));
        }
        if kind.auto_graded() {
            let options = q["options"].as_array().map_or(0, Vec::len);
            let answer = q["answer"].as_u64();
            if answer.is_none_or(|a| (a as usize) >= options) {
                return Err(QuestionError::NoAnswer(n));
            }
        }
    }
    Ok(())
}

/// The questions as a learner sees them: without the answers.
pub fn without_answers(questions: &Value) -> Value {
    match questions {
        Value::Array(list) => Value::Array(
            list.iter()
                .map(|q| match q {
                    Value::Object(map) => Value::Object(
                        map.iter()
                            .filter(|(k, _)| k.as_str() != "answer")
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect(),
                    ),
                    other => other.clone(),
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A grade: points scored out of the maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grade {
    pub score: u32,
    pub max_score: u32,
}

impl Grade {
    /// The score as a whole percentage (rounded down); 0 when there is nothing to score.
    pub fn percent(self) -> u32 {
        (self.score * 100).checked_div(self.max_score).unwrap_or(0)
    }

    /// Whether the grade reaches `pass_mark` percent.
    pub fn passes(self, pass_mark: u32) -> bool {
        self.max_score > 0 && self.score * 100 >= pass_mark * self.max_score
    }
}

fn points(q: &Value) -> u32 {
    q["points"].as_u64().map_or(1, |p| p.min(100) as u32)
}

/// The maximum score of `questions` (each question is worth its `points`, 1 by default).
pub fn max_score(questions: &Value) -> u32 {
    questions
        .as_array()
        .map_or(0, |l| l.iter().map(points).sum())
}

/// Grades `answers` (an array of chosen option indexes, in question order) against `questions`.
pub fn grade(questions: &Value, answers: &Value) -> Grade {
    let empty = Vec::new();
    let list = questions.as_array().unwrap_or(&empty);
    let given = answers.as_array().unwrap_or(&empty);
    let score = list
        .iter()
        .enumerate()
        .filter(|(i, q)| {
            let right = q["answer"].as_u64();
            right.is_some() && given.get(*i).and_then(Value::as_u64) == right
        })
        .map(|(_, q)| points(q))
        .sum();
    Grade {
        score,
        max_score: max_score(questions),
    }
}

/// Progress through a course in percent: done required modules out of all required ones (all
/// modules when none is marked required).
pub fn progress_percent(done_required: usize, required: usize) -> i32 {
    if required == 0 {
        return 100;
    }
    ((done_required.min(required) * 100) / required) as i32
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quizzes_are_graded_from_their_answers() {
        let q = json!([
            { "prompt": "2+2?", "options": ["3", "4"], "answer": 1 },
            { "prompt": "Capital of France?", "options": ["Paris", "Rome"], "answer": 0, "points": 3 },
        ]);
        assert_eq!(check_questions(&q, AssessmentType::Quiz), Ok(()));
        let all = grade(&q, &json!([1, 0]));
        assert_eq!((all.score, all.max_score, all.percent()), (4, 4, 100));
        let one = grade(&q, &json!([1, 1]));
        assert_eq!(one.score, 1);
        assert!(!one.passes(60));
        assert!(all.passes(60));
        assert!(without_answers(&q)[0].get("answer").is_none());
        assert_eq!(
            check_questions(&json!([{ "prompt": "x" }]), AssessmentType::Quiz),
            Err(QuestionError::NoAnswer(1))
        );
        assert_eq!(
            check_questions(&json!([{ "prompt": "essay" }]), AssessmentType::Assignment),
            Ok(())
        );
    }

    #[test]
    fn courses_move_through_their_life() {
        use CourseStatus::*;
        assert!(Draft.can_move_to(Published));
        assert!(Published.can_move_to(Archived));
        assert!(!Published.can_move_to(Draft));
        assert!(!Archived.can_move_to(Draft));
    }
}
