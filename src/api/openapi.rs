//! The control API's OpenAPI 3.1 document, served at `/api/openapi.json` (behind the login,
//! like the API) for the Hub, which generates its client from it, and for scripts.
//!
//! Every control route is registered through [`Documented`], which only takes a route
//! together with its `#[utoipa::path]` operation (utoipa-axum's `routes!`): the path that
//! routes requests and the path in the document are one string, and there is no way to add
//! a route the document does not describe.

use axum::Router;
use axum::http::Method;
use utoipa::openapi::{InfoBuilder, OpenApi, OpenApiBuilder};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};

use crate::app::{Luna, Operation};

/// Control API routes, each with its operation in the document.
pub struct Documented(OpenApiRouter<Luna>);

impl Documented {
    pub fn new() -> Self {
        Self(OpenApiRouter::new())
    }

    /// Adds the routes of one handler (`utoipa_axum::routes!(handler)`), which only a caller
    /// whose role allows `operation` reaches (and what changes Luna is audited under its
    /// `operationId`). The role is in the document too, as `x-luna-role` on each operation,
    /// for the Hub and for scripts.
    pub fn routes(self, operation: Operation, (schemas, mut paths, router): UtoipaMethodRouter<Luna>) -> Self {
        let mut operation_ids = std::collections::HashMap::new();
        for item in paths.paths.values_mut() {
            let operations = [
                (Method::GET, &mut item.get),
                (Method::PUT, &mut item.put),
                (Method::POST, &mut item.post),
                (Method::DELETE, &mut item.delete),
                (Method::PATCH, &mut item.patch),
            ];
            for (method, documented) in operations {
                let Some(documented) = documented else { continue };
                let extensions = documented.extensions.get_or_insert_with(Default::default);
                extensions.insert("x-luna-role".into(), operation.role().as_str().into());
                operation_ids.insert(method, documented.operation_id.clone().unwrap_or_default());
            }
        }
        let operation_ids = std::sync::Arc::new(operation_ids);
        let router = router.layer(axum::middleware::from_fn(move |request, next| {
            super::caller::authorize(operation, operation_ids.clone(), request, next)
        }));
        Self(self.0.routes((schemas, paths, router)))
    }

    pub fn nest(self, path: &str, other: Documented) -> Self {
        Self(self.0.nest(path, other.0))
    }

    pub fn merge(self, other: Documented) -> Self {
        Self(self.0.merge(other.0))
    }

    /// The router, and the document that describes it.
    pub fn split(self) -> (Router<Luna>, OpenApi) {
        let (router, mut paths) = self.0.split_for_parts();
        let document = OpenApiBuilder::new()
            .info(
                InfoBuilder::new()
                    .title("Luna control API")
                    .version(env!("CARGO_PKG_VERSION"))
                    .description(Some(
                        "Luna's control API: reached through the gateway with a session (the Hub), and on \
                         .luna/run/api.sock by the CLI.",
                    ))
                    .build(),
            )
            .build();
        paths.info = document.info;
        // The error answers name `ErrorBody` by reference, which no operation registers.
        paths
            .components
            .get_or_insert_with(Default::default)
            .schemas
            .insert("ErrorBody".to_string(), <super::ErrorBody as utoipa::PartialSchema>::schema());
        (router, paths)
    }
}

impl Default for Documented {
    fn default() -> Self {
        Self::new()
    }
}
