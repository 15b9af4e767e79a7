//! GraphQL over HTTP as the specification and graphql-http's server audit check it: every audit
//! of `serverAudits` (graphql-http `src/audits/server.ts`; MUST, SHOULD and MAY) is a row of one
//! table, with its audit id, plus the rows Colloquy adds (406, 415, limits, multipart).

use colloquy_tests::{TestApp, e2e};
use reqwest::Method;
use serde_json::{Value, json};

const GQL: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

/// What a row expects of the status.
#[derive(Debug, Clone, Copy)]
enum Status {
    Is(u16),
    Between(u16, u16),
}

/// What a row expects of the body.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Body {
    Any,
    /// A GraphQL response without `errors`.
    NoErrors,
    /// A GraphQL response with `errors` and no `data` key at all.
    ErrorsWithoutData,
    /// A GraphQL response with `errors` (and any `data`).
    Errors,
}

struct Case {
    id: &'static str,
    what: &'static str,
    method: Method,
    /// URL parameters (GET).
    params: &'static [(&'static str, &'static str)],
    content_type: Option<&'static str>,
    accept: Option<&'static str>,
    body: Option<String>,
    status: Status,
    /// A substring the response's Content-Type must hold.
    media: Option<&'static str>,
    expect: Body,
}

fn post(id: &'static str, what: &'static str, accept: Option<&'static str>, body: Value) -> Case {
    Case {
        id,
        what,
        method: Method::POST,
        params: &[],
        content_type: Some(JSON),
        accept,
        body: Some(body.to_string()),
        status: Status::Is(200),
        media: None,
        expect: Body::Any,
    }
}

fn get(
    id: &'static str,
    what: &'static str,
    accept: Option<&'static str>,
    params: &'static [(&'static str, &'static str)],
) -> Case {
    Case {
        id,
        what,
        method: Method::GET,
        params,
        content_type: None,
        accept,
        body: None,
        status: Status::Is(200),
        media: None,
        expect: Body::Any,
    }
}

impl Case {
    fn status(mut self, status: Status) -> Self {
        self.status = status;
        self
    }
    fn media(mut self, media: &'static str) -> Self {
        self.media = Some(media);
        self
    }
    fn expect(mut self, expect: Body) -> Self {
        self.expect = expect;
        self
    }
    fn content_type(mut self, content_type: Option<&'static str>) -> Self {
        self.content_type = content_type;
        self
    }
    fn raw_body(mut self, body: Option<&str>) -> Self {
        self.body = body.map(str::to_owned);
        self
    }
}

fn typename() -> Value {
    json!({ "query": "{ __typename }" })
}

/// A multipart GraphQL request (the multipart request spec) without files.
fn multipart_body() -> String {
    let ops = json!({ "query": "{ __typename }" }).to_string();
    format!(
        "--XyZ\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{ops}\r\n\
         --XyZ\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n{{}}\r\n--XyZ--\r\n"
    )
}

fn cases() -> Vec<Case> {
    use Body::*;
    use Status::*;
    let utf8 = json!({ "query": "{ __type(name: \"Run🏃Swim🏊\") { name } }" });
    let type_query = "query Type($name: String!) { __type(name: $name) { name } }";
    let validation = json!({ "query": "{ 8f31403dfe404bccbb0e835f2629c6a7 }" });
    let coercion = json!({ "query": "query CoerceFailure($id: ID!){ __typename }", "variables": { "id": null } });
    let too_deep = json!({ "query": "{ me { conversations(first: 1) { edges { node { messages(first: 1) { edges { node { conversation { messages(first: 1) { edges { node { conversation { messages(first: 1) { edges { node { id } } } } } } } } } } } } } } } }" });
    let too_complex = json!({ "query": "{ me { conversations(first: 100) { edges { node { messages(first: 100) { edges { node { conversation { messages(first: 100) { edges { node { id } } } } } } } } } } } }" });
    let mut cases = vec![
        // Media types
        post(
            "22EB",
            "SHOULD accept application/graphql-response+json and match the content-type",
            Some(GQL),
            typename(),
        )
        .media(GQL)
        .expect(NoErrors),
        post(
            "4655",
            "MUST accept application/json and match the content-type",
            Some(JSON),
            typename(),
        )
        .media(JSON)
        .expect(NoErrors),
        post(
            "47DE",
            "SHOULD accept */* and use application/json for the content-type",
            Some("*/*"),
            typename(),
        )
        .media(JSON),
        post(
            "80D8",
            "SHOULD assume application/json content-type when accept is missing",
            None,
            typename(),
        )
        .media(JSON),
        post(
            "82A3",
            "MUST use utf-8 encoding when responding",
            None,
            typename(),
        )
        .media("charset=utf-8"),
        post("BF61", "MUST accept utf-8 encoded request", None, utf8)
            .content_type(Some("application/json; charset=utf-8"))
            .expect(NoErrors),
        post(
            "78D5",
            "MUST assume utf-8 in request if encoding is unspecified",
            None,
            typename(),
        ),
        // Request
        post("2C94", "MUST accept POST requests", None, typename()).expect(NoErrors),
        get(
            "5A70",
            "MAY accept application/x-www-form-urlencoded formatted GET requests",
            None,
            &[("query", "{ __typename }")],
        )
        .expect(NoErrors),
        get(
            "9C48",
            "MAY NOT allow executing mutations on GET requests",
            Some(GQL),
            &[("query", "mutation { __typename }")],
        )
        .status(Between(400, 499)),
        post(
            "9ABE",
            "SHOULD respond with 4xx status code if content-type is not supplied on POST requests",
            None,
            typename(),
        )
        .content_type(None)
        .status(Between(400, 499)),
        post(
            "03D4",
            "MUST accept application/json POST requests",
            None,
            typename(),
        )
        .expect(NoErrors),
        post(
            "A5BF",
            "MAY use 400 status code when request body is missing on POST",
            None,
            typename(),
        )
        .raw_body(None)
        .status(Is(400)),
        // Request parameters
        post(
            "423L",
            "MAY use 400 status code on missing {query} parameter",
            Some(GQL),
            json!({ "notquery": "{ __typename }" }),
        )
        .status(Is(400)),
        post(
            "LKJ0",
            "MAY use 400 status code on object {query} parameter",
            None,
            json!({ "query": { "obj": "ect" } }),
        )
        .status(Is(400)),
        post(
            "LKJ1",
            "MAY use 400 status code on number {query} parameter",
            None,
            json!({ "query": 0 }),
        )
        .status(Is(400)),
        post(
            "LKJ2",
            "MAY use 400 status code on boolean {query} parameter",
            None,
            json!({ "query": false }),
        )
        .status(Is(400)),
        post(
            "LKJ3",
            "MAY use 400 status code on array {query} parameter",
            None,
            json!({ "query": ["array"] }),
        )
        .status(Is(400)),
        post(
            "34A2",
            "SHOULD allow string {query} parameter when accepting application/graphql-response+json",
            Some(GQL),
            typename(),
        ),
        post(
            "13EE",
            "MUST allow string {query} parameter when accepting application/json",
            Some(JSON),
            typename(),
        )
        .expect(NoErrors),
        post(
            "6C00",
            "MAY use 400 status code on object {operationName} parameter",
            None,
            json!({ "operationName": { "obj": "ect" }, "query": "{ __typename }" }),
        )
        .status(Is(400)),
        post(
            "6C01",
            "MAY use 400 status code on number {operationName} parameter",
            None,
            json!({ "operationName": 0, "query": "{ __typename }" }),
        )
        .status(Is(400)),
        post(
            "6C02",
            "MAY use 400 status code on boolean {operationName} parameter",
            None,
            json!({ "operationName": false, "query": "{ __typename }" }),
        )
        .status(Is(400)),
        post(
            "6C03",
            "MAY use 400 status code on array {operationName} parameter",
            None,
            json!({ "operationName": ["array"], "query": "{ __typename }" }),
        )
        .status(Is(400)),
        post(
            "8161",
            "SHOULD allow string {operationName} parameter when accepting application/graphql-response+json",
            Some(GQL),
            json!({ "operationName": "Query", "query": "query Query { __typename }" }),
        ),
        post(
            "B8B3",
            "MUST allow string {operationName} parameter when accepting application/json",
            Some(JSON),
            json!({ "operationName": "Query", "query": "query Query { __typename }" }),
        )
        .expect(NoErrors),
    ];
    for (index, parameter) in ["variables", "operationName", "extensions"]
        .iter()
        .enumerate()
    {
        let mut body = typename();
        body[*parameter] = Value::Null;
        let ids = [["94B0", "0220"], ["94B1", "0221"], ["94B2", "0222"]][index];
        cases.push(
            post(
                ids[0],
                "SHOULD allow null {parameter} when accepting application/graphql-response+json",
                Some(GQL),
                body.clone(),
            )
            .expect(NoErrors),
        );
        cases.push(
            post(
                ids[1],
                "MUST allow null {parameter} when accepting application/json",
                Some(JSON),
                body,
            )
            .expect(NoErrors),
        );
    }
    for (index, invalid) in [json!("string"), json!(0), json!(false), json!(["array"])]
        .into_iter()
        .enumerate()
    {
        let mut variables = typename();
        variables["variables"] = invalid.clone();
        cases.push(
            post(
                ["4760", "4761", "4762", "4763"][index],
                "MAY use 400 status code on invalid {variables} parameter",
                None,
                variables,
            )
            .status(Is(400)),
        );
        let mut extensions = typename();
        extensions["extensions"] = invalid;
        cases.push(
            post(
                ["58B0", "58B1", "58B2", "58B3"][index],
                "MAY use 400 status code on invalid {extensions} parameter",
                None,
                extensions,
            )
            .status(Is(400)),
        );
    }
    cases.extend([
        post("2EA1", "SHOULD allow map {variables} parameter when accepting application/graphql-response+json", Some(GQL), json!({ "query": type_query, "variables": { "name": "sometype" } })),
        post("28B9", "MUST allow map {variables} parameter when accepting application/json", Some(JSON), json!({ "query": type_query, "variables": { "name": "sometype" } })).expect(NoErrors),
        get("D6D5", "MAY allow URL-encoded JSON string {variables} parameter in GETs when accepting application/graphql-response+json", Some(GQL), &[("query", "query Type($name: String!) { __type(name: $name) { name } }"), ("variables", "{\"name\":\"sometype\"}")]).expect(NoErrors),
        get("6A70", "MAY allow URL-encoded JSON string {variables} parameter in GETs when accepting application/json", Some(JSON), &[("query", "query Type($name: String!) { __type(name: $name) { name } }"), ("variables", "{\"name\":\"sometype\"}")]).expect(NoErrors),
        post("428F", "SHOULD allow map {extensions} parameter when accepting application/graphql-response+json", Some(GQL), json!({ "query": "{ __typename }", "extensions": { "some": "value" } })),
        post("1B7A", "MUST allow map {extensions} parameter when accepting application/json", Some(JSON), json!({ "query": "{ __typename }", "extensions": { "some": "value" } })).expect(NoErrors),
        post("B6DC", "MAY use 2xx, 4xx, or 5xx status codes on JSON parsing failure when accepting application/json", Some(JSON), Value::Null).raw_body(Some("{ \"not a JSON")).status(Between(200, 599)),
        post("BCF8", "SHOULD use 400 status code on JSON parsing failure when accepting application/json", Some(JSON), Value::Null).raw_body(Some("{ \"not a JSON")).status(Is(400)),
        post("B7N8", "SHOULD use 400 status code on JSON parsing failure when accepting application/graphql-response+json", Some(GQL), Value::Null).raw_body(Some("{ \"not a JSON")).status(Is(400)),
        post("8764", "MAY use 4xx or 5xx status codes if parameters are invalid", None, json!({ "qeury": "{ __typename }" })).status(Between(400, 599)),
        post("3E3A", "MAY use 400 status code if parameters are invalid", None, json!({ "qeury": "{ __typename }" })).status(Is(400)),
        // Response, application/json: request errors stay 200.
        post("572B", "SHOULD use 200 status code on document parsing failure when accepting application/json", Some(JSON), json!({ "query": "{" })).media(JSON).expect(Errors),
        post("FDE2", "SHOULD use 200 status code on document validation failure when accepting application/json", Some(JSON), validation.clone()).media(JSON).expect(Errors),
        post("7B9B", "SHOULD use a status code of 200 on variable coercion failure when accepting application/json", Some(JSON), coercion.clone()).expect(Errors),
        // Response, application/graphql-response+json: request errors are 400 without data.
        post("865D", "SHOULD use 4xx or 5xx status codes on document parsing failure when accepting application/graphql-response+json", Some(GQL), json!({ "query": "{" })).status(Between(400, 599)),
        post("556A", "SHOULD use 400 status code on document parsing failure when accepting application/graphql-response+json", Some(GQL), json!({ "query": "{" })).status(Is(400)).media(GQL),
        post("D586", "SHOULD not contain the data entry on document parsing failure when accepting application/graphql-response+json", Some(GQL), json!({ "query": "{" })).status(Is(400)).expect(ErrorsWithoutData),
        post("51FE", "SHOULD use 4xx or 5xx status codes on document validation failure when accepting application/graphql-response+json", Some(GQL), validation.clone()).status(Between(400, 599)),
        post("74FF", "SHOULD use 400 status code on document validation failure when accepting application/graphql-response+json", Some(GQL), validation.clone()).status(Is(400)),
        post("5E5B", "SHOULD not contain the data entry on document validation failure when accepting application/graphql-response+json", Some(GQL), validation).status(Is(400)).expect(ErrorsWithoutData),
        post("86EE", "SHOULD use a status code of 400 on variable coercion failure when accepting application/graphql-response+json", Some(GQL), coercion).status(Is(400)).expect(ErrorsWithoutData),
        // Colloquy's own rows.
        post("cq-406", "an Accept that allows no JSON media type is 406", Some("text/xml"), typename()).status(Is(406)),
        get("cq-406-get", "406 over GET too", Some("text/xml"), &[("query", "{ __typename }")]).status(Is(406)),
        get("cq-browser", "a browser's text/html is answered with application/json", Some("text/html"), &[("query", "{ __typename }")]).media(JSON).expect(NoErrors),
        post("cq-accept-both", "the GraphQL media type when both are listed", Some("application/graphql-response+json, application/json;q=0.9"), typename()).media(GQL).expect(NoErrors),
        post("cq-415-text", "text/plain POST bodies are refused", None, typename()).content_type(Some("text/plain")).status(Is(415)),
        post("cq-415-form", "form POST bodies are refused", None, typename()).content_type(Some("application/x-www-form-urlencoded")).status(Is(415)),
        post("cq-415-charset", "a charset other than utf-8 is refused", None, typename()).content_type(Some("application/json; charset=latin1")).status(Is(415)),
        post("cq-batch", "a JSON array is not a GraphQL request", None, json!([{ "query": "{ __typename }" }])).status(Is(400)),
        post("cq-depth-gql", "a document over the depth limit is a request error: 400 without data", Some(GQL), too_deep.clone()).status(Is(400)).expect(ErrorsWithoutData),
        post("cq-depth-json", "... and 200 with application/json", Some(JSON), too_deep).status(Is(200)).expect(Errors),
        post("cq-complexity-gql", "a document over the complexity limit is 400 without data", Some(GQL), too_complex).status(Is(400)).expect(ErrorsWithoutData),
        post("cq-missing-variable", "a required variable that is missing is a request error", Some(GQL), json!({ "query": "query($id: ID!) { persona(id: $id) { id } }" })).status(Is(400)).expect(ErrorsWithoutData),
        post("cq-null-variable", "... or null", Some(GQL), json!({ "query": "query($id: ID!) { persona(id: $id) { id } }", "variables": { "id": null } })).status(Is(400)).expect(ErrorsWithoutData),
        post("cq-wrong-variable", "a variable of the wrong type is a request error", Some(GQL), json!({ "query": "query($b: Boolean!) { __type(name: \"Query\") { fields(includeDeprecated: $b) { name } } }", "variables": { "b": "many" } })).status(Is(400)).expect(ErrorsWithoutData),
        post("cq-field-error", "a field error (UNAUTHENTICATED) stays 200 with data", Some(GQL), json!({ "query": "{ __typename mySessions { id } }" })).status(Is(200)).expect(Errors),
        post("cq-multipart", "the GraphQL multipart request is accepted", None, Value::Null).content_type(Some("multipart/form-data; boundary=XyZ")).raw_body(Some(&multipart_body())).expect(NoErrors),
    ]);
    cases
}

/// One HTTP/1.1 exchange over a plain socket, so a row sends exactly its headers (reqwest always
/// adds `Accept: */*`): status, lowercase headers, body.
async fn exchange(app: &TestApp, case: &Case) -> (u16, Vec<(String, String)>, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut target = "/graphql".to_owned();
    if !case.params.is_empty() {
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(case.params)
            .finish();
        target = format!("{target}?{query}");
    }
    let mut head = format!(
        "{} {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
        case.method, app.addr
    );
    if let Some(ct) = case.content_type {
        head.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    if let Some(accept) = case.accept {
        head.push_str(&format!("Accept: {accept}\r\n"));
    }
    let body = case.body.clone().unwrap_or_default();
    if case.body.is_some() || case.method == Method::POST {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut socket = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    socket.write_all(head.as_bytes()).await.expect("write head");
    socket.write_all(body.as_bytes()).await.expect("write body");
    let mut raw = Vec::new();
    socket.read_to_end(&mut raw).await.expect("read response");
    let raw = String::from_utf8(raw).expect("a UTF-8 response");
    let (head, body) = raw.split_once("\r\n\r\n").expect("a complete response");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (status, headers, body)
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
    out
}

e2e!(graphql_over_http_audit, |app: TestApp| async move {
    let mut failures = Vec::new();
    let cases = cases();
    for case in &cases {
        let (status, headers, text) = exchange(&app, case).await;
        let media = headers
            .iter()
            .find(|(k, _)| k == "content-type")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let body: Option<Value> = serde_json::from_str(&text).ok();
        let mut problems = Vec::new();
        match case.status {
            Status::Is(s) if s != status => problems.push(format!("status {status}, expected {s}")),
            Status::Between(lo, hi) if !(lo..=hi).contains(&status) => {
                problems.push(format!("status {status}, expected {lo}..={hi}"));
            }
            _ => {}
        }
        if let Some(m) = case.media
            && !media.contains(m)
        {
            problems.push(format!("content-type {media:?}, expected {m}"));
        }
        let has = |key: &str| body.as_ref().is_some_and(|b| b.get(key).is_some());
        match case.expect {
            Body::Any => {}
            Body::NoErrors if has("errors") || !has("data") => {
                problems.push("expected data and no errors".into())
            }
            Body::Errors if !has("errors") => problems.push("expected errors".into()),
            Body::ErrorsWithoutData if !has("errors") || has("data") => {
                problems.push("expected errors and no data key".into());
            }
            _ => {}
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{} {}: {} — body {text}",
                case.id,
                case.what,
                problems.join("; ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
});

e2e!(
    get_keeps_working_and_refuses_mutations,
    |app: TestApp| async move {
        let res = app
            .http
            .get(app.url("/graphql"))
            .query(&[("query", "{ personas { nodes { id } } }")])
            .header("accept", GQL)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(GQL)
        );
        let res = app
            .http
            .get(app.url("/graphql"))
            .query(&[("query", "mutation { logout { revokedSessionId } }")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 405);
        assert_eq!(res.headers()["allow"], "POST");
        // Persisted queries still travel without a query.
        let hash = "5c5fa53c2cd9b9cbd6d5fdbdbcc6d0cae9e77ded2f3cf6bc1f37b6a4ae37a431";
        let res: Value = app
        .http
        .post(app.url("/graphql"))
        .json(&json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        assert_eq!(
            res["errors"][0]["message"], "PersistedQueryNotFound",
            "{res}"
        );
    }
);
