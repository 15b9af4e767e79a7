//! The GraphiQL playground, served entirely by Colloquy: the page is ours, and GraphiQL, React
//! and ReactDOM are vendored under `crates/gateway/assets/graphiql/` (see its README for versions
//! and `refresh.sh`) and built into the binary, so the playground works without any network.
//!
//! - [`page`]: the HTML, which refers only to relative URLs: the assets below, the GraphQL
//!   endpoint it was served from (POST) and `<endpoint>/ws` for subscriptions
//!   (graphql-transport-ws, through the `graphql-ws` client built into GraphiQL's bundle).
//! - [`asset`]: `GET /graphql/assets/{name}`; each name carries a hash of the file's content, so
//!   the files are cached for a year (`immutable`) and a refreshed bundle gets new URLs.
//! - [`answer_get_without_query`]: what `GET /graphql` without a GraphQL request in its URL
//!   answers: the page for browsers and curl, a 400 saying how to send a query for clients that
//!   asked for JSON.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// Where the assets are served, relative to the page (served at `/graphql`, so `graphql/assets/x`
/// resolves to `/graphql/assets/x`, and still works behind a proxy that adds a path prefix).
const ASSETS_RELATIVE: &str = "graphql/assets";

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// The vendored files: file name, content, content type.
const FILES: [(&str, &[u8], &str); 4] = [
    (
        "react.production.min.js",
        include_bytes!("../../assets/graphiql/react.production.min.js"),
        JS,
    ),
    (
        "react-dom.production.min.js",
        include_bytes!("../../assets/graphiql/react-dom.production.min.js"),
        JS,
    ),
    (
        "graphiql.min.js",
        include_bytes!("../../assets/graphiql/graphiql.min.js"),
        JS,
    ),
    (
        "graphiql.min.css",
        include_bytes!("../../assets/graphiql/graphiql.min.css"),
        CSS,
    ),
];

struct Asset {
    file: &'static str,
    /// The name in the URL: the file name with a content hash before its extension,
    /// e.g. `graphiql.min.3f0c…9a.js`.
    name: String,
    bytes: &'static [u8],
    content_type: &'static str,
}

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|&(file, bytes, content_type)| Asset {
            file,
            name: hashed_name(file, bytes),
            bytes,
            content_type,
        })
        .collect()
});

/// `stem.ext` → `stem.<16 hex digits of FNV-1a 64 of the content>.ext`. Not cryptographic: it only
/// has to change when the content does.
fn hashed_name(file: &str, bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    match file.rsplit_once('.') {
        Some((stem, ext)) => format!("{stem}.{hash:016x}.{ext}"),
        None => format!("{file}.{hash:016x}"),
    }
}

fn asset_url(file: &str) -> String {
    let name = ASSETS
        .iter()
        .find(|a| a.file == file)
        .map_or(file, |a| a.name.as_str());
    format!("{ASSETS_RELATIVE}/{name}")
}

/// The query editor's first content: how to sign in and send the token.
const DEFAULT_QUERY: &str = r#"# Colloquy's GraphiQL, served by Colloquy: works offline.
#
# Run Login (demo accounts come from the seeds), copy
# the token and put it in place of <token> in the
# Headers tab below. Until then that placeholder header
# is left out and you query anonymously. Subscriptions
# use graphql-transport-ws with the same header.

query Personas {
  personas {
    nodes {
      id
      name
    }
  }
}

mutation Login {
  login(input: {
    email: "user@vibebot.local"
    password: "password123"
  }) {
    token
    user { id name role }
  }
}
"#;

const DEFAULT_HEADERS: &str = "{\n  \"Authorization\": \"Bearer <token>\"\n}";

static PAGE: LazyLock<String> = LazyLock::new(|| {
    let config = serde_json::json!({
        "defaultQuery": DEFAULT_QUERY,
        "defaultHeaders": DEFAULT_HEADERS,
    });
    // `</` cannot end the script element early when escaped; JSON keeps its meaning.
    let config = config.to_string().replace("</", "<\\/");
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Colloquy · GraphiQL</title>
<link rel="stylesheet" href="{css}">
<style>
  html, body {{ height: 100%; margin: 0; }}
  #graphiql {{ height: 100vh; }}
  #graphiql > .loading {{ font: 16px system-ui, sans-serif; padding: 2em; }}
</style>
</head>
<body>
<div id="graphiql"><p class="loading">Loading GraphiQL…</p></div>
<script src="{react}"></script>
<script src="{react_dom}"></script>
<script src="{graphiql}"></script>
<script>
(function () {{
  "use strict";
  var config = {config};
  // This page is served at the GraphQL endpoint itself: queries and mutations are POSTed to it,
  // subscriptions go over graphql-transport-ws at <endpoint>/ws on the same host.
  var endpoint = window.location.pathname;
  var wsUrl = (window.location.protocol === "https:" ? "wss:" : "ws:") + "//" +
    window.location.host + endpoint.replace(/\/$/, "") + "/ws";
  var base = GraphiQL.createFetcher({{ url: endpoint, subscriptionUrl: wsUrl }});
  // The header editor starts with a placeholder token; it is left out until it is replaced,
  // so that the schema loads and anonymous queries work on first open.
  function fetcher(params, options) {{
    var headers = {{}};
    var given = (options && options.headers) || {{}};
    Object.keys(given).forEach(function (name) {{
      if (String(given[name]).indexOf("<token>") === -1) headers[name] = given[name];
    }});
    return base(params, Object.assign({{}}, options, {{ headers: headers }}));
  }}
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(React.createElement(GraphiQL, {{
    fetcher: fetcher,
    defaultQuery: config.defaultQuery,
    defaultHeaders: config.defaultHeaders,
    defaultEditorToolsVisibility: "headers",
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: false
  }}));
}})();
</script>
</body>
</html>
"#,
        css = asset_url("graphiql.min.css"),
        react = asset_url("react.production.min.js"),
        react_dom = asset_url("react-dom.production.min.js"),
        graphiql = asset_url("graphiql.min.js"),
    )
});

/// The playground page.
pub fn page() -> Html<&'static str> {
    Html(PAGE.as_str())
}

/// `GET /graphql/assets/{name}`: a vendored file with its content type, cached for a year; 404
/// for any other name.
pub async fn asset(Path(name): Path<String>) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == name) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        asset.bytes,
    )
        .into_response()
}

/// For `GET /graphql`: when the URL holds no GraphQL request (neither `query` nor `extensions`,
/// which carries a persisted query's hash), the answer to give instead of running one: the
/// playground for browsers, curl and anything else that accepts HTML or says nothing, and a 400
/// that says how to send a query for clients that asked only for JSON. `None` when the URL holds
/// a request to run.
pub fn answer_get_without_query(
    headers: &HeaderMap,
    query_string: Option<&str>,
) -> Option<Response> {
    let holds_request = url::form_urlencoded::parse(query_string.unwrap_or_default().as_bytes())
        .any(|(key, _)| key == "query" || key == "extensions");
    if holds_request {
        return None;
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let wants_page = accept.trim().is_empty()
        || accept.contains("text/html")
        || accept.contains("*/*")
        || accept.contains("text/*");
    if wants_page {
        return Some(page().into_response());
    }
    let body = serde_json::json!({ "errors": [ {
        "message": "GET /graphql needs a GraphQL request in its URL, e.g. \
                    /graphql?query=%7B__typename%7D (with optional operationName and variables \
                    as JSON), or POST {\"query\": \"...\"} as application/json. Open /graphql in \
                    a browser for the GraphiQL playground.",
        "extensions": { "code": "BAD_USER_INPUT", "field": "query" },
    } ] });
    Some((StatusCode::BAD_REQUEST, axum::Json(body)).into_response())
}
