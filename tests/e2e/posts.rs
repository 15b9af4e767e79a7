//! Posts end to end: drafts are their author's and the moderators' (NOT_FOUND or null to anyone
//! else, like a missing post), published posts are readable by anyone signed in or not, slugs
//! come from titles and collisions get a suffix (also when created in parallel), only
//! moderators feature. Each test runs on SQLite and PostgreSQL.

use colloquy_tests::{TestApp, e2e};
use core_domain::Role;
use persistence::entity::events;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

const CREATE: &str = "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id slug title published publishedAt featured } } }";
const BY_SLUG: &str = "query($s: String!) { post(slug: $s) { id title published content } }";
const PUBLISH: &str =
    "mutation($id: ID!) { publishPost(input: { id: $id }) { post { id published publishedAt } } }";
const UNPUBLISH: &str = "mutation($id: ID!) { unpublishPost(input: { id: $id }) { post { id published publishedAt } } }";
const UPDATE: &str =
    "mutation($id: ID!) { updatePost(input: { id: $id, title: \"pwned\" }) { post { id title } } }";
const FEATURE: &str =
    "mutation($id: ID!) { featurePost(input: { id: $id }) { post { id featured } } }";
const DELETE: &str = "mutation($id: ID!) { deletePost(input: { id: $id }) { deletedPostId } }";
const LIST: &str = "query($f: PostFilterInput) { posts(first: 50, filter: $f) { totalCount nodes { slug published featured } } }";

e2e!(
    drafts_are_private_and_published_posts_public,
    |app: TestApp| async move {
        let ada = app.register("ada@example.com").await;
        let bob = app.register("bob@example.com").await;
        let mo = app.register("mo@example.com").await;
        app.promote(&mo, Role::Moderator).await;

        let created = app
        .query(
            Some(&ada.token),
            CREATE,
            json!({ "i": { "title": "Hello, World!", "content": "Contract tips", "excerpt": "Tips" } }),
        )
        .await;
        let post = &created["createPost"]["post"];
        assert_eq!(post["slug"], "hello-world");
        assert_eq!(post["published"], false);
        assert!(post["publishedAt"].is_null());
        let id = post["id"].as_str().unwrap().to_owned();
        let slug = json!({ "s": "hello-world" });

        // A draft: null to anonymous callers and other users, NOT_FOUND to their mutations.
        assert!(app.query(None, BY_SLUG, slug.clone()).await["post"].is_null());
        assert!(app.query(Some(&bob.token), BY_SLUG, slug.clone()).await["post"].is_null());
        let node = app
            .query(
                Some(&bob.token),
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": id }),
            )
            .await;
        assert!(node["node"].is_null());
        for mutation in [UPDATE, PUBLISH, DELETE, FEATURE] {
            let code = app
                .error_code(Some(&bob.token), mutation, json!({ "id": id }))
                .await;
            assert_eq!(code, "NOT_FOUND", "{mutation}");
        }
        let anon_list = app.query(None, LIST, json!({})).await;
        assert_eq!(anon_list["posts"]["totalCount"], 0);
        // Its author and moderators see it.
        assert_eq!(
            app.query(Some(&ada.token), BY_SLUG, slug.clone()).await["post"]["id"],
            id.as_str()
        );
        assert_eq!(
            app.query(Some(&mo.token), BY_SLUG, slug.clone()).await["post"]["id"],
            id.as_str()
        );
        let own = app.query(Some(&ada.token), LIST, json!({})).await;
        assert_eq!(own["posts"]["totalCount"], 1);

        // Published: everyone reads it, signed in or not.
        let published = app
            .query(Some(&ada.token), PUBLISH, json!({ "id": id }))
            .await;
        assert_eq!(published["publishPost"]["post"]["published"], true);
        assert!(published["publishPost"]["post"]["publishedAt"].is_string());
        let anon = app.query(None, BY_SLUG, slug.clone()).await;
        assert_eq!(anon["post"]["content"], "Contract tips");
        let anon_list = app
            .query(None, LIST, json!({ "f": { "search": "contract" } }))
            .await;
        assert_eq!(anon_list["posts"]["totalCount"], 1);
        let miss = app
            .query(None, LIST, json!({ "f": { "search": "nothing like it" } }))
            .await;
        assert_eq!(miss["posts"]["totalCount"], 0);

        // Others still may not change it; only moderators feature.
        assert_eq!(
            app.error_code(Some(&bob.token), UPDATE, json!({ "id": id }))
                .await,
            "FORBIDDEN"
        );
        assert_eq!(
            app.error_code(Some(&ada.token), FEATURE, json!({ "id": id }))
                .await,
            "FORBIDDEN"
        );
        let featured = app
            .query(Some(&mo.token), FEATURE, json!({ "id": id }))
            .await;
        assert_eq!(featured["featurePost"]["post"]["featured"], true);
        let feats = app
            .query(None, LIST, json!({ "f": { "featured": true } }))
            .await;
        assert_eq!(feats["posts"]["totalCount"], 1);

        // Unpublished: private again.
        let back = app
            .query(Some(&ada.token), UNPUBLISH, json!({ "id": id }))
            .await;
        assert!(back["unpublishPost"]["post"]["publishedAt"].is_null());
        assert!(app.query(None, BY_SLUG, slug.clone()).await["post"].is_null());

        // Deleted: gone for everyone, moderators included.
        app.query(Some(&ada.token), DELETE, json!({ "id": id }))
            .await;
        assert!(app.query(Some(&mo.token), BY_SLUG, slug).await["post"].is_null());

        // Every mutation wrote its audit row.
        let audited = events::Entity::find()
            .filter(events::Column::EntityType.eq("Post"))
            .count(app.db().conn())
            .await
            .unwrap();
        assert_eq!(
            audited, 5,
            "created, published, featured, unpublished, deleted"
        );
    }
);

e2e!(
    slug_collisions_get_a_suffix_even_in_parallel,
    |app: TestApp| async move {
        let ada = app.register("ada@example.com").await;
        let first = app
            .query(
                Some(&ada.token),
                CREATE,
                json!({ "i": { "title": "Quarterly Report" } }),
            )
            .await;
        assert_eq!(first["createPost"]["post"]["slug"], "quarterly-report");
        let second = app
            .query(
                Some(&ada.token),
                CREATE,
                json!({ "i": { "title": "Quarterly  report!" } }),
            )
            .await;
        assert_eq!(second["createPost"]["post"]["slug"], "quarterly-report-2");

        let creates = (0..6).map(|_| {
            app.post(
                Some(&ada.token),
                CREATE,
                json!({ "i": { "title": "Quarterly Report" } }),
            )
        });
        let answers = futures::future::join_all(creates).await;
        let mut slugs: Vec<String> = answers
            .iter()
            .map(|b| {
                b["data"]["createPost"]["post"]["slug"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{b:#}"))
                    .to_owned()
            })
            .collect();
        slugs.sort();
        slugs.dedup();
        assert_eq!(slugs.len(), 6, "every post got its own slug: {slugs:?}");
        assert!(slugs.iter().all(|s| s.starts_with("quarterly-report-")));

        // Guests may not write posts; bad titles are refused on their field.
        let body = app
            .post(Some(&ada.token), CREATE, json!({ "i": { "title": "  " } }))
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["field"], "title",
            "{body:#}"
        );
    }
);
