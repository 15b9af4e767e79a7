//! Enforces API-token scopes on operation type: a caller whose token lacks the `write` scope may
//! not run mutations. Checked on the parsed document (after persisted queries are resolved), so
//! no transport can slip a mutation past it. A document holding any mutation is refused, whichever
//! operation it selects.

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, OperationType};
use async_graphql::{ServerResult, Variables};

use crate::error::ApiError;
use crate::graphql::context::RequestContext;

pub struct TokenScopes;

impl ExtensionFactory for TokenScopes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(TokenScopes)
    }
}

#[async_trait::async_trait]
impl Extension for TokenScopes {
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
        let has_mutation = document
            .operations
            .iter()
            .any(|(_, op)| op.node.ty == OperationType::Mutation);
        if read_only && has_mutation {
            let err: async_graphql::Error =
                ApiError::Forbidden("this API token is read-only (it lacks the write scope)")
                    .into();
            return Err(err.into_server_error(async_graphql::Pos::default()));
        }
        Ok(document)
    }
}
