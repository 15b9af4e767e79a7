#!/usr/bin/env bash
# Refreshes the vendored GraphiQL playground from the npm registry (needs npm and tar).
#
#   crates/gateway/assets/graphiql/refresh.sh [GRAPHIQL_VERSION] [REACT_VERSION]
#
# GraphiQL must be a 3.x release: 3.x is the last line that ships a browser (UMD) bundle with
# CodeMirror 5 and graphql-ws built in; 4.x and later need a bundler and load Monaco workers.
# React must be 18.x: React 19 no longer ships UMD builds. After a refresh, update the versions in
# README.md; the URLs the server gives the files carry a hash of their content, so browsers pick
# the new files up by themselves.
set -euo pipefail

GRAPHIQL_VERSION="${1:-3.9.0}"
REACT_VERSION="${2:-18.3.1}"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$work"
for pkg in "graphiql@$GRAPHIQL_VERSION" "react@$REACT_VERSION" "react-dom@$REACT_VERSION"; do
    name="${pkg%@*}"
    mkdir -p "$name"
    tarball="$(npm pack --silent "$pkg")"
    tar xzf "$tarball" -C "$name"
    echo "$pkg: $(sha256sum "$tarball" | cut -d' ' -f1)  $tarball"
done

cp graphiql/package/graphiql.min.js "$here/graphiql.min.js"
cp graphiql/package/graphiql.min.css "$here/graphiql.min.css"
cp react/package/umd/react.production.min.js "$here/react.production.min.js"
cp react-dom/package/umd/react-dom.production.min.js "$here/react-dom.production.min.js"
cp graphiql/package/LICENSE "$here/LICENSE.graphiql"
cp react/package/LICENSE "$here/LICENSE.react"
cp react-dom/package/LICENSE "$here/LICENSE.react-dom"

# The playground must work offline: nothing in the CSS may load from elsewhere (GraphiQL 3 embeds
# its fonts as data: URLs), and the bundle must not import code at run time.
if grep -Eq '@import|url\((["'"'"']?)(https?:)?//' "$here/graphiql.min.css"; then
    echo "graphiql.min.css loads something from the network; refusing it" >&2
    exit 1
fi
if grep -Eq 'unpkg\.com/|cdn\.jsdelivr\.net/|esm\.sh/|importScripts\(' "$here/graphiql.min.js"; then
    echo "graphiql.min.js refers to a CDN; check it before vendoring" >&2
    exit 1
fi
ls -l "$here"
