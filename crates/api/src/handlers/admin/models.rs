//! `/admin/models`: the operator's model-catalog entries, in the catalog file's format, stored
//! so every replica lays them over its built-in catalog and applied without a restart: add a
//! version the upstream shipped this morning, correct a limit, name its usage product, price
//! it. Each change is audited.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use vidgate_domain::models::format::{CatalogFile, ModelSpec, VersionSpec};
use vidgate_domain::models::live::Skipped;
use vidgate_store::CatalogEntry;

use super::{audit, typed};
use crate::auth::AdminKey;
use crate::extract::JsonBody;
use crate::handlers::models::{ModelInfo, model_info};
use crate::{ApiError, AppState};

/// The operator's stored entries.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntriesBody {
    pub entries: Vec<EntryView>,
    /// Stored entries that do not apply to the catalog in force (skipped), and why.
    pub skipped: Vec<SkippedView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EntryView {
    /// `Model` or `Model/version`.
    pub path: String,
    /// The entry, in the catalog file's format.
    #[schema(value_type = Object)]
    pub entry: Value,
    /// Milliseconds since the Unix epoch.
    pub updated_at: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SkippedView {
    pub path: String,
    pub problem: String,
}

fn name_ok(what: &str, name: &str) -> Result<(), ApiError> {
    let ok = !name.trim().is_empty() && name.len() <= 64 && !name.chars().any(char::is_control);
    if ok {
        return Ok(());
    }
    Err(ApiError::invalid(
        &["path", what],
        "value_error",
        format!("{what} must be 1 to 64 printable characters"),
    ))
}

/// `body` with its `name` set from the path (a different `name` in the body is refused).
fn named(mut body: Value, name: &str) -> Result<Value, ApiError> {
    let Some(obj) = body.as_object_mut() else {
        return Err(ApiError::invalid(&["body"], "dict_type", "the entry must be a JSON object"));
    };
    match obj.get("name") {
        Some(Value::String(n)) if n == name => {}
        None => {
            obj.insert("name".into(), Value::String(name.into()));
        }
        Some(_) => {
            return Err(ApiError::invalid(
                &["body", "name"],
                "value_error",
                format!("name must be the path's ({name:?}) or left out"),
            ));
        }
    }
    Ok(body)
}

/// Stores `file` at `path` once it is known to apply over the catalog with every other stored
/// entry, reloads, audits, and answers with the model as now listed.
async fn put_entry(
    state: &AppState,
    actor: &vidgate_store::KeyRecord,
    path: String,
    file: CatalogFile,
    model: &str,
) -> Result<Json<ModelInfo>, ApiError> {
    let mut stored: Vec<(String, CatalogFile)> = Vec::new();
    for e in state.store.catalog_entries().await? {
        if e.path != path
            && let Ok(f) = serde_json::from_str::<CatalogFile>(&e.body)
        {
            stored.push((e.path, f));
        }
    }
    stored.push((path.clone(), file.clone()));
    let (_, skipped) = state.models.setup().build(&stored).map_err(|e| {
        ApiError::invalid(&["body"], "catalog", format!("the catalog does not build: {e}"))
    })?;
    if let Some(s) = skipped.iter().find(|s| s.path == path) {
        return Err(ApiError::invalid(&["body"], "catalog", s.problem.clone()));
    }
    let body = serde_json::to_string(&file).map_err(|e| ApiError::Internal(e.to_string()))?;
    let entry = CatalogEntry { path: path.clone(), body, updated_at: state.clock.now_ms() };
    state.store.put_catalog_entry(&entry).await?;
    crate::catalog::reload(state.store.as_ref(), &state.models)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let detail = serde_json::to_value(&file).ok();
    audit(state, actor, "model.put", &path, detail).await?;
    let models = state.models();
    let table = models.catalog.table(model).ok_or_else(|| {
        ApiError::Internal(format!("{model} is not in the catalog it was put in"))
    })?;
    Ok(Json(model_info(&models, table)))
}

#[utoipa::path(
    put, path = "/admin/models/{model}", operation_id = "admin_put_model", tag = "admin",
    params(("model" = String, Path, description = "The upstream's ModelName.")),
    request_body(content = Object, description = "A model entry in the catalog file's format (README, Models): as_of, source, scene_types, family, versions, specifications, prices."),
    responses(
        (status = 200, description = "The model as now listed.", body = ModelInfo),
        (status = 400, description = "Malformed JSON.", body = crate::openapi::ErrorBody),
        crate::openapi::Unauthorized,
        crate::openapi::NotAdmin,
        (status = 422, description = "A bad field, named; or an entry that does not apply.", body = crate::openapi::ValidationErrorBody),
    ),
    security(("bearer" = []), ("key" = []))
)]
pub async fn put_model(
    State(state): State<AppState>,
    AdminKey(actor): AdminKey,
    Path(model): Path<String>,
    JsonBody(body, _): JsonBody,
) -> Result<Json<ModelInfo>, ApiError> {
    name_ok("model", &model)?;
    let spec: ModelSpec = typed(named(body, &model)?)?;
    let file = CatalogFile { models: vec![spec], ..Default::default() };
    put_entry(&state, &actor, model.clone(), file, &model).await
}

#[utoipa::path(
    put, path = "/admin/models/{model}/versions/{version}", operation_id = "admin_put_model_version", tag = "admin",
    params(
        ("model" = String, Path, description = "The upstream's ModelName (in the catalog, or added by PUT /admin/models/{model})."),
        ("version" = String, Path, description = "The upstream's ModelVersion."),
    ),
    request_body(content = Object, description = "A version entry in the catalog file's format: as_of, source, rules, specifications, prices, aliases."),
    responses(
        (status = 200, description = "The model as now listed.", body = ModelInfo),
        (status = 400, description = "Malformed JSON.", body = crate::openapi::ErrorBody),
        crate::openapi::Unauthorized,
        crate::openapi::NotAdmin,
        (status = 422, description = "A bad field, named; or an entry that does not apply.", body = crate::openapi::ValidationErrorBody),
    ),
    security(("bearer" = []), ("key" = []))
)]
pub async fn put_version(
    State(state): State<AppState>,
    AdminKey(actor): AdminKey,
    Path((model, version)): Path<(String, String)>,
    JsonBody(body, _): JsonBody,
) -> Result<Json<ModelInfo>, ApiError> {
    name_ok("model", &model)?;
    name_ok("version", &version)?;
    let spec: VersionSpec = typed(named(body, &version)?)?;
    let file = CatalogFile {
        models: vec![ModelSpec { name: model.clone(), versions: vec![spec], ..Default::default() }],
        ..Default::default()
    };
    put_entry(&state, &actor, format!("{model}/{version}"), file, &model).await
}

/// Removes the stored entry at `path`, reloads and audits.
async fn delete_entry(
    state: &AppState,
    actor: &vidgate_store::KeyRecord,
    path: String,
) -> Result<StatusCode, ApiError> {
    if !state.store.delete_catalog_entry(&path).await? {
        return Err(ApiError::NotFound(format!("no operator entry is stored at {path:?}")));
    }
    crate::catalog::reload(state.store.as_ref(), &state.models)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    audit(state, actor, "model.delete", &path, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    delete, path = "/admin/models/{model}", operation_id = "admin_delete_model", tag = "admin",
    params(("model" = String, Path, description = "The upstream's ModelName.")),
    responses(
        (status = 204, description = "The operator's model entry is gone (the built-in one, if any, applies again)."),
        crate::openapi::Unauthorized,
        crate::openapi::NotAdmin,
        (status = 404, description = "No operator entry is stored there.", body = crate::openapi::ErrorBody),
    ),
    security(("bearer" = []), ("key" = []))
)]
pub async fn delete_model(
    State(state): State<AppState>,
    AdminKey(actor): AdminKey,
    Path(model): Path<String>,
) -> Result<StatusCode, ApiError> {
    delete_entry(&state, &actor, model).await
}

#[utoipa::path(
    delete, path = "/admin/models/{model}/versions/{version}", operation_id = "admin_delete_model_version", tag = "admin",
    params(
        ("model" = String, Path, description = "The upstream's ModelName."),
        ("version" = String, Path, description = "The upstream's ModelVersion."),
    ),
    responses(
        (status = 204, description = "The operator's version entry is gone."),
        crate::openapi::Unauthorized,
        crate::openapi::NotAdmin,
        (status = 404, description = "No operator entry is stored there.", body = crate::openapi::ErrorBody),
    ),
    security(("bearer" = []), ("key" = []))
)]
pub async fn delete_version(
    State(state): State<AppState>,
    AdminKey(actor): AdminKey,
    Path((model, version)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    delete_entry(&state, &actor, format!("{model}/{version}")).await
}

#[utoipa::path(
    get, path = "/admin/models", operation_id = "admin_list_model_entries", tag = "admin",
    responses(
        (status = 200, description = "The operator's stored entries, and any that do not apply.", body = EntriesBody),
        crate::openapi::Unauthorized,
        crate::openapi::NotAdmin,
    ),
    security(("bearer" = []), ("key" = []))
)]
pub async fn list_entries(
    State(state): State<AppState>,
    _admin: AdminKey,
) -> Result<Json<EntriesBody>, ApiError> {
    let entries = state.store.catalog_entries().await?;
    let skipped: Vec<Skipped> = crate::catalog::reload(state.store.as_ref(), &state.models)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(EntriesBody {
        entries: entries
            .into_iter()
            .map(|e| EntryView {
                entry: serde_json::from_str(&e.body).unwrap_or(Value::String(e.body)),
                path: e.path,
                updated_at: e.updated_at,
            })
            .collect(),
        skipped: skipped
            .into_iter()
            .map(|s| SkippedView { path: s.path, problem: s.problem })
            .collect(),
    }))
}
