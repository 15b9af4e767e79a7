//! The model catalogue: which provider serves a model, its limits and its price.
//!
//! Conventions: prices are integer micro-dollars (1e-6 USD) per million tokens, `None` when
//! unknown; costs are integer micro-dollars rounded up, `None` when the price is unknown, so an
//! unpriced model is never recorded as free. The data lives in `models.json` (embedded; a file
//! with the same schema can replace it). A model is found by its id or one of its aliases.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{ConfigError, ProviderError};
use crate::types::Usage;

const BUILTIN_MODELS: &str = include_str!("../models.json");
const TOKENS_PER_PRICE_UNIT: u128 = 1_000_000;

/// One model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// The id of the [`crate::Provider`] that serves it.
    pub provider: String,
    /// The canonical model id sent to the provider.
    pub id: String,
    /// Other names the provider accepts for the same model.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Input plus output tokens the model can attend to.
    pub context_window: u32,
    pub max_output_tokens: u32,
    /// Micro-dollars per million input tokens.
    pub input_price_micros_per_mtok: Option<u64>,
    /// Micro-dollars per million output tokens.
    pub output_price_micros_per_mtok: Option<u64>,
}

impl ModelInfo {
    /// A model without aliases and with unknown prices.
    pub fn new(
        provider: impl Into<String>,
        id: impl Into<String>,
        context_window: u32,
        max_output_tokens: u32,
    ) -> Self {
        Self {
            provider: provider.into(),
            id: id.into(),
            aliases: Vec::new(),
            context_window,
            max_output_tokens,
            input_price_micros_per_mtok: None,
            output_price_micros_per_mtok: None,
        }
    }

    /// Sets both prices, in micro-dollars per million tokens.
    pub fn with_prices(mut self, input: u64, output: u64) -> Self {
        self.input_price_micros_per_mtok = Some(input);
        self.output_price_micros_per_mtok = Some(output);
        self
    }

    pub fn has_price(&self) -> bool {
        self.input_price_micros_per_mtok.is_some() && self.output_price_micros_per_mtok.is_some()
    }

    /// What `usage` cost in micro-dollars, rounded up; `None` when a price is unknown.
    pub fn cost_micros(&self, usage: &Usage) -> Option<i64> {
        let input = u128::from(self.input_price_micros_per_mtok?);
        let output = u128::from(self.output_price_micros_per_mtok?);
        let scaled =
            u128::from(usage.input_tokens) * input + u128::from(usage.output_tokens) * output;
        let micros = scaled.div_ceil(TOKENS_PER_PRICE_UNIT);
        Some(i64::try_from(micros).unwrap_or(i64::MAX))
    }
}

/// What to do with a model whose price is unknown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UnknownPricePolicy {
    /// Do not call it: [`crate::Providers::for_model`] answers [`ProviderError::UnpricedModel`].
    Refuse,
    /// Call it and record its cost as unknown (`None`), never as zero.
    #[default]
    LogUnknown,
}

impl UnknownPricePolicy {
    /// Whether `model` may be called under this policy.
    pub fn admit(self, model: &ModelInfo) -> Result<(), ProviderError> {
        match self {
            UnknownPricePolicy::Refuse if !model.has_price() => {
                Err(ProviderError::UnpricedModel(model.id.clone()))
            }
            UnknownPricePolicy::Refuse | UnknownPricePolicy::LogUnknown => Ok(()),
        }
    }
}

#[derive(Deserialize)]
struct CatalogueFile {
    models: Vec<ModelInfo>,
}

/// All known models, looked up by id or alias.
#[derive(Debug, Clone)]
pub struct Catalogue {
    models: Vec<ModelInfo>,
    /// Id or alias → index into `models`.
    index: HashMap<String, usize>,
}

impl Catalogue {
    /// The embedded `models.json`.
    #[expect(
        clippy::expect_used,
        reason = "the embedded file is fixed at build time and checked by a unit test"
    )]
    pub fn builtin() -> Self {
        Self::from_json(BUILTIN_MODELS).expect("the embedded models.json is valid")
    }

    /// Parses a catalogue in the `models.json` schema.
    pub fn from_json(json: &str) -> Result<Self, ConfigError> {
        let file: CatalogueFile =
            serde_json::from_str(json).map_err(ConfigError::CatalogueParse)?;
        let mut catalogue = Self {
            models: Vec::new(),
            index: HashMap::new(),
        };
        for model in file.models {
            catalogue.insert(model)?;
        }
        Ok(catalogue)
    }

    /// Reads a catalogue file in the `models.json` schema.
    pub fn from_path(path: &Path) -> Result<Self, ConfigError> {
        let json = std::fs::read_to_string(path).map_err(|source| ConfigError::CatalogueRead {
            path: path.to_owned(),
            source,
        })?;
        Self::from_json(&json)
    }

    /// Adds a model; its id and aliases must not name a model already present.
    pub fn insert(&mut self, model: ModelInfo) -> Result<(), ConfigError> {
        let names = std::iter::once(&model.id).chain(&model.aliases);
        let mut seen = Vec::new();
        for name in names {
            if self.index.contains_key(name) || seen.contains(&name) {
                return Err(ConfigError::DuplicateModel(name.clone()));
            }
            seen.push(name);
        }
        let position = self.models.len();
        for name in std::iter::once(&model.id).chain(&model.aliases) {
            self.index.insert(name.clone(), position);
        }
        self.models.push(model);
        Ok(())
    }

    /// The model with this id or alias.
    pub fn get(&self, model: &str) -> Option<&ModelInfo> {
        self.index.get(model).map(|&i| &self.models[i])
    }

    /// Every model, in file order.
    pub fn models(&self) -> &[ModelInfo] {
        &self.models
    }
}

impl Default for Catalogue {
    fn default() -> Self {
        Self::builtin()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalogue_parses_and_holds_the_expected_models() {
        let c = Catalogue::from_json(BUILTIN_MODELS).unwrap();
        for (model, provider) in [
            ("claude-sonnet-4-20250514", "anthropic"),
            ("claude-sonnet-4-5-20250929", "anthropic"),
            ("claude-3-5-sonnet-latest", "anthropic"),
            ("claude-haiku-4-5", "anthropic"),
            ("gpt-4o", "openai"),
            ("gpt-4o-mini-2024-07-18", "openai"),
            ("gpt-4.1", "openai"),
            ("local-echo", "local"),
        ] {
            let info = c.get(model).unwrap_or_else(|| panic!("{model} missing"));
            assert_eq!(info.provider, provider);
            assert!(info.has_price(), "{model} has a price");
            assert!(info.max_output_tokens < info.context_window);
        }
        assert_eq!(
            c.get("claude-3-5-sonnet-latest").unwrap().id,
            "claude-3-5-sonnet-20241022"
        );
        assert!(c.get("gpt-2").is_none());
    }

    #[test]
    fn costs_use_integer_math_and_round_up() {
        let c = Catalogue::builtin();
        let sonnet = c.get("claude-sonnet-4-20250514").unwrap();
        // 12 × $3/M + 6 × $15/M = 36 + 90 micro-dollars.
        let usage = Usage {
            input_tokens: 12,
            output_tokens: 6,
        };
        assert_eq!(sonnet.cost_micros(&usage), Some(126));
        // gpt-4o-mini: 19 × 0.15 + 3 × 0.6 = 2.85 + 1.8 = 4.65 → 5.
        let mini = c.get("gpt-4o-mini").unwrap();
        let usage = Usage {
            input_tokens: 19,
            output_tokens: 3,
        };
        assert_eq!(mini.cost_micros(&usage), Some(5));
        assert_eq!(mini.cost_micros(&Usage::default()), Some(0));
        // One token is never free on a priced model.
        let one = Usage {
            input_tokens: 1,
            output_tokens: 0,
        };
        assert_eq!(mini.cost_micros(&one), Some(1));
        let big = Usage {
            input_tokens: u32::MAX,
            output_tokens: u32::MAX,
        };
        let opus = c.get("claude-opus-4-1").unwrap();
        assert_eq!(
            opus.cost_micros(&big),
            Some((u64::from(u32::MAX) * 15 + u64::from(u32::MAX) * 75) as i64)
        );
    }

    #[test]
    fn local_echo_is_really_free() {
        let c = Catalogue::builtin();
        let usage = Usage {
            input_tokens: 1000,
            output_tokens: 1000,
        };
        assert_eq!(c.get("local-echo").unwrap().cost_micros(&usage), Some(0));
    }

    #[test]
    fn unknown_price_is_none_not_zero_and_the_policy_applies() {
        let m = ModelInfo::new("ollama", "llama3.2", 8192, 2048);
        let usage = Usage {
            input_tokens: 10,
            output_tokens: 10,
        };
        assert_eq!(m.cost_micros(&usage), None);
        let mut half = m.clone();
        half.input_price_micros_per_mtok = Some(1);
        assert_eq!(half.cost_micros(&usage), None);
        assert!(UnknownPricePolicy::LogUnknown.admit(&m).is_ok());
        assert!(matches!(
            UnknownPricePolicy::Refuse.admit(&m),
            Err(ProviderError::UnpricedModel(id)) if id == "llama3.2"
        ));
        assert!(
            UnknownPricePolicy::Refuse
                .admit(&m.with_prices(0, 0))
                .is_ok()
        );
    }

    #[test]
    fn duplicates_and_bad_files_are_rejected() {
        let mut c = Catalogue::builtin();
        let clash = ModelInfo {
            aliases: vec!["gpt-4o".into()],
            ..ModelInfo::new("x", "new-model", 10, 5)
        };
        assert!(matches!(c.insert(clash), Err(ConfigError::DuplicateModel(n)) if n == "gpt-4o"));
        assert!(c.get("new-model").is_none());
        assert!(matches!(
            Catalogue::from_json("{\"models\": [{\"id\": 1}]}"),
            Err(ConfigError::CatalogueParse(_))
        ));
        assert!(matches!(
            Catalogue::from_path(Path::new("/nonexistent/models.json")),
            Err(ConfigError::CatalogueRead { .. })
        ));
    }
}
