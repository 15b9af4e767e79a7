//! The response's shape as the GraphQL spec requires it (section 6, "Execution"), which
//! async-graphql 7 does not give on its own:
//!
//! - **A field that errors is present as `null`** ("handled as though the field returned null").
//!   async-graphql leaves the field out of `data` altogether.
//! - **A null in a non-null field propagates** to its nearest nullable parent, up to `data`
//!   itself. async-graphql stops at the field, leaving a parent that claims a non-null child it
//!   does not have.
//! - **Keys follow the selection order** (CollectFields: document order, fragments expanded where
//!   they are spread). async-graphql resolves sibling fields concurrently and inserts each as it
//!   finishes, so a field that waits on the database comes after one that does not.
//! - **`@skip`/`@include` read a variable's default** when the request leaves it out.
//!   async-graphql evaluates them without defaults, so it would run a field that must be skipped
//!   (a mutation too): `prepare_request` writes the defaults of such variables into the request,
//!   as the spec's CoerceVariableValues does.
//!
//! [`SpecResponse`] fixes all three without touching resolvers. Its `resolve` hook catches every
//! field error (keeping it for the response's `errors`) and answers `null` in its place; once the
//! operation ran (`execute`, or each event of a subscription), the data is completed again from
//! the document and the schema, as the spec's CompleteValue does: fields collected in order
//! (honouring `@skip`/`@include`), nullability from each field's type, and a null in a non-null
//! place making the parent null in turn. The concrete type of an object in an interface-typed
//! place (`node(id:)`) is recorded by the resolve hooks of its own fields, so fragments on
//! concrete types are collected exactly.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest,
    NextResolve, NextSubscribe, ResolveInfo,
};
use async_graphql::futures_util::StreamExt;
use async_graphql::futures_util::stream::BoxStream;
use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{
    Directive, ExecutableDocument, Field, OperationDefinition, OperationType, Selection,
    SelectionSet,
};
use async_graphql::registry::{MetaType, Registry};
use async_graphql::{
    Name, PathSegment, Positioned, QueryPathNode, QueryPathSegment, Request, Response, ServerError,
    ServerResult, Value, Variables,
};

/// The extension factory: add it to the schema first, so it sees the final response.
pub struct SpecResponse;

impl ExtensionFactory for SpecResponse {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(SpecResponseExtension {
            state: Arc::new(State::default()),
        })
    }
}

/// One segment of a response path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Seg {
    Key(String),
    Index(usize),
}

/// What one request's hooks share.
#[derive(Default)]
struct State {
    /// The document and variables, from parsing.
    document: Mutex<Option<Arc<(ExecutableDocument, Variables)>>>,
    /// Field errors caught by the resolve hook, for the response's `errors`.
    errors: Mutex<Vec<ServerError>>,
    /// Paths of fields whose type is an interface or union.
    abstract_fields: Mutex<HashSet<Vec<Seg>>>,
    /// Whether there is any, so that ordinary queries skip the bookkeeping.
    any_abstract: AtomicBool,
    /// The concrete type of each object resolved in an abstract place, by its path.
    concrete: Mutex<HashMap<Vec<Seg>, String>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

struct SpecResponseExtension {
    state: Arc<State>,
}

fn path_of(node: &QueryPathNode<'_>) -> Vec<Seg> {
    let mut path = node.parent.map(path_of).unwrap_or_default();
    path.push(match node.segment {
        QueryPathSegment::Name(name) => Seg::Key(name.to_owned()),
        QueryPathSegment::Index(i) => Seg::Index(i),
    });
    path
}

fn error_path(path: &[Seg]) -> Vec<PathSegment> {
    path.iter()
        .map(|s| match s {
            Seg::Key(k) => PathSegment::Field(k.clone()),
            Seg::Index(i) => PathSegment::Index(*i),
        })
        .collect()
}

/// The named type inside a qualified type (`[Message!]!` → `Message`).
fn base_name(ty: &str) -> &str {
    ty.trim_matches(|c| c == '[' || c == ']' || c == '!')
}

/// Gives the variables that `@skip`/`@include` may read and the request leaves out their
/// defaults, so async-graphql, which reads those directives from the request's variables only,
/// skips what the spec skips. Only documents with such a directive are parsed for it.
pub(crate) fn fill_variable_defaults(request: &mut Request) {
    if !(request.query.contains("@skip") || request.query.contains("@include")) {
        return;
    }
    let Ok(document) = async_graphql::parser::parse_query(&request.query) else {
        return; // parsing reports it
    };
    let wanted = request.operation_name.as_deref();
    for (name, operation) in document.operations.iter() {
        if wanted.is_some() && name.map(|n| n.as_str()) != wanted {
            continue;
        }
        for definition in &operation.node.variable_definitions {
            let variable = &definition.node.name.node;
            if let Some(default) = definition.node.default_value()
                && !request.variables.contains_key(variable)
            {
                request.variables.insert(variable.clone(), default.clone());
            }
        }
    }
}

#[async_trait::async_trait]
impl Extension for SpecResponseExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        // After the inner extensions, so a persisted query's text is known.
        let mut request = next.run(ctx, request).await?;
        fill_variable_defaults(&mut request);
        Ok(request)
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        *lock(&self.state.document) = Some(Arc::new((document.clone(), variables.clone())));
        Ok(document)
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let state = &self.state;
        let registry = &ctx.schema_env.registry;
        if registry
            .types
            .get(base_name(info.return_type))
            .is_some_and(MetaType::is_abstract)
        {
            lock(&state.abstract_fields).insert(path_of(info.path_node));
            state.any_abstract.store(true, Ordering::Release);
        }
        if state.any_abstract.load(Ordering::Acquire)
            && let Some(parent) = info.path_node.parent
        {
            // This field's object: is it in an abstract place? Then record its concrete type.
            let object = path_of(parent);
            let mut field = object.clone();
            while matches!(field.last(), Some(Seg::Index(_))) {
                field.pop();
            }
            if lock(&state.abstract_fields).contains(&field) {
                lock(&state.concrete)
                    .entry(object)
                    .or_insert_with(|| info.parent_type.to_owned());
            }
        }
        let path_node = info.path_node;
        match next.run(ctx, info).await {
            Ok(value) => Ok(value),
            Err(mut error) => {
                if error.path.is_empty() {
                    error.path = error_path(&path_of(path_node));
                }
                lock(&state.errors).push(error);
                Ok(Some(Value::Null))
            }
        }
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let response = next.run(ctx, operation_name).await;
        complete_response(
            &self.state,
            &ctx.schema_env.registry,
            operation_name,
            response,
        )
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let state = Arc::clone(&self.state);
        let env = ctx.schema_env.clone();
        next.run(ctx, stream)
            .map(move |response| complete_response(&state, &env.registry, None, response))
            .boxed()
    }
}

/// The response of one operation (or one subscription event), completed by the spec.
fn complete_response(
    state: &State,
    registry: &Registry,
    operation_name: Option<&str>,
    mut response: Response,
) -> Response {
    let caught = std::mem::take(&mut *lock(&state.errors));
    response.errors.extend(caught);
    let concrete = std::mem::take(&mut *lock(&state.concrete));
    let Some(document) = lock(&state.document).clone() else {
        return response;
    };
    let (document, variables) = &*document;
    let Some(operation) = document
        .operations
        .iter()
        .find(|(name, _)| operation_name.is_none() || name.map(|n| n.as_str()) == operation_name)
        .map(|(_, op)| &op.node)
    else {
        return response;
    };
    let root = match operation.ty {
        OperationType::Query => Some(registry.query_type.as_str()),
        OperationType::Mutation => registry.mutation_type.as_deref(),
        OperationType::Subscription => registry.subscription_type.as_deref(),
    };
    let Some(root) = root else {
        return response;
    };
    if !matches!(response.data, Value::Object(_)) {
        return response;
    }
    let Some((root, _)) = registry.types.get_key_value(root) else {
        return response;
    };
    let mut completer = Completer {
        registry,
        document,
        variables,
        operation,
        concrete: &concrete,
        path: Vec::new(),
        collected: HashMap::new(),
    };
    let data = std::mem::take(&mut response.data);
    response.data = completer
        .object(root, true, &[&operation.selection_set.node], data)
        .unwrap_or(Value::Null);
    response
}

/// Puts the keys of an error-free response's `data` in selection order, in place, without
/// building the tree again: the fast path's one pass over its answer ([`super::fast`]).
/// async-graphql 7.2 inserts sibling keys in the order their resolvers finish, so a field that
/// waited on a loader comes after one that did not. Objects whose keys are already in order (most:
/// their fields resolve without waiting) are only compared. False when the data holds an object in
/// an interface- or union-typed place, whose fragments only the exact path collects exactly.
pub(crate) fn order_keys(
    registry: &Registry,
    document: &ExecutableDocument,
    variables: &Variables,
    operation_name: Option<&str>,
    data: &mut Value,
) -> bool {
    let Some(operation) = document
        .operations
        .iter()
        .find(|(name, _)| operation_name.is_none() || name.map(|n| n.as_str()) == operation_name)
        .map(|(_, op)| &op.node)
    else {
        return false;
    };
    let Some((root, _)) = registry.types.get_key_value(registry.query_type.as_str()) else {
        return false;
    };
    let concrete = HashMap::new();
    let mut completer = Completer {
        registry,
        document,
        variables,
        operation,
        concrete: &concrete,
        path: Vec::new(),
        collected: HashMap::new(),
    };
    completer.order_object(root, &[&operation.selection_set.node], data)
}

/// The fields one response key collects: their name, and their selection sets merged.
struct Group<'a> {
    key: Name,
    sets: Vec<&'a SelectionSet>,
    /// The field's qualified type on the collecting type; `None` for a field the schema does not
    /// describe there (introspection).
    ty: Option<&'a str>,
}

/// The fields a selection collects, by response key, in order.
type Collected<'a> = Arc<Vec<Group<'a>>>;

struct Completer<'a> {
    registry: &'a Registry,
    document: &'a ExecutableDocument,
    variables: &'a Variables,
    operation: &'a OperationDefinition,
    concrete: &'a HashMap<Vec<Seg>, String>,
    /// The current path, kept only when some object's concrete type was recorded by path.
    path: Vec<Seg>,
    /// CollectFields results, by selection sets and type: a list of a thousand objects collects
    /// its fields once.
    collected: HashMap<(u64, &'a str), Collected<'a>>,
}

impl<'a> Completer<'a> {
    fn tracking(&self) -> bool {
        !self.concrete.is_empty()
    }

    /// A value of type `ty` (qualified, `[Message!]!`), selected with `sets`. `None` means null
    /// in a non-null place: the caller's parent becomes null in turn.
    fn value(&mut self, ty: &'a str, sets: &[&'a SelectionSet], value: Value) -> Option<Value> {
        if let Some(inner) = ty.strip_suffix('!') {
            return match self.value(inner, sets, value) {
                Some(Value::Null) | None => None,
                done => done,
            };
        }
        if value == Value::Null {
            return Some(Value::Null);
        }
        if let Some(item) = ty.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            let Value::List(items) = value else {
                return Some(value);
            };
            let mut out = Vec::with_capacity(items.len());
            for (i, v) in items.into_iter().enumerate() {
                if self.tracking() {
                    self.path.push(Seg::Index(i));
                }
                let done = self.value(item, sets, v);
                if self.tracking() {
                    self.path.pop();
                }
                match done {
                    Some(v) => out.push(v),
                    // A non-null item is null: the list (nullable here) is null.
                    None => return Some(Value::Null),
                }
            }
            return Some(Value::List(out));
        }
        let completed = match self.registry.types.get(ty) {
            Some(MetaType::Object { .. }) => self.object(ty, true, sets, value),
            Some(t) if t.is_abstract() => match self.concrete_type(&value, sets) {
                Some(concrete) => self.object(concrete, true, sets, value),
                // Nothing tells the concrete type: keep what was resolved, in document order.
                None => self.object(ty, false, sets, value),
            },
            _ => Some(value),
        };
        // This place is nullable: a null coming up from below stops here.
        Some(completed.unwrap_or(Value::Null))
    }

    /// Puts the keys of an error-free `value` of type `ty` in selection order, in place (see
    /// [`order_keys`]). False when an object sits in an abstract place.
    fn order_value(&mut self, ty: &'a str, sets: &[&'a SelectionSet], value: &mut Value) -> bool {
        let ty = ty.trim_end_matches('!');
        if let Some(item) = ty.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            if let Value::List(items) = value {
                return items.iter_mut().all(|v| self.order_value(item, sets, v));
            }
            return true;
        }
        match self.registry.types.get_key_value(ty) {
            Some((name, MetaType::Object { .. })) => self.order_object(name, sets, value),
            Some((_, t)) if t.is_abstract() => *value == Value::Null,
            _ => true,
        }
    }

    fn order_object(
        &mut self,
        type_name: &'a str,
        sets: &[&'a SelectionSet],
        value: &mut Value,
    ) -> bool {
        let Value::Object(map) = value else {
            return true;
        };
        let groups = self.collect(type_name, true, sets);
        let expected = groups
            .iter()
            .filter(|g| map.contains_key(&g.key))
            .map(|g| &g.key);
        if !map.keys().eq(expected) {
            map.sort_by_cached_key(|key, _| {
                groups
                    .iter()
                    .position(|g| g.key == *key)
                    .unwrap_or(usize::MAX)
            });
        }
        for group in groups.iter() {
            if let (Some(ty), Some(v)) = (group.ty, map.get_mut(&group.key))
                && !self.order_value(ty, &group.sets, v)
            {
                return false;
            }
        }
        true
    }

    /// The concrete type of the object at the current path, in an abstract place: as its fields'
    /// resolvers recorded it, else its `__typename` if selected.
    fn concrete_type(&self, value: &Value, sets: &[&'a SelectionSet]) -> Option<&'a str> {
        if let Some(t) = self.concrete.get(&self.path) {
            return Some(t.as_str());
        }
        let Value::Object(map) = value else {
            return None;
        };
        let typename = sets
            .iter()
            .flat_map(|s| s.items.iter())
            .filter_map(|s| match &s.node {
                Selection::Field(f) if f.node.name.node == "__typename" => {
                    map.get(&f.node.response_key().node)
                }
                _ => None,
            })
            .find_map(|v| match v {
                Value::String(s) => Some(s.as_str()),
                _ => None,
            })?;
        self.registry
            .types
            .get_key_value(typename)
            .map(|(name, _)| name.as_str())
    }

    /// An object of type `type_name`, its keys in selection order. With `known` false (an
    /// abstract place whose concrete type is unknown) fragments are all taken and keys the
    /// object lacks are not added.
    fn object(
        &mut self,
        type_name: &'a str,
        known: bool,
        sets: &[&'a SelectionSet],
        value: Value,
    ) -> Option<Value> {
        let Value::Object(mut map) = value else {
            return Some(value);
        };
        let groups = self.collect(type_name, known, sets);
        let mut out = IndexMap::with_capacity(groups.len());
        for group in groups.iter() {
            let value = match map.swap_remove(&group.key) {
                Some(v) => v,
                None if known => Value::Null,
                None => continue,
            };
            let Some(ty) = group.ty else {
                // A field the schema does not describe here (introspection): as it is.
                out.insert(group.key.clone(), value);
                continue;
            };
            if self.tracking() {
                self.path.push(Seg::Key(group.key.to_string()));
            }
            let done = self.value(ty, &group.sets, value);
            if self.tracking() {
                self.path.pop();
            }
            out.insert(group.key.clone(), done?);
        }
        // What is left was not collected, so it is not part of the response.
        Some(Value::Object(out))
    }

    /// CollectFields: the fields of `sets` that apply to `type_name`, grouped by response key in
    /// document order, with fragments expanded where they are spread.
    fn collect(
        &mut self,
        type_name: &'a str,
        known: bool,
        sets: &[&'a SelectionSet],
    ) -> Collected<'a> {
        // The selection sets by address (FNV-1a), with `known` folded in.
        let id = sets
            .iter()
            .map(|s| std::ptr::from_ref(*s) as usize as u64)
            .chain([u64::from(known)])
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, x| {
                (h ^ x).wrapping_mul(0x0100_0000_01b3)
            });
        if let Some(found) = self.collected.get(&(id, type_name)) {
            return Arc::clone(found);
        }
        let mut fields: Vec<(Name, Vec<&'a Positioned<Field>>)> = Vec::new();
        let mut visited = HashSet::new();
        for set in sets {
            self.collect_into(type_name, known, set, &mut visited, &mut fields);
        }
        let meta = self.registry.types.get(type_name);
        let groups: Vec<Group<'a>> = fields
            .into_iter()
            .filter_map(|(key, group)| {
                let name = group.first()?.node.name.node.as_str();
                let sets = group.iter().map(|f| &f.node.selection_set.node).collect();
                let ty = match name {
                    "__typename" => Some("String!"),
                    name => meta
                        .and_then(|m| m.field_by_name(name))
                        .map(|f| f.ty.as_str()),
                };
                Some(Group { key, sets, ty })
            })
            .collect();
        let groups = Arc::new(groups);
        self.collected.insert((id, type_name), Arc::clone(&groups));
        groups
    }

    fn collect_into(
        &self,
        type_name: &str,
        known: bool,
        set: &'a SelectionSet,
        visited: &mut HashSet<&'a str>,
        out: &mut Vec<(Name, Vec<&'a Positioned<Field>>)>,
    ) {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    if self.skipped(&field.node.directives) {
                        continue;
                    }
                    let key = &field.node.response_key().node;
                    match out.iter_mut().find(|(k, _)| k == key) {
                        Some((_, group)) => group.push(field),
                        None => out.push((key.clone(), vec![field])),
                    }
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    if self.skipped(&spread.node.directives) || !visited.insert(name) {
                        continue;
                    }
                    let Some(fragment) = self.document.fragments.get(name) else {
                        continue;
                    };
                    if self.applies(&fragment.node.type_condition.node.on.node, type_name, known) {
                        self.collect_into(
                            type_name,
                            known,
                            &fragment.node.selection_set.node,
                            visited,
                            out,
                        );
                    }
                }
                Selection::InlineFragment(inline) => {
                    if self.skipped(&inline.node.directives) {
                        continue;
                    }
                    let applies = inline
                        .node
                        .type_condition
                        .as_ref()
                        .is_none_or(|c| self.applies(&c.node.on.node, type_name, known));
                    if applies {
                        self.collect_into(
                            type_name,
                            known,
                            &inline.node.selection_set.node,
                            visited,
                            out,
                        );
                    }
                }
            }
        }
    }

    /// DoesFragmentTypeApply.
    fn applies(&self, condition: &str, type_name: &str, known: bool) -> bool {
        !known
            || condition == type_name
            || self
                .registry
                .types
                .get(condition)
                .is_some_and(|t| t.is_possible_type(type_name))
    }

    /// `@skip(if: true)` or `@include(if: false)`.
    fn skipped(&self, directives: &[Positioned<Directive>]) -> bool {
        directives.iter().any(|d| {
            let flag = || {
                let value = d.node.get_argument("if")?.node.clone();
                let value = value.into_const_with(|name| self.variable(&name).ok_or(()));
                match value {
                    Ok(Value::Boolean(b)) => Some(b),
                    _ => None,
                }
            };
            match d.node.name.node.as_str() {
                "skip" => flag() == Some(true),
                "include" => flag() == Some(false),
                _ => false,
            }
        })
    }

    /// A variable's value: as sent, else its default.
    fn variable(&self, name: &Name) -> Option<Value> {
        self.variables.get(name).cloned().or_else(|| {
            self.operation
                .variable_definitions
                .iter()
                .find(|d| d.node.name.node == *name)
                .and_then(|d| d.node.default_value().cloned())
        })
    }
}
