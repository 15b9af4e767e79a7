//! The playground and introspection (issue 10): GraphiQL is served by the server itself with every
//! asset it needs (no absolute external URL in the page), graphql-js's full introspection query
//! passes the depth and complexity limits while ordinary queries keep them, and introspection can
//! be turned off.

use colloquy_tests::{Backend, TestApp, e2e, e2e_backend};
use serde_json::{Value, json};

/// `getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true,
/// schemaDescription: true, inputValueDeprecation: true })` from graphql-js 16.15.0, verbatim
/// (depth 15 through the `ofType` chain).
const INTROSPECTION_QUERY: &str = r#"
    query IntrospectionQuery {
      __schema {
        description
        queryType { name kind }
        mutationType { name kind }
        subscriptionType { name kind }
        types {
          ...FullType
        }
        directives {
          name
          description
          isRepeatable
          
          
          locations
          args(includeDeprecated: true) {
            ...InputValue
          }
        }
      }
    }

    fragment FullType on __Type {
      kind
      name
      description
      specifiedByURL
      
      fields(includeDeprecated: true) {
        name
        description
        args(includeDeprecated: true) {
          ...InputValue
        }
        type {
          ...TypeRef
        }
        isDeprecated
        deprecationReason
      }
      inputFields(includeDeprecated: true) {
        ...InputValue
      }
      interfaces {
        ...TypeRef
      }
      enumValues(includeDeprecated: true) {
        name
        description
        isDeprecated
        deprecationReason
      }
      possibleTypes {
        ...TypeRef
      }
    }

    fragment InputValue on __InputValue {
      name
      description
      type { ...TypeRef }
      defaultValue
      isDeprecated
      deprecationReason
    }

    fragment TypeRef on __Type {
      kind
      name
      ofType {
        name
        kind
        ofType {
          name
          kind
          ofType {
            name
            kind
            ofType {
              name
              kind
              ofType {
                name
                kind
                ofType {
                  name
                  kind
                  ofType {
                    name
                    kind
                    ofType {
                      name
                      kind
                      ofType {
                        name
                        kind
                      }
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
  "#;

/// Depth 16: me → conversations → edges → node → messages → … → id.
const DEEP: &str = "{ me { conversations(first: 1) { edges { node { messages(first: 1) { edges { node { conversation { messages(first: 1) { edges { node { conversation { messages(first: 1) { edges { node { id } } } } } } } } } } } } } } } }";

/// Depth 12, the default limit: allowed.
const AT_THE_LIMIT: &str = "{ me { conversations(first: 1) { edges { node { messages(first: 1) { edges { node { conversation { messages(first: 1) { edges { node { id } } } } } } } } } } } }";

/// Complexity 100 × 100 × 100 × …: over the default limit of 100,000.
const EXPENSIVE: &str = "{ me { conversations(first: 100) { edges { node { messages(first: 100) { edges { node { conversation { messages(first: 100) { edges { node { id } } } } } } } } } } } }";

/// The values of every `src="…"` and `href="…"` attribute in `html`.
fn referenced_urls(html: &str) -> Vec<String> {
    let mut urls = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        let mut rest = html;
        while let Some(start) = rest.find(attribute) {
            rest = &rest[start + attribute.len()..];
            let end = rest.find('"').expect("a closing quote");
            urls.push(rest[..end].to_owned());
            rest = &rest[end..];
        }
    }
    urls
}

fn first_error(body: &Value) -> String {
    body["errors"][0]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error, got {body:#}"))
        .to_owned()
}

e2e!(
    the_playground_page_and_its_assets_come_from_the_server,
    |app: TestApp| async move {
        let res = app
            .http
            .get(app.url("/graphql"))
            .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{:?}",
            res.headers()
        );
        let page = res.text().await.unwrap();
        for scheme in ["http://", "https://"] {
            assert!(
                !page.to_ascii_lowercase().contains(scheme),
                "the page names an absolute URL ({scheme}): {page}"
            );
        }
        // Configured for this server: POST to the endpoint, subscriptions on <endpoint>/ws, and a
        // hint for the token in the header editor.
        assert!(page.contains("createFetcher"), "{page}");
        assert!(page.contains("subscriptionUrl"), "{page}");
        assert!(page.contains("\"/ws\""), "{page}");
        assert!(page.contains("Bearer <token>"), "{page}");

        let urls = referenced_urls(&page);
        let scripts = urls.iter().filter(|u| u.ends_with(".js")).count();
        let styles = urls.iter().filter(|u| u.ends_with(".css")).count();
        assert_eq!(
            (scripts, styles),
            (3, 1),
            "React, ReactDOM, GraphiQL and its CSS: {urls:?}"
        );
        let page_url = url::Url::parse(&app.url("/graphql")).unwrap();
        for reference in &urls {
            assert!(
                !reference.starts_with("//") && !reference.contains(':'),
                "{reference} is not a relative URL"
            );
            let url = page_url.join(reference).unwrap();
            assert!(
                url.path().starts_with("/graphql/assets/"),
                "{reference} resolves to {url}"
            );
            let res = app.http.get(url.clone()).send().await.unwrap();
            assert_eq!(res.status(), 200, "{url}");
            let content_type = res.headers()["content-type"].to_str().unwrap().to_owned();
            let expected = if reference.ends_with(".js") {
                "text/javascript"
            } else {
                "text/css"
            };
            assert!(content_type.starts_with(expected), "{url}: {content_type}");
            assert_eq!(
                res.headers()["cache-control"],
                "public, max-age=31536000, immutable",
                "{url}"
            );
            let body = res.bytes().await.unwrap();
            assert!(body.len() > 1000, "{url} is {} bytes", body.len());
        }

        let res = app
            .http
            .get(app.url("/graphql/assets/graphiql.min.js"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "only the hashed names are served");
    }
);

e2e!(
    a_get_without_a_query_gets_the_page_or_a_helpful_400,
    |app: TestApp| async move {
        // curl: Accept */*.
        let res = app
            .http
            .get(app.url("/graphql"))
            .header("accept", "*/*")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.text().await.unwrap().contains("graphiql"));

        // No Accept at all.
        let res = app.http.get(app.url("/graphql")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.text().await.unwrap().contains("graphiql"));

        // A client that wants JSON learns how to send a query.
        for accept in ["application/json", "application/graphql-response+json"] {
            let res = app
                .http
                .get(app.url("/graphql"))
                .header("accept", accept)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 400, "{accept}");
            let body: Value = res.json().await.unwrap();
            let message = first_error(&body);
            assert!(
                message.contains("?query=") && message.contains("POST"),
                "{message}"
            );
            assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
        }

        // A browser that puts a query in the URL still runs it.
        let res = app
            .http
            .get(app.url("/graphql"))
            .header("accept", "text/html")
            .query(&[("query", "{ __typename }")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["data"]["__typename"], "Query", "{body}");
    }
);

e2e!(
    graphql_js_introspection_query_passes_the_limits,
    |app: TestApp| async move {
        let limits = &app.state.services.config.limits;
        assert!(
            limits.max_depth < 15,
            "the test needs a depth limit below the query's depth of 15"
        );
        let body = app.post(None, INTROSPECTION_QUERY, json!({})).await;
        assert!(body.get("errors").is_none(), "{body:#}");
        let schema = &body["data"]["__schema"];
        let types = schema["types"].as_array().expect("types");
        assert!(!types.is_empty());
        assert_eq!(schema["queryType"]["name"], "Query");
        assert!(
            types.iter().any(|t| t["name"] == "DateTime"),
            "the schema's own types are listed"
        );
        assert!(
            schema["directives"]
                .as_array()
                .is_some_and(|d| !d.is_empty()),
            "{schema:#}"
        );

        // Over GET too, as GraphiQL-like tools may send it.
        let res = app
            .http
            .get(app.url("/graphql"))
            .query(&[
                ("query", INTROSPECTION_QUERY),
                ("operationName", "IntrospectionQuery"),
            ])
            .send()
            .await
            .unwrap();
        let body: Value = res.json().await.unwrap();
        assert!(body.get("errors").is_none(), "{body:#}");
        assert!(body["data"]["__schema"]["types"].is_array());
    }
);

e2e!(
    ordinary_queries_keep_their_limits_next_to_introspection,
    |app: TestApp| async move {
        let ada = app.register("ada@example.com").await;
        let token = Some(ada.token.as_str());

        let body = app.post(token, AT_THE_LIMIT, json!({})).await;
        assert!(
            body.get("errors").is_none(),
            "depth 12 is allowed: {body:#}"
        );

        let body = app.post(token, DEEP, json!({})).await;
        assert!(first_error(&body).contains("nested too deep"), "{body}");

        // Introspection in the same document does not lift the limit on the ordinary part.
        let mixed = format!(
            "{{ __schema {{ types {{ name fields {{ type {{ ofType {{ ofType {{ name }} }} }} }} }} }} {} }}",
            &DEEP[1..DEEP.len() - 1]
        );
        let body = app.post(token, &mixed, json!({})).await;
        assert!(first_error(&body).contains("nested too deep"), "{body}");
        let mixed = format!(
            "query Q {{ ...Introspection {} }} fragment Introspection on Query {{ __type(name: \"Query\") {{ name }} }}",
            &DEEP[1..DEEP.len() - 1]
        );
        let body = app.post(token, &mixed, json!({})).await;
        assert!(first_error(&body).contains("nested too deep"), "{body}");

        // Nor the complexity limit.
        let body = app.post(token, EXPENSIVE, json!({})).await;
        assert!(first_error(&body).contains("too complex"), "{body}");
        let mixed = format!(
            "{{ __schema {{ types {{ name }} }} {} }}",
            &EXPENSIVE[1..EXPENSIVE.len() - 1]
        );
        let body = app.post(token, &mixed, json!({})).await;
        assert!(first_error(&body).contains("too complex"), "{body}");

        // A shallow ordinary query next to the full introspection query is fine.
        let combined = INTROSPECTION_QUERY.replacen(
            "__schema {",
            "me { email conversations(first: 5) { edges { node { id } } } } __schema {",
            1,
        );
        let data = app.query(token, &combined, json!({})).await;
        assert_eq!(data["me"]["email"], "ada@example.com");
        assert!(data["__schema"]["types"].is_array());

        // Introspection has a bound of its own: list fields nested three deep (graphql-js's rule).
        let body = app
            .post(
                None,
                "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }",
                json!({}),
            )
            .await;
        assert!(first_error(&body).contains("introspection depth"), "{body}");
    }
);

e2e_backend!(
    introspection_can_be_turned_off,
    |backend: Backend| async move {
        let Some(app) = TestApp::spawn_with(backend, |c| c.limits.introspection = false).await
        else {
            return;
        };
        for query in [
            INTROSPECTION_QUERY,
            "{ __schema { queryType { name } } }",
            "{ __type(name: \"Query\") { name } }",
        ] {
            let body = app.post(None, query, json!({})).await;
            assert!(
                first_error(&body).contains("Introspection is disabled"),
                "{query}: {body:#}"
            );
            assert!(
                body["data"]["__schema"].is_null() && body["data"]["__type"].is_null(),
                "{body:#}"
            );
        }
        // Ordinary queries and __typename still work, and so does the page.
        let data = app
            .query(None, "{ __typename personas { nodes { id } } }", json!({}))
            .await;
        assert_eq!(data["__typename"], "Query");
        let res = app
            .http
            .get(app.url("/graphql"))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
);
