//! `GET /api/openapi.json`: the API's OpenAPI 3.1 document, built once from the contract's types.

use std::collections::HashMap;
use std::sync::OnceLock;

use app::api::openapi::OPERATIONS;
use axum::body::Bytes;
use axum::response::{IntoResponse, Response};
use http::header::{self, HeaderValue};

pub async fn document() -> Response {
    static DOCUMENT: OnceLock<Bytes> = OnceLock::new();
    let bytes = DOCUMENT.get_or_init(|| {
        let document = app::api::openapi::document();
        Bytes::from(serde_json::to_vec(&document).expect("a JSON value serialises"))
    });
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        bytes.clone(),
    )
        .into_response()
}

/// The methods a documented `/api/` route answers (`None` for any other path).
pub fn allowed_methods(path: &str) -> Option<&'static [http::Method]> {
    static ROUTES: OnceLock<HashMap<&'static str, Vec<http::Method>>> = OnceLock::new();
    let routes = ROUTES.get_or_init(|| {
        let mut routes: HashMap<&'static str, Vec<http::Method>> = HashMap::new();
        for operation in OPERATIONS {
            routes
                .entry(operation.path)
                .or_default()
                .push(operation.method.clone());
        }
        routes
    });
    routes.get(path).map(Vec::as_slice)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use app::api::openapi::OPERATIONS;

    /// `(METHOD, path)` pairs.
    type Routes = BTreeSet<(String, String)>;

    fn documented() -> Routes {
        OPERATIONS
            .iter()
            .map(|o| (o.method.as_str().to_string(), o.path.to_string()))
            .collect()
    }

    /// What the server answers under `/api/`: every registered server function, and the live
    /// routes (all GET).
    fn served() -> Routes {
        let functions = leptos::server_fn::axum::server_fn_paths()
            .map(|(path, method)| (method.as_str().to_string(), path.to_string()));
        let live = super::super::live_routes()
            .into_iter()
            .filter(|(path, _)| path.starts_with("/api/"))
            .map(|(path, _)| ("GET".to_string(), path.to_string()));
        functions.chain(live).collect()
    }

    #[test]
    fn every_route_is_documented_and_every_documented_route_is_served() {
        let (documented, served) = (documented(), served());
        let undocumented: Vec<_> = served.difference(&documented).collect();
        let unserved: Vec<_> = documented.difference(&served).collect();
        assert!(
            undocumented.is_empty(),
            "routes missing from the OpenAPI document (app/src/api/openapi/operations.rs): {undocumented:?}"
        );
        assert!(
            unserved.is_empty(),
            "documented routes the server does not answer: {unserved:?}"
        );
        // The registry is not empty by accident (a linker dropping it would pass the above).
        assert!(served.len() > 25, "{served:?}");
    }

    #[test]
    fn operation_ids_are_unique_and_every_reference_resolves() {
        let document = app::api::openapi::document();
        let ids: Vec<_> = OPERATIONS.iter().map(|o| o.id).collect();
        let unique: BTreeSet<_> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "{ids:?}");
        let schemas = document["components"]["schemas"].as_object().unwrap();
        let mut references = Vec::new();
        collect_references(&document, &mut references);
        assert!(!references.is_empty());
        for reference in references {
            let name = reference
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("unexpected reference {reference}"));
            assert!(schemas.contains_key(name), "{reference} does not resolve");
        }
    }

    fn collect_references(value: &serde_json::Value, into: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::String(target)) = map.get("$ref") {
                    into.push(target.clone());
                }
                map.values().for_each(|v| collect_references(v, into));
            }
            serde_json::Value::Array(items) => {
                items.iter().for_each(|v| collect_references(v, into))
            }
            _ => {}
        }
    }
}
