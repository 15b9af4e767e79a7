//! `Providers`: every configured provider by id, plus the catalogue that says which one serves a
//! model.
//!
//! Anthropic, OpenAI and `local` are always registered: a provider without a server key still
//! serves callers who bring their own key, and answers `NoApiKey` otherwise. The default model
//! is the first of Anthropic's `claude-sonnet-4-20250514`, OpenAI's `gpt-4o-mini` whose provider
//! has a server key, else `local-echo`, so a fresh server chats offline out of the box.

use std::collections::HashMap;
use std::sync::Arc;

use crate::anthropic::{ANTHROPIC_PROVIDER_ID, AnthropicProvider};
use crate::catalogue::{Catalogue, ModelInfo, UnknownPricePolicy};
use crate::config::{HttpProviderConfig, ProvidersConfig};
use crate::error::{ConfigError, ProviderError};
use crate::local::{LOCAL_MODEL, LocalProvider};
use crate::openai::{OPENAI_PROVIDER_ID, OpenAiProvider};
use crate::provider::Provider;

/// The default model when Anthropic has a server key (the 002 app's default).
pub const DEFAULT_ANTHROPIC_MODEL: &str = "claude-sonnet-4-20250514";
/// The default model when only OpenAI has a server key.
pub const DEFAULT_OPENAI_MODEL: &str = "gpt-4o-mini";

struct Entry {
    provider: Arc<dyn Provider>,
    has_server_key: bool,
}

/// The providers and the model catalogue.
pub struct Providers {
    providers: HashMap<String, Entry>,
    catalogue: Catalogue,
    unknown_price: UnknownPricePolicy,
    default_model: Option<String>,
}

impl Providers {
    /// An empty registry over `catalogue`; add providers with [`Providers::insert`].
    pub fn new(catalogue: Catalogue, unknown_price: UnknownPricePolicy) -> Self {
        Self {
            providers: HashMap::new(),
            catalogue,
            unknown_price,
            default_model: None,
        }
    }

    /// Builds every provider from plain configuration.
    pub fn from_config(config: ProvidersConfig) -> Result<Self, ConfigError> {
        let mut catalogue = match &config.catalogue_path {
            Some(path) => Catalogue::from_path(path)?,
            None => Catalogue::builtin(),
        };
        let mut providers_by_id: Vec<(Arc<dyn Provider>, bool)> = Vec::new();

        let anthropic = config
            .anthropic
            .unwrap_or_else(|| HttpProviderConfig::anthropic(None));
        let anthropic_key = anthropic.api_key.is_some();
        let provider =
            AnthropicProvider::new(anthropic, config.retry.clone(), config.timeouts.clone())?;
        providers_by_id.push((Arc::new(provider), anthropic_key));

        let openai = config
            .openai
            .unwrap_or_else(|| HttpProviderConfig::openai(None));
        let openai_key = openai.api_key.is_some();
        let provider =
            OpenAiProvider::openai(openai, config.retry.clone(), config.timeouts.clone())?;
        providers_by_id.push((Arc::new(provider), openai_key));

        providers_by_id.push((Arc::new(LocalProvider::new(config.local.clone())), true));

        for compatible in config.openai_compatible {
            let provider = OpenAiProvider::compatible(
                compatible.id.clone(),
                compatible.http,
                config.retry.clone(),
                config.timeouts.clone(),
            )?;
            for model in compatible.models {
                catalogue.insert(ModelInfo {
                    provider: compatible.id.clone(),
                    ..model
                })?;
            }
            // A compatible server is callable as configured: keyless ones (Ollama...) need none.
            providers_by_id.push((Arc::new(provider), true));
        }

        let mut registry = Self::new(catalogue, config.unknown_price);
        for (provider, has_server_key) in providers_by_id {
            registry.insert(provider, has_server_key)?;
        }
        if let Some(model) = config.default_model {
            if registry.catalogue.get(&model).is_none() {
                return Err(ConfigError::UnknownDefaultModel(model));
            }
            registry.default_model = Some(model);
        }
        Ok(registry)
    }

    /// Registers a provider under its [`Provider::id`]. `has_server_key` says whether it can be
    /// called without a caller's own key (it drives [`Providers::default_model`]).
    pub fn insert(
        &mut self,
        provider: Arc<dyn Provider>,
        has_server_key: bool,
    ) -> Result<(), ConfigError> {
        let id = provider.id().to_owned();
        if id.is_empty() {
            return Err(ConfigError::EmptyProviderId);
        }
        if self.providers.contains_key(&id) {
            return Err(ConfigError::DuplicateProvider(id));
        }
        self.providers.insert(
            id,
            Entry {
                provider,
                has_server_key,
            },
        );
        Ok(())
    }

    /// Replaces (or adds) the provider with the same id; for tests that swap in a fake.
    pub fn replace(&mut self, provider: Arc<dyn Provider>, has_server_key: bool) {
        self.providers.insert(
            provider.id().to_owned(),
            Entry {
                provider,
                has_server_key,
            },
        );
    }

    /// The provider serving `model` and the model's catalogue entry, after the unknown-price
    /// policy. `UnknownModel` when the model is not in the catalogue or its provider is not
    /// registered.
    pub fn for_model(&self, model: &str) -> Result<(Arc<dyn Provider>, &ModelInfo), ProviderError> {
        let info = self
            .catalogue
            .get(model)
            .ok_or_else(|| ProviderError::UnknownModel(model.to_owned()))?;
        let entry = self
            .providers
            .get(&info.provider)
            .ok_or_else(|| ProviderError::UnknownModel(model.to_owned()))?;
        self.unknown_price.admit(info)?;
        Ok((Arc::clone(&entry.provider), info))
    }

    /// The provider with this id.
    pub fn get(&self, id: &str) -> Option<Arc<dyn Provider>> {
        self.providers.get(id).map(|e| Arc::clone(&e.provider))
    }

    /// Whether the provider can be called without a caller's own key.
    pub fn has_server_key(&self, id: &str) -> bool {
        self.providers.get(id).is_some_and(|e| e.has_server_key)
    }

    /// The registered provider ids, sorted.
    pub fn ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.providers.keys().map(String::as_str).collect();
        ids.sort_unstable();
        ids
    }

    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    pub fn unknown_price_policy(&self) -> UnknownPricePolicy {
        self.unknown_price
    }

    /// The model new conversations use unless they choose one.
    pub fn default_model(&self) -> &str {
        if let Some(model) = &self.default_model {
            return model;
        }
        let usable = |model: &str, provider: &str| {
            self.has_server_key(provider) && self.catalogue.get(model).is_some()
        };
        if usable(DEFAULT_ANTHROPIC_MODEL, ANTHROPIC_PROVIDER_ID) {
            DEFAULT_ANTHROPIC_MODEL
        } else if usable(DEFAULT_OPENAI_MODEL, OPENAI_PROVIDER_ID) {
            DEFAULT_OPENAI_MODEL
        } else {
            LOCAL_MODEL
        }
    }
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Providers")
            .field("ids", &self.ids())
            .field("models", &self.catalogue.models().len())
            .field("unknown_price", &self.unknown_price)
            .field("default_model", &self.default_model())
            .finish()
    }
}
