//! Depth and complexity limits that leave introspection alone.
//!
//! async-graphql's own `limit_depth` and `limit_complexity` count every field of the document, so
//! graphql-js's standard introspection query (depth 15, through `ofType { ofType { ... } }`) was
//! refused by the default depth limit of 12: no schema in GraphiQL, no code generation. This
//! extension enforces both limits on the ordinary part of the document only:
//!
//! - Introspection is what sits under a root field whose name starts with `__` (`__schema`,
//!   `__type`), at the root of an operation directly or through fragments.
//! - **Depth** is measured here on the parsed document, as async-graphql measures it (fragments
//!   inlined, `__typename` not counted, the deepest of all operations), but without the
//!   introspection subtrees.
//! - **Complexity** stays async-graphql's (so each field's own formula, such as a connection's
//!   `first × child`, keeps working): the total it computes in validation, less the introspection
//!   subtrees, which it counts one per field (their fields have no formula of their own) and which
//!   add up at the root, so the subtraction is exact.
//! - Introspection gets the bound graphql-js gives it instead (`MaxIntrospectionDepthRule`):
//!   `fields`, `interfaces`, `possibleTypes` and `inputFields` may not nest three deep below
//!   `__schema`/`__type`, which is what makes a nested introspection query expensive.
//!
//! - With introspection off (`COLLOQUY_INTROSPECTION=false`), a document that selects `__schema`
//!   or `__type` is refused with an error, where async-graphql's `disable_introspection` alone
//!   would answer a silent `null`.
//!
//! The schema must be built without `limit_depth`/`limit_complexity`; the limits are checked once
//! validation has passed, so a document with errors reports those first.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextValidation,
};
use async_graphql::parser::types::{
    ExecutableDocument, FragmentDefinition, Selection, SelectionSet,
};
use async_graphql::{Name, Positioned, ServerError, ServerResult, ValidationResult, Variables};

/// How deep `fields`/`interfaces`/`possibleTypes`/`inputFields` may nest under introspection
/// (graphql-js: `MAX_LISTS_DEPTH`, refused from 3 on).
const MAX_INTROSPECTION_LISTS_DEPTH: usize = 3;

/// The extension factory: add it to the schema with the configured limits.
pub struct QueryLimits {
    pub max_depth: usize,
    pub max_complexity: usize,
    /// Whether `__schema` and `__type` may be selected.
    pub introspection: bool,
}

impl ExtensionFactory for QueryLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(QueryLimitsExtension {
            max_depth: self.max_depth,
            max_complexity: self.max_complexity,
            introspection: self.introspection,
            measured: Mutex::new(None),
        })
    }
}

/// One per request: what parsing measured, checked in validation.
struct QueryLimitsExtension {
    max_depth: usize,
    max_complexity: usize,
    introspection: bool,
    measured: Mutex<Option<Measure>>,
}

#[async_trait::async_trait]
impl Extension for QueryLimitsExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let measure = measure(&document);
        *self.measured.lock().unwrap_or_else(PoisonError::into_inner) = Some(measure);
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        let measured = self
            .measured
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(measure) = measured else {
            return Ok(result);
        };
        let error = |message: &str| Err(vec![ServerError::new(message, None)]);
        if measure.selects_introspection && !self.introspection {
            return error(
                "Introspection is disabled on this server: the query selects __schema or __type.",
            );
        }
        if measure.introspection_too_deep {
            return error("Maximum introspection depth exceeded.");
        }
        if result
            .complexity
            .saturating_sub(measure.introspection_fields)
            > self.max_complexity
        {
            return error("Query is too complex.");
        }
        if measure.depth > self.max_depth {
            return error("Query is nested too deep.");
        }
        Ok(ValidationResult {
            depth: measure.depth,
            ..result
        })
    }
}

/// What the limits need to know about a document.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Measure {
    /// The depth of the deepest operation, introspection subtrees left out.
    pub depth: usize,
    /// Some operation selects `__schema` or `__type` (or another root field named `__…` other
    /// than `__typename`).
    pub selects_introspection: bool,
    /// Fields under the root introspection fields, those fields included (their complexity).
    pub introspection_fields: usize,
    /// Introspection nests list fields too deep (see the module docs).
    pub introspection_too_deep: bool,
}

/// Measures a parsed (not yet validated) document. Fragments are inlined; a fragment that spreads
/// itself or is unknown counts as empty (validation refuses such documents anyway), and each
/// fragment is measured once however often it is spread, so the walk is linear in the document.
pub fn measure(document: &ExecutableDocument) -> Measure {
    let mut walker = Walker {
        fragments: &document.fragments,
        memo: HashMap::new(),
        in_progress: HashSet::new(),
    };
    let mut measure = Measure::default();
    for (_, operation) in document.operations.iter() {
        let root = walker.selection_set(&operation.node.selection_set.node, Place::Root);
        measure.depth = measure.depth.max(root.depth);
        measure.introspection_fields += root.fields;
        measure.selects_introspection |= root.introspection;
        measure.introspection_too_deep |= root.lists_too_deep;
    }
    measure
}

/// Where a selection set sits: at an operation's root, inside introspection, or elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Place {
    Root,
    /// Under `__schema`/`__type`, with this many `fields`/`interfaces`/... above.
    Introspection(usize),
    Ordinary,
}

/// The measure of a selection set. At the root, `depth` is the ordinary part's and `fields` the
/// introspection part's; elsewhere both are the whole set's.
#[derive(Debug, Default, Clone, Copy)]
struct Sizes {
    depth: usize,
    fields: usize,
    lists_too_deep: bool,
    /// At the root: a root introspection field was found.
    introspection: bool,
}

impl Sizes {
    fn merge(&mut self, other: Sizes) {
        self.depth = self.depth.max(other.depth);
        self.fields += other.fields;
        self.lists_too_deep |= other.lists_too_deep;
        self.introspection |= other.introspection;
    }
}

struct Walker<'a> {
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    memo: HashMap<(&'a str, Place), Sizes>,
    in_progress: HashSet<(&'a str, Place)>,
}

impl<'a> Walker<'a> {
    fn selection_set(&mut self, set: &'a SelectionSet, place: Place) -> Sizes {
        let mut sizes = Sizes::default();
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    let name = field.node.name.node.as_str();
                    // async-graphql neither descends into nor counts `__typename`.
                    if name == "__typename" {
                        continue;
                    }
                    let set = &field.node.selection_set.node;
                    match place {
                        Place::Root if name.starts_with("__") => {
                            let inner = self.selection_set(set, Place::Introspection(0));
                            sizes.fields += 1 + inner.fields;
                            sizes.lists_too_deep |= inner.lists_too_deep;
                            sizes.introspection = true;
                        }
                        Place::Introspection(lists) => {
                            let lists = if matches!(
                                name,
                                "fields" | "interfaces" | "possibleTypes" | "inputFields"
                            ) {
                                lists + 1
                            } else {
                                lists
                            };
                            if lists >= MAX_INTROSPECTION_LISTS_DEPTH {
                                sizes.lists_too_deep = true;
                                continue;
                            }
                            let inner = self.selection_set(set, Place::Introspection(lists));
                            sizes.merge(Sizes {
                                depth: 1 + inner.depth,
                                fields: 1 + inner.fields,
                                lists_too_deep: inner.lists_too_deep,
                                introspection: false,
                            });
                        }
                        Place::Root | Place::Ordinary => {
                            let inner = self.selection_set(set, Place::Ordinary);
                            sizes.merge(Sizes {
                                depth: 1 + inner.depth,
                                // At the root only introspection fields are summed.
                                fields: if place == Place::Root {
                                    0
                                } else {
                                    1 + inner.fields
                                },
                                lists_too_deep: false,
                                introspection: false,
                            });
                        }
                    }
                }
                Selection::InlineFragment(fragment) => {
                    sizes.merge(self.selection_set(&fragment.node.selection_set.node, place));
                }
                Selection::FragmentSpread(spread) => {
                    sizes.merge(self.fragment(spread.node.fragment_name.node.as_str(), place));
                }
            }
        }
        sizes
    }

    fn fragment(&mut self, name: &'a str, place: Place) -> Sizes {
        let key = (name, place);
        if let Some(sizes) = self.memo.get(&key) {
            return *sizes;
        }
        let Some(fragment) = self.fragments.get(name) else {
            return Sizes::default();
        };
        if !self.in_progress.insert(key) {
            return Sizes::default(); // a cycle: refused by validation
        }
        let sizes = self.selection_set(&fragment.node.selection_set.node, place);
        self.in_progress.remove(&key);
        self.memo.insert(key, sizes);
        sizes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(query: &str) -> Measure {
        measure(&async_graphql::parser::parse_query(query).unwrap())
    }

    #[test]
    fn ordinary_depth_is_counted_as_async_graphql_counts_it() {
        assert_eq!(measured("{ a { b { c } } }").depth, 3);
        assert_eq!(measured("{ a { __typename b { c } } }").depth, 3);
        assert_eq!(
            measured("{ a { ...F } } fragment F on A { b { ... on B { c { d } } } }").depth,
            4
        );
        assert_eq!(measured("query A { a } query B { a { b } }").depth, 2);
    }

    #[test]
    fn introspection_is_left_out_of_depth_and_counted_for_complexity() {
        let m = measured("{ __schema { types { name ofType { ofType { name } } } } }");
        assert_eq!(m.depth, 0);
        assert_eq!(m.introspection_fields, 6);
        let m =
            measured("{ ...Root a { b } } fragment Root on Query { __type(name: \"A\") { name } }");
        assert_eq!(m.depth, 2);
        assert_eq!(m.introspection_fields, 2);
        assert!(m.selects_introspection);
        assert!(!m.introspection_too_deep);
        assert!(!measured("{ __typename a { __typename } }").selects_introspection);
    }

    #[test]
    fn nested_introspection_lists_are_refused() {
        assert!(
            measured(
                "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }"
            )
            .introspection_too_deep
        );
        assert!(
            !measured("{ __schema { types { fields { type { interfaces { name } } } } } }")
                .introspection_too_deep
        );
    }

    #[test]
    fn fragment_cycles_and_repeats_end() {
        let m = measured(
            "{ ...A } fragment A on Query { a ...B ...B } fragment B on Query { b { c } ...A }",
        );
        assert_eq!(m.depth, 2);
    }
}
