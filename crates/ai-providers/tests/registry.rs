//! `Providers` built from configuration: routing models to providers, default models, keys,
//! compatible servers, the catalogue override and the unknown-price policy.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use ai_providers::testing::{FakeProvider, FakeReply};
use ai_providers::{
    ConfigError, HttpProviderConfig, LocalConfig, ModelInfo, OpenAiCompatibleConfig, ProviderError,
    Providers, ProvidersConfig, UnknownPricePolicy, Usage,
};
use common::{drain, fast_retry, request, timeouts};

fn offline() -> ProvidersConfig {
    ProvidersConfig {
        local: LocalConfig {
            word_delay: Duration::ZERO,
        },
        retry: fast_retry(),
        timeouts: timeouts(),
        ..ProvidersConfig::default()
    }
}

#[tokio::test]
async fn with_no_keys_the_local_model_is_the_default_and_chats() {
    let providers = Providers::from_config(offline()).unwrap();
    assert_eq!(providers.ids(), ["anthropic", "local", "openai"]);
    assert_eq!(providers.default_model(), "local-echo");
    assert!(!providers.has_server_key("anthropic"));

    let (provider, info) = providers.for_model("local-echo").unwrap();
    assert_eq!(provider.id(), "local");
    assert_eq!(
        info.cost_micros(&Usage {
            input_tokens: 50,
            output_tokens: 50
        }),
        Some(0)
    );
    let drained = drain(provider.stream(request("local-echo")).await.unwrap()).await;
    assert_eq!(
        drained.text(),
        "(local-echo: offline demo model, not a real AI) You said: Say hello there"
    );

    // Registered without a key: routed, but refuses without the caller's key.
    let (provider, info) = providers.for_model("claude-3-5-sonnet-latest").unwrap();
    assert_eq!(provider.id(), "anthropic");
    assert_eq!(info.id, "claude-3-5-sonnet-20241022");
    let err = provider.stream(request(&info.id)).await.err().unwrap();
    assert!(matches!(err, ProviderError::NoApiKey), "{err:?}");
    assert_eq!(err.reason(), "no_api_key");

    let err = providers.for_model("gpt-2").err().unwrap();
    assert!(
        matches!(&err, ProviderError::UnknownModel(m) if m == "gpt-2"),
        "{err:?}"
    );
}

#[tokio::test]
async fn configured_keys_choose_the_default_model_and_reach_the_server() {
    let fake = FakeProvider::start().await.unwrap();
    let providers = Providers::from_config(ProvidersConfig {
        anthropic: Some(fake.http_config(Some("sk-ant"))),
        openai: Some(fake.http_config(Some("sk-oai"))),
        ..offline()
    })
    .unwrap();
    assert_eq!(providers.default_model(), "claude-sonnet-4-20250514");

    let (provider, _) = providers.for_model(providers.default_model()).unwrap();
    let drained = drain(
        provider
            .stream(request("claude-sonnet-4-20250514"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(drained.text(), "Hello there!");
    assert_eq!(
        fake.last_request().unwrap().header("x-api-key"),
        Some("sk-ant")
    );

    let (provider, info) = providers.for_model("gpt-4o-mini").unwrap();
    let completion = provider.complete(request(&info.id)).await.unwrap();
    assert_eq!(
        completion.usage,
        Usage {
            input_tokens: 19,
            output_tokens: 3
        }
    );
    assert_eq!(info.cost_micros(&completion.usage), Some(5));

    let openai_only = Providers::from_config(ProvidersConfig {
        openai: Some(HttpProviderConfig::openai(Some("sk".into()))),
        ..offline()
    })
    .unwrap();
    assert_eq!(openai_only.default_model(), "gpt-4o-mini");
}

#[tokio::test]
async fn compatible_servers_bring_their_models_and_the_price_policy_applies() {
    let fake = FakeProvider::start().await.unwrap();
    fake.set_default(FakeReply::success().without_usage());
    let config = |policy| ProvidersConfig {
        openai_compatible: vec![OpenAiCompatibleConfig {
            id: "ollama".into(),
            http: fake.http_config(None),
            models: vec![
                ModelInfo::new("", "llama3.2", 131_072, 2048),
                ModelInfo::new("", "qwen-free", 32_768, 2048).with_prices(0, 0),
            ],
        }],
        unknown_price: policy,
        ..offline()
    };

    let providers = Providers::from_config(config(UnknownPricePolicy::LogUnknown)).unwrap();
    let (provider, info) = providers.for_model("llama3.2").unwrap();
    assert_eq!(
        (provider.id(), info.provider.as_str()),
        ("ollama", "ollama")
    );
    let drained = drain(provider.stream(request("llama3.2")).await.unwrap()).await;
    assert_eq!(drained.text(), "Hello there!");
    // Unknown price: the cost is unknown, not zero.
    assert_eq!(info.cost_micros(&drained.usage()), None);

    let strict = Providers::from_config(config(UnknownPricePolicy::Refuse)).unwrap();
    let err = strict.for_model("llama3.2").err().unwrap();
    assert!(
        matches!(&err, ProviderError::UnpricedModel(m) if m == "llama3.2"),
        "{err:?}"
    );
    assert!(strict.for_model("qwen-free").is_ok());
    assert!(strict.for_model("claude-sonnet-4-20250514").is_ok());
}

#[test]
fn configuration_errors_are_reported() {
    let clash = ProvidersConfig {
        openai_compatible: vec![OpenAiCompatibleConfig {
            id: "openai".into(),
            http: HttpProviderConfig {
                base_url: "http://localhost:1".into(),
                api_key: None,
            },
            models: Vec::new(),
        }],
        ..offline()
    };
    assert!(matches!(
        Providers::from_config(clash),
        Err(ConfigError::DuplicateProvider(id)) if id == "openai"
    ));

    let bad_url = ProvidersConfig {
        anthropic: Some(HttpProviderConfig {
            base_url: "localhost:8080".into(),
            api_key: None,
        }),
        ..offline()
    };
    assert!(matches!(
        Providers::from_config(bad_url),
        Err(ConfigError::InvalidBaseUrl { .. })
    ));

    let model_clash = ProvidersConfig {
        openai_compatible: vec![OpenAiCompatibleConfig {
            id: "vllm".into(),
            http: HttpProviderConfig {
                base_url: "http://localhost:8000".into(),
                api_key: None,
            },
            models: vec![ModelInfo::new("", "gpt-4o", 1000, 100)],
        }],
        ..offline()
    };
    assert!(matches!(
        Providers::from_config(model_clash),
        Err(ConfigError::DuplicateModel(m)) if m == "gpt-4o"
    ));

    let unknown_default = ProvidersConfig {
        default_model: Some("gpt-9".into()),
        ..offline()
    };
    assert!(matches!(
        Providers::from_config(unknown_default),
        Err(ConfigError::UnknownDefaultModel(_))
    ));
}

#[test]
fn a_catalogue_file_replaces_the_embedded_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("models.json");
    std::fs::write(
        &path,
        r#"{"models": [
            {"provider": "local", "id": "local-echo", "context_window": 4096,
             "max_output_tokens": 256, "input_price_micros_per_mtok": 0,
             "output_price_micros_per_mtok": 0},
            {"provider": "anthropic", "id": "claude-new", "context_window": 200000,
             "max_output_tokens": 8192, "input_price_micros_per_mtok": null,
             "output_price_micros_per_mtok": null}
        ]}"#,
    )
    .unwrap();
    let providers = Providers::from_config(ProvidersConfig {
        catalogue_path: Some(path),
        default_model: Some("claude-new".into()),
        ..offline()
    })
    .unwrap();
    assert_eq!(providers.catalogue().models().len(), 2);
    assert!(providers.for_model("gpt-4o").is_err());
    assert_eq!(
        providers.for_model("claude-new").unwrap().0.id(),
        "anthropic"
    );
    assert_eq!(providers.default_model(), "claude-new");

    let missing = ProvidersConfig {
        catalogue_path: Some(dir.path().join("absent.json")),
        ..offline()
    };
    assert!(matches!(
        Providers::from_config(missing),
        Err(ConfigError::CatalogueRead { .. })
    ));
}

#[tokio::test]
async fn a_fake_provider_can_replace_a_registered_one() {
    let fake = FakeProvider::start().await.unwrap();
    let mut providers = Providers::from_config(offline()).unwrap();
    let anthropic =
        ai_providers::AnthropicProvider::new(fake.http_config(Some("k")), fast_retry(), timeouts())
            .unwrap();
    providers.replace(Arc::new(anthropic), true);
    assert!(providers.has_server_key("anthropic"));
    let (provider, _) = providers.for_model("claude-haiku-4-5").unwrap();
    assert_eq!(
        provider
            .complete(request("claude-haiku-4-5"))
            .await
            .unwrap()
            .text,
        "Hello there!"
    );
    assert!(matches!(
        providers.insert(Arc::new(ai_providers::LocalProvider::default()), true),
        Err(ConfigError::DuplicateProvider(_))
    ));
}
