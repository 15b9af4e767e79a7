//! Planned reads: a nested list answered level by level and written straight to JSON.
//!
//! Why: on a read of 10,000 rows, resolving field by field is most of the server's work. Each
//! field of each row is a future, a `Value`, an `IndexMap` insert, and the tree is serialised
//! and freed after. Issue 8 measured it at 0.4× hand-written SQL over the same rows. A plan does
//! what the hand-written read does instead:
//! - it is compiled once per request from the field's selection ([`ConnectionPlan::compile`],
//!   [`ObjectPlan::compile`]);
//! - it reads each level for all of its parents in one statement, only the columns the selection
//!   needs ([`PlanList`], over the same [`ChildList`] reads the loaders use);
//! - it writes each row's selected fields as JSON into one buffer, in selection order.
//!
//! The buffer goes back to async-graphql as the field's value ([`Planned::Written`], carried as
//! `Value::Binary`), and [`write_response`] splices it into the answer.
//!
//! When a plan may answer: async-graphql has already parsed, validated and measured the whole
//! document (complexity, depth) before the root field's resolver runs, and that resolver has made
//! its access check and read its page. The plan then takes over only if it understands every
//! field below, and only on the fast path ([`PlanAllowed`], set by [`super::fast`]). A field it
//! does not know (one that needs a loader or a service: `owner`, `usage`...), two fields under one
//! response key, or a directive anywhere in the document sends the request through the
//! resolvers, as before. Any error does too: the fast path answers an errored request again on
//! the exact schema. `tests/e2e/queries.rs` compares the two answers byte for byte.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::parser::types::{
    ExecutableDocument, Field, FragmentDefinition, Selection, SelectionSet,
};
use async_graphql::registry::Registry;
use async_graphql::{
    Context, ContextSelectionSet, InputType, ObjectType, OutputType, Positioned, SelectionField,
    ServerResult, Value,
};
use bytes::Bytes;
use futures::future::BoxFuture;
use persistence::{Held, Page};

use super::context::ContextExt;
use super::pages::{ChildList, PageQuery};
use crate::error::ApiResult;

/// Request data: a plan may answer this request's root fields. Set by the fast path for documents
/// without directives, and only there: only its answers go through [`write_response`].
pub struct PlanAllowed;

/// Whether a plan could answer `document`: no directive anywhere in it. A plan follows fragments
/// but does not evaluate `@skip`/`@include`; those documents go through the resolvers.
pub fn allowed(document: &ExecutableDocument) -> bool {
    fn set(s: &SelectionSet) -> bool {
        s.items.iter().all(|item| match &item.node {
            Selection::Field(f) => f.node.directives.is_empty() && set(&f.node.selection_set.node),
            Selection::FragmentSpread(s) => s.node.directives.is_empty(),
            Selection::InlineFragment(f) => {
                f.node.directives.is_empty() && set(&f.node.selection_set.node)
            }
        })
    }
    let fragment = |f: &Positioned<FragmentDefinition>| {
        f.node.directives.is_empty() && set(&f.node.selection_set.node)
    };
    document
        .operations
        .iter()
        .all(|(_, op)| op.node.directives.is_empty() && set(&op.node.selection_set.node))
        && document.fragments.values().all(fragment)
}

/// One connection for all of a plan's reads: each statement through the pool would pay sqlx's
/// test of the connection as it goes back (`persistence::Held`), and the reads run one after
/// the other anyway. A root connection's resolver takes it before reading its page, so that the
/// page, its count and every level below share it.
pub async fn hold(ctx: &Context<'_>) -> ApiResult<Held> {
    Ok(ctx.services()?.db.hold().await?)
}

/// A field's value: resolved as usual, or the JSON a plan wrote for it.
pub enum Planned<T> {
    Resolved(T),
    Written(Bytes),
}

impl<T: OutputType> OutputType for Planned<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn qualified_type_name() -> String {
        T::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        match self {
            Self::Resolved(value) => value.resolve(ctx, field).await,
            // Only plans put bytes in an answer (no type of the schema resolves to bytes).
            Self::Written(json) => Ok(Value::Binary(json.clone())),
        }
    }
}

/// An answer as JSON, in pieces: the JSON plans wrote is sent as it is, between the pieces written
/// around it (see [`Planned`]), so a large planned answer is never copied. Joined, the pieces are
/// the text `serde_json` writes for an answer without plans.
pub fn write_response(response: &async_graphql::Response) -> serde_json::Result<Vec<Bytes>> {
    let mut pieces = Vec::new();
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"{\"data\":");
    let mut splice = |out: &mut Vec<u8>, json: &Bytes| {
        pieces.push(Bytes::from(std::mem::take(out)));
        pieces.push(json.clone());
    };
    write_value(&response.data, &mut out, &mut splice)?;
    if !response.extensions.is_empty() {
        out.extend_from_slice(b",\"extensions\":");
        serde_json::to_writer(&mut out, &response.extensions)?;
    }
    if !response.errors.is_empty() {
        out.extend_from_slice(b",\"errors\":");
        serde_json::to_writer(&mut out, &response.errors)?;
    }
    out.push(b'}');
    pieces.push(Bytes::from(out));
    Ok(pieces)
}

/// Whether a plan answered part of `data` (a root field's value is a plan's JSON).
pub fn was_planned(data: &Value) -> bool {
    matches!(data, Value::Object(map) if map.values().any(|v| matches!(v, Value::Binary(_))))
}

/// Writes `value` as JSON; `splice` writes what a plan wrote ([`Planned::Written`]).
fn write_value(
    value: &Value,
    out: &mut Vec<u8>,
    splice: &mut dyn FnMut(&mut Vec<u8>, &Bytes),
) -> serde_json::Result<()> {
    match value {
        Value::Binary(json) => splice(out, json),
        Value::List(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out, splice)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                string(key.as_str(), out);
                out.push(b':');
                write_value(item, out, splice)?;
            }
            out.push(b'}');
        }
        other => serde_json::to_writer(&mut *out, other)?,
    }
    Ok(())
}

// Writers of the values of rows, for the types' `plan` tables.

/// A string as JSON.
pub fn string(s: &str, out: &mut Vec<u8>) {
    // Writing a `str` into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// An optional string as JSON.
pub fn opt_string(s: Option<&str>, out: &mut Vec<u8>) {
    match s {
        Some(s) => string(s, out),
        None => out.extend_from_slice(b"null"),
    }
}

/// A global id (base64url text, which needs no escaping).
pub fn id(id: async_graphql::ID, out: &mut Vec<u8>) {
    out.push(b'"');
    out.extend_from_slice(id.0.as_bytes());
    out.push(b'"');
}

/// Any other value, exactly as async-graphql writes it (dates, enums, numbers, booleans).
pub fn value<T: InputType>(v: &T, out: &mut Vec<u8>) {
    // Scalars and enums become strings, numbers and booleans, which always serialise.
    let _ = write_value(&v.to_value(), out, &mut |out, json| {
        out.extend_from_slice(json)
    });
}

/// `true` or `false`.
pub fn boolean(b: bool, out: &mut Vec<u8>) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

/// How a plan answers one field of a type.
pub enum FieldPlan<R> {
    /// A value of the row.
    Value(fn(&R, &mut Vec<u8>)),
    /// A list read for every row of the level at once.
    List(Box<dyn Level<R>>),
}

/// A GraphQL object type a plan can write from its row.
pub trait PlanType: Send + Sync + Sized + 'static {
    /// Its `__typename`.
    fn type_name() -> Cow<'static, str>;

    /// How a plan answers `field` on this type; `None` when it cannot (the field needs a loader
    /// or a service of its own), and the request is then resolved field by field.
    fn plan(field: &SelectionField<'_>) -> Option<FieldPlan<Self>>;
}

/// A list below a planned object: read for all the level's parents, then written per parent.
pub trait Level<P>: Send + Sync {
    /// Reads this list for every parent in one statement on `conn`, then the levels below it.
    fn load<'a>(
        &'a mut self,
        ctx: &'a Context<'_>,
        conn: &'a Held,
        parents: &'a [&'a P],
    ) -> BoxFuture<'a, ApiResult<()>>;

    /// Writes `parent`'s list.
    fn write(&self, parent: &P, out: &mut Vec<u8>);
}

/// `"key":`, written once per plan and copied per row.
type Key = Box<[u8]>;

fn key(name: &str) -> Key {
    let mut out = Vec::with_capacity(name.len() + 3);
    string(name, &mut out);
    out.push(b':');
    out.into_boxed_slice()
}

/// One selection set, compiled: each response key and what answers it, in selection order.
type Slots<S> = Vec<(Key, S)>;

/// Compiles `field`'s selection set, `slot` saying what answers each field; `None` when a field
/// cannot be answered, or a response key is selected twice (merged fields, left to the
/// resolvers).
fn compile_slots<'a, S>(
    field: &SelectionField<'a>,
    mut slot: impl FnMut(&SelectionField<'a>) -> Option<S>,
) -> Option<Slots<S>> {
    let mut keys = HashSet::new();
    field
        .selection_set()
        .map(|f| {
            let name = f.alias().unwrap_or(f.name());
            keys.insert(name).then_some(())?;
            Some((key(name), slot(&f)?))
        })
        .collect()
}

/// Writes a JSON object of `slots`, `value` writing each slot's value.
fn write_object<S>(slots: &[(Key, S)], out: &mut Vec<u8>, mut value: impl FnMut(&S, &mut Vec<u8>)) {
    out.push(b'{');
    for (i, (key, slot)) in slots.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(key);
        value(slot, out);
    }
    out.push(b'}');
}

/// Writes a JSON array of `items`, `item` writing each.
fn write_array<T>(items: &[T], out: &mut Vec<u8>, mut item: impl FnMut(&T, &mut Vec<u8>)) {
    out.push(b'[');
    for (i, it) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        item(it, out);
    }
    out.push(b']');
}

fn has_arguments(field: &SelectionField<'_>) -> bool {
    field.arguments().map_or(true, |a| !a.is_empty())
}

enum Slot<R> {
    Typename,
    Value(fn(&R, &mut Vec<u8>)),
    List(usize),
}

/// The selection of one object type, compiled.
pub struct ObjectPlan<R> {
    type_name: Cow<'static, str>,
    slots: Slots<Slot<R>>,
    lists: Vec<Box<dyn Level<R>>>,
}

impl<R: PlanType> ObjectPlan<R> {
    /// The plan of `field`'s selection on `R`; `None` when a plan cannot answer all of it.
    pub fn compile(field: &SelectionField<'_>) -> Option<Self> {
        let mut lists = Vec::new();
        let slots = compile_slots(field, |f| {
            if f.name() == "__typename" {
                return Some(Slot::Typename);
            }
            match R::plan(f)? {
                FieldPlan::Value(write) if !has_arguments(f) => Some(Slot::Value(write)),
                FieldPlan::Value(_) => None,
                FieldPlan::List(level) => {
                    lists.push(level);
                    Some(Slot::List(lists.len() - 1))
                }
            }
        })?;
        Some(Self {
            type_name: R::type_name(),
            slots,
            lists,
        })
    }

    /// Reads the lists below `rows`, level by level, on `conn`.
    async fn load(&mut self, ctx: &Context<'_>, conn: &Held, rows: &[&R]) -> ApiResult<()> {
        for level in &mut self.lists {
            level.load(ctx, conn, rows).await?;
        }
        Ok(())
    }

    /// Writes `row` with the selected fields, in selection order.
    pub fn write(&self, row: &R, out: &mut Vec<u8>) {
        write_object(&self.slots, out, |slot, out| match slot {
            Slot::Typename => string(&self.type_name, out),
            Slot::Value(write) => write(row, out),
            Slot::List(level) => self.lists[*level].write(row, out),
        });
    }

    /// Answers a single object (`me`): its lists read, then written.
    pub async fn answer(mut self, ctx: &Context<'_>, row: &R) -> ApiResult<Bytes> {
        if !self.lists.is_empty() {
            let conn = hold(ctx).await?;
            self.load(ctx, &conn, &[row]).await?;
        }
        let mut out = Vec::with_capacity(1024);
        self.write(row, &mut out);
        Ok(out.into())
    }
}

/// The plan of `ctx`'s field as an object of type `R`, when the request allows plans and a plan
/// can answer the whole selection.
pub fn object<R: PlanType>(ctx: &Context<'_>) -> Option<ObjectPlan<R>> {
    ctx.data_opt::<PlanAllowed>()?;
    ObjectPlan::compile(&ctx.field())
}

/// The plan of `ctx`'s field as a connection of `R` rows (`N` its node type, `T` its extra
/// fields, as in `Connection<String, N, T>`), when the request allows plans and a plan can answer
/// the whole selection.
pub fn connection<R: PlanType, N: OutputType, T: ObjectType>(
    ctx: &Context<'_>,
) -> Option<ConnectionPlan<R>> {
    ctx.data_opt::<PlanAllowed>()?;
    ConnectionPlan::compile(&ctx.field(), Names::of::<N, T>())
}

/// The `__typename`s of a connection's types.
struct Names {
    connection: Cow<'static, str>,
    edge: Cow<'static, str>,
    page_info: Cow<'static, str>,
}

impl Names {
    fn of<N: OutputType, T: ObjectType>() -> Self {
        Self {
            connection: Connection::<String, N, T, EmptyFields>::type_name(),
            edge: Edge::<String, N, EmptyFields>::type_name(),
            page_info: async_graphql::connection::PageInfo::type_name(),
        }
    }
}

enum ConnectionSlot {
    Typename,
    TotalCount,
    Edges(Slots<EdgeSlot>),
    Nodes,
    PageInfo(Slots<PageInfoSlot>),
}

enum EdgeSlot {
    Typename,
    Cursor,
    Node,
}

enum PageInfoSlot {
    Typename,
    HasPreviousPage,
    HasNextPage,
    StartCursor,
    EndCursor,
}

/// A connection's selection (`edges { cursor node }`, `nodes`, `pageInfo`, `totalCount`),
/// compiled; its node's selection is one [`ObjectPlan`].
pub struct ConnectionPlan<R> {
    names: Names,
    slots: Slots<ConnectionSlot>,
    node: Option<ObjectPlan<R>>,
    total: bool,
}

impl<R: PlanType> ConnectionPlan<R> {
    fn compile(field: &SelectionField<'_>, names: Names) -> Option<Self> {
        let mut node = None;
        let mut total = false;
        // The rows' selection, wherever it is (`edges { node }` or `nodes`): a plan writes one.
        let mut compile_node = |f: &SelectionField<'_>| -> Option<()> {
            if node.is_some() {
                return None;
            }
            node = Some(ObjectPlan::compile(f)?);
            Some(())
        };
        let slots = compile_slots(field, |f| {
            Some(match f.name() {
                "__typename" => ConnectionSlot::Typename,
                "totalCount" => {
                    total = true;
                    ConnectionSlot::TotalCount
                }
                "nodes" => {
                    compile_node(f)?;
                    ConnectionSlot::Nodes
                }
                "edges" => ConnectionSlot::Edges(compile_slots(f, |e| {
                    Some(match e.name() {
                        "__typename" => EdgeSlot::Typename,
                        "cursor" => EdgeSlot::Cursor,
                        "node" => {
                            compile_node(e)?;
                            EdgeSlot::Node
                        }
                        _ => return None,
                    })
                })?),
                "pageInfo" => ConnectionSlot::PageInfo(compile_slots(f, |p| {
                    Some(match p.name() {
                        "__typename" => PageInfoSlot::Typename,
                        "hasPreviousPage" => PageInfoSlot::HasPreviousPage,
                        "hasNextPage" => PageInfoSlot::HasNextPage,
                        "startCursor" => PageInfoSlot::StartCursor,
                        "endCursor" => PageInfoSlot::EndCursor,
                        _ => return None,
                    })
                })?),
                _ => return None,
            })
        })?;
        Some(Self {
            names,
            slots,
            node,
            total,
        })
    }

    /// Whether the selection asks for `totalCount`.
    pub fn counts_total(&self) -> bool {
        self.total
    }

    /// Reads the lists below `page`'s rows on `conn`, level by level.
    async fn load(&mut self, ctx: &Context<'_>, conn: &Held, page: &Page<R>) -> ApiResult<()> {
        if let Some(node) = &mut self.node
            && !node.lists.is_empty()
            && !page.items.is_empty()
        {
            let rows: Vec<&R> = page.items.iter().collect();
            node.load(ctx, conn, &rows).await?;
        }
        Ok(())
    }

    /// Answers a root connection: `page` (read and checked by the resolver's service on `conn`,
    /// from [`hold`]), its `total` when [`Self::counts_total`], `cursor` giving each row's
    /// cursor. The levels below the page are read on `conn` too.
    pub async fn answer(
        mut self,
        ctx: &Context<'_>,
        conn: &Held,
        page: Page<R>,
        total: Option<u64>,
        cursor: impl Fn(&R) -> String,
    ) -> ApiResult<Bytes> {
        self.load(ctx, conn, &page).await?;
        let mut out = Vec::with_capacity(4096);
        self.write(&page, total.unwrap_or(0), &cursor, &mut out);
        Ok(out.into())
    }

    fn write(&self, page: &Page<R>, total: u64, cursor: &dyn Fn(&R) -> String, out: &mut Vec<u8>) {
        let cursor_of = |row: Option<&R>, out: &mut Vec<u8>| match row {
            Some(row) => string(&cursor(row), out),
            None => out.extend_from_slice(b"null"),
        };
        write_object(&self.slots, out, |slot, out| match slot {
            ConnectionSlot::Typename => string(&self.names.connection, out),
            ConnectionSlot::TotalCount => out.extend_from_slice(total.to_string().as_bytes()),
            ConnectionSlot::Nodes => {
                write_array(&page.items, out, |row, out| self.write_node(row, out));
            }
            ConnectionSlot::Edges(slots) => write_array(&page.items, out, |row, out| {
                write_object(slots, out, |slot, out| match slot {
                    EdgeSlot::Typename => string(&self.names.edge, out),
                    EdgeSlot::Cursor => cursor_of(Some(row), out),
                    EdgeSlot::Node => self.write_node(row, out),
                });
            }),
            ConnectionSlot::PageInfo(slots) => write_object(slots, out, |slot, out| match slot {
                PageInfoSlot::Typename => string(&self.names.page_info, out),
                PageInfoSlot::HasPreviousPage => boolean(page.has_previous_page, out),
                PageInfoSlot::HasNextPage => boolean(page.has_next_page, out),
                PageInfoSlot::StartCursor => cursor_of(page.items.first(), out),
                PageInfoSlot::EndCursor => cursor_of(page.items.last(), out),
            }),
        });
    }

    fn write_node(&self, row: &R, out: &mut Vec<u8>) {
        match &self.node {
            Some(node) => node.write(row, out),
            // Unreachable: a node is written only where the selection has one.
            None => out.extend_from_slice(b"{}"),
        }
    }
}

/// A list read per parent ([`ChildList`]) that a plan can answer: what it needs beyond reading.
pub trait PlanList: ChildList<Row: PlanType> {
    /// The type whose field the list is.
    type Parent: PlanType;
    /// The GraphQL node type and extra fields of its connection, for `__typename`s.
    type Node: OutputType;
    type Total: ObjectType;

    fn parent_id(parent: &Self::Parent) -> &str;

    /// The page `field` asks for (its arguments parsed as the resolver parses them, and the
    /// columns its nodes' selection needs). An error leaves the field to its resolver to report.
    fn query(field: &SelectionField<'_>) -> ApiResult<PageQuery<Self::Filter, Self::Order>>;

    fn cursor(order: Self::Order, row: &Self::Row) -> String;

    /// Whether the caller may see `row`, checked on each row as the resolver checks it.
    fn visible(ctx: &Context<'_>, row: &Self::Row) -> bool {
        let _ = (ctx, row);
        true
    }
}

/// How a plan answers the list `field` of `L::Parent`; `None` when its arguments do not parse or
/// a plan cannot answer its selection.
pub fn list<L: PlanList>(field: &SelectionField<'_>) -> Option<FieldPlan<L::Parent>> {
    let query = L::query(field).ok()?;
    let plan = ConnectionPlan::compile(field, Names::of::<L::Node, L::Total>())?;
    Some(FieldPlan::List(Box::new(ListLevel::<L> {
        query,
        plan,
        pages: HashMap::new(),
        counts: HashMap::new(),
    })))
}

struct ListLevel<L: PlanList> {
    query: PageQuery<L::Filter, L::Order>,
    plan: ConnectionPlan<L::Row>,
    pages: HashMap<String, Page<L::Row>>,
    counts: HashMap<String, u64>,
}

impl<L: PlanList> Level<L::Parent> for ListLevel<L> {
    fn load<'a>(
        &'a mut self,
        ctx: &'a Context<'_>,
        conn: &'a Held,
        parents: &'a [&'a L::Parent],
    ) -> BoxFuture<'a, ApiResult<()>> {
        Box::pin(async move {
            if parents.is_empty() {
                return Ok(());
            }
            let ids: Vec<String> = parents.iter().map(|p| L::parent_id(p).to_owned()).collect();
            let q = &self.query;
            let mut pages =
                L::pages_with(conn, &ids, &q.filter, q.order, &q.args, q.columns).await?;
            for page in pages.values_mut() {
                page.items.retain(|row| L::visible(ctx, row));
            }
            if self.plan.total {
                self.counts = L::counts(conn, &ids, &q.filter).await?;
            }
            if let Some(node) = &mut self.plan.node {
                let rows: Vec<&L::Row> = pages.values().flat_map(|p| p.items.iter()).collect();
                node.load(ctx, conn, &rows).await?;
            }
            self.pages = pages;
            Ok(())
        })
    }

    fn write(&self, parent: &L::Parent, out: &mut Vec<u8>) {
        let id = L::parent_id(parent);
        let empty = Page::empty();
        let page = self.pages.get(id).unwrap_or(&empty);
        let total = self.counts.get(id).copied().unwrap_or(0);
        let order = self.query.order;
        self.plan
            .write(page, total, &|row| L::cursor(order, row), out);
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::{Name, Number, ServerError};

    use super::*;

    fn object(entries: Vec<(&str, Value)>) -> Value {
        Value::Object(
            entries
                .into_iter()
                .map(|(k, v)| (Name::new(k), v))
                .collect(),
        )
    }

    #[test]
    fn an_answer_without_plans_is_written_as_serde_writes_it() {
        let data = object(vec![
            (
                "text",
                Value::String("quote \" nul \0 line\n 🎉 \u{2028}".into()),
            ),
            ("enum", Value::Enum(Name::new("ACTIVE"))),
            ("n", Value::Number(Number::from(-3))),
            ("f", Value::Number(Number::from_f64(1.5).unwrap())),
            ("none", Value::Null),
            ("yes", Value::Boolean(true)),
            (
                "list",
                Value::List(vec![
                    object(vec![("k\"ey", Value::Null)]),
                    Value::List(vec![]),
                ]),
            ),
        ]);
        let mut response = async_graphql::Response::new(data);
        response
            .extensions
            .insert("cost".into(), Value::Number(Number::from(7)));
        response.errors.push(ServerError::new(
            "boom",
            Some(async_graphql::Pos { line: 1, column: 2 }),
        ));
        assert_eq!(
            write_response(&response).unwrap().concat(),
            serde_json::to_vec(&response).unwrap()
        );
    }

    #[test]
    fn a_plans_json_is_spliced_where_its_field_is() {
        let data = object(vec![
            ("before", Value::Boolean(false)),
            (
                "users",
                Value::Binary(Bytes::from_static(b"{\"edges\":[]}")),
            ),
        ]);
        let response = async_graphql::Response::new(data);
        assert!(was_planned(&response.data));
        let pieces = write_response(&response).unwrap();
        assert_eq!(
            pieces[1],
            Bytes::from_static(b"{\"edges\":[]}"),
            "sent as it is"
        );
        assert_eq!(
            String::from_utf8(pieces.concat()).unwrap(),
            r#"{"data":{"before":false,"users":{"edges":[]}}}"#
        );
    }

    #[test]
    fn documents_with_a_directive_anywhere_are_not_planned() {
        let allowed_in = |q: &str| allowed(&async_graphql::parser::parse_query(q).unwrap());
        assert!(allowed_in(
            "query Q { me { ...F ... on User { id } } } fragment F on User { name }"
        ));
        for q in [
            "{ me { id @include(if: true) } }",
            "{ me { ...F @skip(if: false) } } fragment F on User { id }",
            "{ me { ... on User @include(if: true) { id } } }",
            "{ me { ...F } } fragment F on User { id @skip(if: false) }",
            "query Q @deprecated { me { id } }",
        ] {
            assert!(!allowed_in(q), "{q}");
        }
    }
}
