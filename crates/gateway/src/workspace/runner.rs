//! The job handler of every workspace run: read the run, ask the model for structured output
//! under the user's budgets, validate the answer against the kind's JSON Schema (one retry with
//! the validation errors in the prompt), and write the result, the status, the usage row and the
//! settlement in one transaction, only while the job's lease still holds.

use std::time::Instant;

use ai_providers::{
    ChatMessage, CompletionRequest, JsonOutput, ProviderError, Usage, estimate_prompt_tokens,
};
use async_trait::async_trait;
use core_domain::enums::StreamType;
use core_domain::workspace::{URGENT_FROM_RISK, needs_review};
use persistence::StoreError;
use persistence::budgets::{self, Purpose, Reservation};
use persistence::jobs::{self, Job};
use persistence::sea_orm::{TransactionTrait, Value as SqlValue};
use persistence::usage::{self, NewUsage};
use persistence::workspace::{self, Outcome};
use serde_json::{Value, json};

use super::kinds::{self, RunKind, float_col, json_col};
use super::service::{RUN_MAX_TOKENS, RunRow, WorkspaceService, find_own, mark_processing};
use crate::error::ApiResult;
use crate::platform::audit;
use crate::platform::jobs::{JobContext, JobHandler, JobOutcome};

/// What to ask for one run.
struct Spec {
    schema: Value,
    name: &'static str,
    system: String,
    prompt: String,
    model: String,
}

/// How a run ended, to write.
pub(super) struct Ending {
    pub(super) status: String,
    pub(super) confidence: Option<f64>,
    pub(super) answer: Option<Value>,
    pub(super) error: Option<String>,
}

#[async_trait]
impl JobHandler for WorkspaceService {
    async fn run(&self, job: Job, context: JobContext) -> JobOutcome {
        match self.execute(&job, &context).await {
            Ok(outcome) => outcome,
            Err(error) => {
                tracing::warn!(id = %job.id, kind = %job.kind, error = %error.message(), "a workspace job failed");
                if context.final_attempt {
                    let ending = Ending {
                        status: "FAILED".into(),
                        confidence: None,
                        answer: None,
                        error: Some(format!("internal error: {}", error.message())),
                    };
                    if let Some(kind) = RunKind::from_job_kind(&job.kind)
                        && let Err(e) = self
                            .finish(
                                &job, &context, kind, "unknown", "unknown", ending, None, 0, None,
                            )
                            .await
                    {
                        tracing::error!(id = %job.id, error = %e.message(), "cannot record a job's failure");
                    }
                    JobOutcome::Finished
                } else {
                    JobOutcome::Retry(error.message())
                }
            }
        }
    }
}

impl WorkspaceService {
    async fn execute(&self, job: &Job, context: &JobContext) -> ApiResult<JobOutcome> {
        let Some(kind) = RunKind::from_job_kind(&job.kind) else {
            jobs::finish(
                self.db.conn(),
                &context.lease,
                jobs::FAILED,
                Some("unknown kind"),
            )
            .await?;
            return Ok(JobOutcome::Finished);
        };
        let user = job.user_id.clone().unwrap_or_default();
        let Some(row) = find_own(&self.db, &user, kind, &job.subject_id).await? else {
            jobs::finish(
                self.db.conn(),
                &context.lease,
                jobs::FAILED,
                Some("the run no longer exists"),
            )
            .await?;
            return Ok(JobOutcome::Finished);
        };
        // Too little customer data: no call, no charge.
        if let RunRow::Behavior(b) = &row
            && kinds::behavior_data_too_thin(
                b.customer_segment.as_deref(),
                b.data_source.as_ref().unwrap_or(&Value::Null),
            )
        {
            let ending = Ending {
                status: "INSUFFICIENT_DATA".into(),
                confidence: None,
                answer: None,
                error: Some("not enough customer data to predict from: describe at least two data sources or a segment".into()),
            };
            self.finish(job, context, kind, "", "", ending, None, 0, None)
                .await?;
            return Ok(JobOutcome::Finished);
        }
        let spec = self.spec_for(&row);
        if !mark_processing(&self.db, kind, row.id()).await? {
            // Cancelled between the claim and now: nothing to do, nothing charged.
            jobs::finish(self.db.conn(), &context.lease, jobs::CANCELLED, None).await?;
            return Ok(JobOutcome::Finished);
        }
        if row.status() != "PROCESSING" {
            self.publish(kind, row.id(), &user);
        }

        let (provider, info) = match self.chat.providers().for_model(&spec.model) {
            Ok(found) => found,
            Err(e) => {
                let ending = failed(format!("the model cannot be used: {e}"));
                self.finish(job, context, kind, &spec.model, "", ending, None, 0, None)
                    .await?;
                return Ok(JobOutcome::Finished);
            }
        };
        let provider_id = info.provider.clone();
        let mut messages = vec![ChatMessage::user(spec.prompt.clone())];
        let prompt_tokens = estimate_prompt_tokens(Some(&spec.system), &messages);
        let estimate = reservation(&spec);
        let keys = self.chat.budgets_for(&user, None).await?;
        let purpose = Purpose {
            message_id: None,
            user_id: Some(user.clone()),
            conversation_id: None,
            prompt_tokens: i32::try_from(prompt_tokens).unwrap_or(i32::MAX),
            model: spec.model.clone(),
            provider: provider_id.clone(),
            stream_type: StreamType::Analysis,
        };
        let reservation =
            match budgets::reserve_or_exhausted(self.db.conn(), &keys, estimate, purpose).await? {
                Ok(r) => r,
                Err(scope) => {
                    crate::platform::metrics::global().budget_refused(scope);
                    let ending = failed(format!(
                        "quota exceeded: the {scope} token budget has no room for this run"
                    ));
                    self.finish(
                        job,
                        context,
                        kind,
                        &spec.model,
                        &provider_id,
                        ending,
                        None,
                        0,
                        None,
                    )
                    .await?;
                    return Ok(JobOutcome::Finished);
                }
            };

        let started = Instant::now();
        let mut used = Usage::default();
        let mut calls = 0;
        let json_output = JsonOutput {
            name: spec.name.to_owned(),
            description: "Record the analysis result.".to_owned(),
            schema: spec.schema.clone(),
        };
        let answer = loop {
            let request = CompletionRequest {
                system: Some(spec.system.clone()),
                temperature: Some(0.2),
                json: Some(json_output.clone()),
                ..CompletionRequest::new(spec.model.clone(), messages.clone(), RUN_MAX_TOKENS)
            };
            let completion = match provider.complete(request).await {
                Ok(c) => c,
                Err(e) => {
                    let ms = elapsed_ms(started);
                    if calls == 0 && is_retryable(&e) && !context.final_attempt {
                        self.release(&reservation).await;
                        return Ok(JobOutcome::Retry(format!("the AI provider failed: {e}")));
                    }
                    let ending = failed(format!("the AI provider failed: {e}"));
                    self.finish(
                        job,
                        context,
                        kind,
                        &spec.model,
                        &provider_id,
                        ending,
                        Some((&reservation, used, calls)),
                        ms,
                        None,
                    )
                    .await?;
                    return Ok(JobOutcome::Finished);
                }
            };
            calls += 1;
            used.input_tokens += completion.usage.input_tokens;
            used.output_tokens += completion.usage.output_tokens;
            match validate(&spec.schema, &completion.text) {
                Ok(value) => break Ok(value),
                Err(errors) if calls == 1 => {
                    messages.push(ChatMessage::assistant(completion.text));
                    messages.push(ChatMessage::user(format!(
                        "Your answer is not valid against the schema: {errors}. Answer again, \
                         fixing these errors."
                    )));
                }
                Err(errors) => break Err(errors),
            }
        };
        let ms = elapsed_ms(started);
        let ending = match answer {
            Err(errors) => failed(format!(
                "the AI's answer did not match the schema, even after a retry: {errors}"
            )),
            Ok(value) => Ending {
                status: status_for(kind, &value).to_owned(),
                confidence: kinds::confidence(&value),
                answer: Some(value),
                error: None,
            },
        };
        let cost = info.cost_micros(&used);
        self.finish(
            job,
            context,
            kind,
            &spec.model,
            &provider_id,
            ending,
            Some((&reservation, used, calls)),
            ms,
            cost,
        )
        .await?;
        Ok(JobOutcome::Finished)
    }

    /// Writes how the run ended, with its job's end, its audit event, the settlement and the usage
    /// row, in one transaction under the job's lease. When the lease was lost (the run was cancelled, or its
    /// lease expired and another worker took it) nothing of the run is written, but what the
    /// provider used is still charged.
    #[allow(clippy::too_many_arguments)]
    async fn finish(
        &self,
        job: &Job,
        context: &JobContext,
        kind: RunKind,
        model: &str,
        provider: &str,
        ending: Ending,
        charge: Option<(&Reservation, Usage, u32)>,
        processing_ms: i32,
        cost_micros: Option<i64>,
    ) -> ApiResult<()> {
        let user = job.user_id.clone().unwrap_or_default();
        let job_status = if ending.status == "FAILED" {
            jobs::FAILED
        } else {
            jobs::DONE
        };
        let txn = self.db.conn().begin().await.map_err(StoreError::from)?;
        let held = jobs::finish(&txn, &context.lease, job_status, ending.error.as_deref()).await?;
        if held {
            let mut metadata =
                json!({ "model": model, "provider": provider, "attempt": job.attempts });
            if let Some(error) = &ending.error {
                metadata["error"] = json!(error);
            }
            if let Some((_, _, calls)) = &charge {
                metadata["calls"] = json!(calls);
            }
            write_result(
                &txn,
                kind,
                &job.subject_id,
                &ending,
                metadata,
                processing_ms,
                model,
            )
            .await?;
            // The run's end is audited with its status change, in the same transaction, on the
            // owner's behalf (the job acts for them; no request is being served).
            audit::record(
                &txn,
                Some(&user),
                &format!("{}.{}", kind.job_kind(), ending.status.to_ascii_lowercase()),
                kind.type_name(),
                &job.subject_id,
                json!({
                    "status": ending.status,
                    "jobId": job.id,
                    "attempt": job.attempts,
                    "model": model,
                    "error": ending.error,
                }),
            )
            .await?;
            if let Some((reservation, used, calls)) = &charge {
                let tokens = i64::from(used.input_tokens) + i64::from(used.output_tokens);
                budgets::settle(&txn, reservation, tokens).await?;
                if *calls > 0 {
                    let row = usage_row(&user, model, provider, *used, cost_micros, processing_ms);
                    usage::insert(&txn, row).await?;
                }
            }
            txn.commit().await.map_err(StoreError::from)?;
            self.publish(kind, &job.subject_id, &user);
            return Ok(());
        }
        txn.rollback().await.map_err(StoreError::from)?;
        // The run was cancelled or taken over: its answer is dropped, but what the provider
        // used is still charged, once.
        if let Some((reservation, used, calls)) = &charge {
            let tokens = i64::from(used.input_tokens) + i64::from(used.output_tokens);
            let conn = self.db.conn();
            if budgets::settle(conn, reservation, tokens).await? && *calls > 0 {
                let row = usage_row(&user, model, provider, *used, cost_micros, processing_ms);
                usage::insert(conn, row).await?;
            }
        }
        tracing::info!(id = %job.id, "a workspace job lost its lease; its result was dropped");
        Ok(())
    }

    /// Gives a reservation back whole (the call never happened).
    async fn release(&self, reservation: &Reservation) {
        if let Err(error) = budgets::settle(self.db.conn(), reservation, 0).await {
            tracing::error!(%error, "cannot release a token reservation");
        }
    }

    /// The request for a run.
    fn spec_for(&self, row: &RunRow) -> Spec {
        let default_model = || self.chat.providers().default_model().to_owned();
        let model_of = |metadata: &Option<Value>| {
            metadata
                .as_ref()
                .and_then(|m| m["model"].as_str())
                .map(str::to_owned)
                .unwrap_or_else(default_model)
        };
        let pretty = |v: &Option<Value>| {
            v.as_ref()
                .map(|v| serde_json::to_string_pretty(v).unwrap_or_default())
                .unwrap_or_default()
        };
        match row {
            RunRow::Analysis(a) => {
                let (schema, task) = kinds::analysis_type(&a.r#type)
                    .unwrap_or((kinds::ANALYSIS_TYPES[0].1, kinds::ANALYSIS_TYPES[0].2));
                Spec {
                    schema: kinds::parse_schema(schema),
                    name: "analysis_result",
                    system: kinds::system_prompt(task),
                    prompt: format!("Analysis type: {}\n\nInput:\n{}", a.r#type, a.input),
                    model: a.model.clone().unwrap_or_else(default_model),
                }
            }
            RunRow::Contract(c) => Spec {
                schema: kinds::parse_schema(kinds::CONTRACT_SCHEMA),
                name: "contract_analysis",
                system: kinds::system_prompt(
                    "Review the contract for its reader: assess its overall risk from 0 (none) to \
                     1 (severe), go through its clauses, explain it in plain language, check its \
                     compliance and recommend changes.",
                ),
                prompt: format!(
                    "Contract: {} ({})\n\n{}",
                    c.contract_title,
                    c.contract_type,
                    c.extracted_text.as_deref().unwrap_or_default()
                ),
                model: model_of(&c.metadata),
            },
            RunRow::Localization(l) => Spec {
                schema: kinds::parse_schema(kinds::LOCALIZATION_SCHEMA),
                name: "localization_analysis",
                system: kinds::system_prompt(
                    "Assess how to adapt the product for the target market: culture, visuals, a \
                     market entry strategy, regulatory compliance and competitors.",
                ),
                prompt: format!(
                    "Product: {}\nTarget market: {}\nDescription: {}\nImages: {}",
                    l.product_name,
                    l.target_market,
                    l.product_desc.as_deref().unwrap_or("(none)"),
                    pretty(&l.product_images)
                ),
                model: model_of(&l.metadata),
            },
            RunRow::Behavior(b) => Spec {
                schema: kinds::parse_schema(kinds::BEHAVIOR_SCHEMA),
                name: "customer_behavior_analysis",
                system: kinds::system_prompt(
                    "Predict the customers' behavior from the data: likely actions, sentiment, \
                     their journey, recommendations, and the conversion probability and churn \
                     risk from 0 to 1. Set dataSufficient to false when the data is too thin to \
                     predict from.",
                ),
                prompt: format!(
                    "Customer segment: {}\nData sources:\n{}",
                    b.customer_segment.as_deref().unwrap_or("(not given)"),
                    pretty(&b.data_source)
                ),
                model: model_of(&b.metadata),
            },
            RunRow::Compliance(c) => Spec {
                schema: kinds::parse_schema(kinds::COMPLIANCE_SCHEMA),
                name: "compliance_review",
                system: kinds::system_prompt(
                    "Review the business's regulatory compliance in its jurisdiction: the \
                     regulations that apply, the overall risk from 0 (compliant) to 1 (severe \
                     exposure), document reviews, an action plan, audit preparation, training \
                     material, and the days until the next review.",
                ),
                prompt: format!(
                    "Business type: {}\nJurisdiction: {}\nRegulations to track: {}",
                    c.business_type,
                    c.jurisdiction,
                    pretty(&c.regulations)
                ),
                model: model_of(&c.metadata),
            },
            RunRow::LearningPath(p) => Spec {
                schema: kinds::parse_schema(kinds::LEARNING_PATH_SCHEMA),
                name: "learning_path",
                system: kinds::system_prompt(
                    "Design a personal learning path from the learner's profile: their skills \
                     and gaps, their learning style, ordered steps with the weeks each takes, \
                     certifications, recommendations, and the total weeks.",
                ),
                prompt: format!(
                    "Title: {}\nLearner profile:\n{}",
                    p.title.as_deref().unwrap_or("(none)"),
                    pretty(&p.user_profile)
                ),
                model: model_of(&p.metadata),
            },
        }
    }
}

impl WorkspaceService {
    /// The tokens the job of `row` reserves against every budget before it calls the provider:
    /// what creating (or rerunning) the run checks, so the request refuses exactly the runs
    /// their job would be refused.
    pub fn reservation_for(&self, row: &RunRow) -> i64 {
        reservation(&self.spec_for(row))
    }
}

/// A run's reservation: room for its prompt and answer, twice (the answer and its one
/// corrective retry).
fn reservation(spec: &Spec) -> i64 {
    let messages = [ChatMessage::user(spec.prompt.clone())];
    let prompt_tokens = estimate_prompt_tokens(Some(&spec.system), &messages);
    2 * (i64::from(prompt_tokens) + i64::from(RUN_MAX_TOKENS))
}

fn failed(reason: String) -> Ending {
    Ending {
        status: "FAILED".into(),
        confidence: None,
        answer: None,
        error: Some(reason),
    }
}

fn usage_row(
    user: &str,
    model: &str,
    provider: &str,
    used: Usage,
    cost_micros: Option<i64>,
    latency_ms: i32,
) -> NewUsage {
    // Every run that used the provider is billed through here, so it is counted here too.
    crate::platform::metrics::global().provider_call(
        provider,
        model,
        crate::platform::metrics::CallUsage {
            ok: true,
            input_tokens: used.input_tokens,
            output_tokens: used.output_tokens,
            cost_micros,
        },
    );
    NewUsage {
        user_id: Some(user.to_owned()),
        invitation_id: None,
        conversation_id: None,
        message_id: None,
        provider: provider.to_owned(),
        model: model.to_owned(),
        stream_type: StreamType::Analysis,
        input_tokens: i32::try_from(used.input_tokens).unwrap_or(i32::MAX),
        output_tokens: i32::try_from(used.output_tokens).unwrap_or(i32::MAX),
        cost_micros,
        latency_ms: Some(latency_ms),
    }
}

fn elapsed_ms(started: Instant) -> i32 {
    i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX)
}

fn is_retryable(e: &ProviderError) -> bool {
    e.is_retryable()
}

/// The answer parsed and checked against `schema`; the errors (at most five) otherwise.
fn validate(schema: &Value, text: &str) -> Result<Value, String> {
    let value: Value =
        serde_json::from_str(text.trim()).map_err(|e| format!("the answer is not JSON ({e})"))?;
    let validator =
        jsonschema::validator_for(schema).map_err(|e| format!("the schema is invalid: {e}"))?;
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .take(5)
        .map(|e| {
            let at = e.instance_path().as_str().to_owned();
            if at.is_empty() {
                e.to_string()
            } else {
                format!("{e} at {at}")
            }
        })
        .collect();
    if errors.is_empty() {
        Ok(value)
    } else {
        Err(errors.join("; "))
    }
}

/// The status a valid answer gives a run of `kind`.
fn status_for(kind: RunKind, answer: &Value) -> &'static str {
    let confidence = kinds::confidence(answer);
    match kind {
        RunKind::Behavior if answer["dataSufficient"] == json!(false) => "INSUFFICIENT_DATA",
        RunKind::Compliance
            if kinds::overall_risk(answer).is_some_and(|r| r >= URGENT_FROM_RISK) =>
        {
            "URGENT_ATTENTION"
        }
        RunKind::Analysis | RunKind::Contract | RunKind::Localization | RunKind::Compliance
            if needs_review(confidence) =>
        {
            "REVIEW_REQUIRED"
        }
        _ => "COMPLETED",
    }
}

/// Writes a run's ending into its row.
#[allow(clippy::too_many_arguments)]
pub(super) async fn write_result(
    txn: &impl persistence::sea_orm::ConnectionTrait,
    kind: RunKind,
    id: &str,
    ending: &Ending,
    metadata: Value,
    processing_ms: i32,
    model: &str,
) -> ApiResult<()> {
    macro_rules! outcome {
        ($columns:expr) => {
            Outcome {
                status: ending.status.clone(),
                confidence: ending.confidence,
                processing_time: Some(processing_ms),
                metadata: Some(metadata.clone()),
                columns: $columns,
            }
        };
    }
    let none = Value::Null;
    let a = ending.answer.as_ref().unwrap_or(&none);
    let has = ending.answer.is_some();
    let now = core_domain::time::now();
    match kind {
        RunKind::Analysis => {
            use workspace::analyses::{Column as C, write_outcome};
            let mut cols = vec![(C::Model, SqlValue::from(model.to_owned()))];
            if has {
                cols.push((C::Result, SqlValue::Json(Some(Box::new(a.clone())))));
            }
            write_outcome(txn, id, outcome!(cols)).await?;
        }
        RunKind::Contract => {
            use workspace::contracts::{Column as C, write_outcome};
            let cols = if has {
                vec![
                    (C::RiskAssessment, json_col(a, "riskAssessment")),
                    (C::Clauses, json_col(a, "clauses")),
                    (C::PlainLanguage, json_col(a, "plainLanguage")),
                    (C::ComplianceCheck, json_col(a, "complianceCheck")),
                    (C::Recommendations, json_col(a, "recommendations")),
                ]
            } else {
                Vec::new()
            };
            write_outcome(txn, id, outcome!(cols)).await?;
        }
        RunKind::Localization => {
            use workspace::localizations::{Column as C, write_outcome};
            let cols = if has {
                vec![
                    (C::CulturalAnalysis, json_col(a, "culturalAnalysis")),
                    (C::VisualAdaptation, json_col(a, "visualAdaptation")),
                    (C::MarketStrategy, json_col(a, "marketStrategy")),
                    (C::ComplianceCheck, json_col(a, "complianceCheck")),
                    (C::CompetitorAnalysis, json_col(a, "competitorAnalysis")),
                ]
            } else {
                Vec::new()
            };
            write_outcome(txn, id, outcome!(cols)).await?;
        }
        RunKind::Behavior => {
            use workspace::behaviors::{Column as C, write_outcome};
            let cols = if has {
                vec![
                    (C::BehaviorPrediction, json_col(a, "behaviorPrediction")),
                    (C::SentimentAnalysis, json_col(a, "sentimentAnalysis")),
                    (C::JourneyMapping, json_col(a, "journeyMapping")),
                    (C::Recommendations, json_col(a, "recommendations")),
                    (
                        C::ConversionProbability,
                        float_col(a, "conversionProbability"),
                    ),
                    (C::ChurnRisk, float_col(a, "churnRisk")),
                ]
            } else {
                Vec::new()
            };
            write_outcome(txn, id, outcome!(cols)).await?;
        }
        RunKind::Compliance => {
            use workspace::compliance::{Column as C, write_outcome};
            let cols = if has {
                let days = a["nextReviewInDays"].as_i64().unwrap_or(90).clamp(1, 365);
                vec![
                    (C::Regulations, json_col(a, "regulations")),
                    (C::RiskAssessment, json_col(a, "riskAssessment")),
                    (C::DocumentReviews, json_col(a, "documentReviews")),
                    (C::ActionPlan, json_col(a, "actionPlan")),
                    (C::AuditPreparation, json_col(a, "auditPreparation")),
                    (C::TrainingMaterials, json_col(a, "trainingMaterials")),
                    (
                        C::NextReviewDate,
                        SqlValue::from(now + chrono::Duration::days(days)),
                    ),
                ]
            } else {
                Vec::new()
            };
            write_outcome(txn, id, outcome!(cols)).await?;
        }
        RunKind::LearningPath => {
            use workspace::learning_paths::{Column as C, write_outcome};
            let cols = if has {
                let weeks = a["estimatedWeeks"].as_i64().unwrap_or(12).clamp(1, 520);
                vec![
                    (C::SkillAssessment, json_col(a, "skillAssessment")),
                    (C::LearningStyle, json_col(a, "learningStyle")),
                    (C::GeneratedPath, json_col(a, "generatedPath")),
                    (C::Certifications, json_col(a, "certifications")),
                    (C::Recommendations, json_col(a, "recommendations")),
                    (
                        C::EstimatedCompletion,
                        SqlValue::from(now + chrono::Duration::weeks(weeks)),
                    ),
                ]
            } else {
                Vec::new()
            };
            write_outcome(txn, id, outcome!(cols)).await?;
        }
    }
    Ok(())
}
