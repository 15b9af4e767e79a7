//! What differs between the workspace's six kinds of AI run (a generic analysis of one of eight
//! types, and the five business solutions): the job kind, the JSON Schema of the answer (data
//! files under `seeds/schemas/`), the prompt, and how an answer maps to columns and a status.

use persistence::sea_orm::Value as SqlValue;
use serde_json::{Value, json};

/// The six kinds of run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunKind {
    Analysis,
    Contract,
    Localization,
    Behavior,
    Compliance,
    LearningPath,
}

impl RunKind {
    pub const ALL: [RunKind; 6] = [
        RunKind::Analysis,
        RunKind::Contract,
        RunKind::Localization,
        RunKind::Behavior,
        RunKind::Compliance,
        RunKind::LearningPath,
    ];

    /// The job kind in `ai_jobs.kind`, which is also the `ChangeEvent` kind of its status changes.
    pub const fn job_kind(self) -> &'static str {
        match self {
            RunKind::Analysis => "analysis",
            RunKind::Contract => "contract_analysis",
            RunKind::Localization => "localization_analysis",
            RunKind::Behavior => "customer_behavior_analysis",
            RunKind::Compliance => "compliance_monitoring",
            RunKind::LearningPath => "learning_path",
        }
    }

    pub fn from_job_kind(kind: &str) -> Option<RunKind> {
        RunKind::ALL.into_iter().find(|k| k.job_kind() == kind)
    }

    /// The audit log's type name.
    pub const fn type_name(self) -> &'static str {
        match self {
            RunKind::Analysis => "Analysis",
            RunKind::Contract => "ContractAnalysis",
            RunKind::Localization => "LocalizationAnalysis",
            RunKind::Behavior => "CustomerBehaviorAnalysis",
            RunKind::Compliance => "ComplianceMonitoring",
            RunKind::LearningPath => "GeneratedLearningPath",
        }
    }
}

/// The eight analysis types (stored spelling), each with its schema file and instructions.
pub const ANALYSIS_TYPES: [(&str, &str, &str); 8] = [
    (
        "TEXT_ANALYSIS",
        include_str!("../../../../seeds/schemas/text_analysis.json"),
        "Analyse the text: summarise it, name its topics and the entities it mentions, and give its language.",
    ),
    (
        "IMAGE_ANALYSIS",
        include_str!("../../../../seeds/schemas/image_analysis.json"),
        "Analyse the image described or linked: what it shows, the objects in it and any text visible.",
    ),
    (
        "CODE_ANALYSIS",
        include_str!("../../../../seeds/schemas/code_analysis.json"),
        "Review the source code: what it does, its language, issues with their severity, and improvements.",
    ),
    (
        "DATA_ANALYSIS",
        include_str!("../../../../seeds/schemas/data_analysis.json"),
        "Analyse the data: what it shows, its key figures and the insights worth acting on.",
    ),
    (
        "SENTIMENT_ANALYSIS",
        include_str!("../../../../seeds/schemas/sentiment_analysis.json"),
        "Judge the emotional tone of the text: overall sentiment, a score from -1 to 1 and the emotions expressed.",
    ),
    (
        "CONTENT_OPTIMIZATION",
        include_str!("../../../../seeds/schemas/content_optimization.json"),
        "Suggest how to improve the content for its readers: concrete edits, readability, a better opening.",
    ),
    (
        "SEO_ANALYSIS",
        include_str!("../../../../seeds/schemas/seo_analysis.json"),
        "Assess the content for search engines: a score, target keywords, issues and recommendations.",
    ),
    (
        "MULTIMODAL_ANALYSIS",
        include_str!("../../../../seeds/schemas/multimodal_analysis.json"),
        "Analyse the mixed content as a whole: the kinds of content in it and insights across them.",
    ),
];

pub const CONTRACT_SCHEMA: &str = include_str!("../../../../seeds/schemas/contract_analysis.json");
pub const LOCALIZATION_SCHEMA: &str =
    include_str!("../../../../seeds/schemas/localization_analysis.json");
pub const BEHAVIOR_SCHEMA: &str = include_str!("../../../../seeds/schemas/customer_behavior.json");
pub const COMPLIANCE_SCHEMA: &str =
    include_str!("../../../../seeds/schemas/compliance_monitoring.json");
pub const LEARNING_PATH_SCHEMA: &str = include_str!("../../../../seeds/schemas/learning_path.json");

/// The schema file's text for an analysis type.
pub fn analysis_type(kind: &str) -> Option<(&'static str, &'static str)> {
    ANALYSIS_TYPES
        .iter()
        .find(|(t, _, _)| *t == kind)
        .map(|(_, schema, instructions)| (*schema, *instructions))
}

/// A schema file parsed, without the keys only documentation needs (`$schema`, `title`), which
/// is what the providers are sent.
pub fn parse_schema(text: &str) -> Value {
    let mut value: Value = serde_json::from_str(text).unwrap_or_else(|_| json!({}));
    if let Some(map) = value.as_object_mut() {
        map.remove("$schema");
        map.remove("title");
    }
    value
}

/// The system prompt every run shares, then the kind's own task.
pub fn system_prompt(task: &str) -> String {
    format!(
        "You are OptiMind, an analyst for a business workspace. {task} Answer only by calling \
         the tool (or with the JSON object) you are given, filling every field; keep text \
         concise; set `confidence` honestly from 0 (a guess) to 1 (certain), low when the input \
         is unclear or too thin."
    )
}

/// A value for a JSON column: `Some(json)` of `answer[key]` when present.
pub fn json_col(answer: &Value, key: &str) -> SqlValue {
    SqlValue::Json(answer.get(key).cloned().map(Box::new))
}

/// A value for a float column.
pub fn float_col(answer: &Value, key: &str) -> SqlValue {
    SqlValue::Double(answer.get(key).and_then(Value::as_f64))
}

/// The answer's `confidence`, clamped to 0..1.
pub fn confidence(answer: &Value) -> Option<f64> {
    answer["confidence"].as_f64().map(|c| c.clamp(0.0, 1.0))
}

/// `riskAssessment.overallRisk` of an answer.
pub fn overall_risk(answer: &Value) -> Option<f64> {
    answer["riskAssessment"]["overallRisk"].as_f64()
}

/// Whether customer data is too thin to predict from: no segment and fewer than two data
/// points (sources or records) described.
pub fn behavior_data_too_thin(segment: Option<&str>, data: &Value) -> bool {
    let points = match data {
        Value::Array(items) => items.len(),
        Value::Object(map) => map.values().filter(|v| !v.is_null()).count(),
        Value::Null => 0,
        Value::String(s) if s.trim().is_empty() => 0,
        _ => 1,
    };
    points < 2 && segment.is_none_or(|s| s.trim().is_empty())
}
