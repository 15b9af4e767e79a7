//! Checks every operation once, on its parsed document and variables, whatever the transport
//! (HTTP, WebSocket, SSE; after persisted queries are resolved), before anything runs:
//!
//! - **Token scopes**: a caller whose API token lacks the `write` scope may not run mutations. A
//!   document holding any mutation is refused, whichever operation it selects.
//! - **Text inputs**: no string may hold a NUL character (PostgreSQL refuses them in text, and
//!   no feature needs one), in the variables or in the document's literals. BAD_USER_INPUT names
//!   the variable or argument, so the client learns which input to fix instead of an INTERNAL.
//! - **One sign-up or sign-in per operation**: `register`, `login`, `startGuestSession`,
//!   `requestPasswordReset`, `resetPassword` and `verifyContactMethod` may appear once per
//!   operation (aliases and fragments included), so the per-request and per-attempt limits count
//!   what they are meant to count; one request cannot create 200 accounts.

use std::collections::HashSet;
use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet};
use async_graphql::{Pos, Positioned, ServerError, ServerResult, Value, Variables};

use crate::error::ApiError;
use crate::graphql::context::RequestContext;

/// Mutations that sign up or sign in: one per operation.
const ONCE_PER_OPERATION: [&str; 6] = [
    "register",
    "login",
    "startGuestSession",
    "requestPasswordReset",
    "resetPassword",
    "verifyContactMethod",
];

pub struct OperationGuard;

impl ExtensionFactory for OperationGuard {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(OperationGuard)
    }
}

fn refuse(error: ApiError, pos: Pos) -> ServerError {
    let err: async_graphql::Error = error.into();
    err.into_server_error(pos)
}

#[async_trait::async_trait]
impl Extension for OperationGuard {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let read_only = ctx
            .data_opt::<RequestContext>()
            .and_then(|r| r.caller.as_ref())
            .is_some_and(|c| !c.can_write());
        check(&document, variables, read_only)?;
        Ok(document)
    }
}

/// The checks above on a parsed document and its variables; `read_only` when the caller's token
/// lacks the write scope. Also run by the fast path ([`super::fast`]) before it executes.
pub fn check(
    document: &ExecutableDocument,
    variables: &Variables,
    read_only: bool,
) -> ServerResult<()> {
    let has_mutation = document
        .operations
        .iter()
        .any(|(_, op)| op.node.ty == OperationType::Mutation);
    if read_only && has_mutation {
        return Err(refuse(
            ApiError::Forbidden("this API token is read-only (it lacks the write scope)"),
            Pos::default(),
        ));
    }
    for (name, value) in variables.iter() {
        if holds_nul(value) {
            return Err(refuse(
                ApiError::bad_input(
                    "variables",
                    format!("${name} holds a NUL character, which no text input accepts"),
                ),
                Pos::default(),
            ));
        }
    }
    for (_, operation) in document.operations.iter() {
        let mut seen = HashSet::new();
        if let Some((argument, pos)) =
            literal_with_nul(document, &operation.node.selection_set, &mut seen)
        {
            return Err(refuse(
                ApiError::bad_input(
                    "arguments",
                    format!(
                        "argument {argument} holds a NUL character, which no text input accepts"
                    ),
                ),
                pos,
            ));
        }
        if operation.node.ty == OperationType::Mutation {
            let mut seen = HashSet::new();
            let count = sign_ins(document, &operation.node.selection_set, &mut seen);
            if count > 1 {
                return Err(refuse(
                    ApiError::bad_input(
                        "operation",
                        "sign up or sign in once per request (register, login, startGuestSession, \
                         requestPasswordReset, resetPassword, verifyContactMethod)",
                    ),
                    operation.pos,
                ));
            }
        }
    }
    Ok(())
}

fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::List(items) => items.iter().any(holds_nul),
        Value::Object(fields) => fields
            .iter()
            .any(|(k, v)| k.as_str().contains('\0') || holds_nul(v)),
        _ => false,
    }
}

/// The first argument literal in `set` (fragments followed once each) that holds a NUL.
fn literal_with_nul(
    document: &ExecutableDocument,
    set: &Positioned<SelectionSet>,
    seen: &mut HashSet<String>,
) -> Option<(String, Pos)> {
    for selection in &set.node.items {
        match &selection.node {
            Selection::Field(field) => {
                for (name, value) in &field.node.arguments {
                    // Variables are checked on their own; here they read as null.
                    let literal = value
                        .node
                        .clone()
                        .into_const_with(|_| Ok::<_, std::convert::Infallible>(Value::Null));
                    if literal.is_ok_and(|v| holds_nul(&v)) {
                        return Some((name.node.to_string(), value.pos));
                    }
                }
                if let Some(found) = literal_with_nul(document, &field.node.selection_set, seen) {
                    return Some(found);
                }
            }
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.to_string();
                if seen.insert(name.clone())
                    && let Some(fragment) = document.fragments.get(name.as_str())
                    && let Some(found) =
                        literal_with_nul(document, &fragment.node.selection_set, seen)
                {
                    return Some(found);
                }
            }
            Selection::InlineFragment(inline) => {
                if let Some(found) = literal_with_nul(document, &inline.node.selection_set, seen) {
                    return Some(found);
                }
            }
        }
    }
    None
}

/// How many sign-up or sign-in fields the root of a mutation selects (through fragments too).
fn sign_ins(
    document: &ExecutableDocument,
    set: &Positioned<SelectionSet>,
    seen: &mut HashSet<String>,
) -> usize {
    set.node
        .items
        .iter()
        .map(|selection| match &selection.node {
            Selection::Field(field) => {
                usize::from(ONCE_PER_OPERATION.contains(&field.node.name.node.as_str()))
            }
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.to_string();
                match document.fragments.get(name.as_str()) {
                    Some(fragment) if seen.insert(name.clone()) => {
                        sign_ins(document, &fragment.node.selection_set, seen)
                    }
                    _ => 0,
                }
            }
            Selection::InlineFragment(inline) => {
                sign_ins(document, &inline.node.selection_set, seen)
            }
        })
        .sum()
}
