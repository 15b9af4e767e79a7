//! Reading providers' userinfo responses into one [`ExternalProfile`].
//!
//! Mapping is lenient where providers differ harmlessly (`email_verified` as `true` or
//! `"true"`, a numeric or string id, empty strings meaning absent) and strict where it matters:
//! without a stable id there is no identity to link, so that is an error.

use serde_json::Value;

use super::ProfileMapping;

/// The signed-in user as a provider describes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalProfile {
    /// The provider's id from its configuration (`google`, `github`, ...).
    pub provider: String,
    /// The provider's stable id for the user (Google's `sub`, GitHub's numeric `id` as text);
    /// with `provider` it identifies an external identity.
    pub external_id: String,
    /// The user's email, when the provider shares one.
    pub email: Option<String>,
    /// Whether the provider vouches that the user controls `email`. Only a verified email may
    /// be used to match an existing account.
    pub email_verified: bool,
    /// Display name.
    pub name: Option<String>,
    /// Picture URL.
    pub avatar_url: Option<String>,
}

/// Maps a userinfo body. `Err` holds the reason it is unusable.
pub(crate) fn map_profile(
    provider: &str,
    mapping: ProfileMapping,
    body: &Value,
) -> Result<ExternalProfile, String> {
    if !body.is_object() {
        return Err("userinfo is not a JSON object".to_owned());
    }
    let external_id = match mapping {
        ProfileMapping::Google => id_field(body, "sub"),
        ProfileMapping::GitHub => id_field(body, "id"),
        ProfileMapping::Generic => id_field(body, "sub").or_else(|| id_field(body, "id")),
    }
    .ok_or_else(|| "userinfo has no user id".to_owned())?;

    let profile = match mapping {
        ProfileMapping::Google | ProfileMapping::Generic => ExternalProfile {
            provider: provider.to_owned(),
            external_id,
            email: string_field(body, "email"),
            email_verified: bool_field(body, "email_verified"),
            name: string_field(body, "name").or_else(|| string_field(body, "preferred_username")),
            avatar_url: string_field(body, "picture"),
        },
        ProfileMapping::GitHub => ExternalProfile {
            provider: provider.to_owned(),
            external_id,
            // `GET /user` shows the public email, which says nothing of verification; the
            // emails list, when available, settles it (see `apply_github_emails`).
            email: string_field(body, "email"),
            email_verified: false,
            name: string_field(body, "name").or_else(|| string_field(body, "login")),
            avatar_url: string_field(body, "avatar_url"),
        },
    };
    Ok(profile)
}

/// Refines a GitHub profile with `GET /user/emails`: the primary email when it is verified,
/// otherwise the public email marked verified if the list says so.
pub(crate) fn apply_github_emails(profile: &mut ExternalProfile, emails: &Value) {
    let Some(emails) = emails.as_array() else {
        return;
    };
    let verified = |entry: &&Value| entry.get("verified").and_then(Value::as_bool) == Some(true);
    let primary = emails
        .iter()
        .filter(verified)
        .find(|entry| entry.get("primary").and_then(Value::as_bool) == Some(true))
        .and_then(|entry| string_field(entry, "email"));
    if let Some(primary) = primary {
        profile.email = Some(primary);
        profile.email_verified = true;
    } else if let Some(public) = &profile.email {
        profile.email_verified = emails
            .iter()
            .filter(verified)
            .any(|entry| string_field(entry, "email").as_deref() == Some(public.as_str()));
    }
}

fn id_field(body: &Value, key: &str) -> Option<String> {
    match body.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn string_field(body: &Value, key: &str) -> Option<String> {
    body.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn bool_field(body: &Value, key: &str) -> bool {
    match body.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn google_userinfo() {
        let body = json!({
            "sub": "110169484474386276334",
            "email": "ada@example.com",
            "email_verified": true,
            "name": "Ada Lovelace",
            "picture": "https://lh3.googleusercontent.com/a/x",
            "given_name": "Ada"
        });
        let profile = map_profile("google", ProfileMapping::Google, &body).unwrap();
        assert_eq!(
            profile,
            ExternalProfile {
                provider: "google".into(),
                external_id: "110169484474386276334".into(),
                email: Some("ada@example.com".into()),
                email_verified: true,
                name: Some("Ada Lovelace".into()),
                avatar_url: Some("https://lh3.googleusercontent.com/a/x".into()),
            }
        );
    }

    #[test]
    fn email_verified_as_a_string_is_understood() {
        let body = json!({"sub": "1", "email": "a@b.c", "email_verified": "true"});
        assert!(
            map_profile("google", ProfileMapping::Google, &body)
                .unwrap()
                .email_verified
        );
        let body = json!({"sub": "1", "email": "a@b.c", "email_verified": "false"});
        assert!(
            !map_profile("google", ProfileMapping::Google, &body)
                .unwrap()
                .email_verified
        );
        let body = json!({"sub": "1", "email": "a@b.c"});
        assert!(
            !map_profile("google", ProfileMapping::Google, &body)
                .unwrap()
                .email_verified
        );
    }

    #[test]
    fn github_user_with_emails_list() {
        let body = json!({
            "login": "octocat",
            "id": 583231,
            "name": null,
            "email": "public@example.com",
            "avatar_url": "https://avatars.githubusercontent.com/u/583231?v=4"
        });
        let mut profile = map_profile("github", ProfileMapping::GitHub, &body).unwrap();
        assert_eq!(profile.external_id, "583231");
        assert_eq!(profile.name.as_deref(), Some("octocat"));
        assert_eq!(profile.email.as_deref(), Some("public@example.com"));
        assert!(!profile.email_verified);

        apply_github_emails(
            &mut profile,
            &json!([
                {"email": "public@example.com", "primary": false, "verified": true, "visibility": "public"},
                {"email": "primary@example.com", "primary": true, "verified": true, "visibility": "private"}
            ]),
        );
        assert_eq!(profile.email.as_deref(), Some("primary@example.com"));
        assert!(profile.email_verified);
    }

    #[test]
    fn github_unverified_primary_falls_back_to_a_verified_public_email() {
        let body = json!({"id": 1, "login": "x", "email": "public@example.com"});
        let mut profile = map_profile("github", ProfileMapping::GitHub, &body).unwrap();
        apply_github_emails(
            &mut profile,
            &json!([
                {"email": "primary@example.com", "primary": true, "verified": false},
                {"email": "public@example.com", "primary": false, "verified": true}
            ]),
        );
        assert_eq!(profile.email.as_deref(), Some("public@example.com"));
        assert!(profile.email_verified);

        let mut unverified = map_profile("github", ProfileMapping::GitHub, &body).unwrap();
        apply_github_emails(
            &mut unverified,
            &json!([{"email": "public@example.com", "primary": true, "verified": false}]),
        );
        assert!(!unverified.email_verified);
    }

    #[test]
    fn github_name_is_kept_when_present() {
        let body = json!({"id": 2, "login": "octocat", "name": "The Octocat"});
        let profile = map_profile("github", ProfileMapping::GitHub, &body).unwrap();
        assert_eq!(profile.name.as_deref(), Some("The Octocat"));
        assert_eq!(profile.email, None);
        assert_eq!(profile.avatar_url, None);
    }

    #[test]
    fn generic_oidc_and_plain_oauth() {
        let oidc = json!({
            "sub": "f:abc:123",
            "preferred_username": "ada",
            "email": "ada@example.org",
            "email_verified": true,
            "picture": ""
        });
        let profile = map_profile("keycloak", ProfileMapping::Generic, &oidc).unwrap();
        assert_eq!(profile.provider, "keycloak");
        assert_eq!(profile.external_id, "f:abc:123");
        assert_eq!(profile.name.as_deref(), Some("ada"));
        assert!(profile.email_verified);
        assert_eq!(profile.avatar_url, None);

        let plain = json!({"id": 42, "name": "Bob"});
        let profile = map_profile("gitea", ProfileMapping::Generic, &plain).unwrap();
        assert_eq!(profile.external_id, "42");
        assert!(!profile.email_verified);
    }

    #[test]
    fn a_profile_without_an_id_is_refused() {
        for body in [
            json!({"email": "a@b.c"}),
            json!({"sub": ""}),
            json!({"sub": null}),
            json!({"sub": true}),
            json!([]),
            json!("sub"),
        ] {
            assert!(
                map_profile("google", ProfileMapping::Google, &body).is_err(),
                "{body}"
            );
        }
        assert!(map_profile("github", ProfileMapping::GitHub, &json!({"login": "x"})).is_err());
        // Google identifies by `sub` only: a numeric `id` is not an OIDC subject.
        assert!(map_profile("google", ProfileMapping::Google, &json!({"id": 5})).is_err());
    }
}
