//! The fast path for reads: a query that qualifies runs on a second schema built with **no
//! extensions**, and its answer is sent as it is when it holds no error.
//!
//! Why: async-graphql runs every field through the extension chain as soon as one extension is
//! installed (a boxed future per extension per field, a `ResolveInfo` with a registry lookup),
//! and the response-shape extension ([`super::response`]) completes the whole value tree a second
//! time after execution. On a nested read of 10,000 rows that was most of the request's CPU (the
//! profile in issue 8: `NextResolve::run` 21% inclusive, the second tree and its drop ~18%).
//! With no extension installed, async-graphql resolves each field directly.
//!
//! Why the answer is the same: the extensions do work on reads only in cases this path leaves to
//! the exact schema or that cannot happen without an error:
//! - the operation guard and the limits check the parsed document here, before execution, with the
//!   same functions ([`super::guard::check`], [`super::limits::measure`]); complexity is
//!   async-graphql's own computation in both schemas (`limit_complexity` here, the same total
//!   there, as introspection — the only part the limits treat apart — never takes this path);
//! - `@skip`/`@include` defaults are filled in before either schema sees the request;
//! - the response-shape fixes (an errored field present as null, nulls propagated to the nearest
//!   nullable parent) concern responses with errors only; the one that applies to every response,
//!   keys in selection order, is made in place by one pass over the answer
//!   ([`response::order_keys`]: it compares, and sorts only the objects async-graphql left out of
//!   order), instead of building the tree again.
//!
//! Below a root field, a read may be answered by a plan instead of field by field
//! ([`super::plan`]): only here, and only for documents without directives.
//!
//! A response with any error, or with an object in an interface-typed place (`node`), is thrown
//! away and the request runs again on the exact schema, so those read exactly as before. Only queries take this path (running one twice changes nothing);
//! mutations, subscriptions, introspection, persisted-query hashes, uploads and documents the
//! guard refuses go to the exact schema directly.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::registry::Registry;
use async_graphql::{
    IntrospectionMode, OutputType, Request, Response, SubscriptionType, Variables,
};

use super::{ColloquySchema, Mutation, Query, Subscription, guard, limits, plan, response};

/// The extension-free schema and what decides whether a request may use it.
#[derive(Clone)]
pub struct FastPath {
    pub schema: ColloquySchema,
    /// The schema's types, for ordering answers (async-graphql does not lend a schema's own).
    registry: Arc<Registry>,
    max_depth: usize,
    documents: Arc<Documents>,
}

/// What it takes to order the fast answer, or to run the request again on the exact schema (its
/// data is attached anew).
pub struct Retry {
    query: String,
    operation_name: Option<String>,
    variables: Variables,
    document: Arc<ExecutableDocument>,
}

impl Retry {
    pub fn into_request(self) -> Request {
        let mut request = Request::new(self.query).variables(self.variables);
        request.operation_name = self.operation_name;
        request
    }
}

impl FastPath {
    pub fn new(schema: ColloquySchema, max_depth: usize) -> Self {
        Self {
            schema,
            registry: Arc::new(registry()),
            max_depth,
            documents: Arc::new(Documents::default()),
        }
    }

    /// Whether the fast answer to `retry`'s request can be sent: it holds no error, and its keys
    /// could be put in selection order (no object in an abstract place). Orders them if so.
    pub fn finish(&self, retry: &Retry, response: &mut Response) -> bool {
        response.errors.is_empty()
            && response::order_keys(
                &self.registry,
                &retry.document,
                &retry.variables,
                retry.operation_name.as_deref(),
                &mut response.data,
            )
    }

    /// Whether `request` (its query parsed as `document`) may run on the fast schema; if so it
    /// is prepared for it (variable defaults filled, the parsed document kept so it is not parsed
    /// again) and the copy for a second run is returned.
    pub fn admit(
        &self,
        request: &mut Request,
        document: Option<Arc<ExecutableDocument>>,
    ) -> Option<Retry> {
        if request.query.is_empty()
            || !request.uploads.is_empty()
            || request.extensions.contains_key("persistedQuery")
        {
            return None;
        }
        let document = document?;
        response::fill_variable_defaults(request);
        if !self.qualifies(
            &document,
            request.operation_name.as_deref(),
            &request.variables,
        ) {
            return None;
        }
        let retry = Retry {
            query: request.query.clone(),
            operation_name: request.operation_name.clone(),
            variables: request.variables.clone(),
            document: Arc::clone(&document),
        };
        if plan::allowed(&document) {
            request.data.insert(plan::PlanAllowed);
        }
        // async-graphql takes the document by value.
        request.set_parsed_query(ExecutableDocument::clone(&document));
        Some(retry)
    }

    fn qualifies(
        &self,
        document: &ExecutableDocument,
        operation_name: Option<&str>,
        variables: &Variables,
    ) -> bool {
        // Every operation a query: the token-scope rule looks at the whole document. A named
        // operation is parsed into `Multiple` even alone; it needs no `operationName` then.
        let all_queries = match &document.operations {
            DocumentOperations::Single(op) => op.node.ty == OperationType::Query,
            DocumentOperations::Multiple(ops) => {
                (operation_name.is_some() || ops.len() == 1)
                    && ops.values().all(|op| op.node.ty == OperationType::Query)
            }
        };
        if !all_queries {
            return false;
        }
        let measure = limits::measure(document);
        !measure.selects_introspection
            && measure.depth <= self.max_depth
            && guard::check(document, variables, false).is_ok()
    }
}

impl FastPath {
    /// `query` parsed, or `None` when it does not parse (the executor reports why). Documents
    /// are kept by their text: clients send the same few documents over and over, and parsing
    /// one again costs more than copying it (the small nested read's profile: parsing 3% of the
    /// server's CPU, more than the rest of the fast path's checks together).
    pub fn parse(&self, query: &str) -> Option<Arc<ExecutableDocument>> {
        self.documents.parse(query)
    }
}

/// Parsed documents by their text, at most [`Documents::CAPACITY`] of at most
/// [`Documents::MAX_TEXT`] bytes each (when full it starts again empty: simple, and bounded
/// against a client sending ever new documents).
#[derive(Default)]
struct Documents {
    parsed: Mutex<HashMap<Box<str>, Arc<ExecutableDocument>>>,
}

impl Documents {
    const CAPACITY: usize = 512;
    const MAX_TEXT: usize = 16 * 1024;

    fn parse(&self, query: &str) -> Option<Arc<ExecutableDocument>> {
        let lock = || self.parsed.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(document) = lock().get(query) {
            return Some(Arc::clone(document));
        }
        let document = Arc::new(async_graphql::parser::parse_query(query).ok()?);
        if query.len() <= Self::MAX_TEXT {
            let mut parsed = lock();
            if parsed.len() >= Self::CAPACITY {
                parsed.clear();
            }
            parsed.insert(query.into(), Arc::clone(&document));
        }
        Some(document)
    }
}

/// The types of the schema's roots and everything they reach, as async-graphql registers them.
fn registry() -> Registry {
    let mut registry = Registry {
        types: Default::default(),
        directives: Default::default(),
        implements: Default::default(),
        query_type: Query::type_name().to_string(),
        mutation_type: Some(Mutation::type_name().to_string()),
        subscription_type: Some(Subscription::type_name().to_string()),
        introspection_mode: IntrospectionMode::Enabled,
        enable_federation: false,
        federation_subscription: false,
        ignore_name_conflicts: Default::default(),
        enable_suggestions: true,
    };
    Query::create_type_info(&mut registry);
    Mutation::create_type_info(&mut registry);
    Subscription::create_type_info(&mut registry);
    registry
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_is_parsed_once_per_text_and_the_cache_stays_bounded() {
        let documents = Documents::default();
        let first = documents.parse("{ me { id } }").unwrap();
        let again = documents.parse("{ me { id } }").unwrap();
        assert!(
            Arc::ptr_eq(&first, &again),
            "the same text is not parsed twice"
        );
        let other = documents.parse("{ me { name } }").unwrap();
        assert!(!Arc::ptr_eq(&first, &other));

        assert!(
            documents.parse("{ me { ").is_none(),
            "a syntax error is not a document"
        );
        assert_eq!(documents.parsed.lock().unwrap().len(), 2, "nor is it kept");

        let long = format!("{{ me {{ {} }} }}", "id ".repeat(Documents::MAX_TEXT / 3));
        assert!(documents.parse(&long).is_some());
        assert_eq!(
            documents.parsed.lock().unwrap().len(),
            2,
            "a long text is not kept"
        );

        for i in 0..Documents::CAPACITY + 10 {
            documents
                .parse(&format!("{{ me {{ a{i}: id }} }}"))
                .unwrap();
        }
        assert!(documents.parsed.lock().unwrap().len() <= Documents::CAPACITY);
    }
}
