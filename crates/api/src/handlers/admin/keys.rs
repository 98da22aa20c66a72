//! `/admin/keys`: create, list, revoke; a key's limits, budget and top-ups.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use vidgate_domain::pricing::Credits;
use vidgate_store::{KeyBudget, KeyLimits, KeyRecord, KeyRole, NewKey, StoreError, TopUp};

use super::{audit, key_named, typed};
use crate::auth::AdminKey;
use crate::extract::JsonBody;
use crate::handlers::estimate::BudgetView;
use crate::{ApiError, AppState};

/// A key's own limits; a field left out or null: the configured default applies.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsBody {
    /// Create calls per second (0: no limit).
    #[schema(minimum = 0)]
    pub create_rate: Option<f64>,
    #[schema(minimum = 0)]
    pub create_burst: Option<i64>,
    /// Requests waiting in the queue (0: no limit).
    #[schema(minimum = 0)]
    pub max_queued: Option<i64>,
    #[schema(minimum = 0)]
    pub max_body_bytes: Option<i64>,
    /// Upstream slots held at once (0: no limit).
    #[schema(minimum = 0)]
    pub max_running: Option<i64>,
    /// Seconds this key's kept media lives (0: until deleted; unset: `media.retention`).
    #[schema(minimum = 0, maximum = 3153600000_i64)]
    pub media_retention_secs: Option<i64>,
}

impl LimitsBody {
    fn checked(self) -> Result<KeyLimits, ApiError> {
        let bad = |field: &str| {
            ApiError::invalid(
                &["body", field],
                "greater_than_equal",
                format!("{field} must be a number ≥ 0"),
            )
        };
        if self.create_rate.is_some_and(|r| !r.is_finite() || r < 0.0) {
            return Err(bad("create_rate"));
        }
        for (field, v) in [
            ("create_burst", self.create_burst),
            ("max_queued", self.max_queued),
            ("max_body_bytes", self.max_body_bytes),
            ("max_running", self.max_running),
            ("media_retention_secs", self.media_retention_secs),
        ] {
            if v.is_some_and(|v| v < 0) {
                return Err(bad(field));
            }
        }
        if self.media_retention_secs.is_some_and(|v| v > 3_153_600_000) {
            return Err(ApiError::invalid(
                &["body", "media_retention_secs"],
                "less_than_equal",
                "media_retention_secs must be at most 3153600000 (100 years); 0 keeps media until deleted",
            ));
        }
        Ok(KeyLimits {
            create_rate: self.create_rate,
            create_burst: self.create_burst,
            max_queued: self.max_queued,
            max_body_bytes: self.max_body_bytes,
            max_running: self.max_running,
            media_retention_secs: self.media_retention_secs,
        })
    }

    fn of(l: &KeyLimits) -> LimitsBody {
        LimitsBody {
            create_rate: l.create_rate,
            create_burst: l.create_burst,
            max_queued: l.max_queued,
            max_body_bytes: l.max_body_bytes,
            max_running: l.max_running,
            media_retention_secs: l.media_retention_secs,
        }
    }
}

/// A key's budget (credits): `prepaid` refuses creates its balance cannot cover; the limits
/// cap what it spends per UTC day and month (null: none).
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetBody {
    #[serde(default)]
    pub prepaid: bool,
    #[schema(minimum = 0, maximum = 1e9)]
    pub day_limit: Option<f64>,
    #[schema(minimum = 0, maximum = 1e9)]
    pub month_limit: Option<f64>,
}

/// The largest amount one field may carry (credits): far beyond any real budget, and far
/// from where sums of micro-credits could overflow.
pub const MAX_CREDITS: f64 = 1e9;

fn amount(field: &[&str], v: f64) -> Result<Credits, ApiError> {
    Credits::from_credits(v).filter(|c| *c >= Credits::ZERO && v <= MAX_CREDITS).ok_or_else(|| {
        ApiError::invalid(
            field,
            "value_error",
            format!("must be an amount of credits from 0 to {MAX_CREDITS}"),
        )
    })
}

impl BudgetBody {
    fn checked(self) -> Result<KeyBudget, ApiError> {
        Ok(KeyBudget {
            prepaid: self.prepaid,
            day_limit: self.day_limit.map(|v| amount(&["body", "day_limit"], v)).transpose()?,
            month_limit: self
                .month_limit
                .map(|v| amount(&["body", "month_limit"], v))
                .transpose()?,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKeyBody {
    /// Unique among active keys; 1–64 characters.
    #[schema(min_length = 1, max_length = 64, pattern = "\\S")]
    pub name: String,
    /// Make it an admin key.
    #[serde(default)]
    pub admin: bool,
    #[serde(default)]
    pub limits: Option<LimitsBody>,
    #[serde(default)]
    pub budget: Option<BudgetBody>,
    /// Credits to start its balance with.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1e9)]
    pub top_up: Option<f64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TopUpBody {
    /// Credits to add; negative takes them away (an adjustment). Not 0; within ±1e9.
    #[schema(minimum = -1e9, maximum = 1e9)]
    pub amount: f64,
    /// Why (kept in the ledger and the audit log); at most 200 characters.
    #[serde(default)]
    #[schema(max_length = 200)]
    pub note: Option<String>,
}

/// A key as admins see it (never the key itself, nor its hash or secrets).
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    pub id: String,
    pub name: String,
    /// The first characters of the key.
    pub prefix: String,
    /// `user` or `admin`.
    pub role: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
    pub limits: LimitsBody,
    pub budget: Option<BudgetView>,
}

/// The answer to a create: the key, shown only now.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKey {
    pub key: String,
    #[serde(flatten)]
    pub view: KeyView,
}

async fn view(state: &AppState, k: &KeyRecord) -> Result<KeyView, ApiError> {
    let balance = state.store.balance(&k.id, state.clock.now_ms()).await?;
    Ok(KeyView {
        id: k.id.to_string(),
        name: k.name.clone(),
        prefix: k.prefix.clone(),
        role: k.role.as_str().into(),
        created_at: crate::time::rfc3339(k.created_at),
        revoked_at: k.revoked_at.map(crate::time::rfc3339),
        limits: LimitsBody::of(&k.limits),
        budget: balance.as_ref().map(BudgetView::of),
    })
}

fn name_checked(name: &str) -> Result<&str, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(ApiError::invalid(
            &["body", "name"],
            "string_too_long",
            "a key name must be 1 to 64 characters",
        ));
    }
    Ok(name)
}

#[utoipa::path(
    post, path = "/admin/keys", operation_id = "admin_create_key", tag = "admin",
    request_body = NewKeyBody,
    responses(
        (status = 201, description = "Created; `key` is shown only now.", body = CreatedKey),
        (status = 400, description = "Malformed JSON.", body = crate::openapi::ErrorBody),
        crate::openapi::Unauthorized,
        crate::openapi::NotAdmin,
        (status = 409, description = "An active key has that name.", body = crate::openapi::ErrorBody),
        (status = 422, description = "A bad field, named.", body = crate::openapi::ValidationErrorBody),
    ),
    security(("bearer" = []), ("key" = []))
)]
pub async fn create_key(
    State(state): State<AppState>,
    AdminKey(actor): AdminKey,
    JsonBody(body, _): JsonBody,
) -> Result<Response, ApiError> {
    let body: NewKeyBody = typed(body)?;
    let name = name_checked(&body.name)?.to_owned();
    let limits = body.limits.unwrap_or_default().checked()?;
    let budget = body.budget.unwrap_or_default().checked()?;
    let top_up = body.top_up.map(|v| amount(&["body", "top_up"], v)).transpose()?;
    let now = state.clock.now_ms();
    let (key, prefix) = crate::generate_key();
    let record = NewKey {
        id: vidgate_domain::KeyId::new(),
        name: name.clone(),
        key_hash: crate::hash_key(&key),
        prefix,
        created_at: now,
        // Made when the key first needs one (`vidgate keys secret`, its first webhook).
        webhook_secret: None,
        limits,
        role: if body.admin { KeyRole::Admin } else { KeyRole::User },
    };
    let created = match state.store.create_key(record).await {
        Ok(k) => k,
        Err(StoreError::Conflict(m)) => {
            return Err(ApiError::Conflict { detail: m, code: crate::ErrorCode::KeyNameTaken });
        }
        Err(e) => return Err(e.into()),
    };
    state.store.set_key_budget(&name, budget).await?;
    if let Some(credits) = top_up.filter(|c| *c > Credits::ZERO) {
        state
            .store
            .top_up(&created.id, credits, &format!("created by {}", actor.name), now)
            .await?;
    }
    let detail = json!({"role": created.role.as_str(), "limits": LimitsBody::of(&limits),
        "budget": body.budget, "top_up": body.top_up});
    audit(&state, &actor, "key.create", &name, Some(detail)).await?;
    let created = key_named(&state, &name).await?;
    let answer = CreatedKey { key, view: view(&state, &created).await? };
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

#[utoipa::path(
    get, path = "/admin/keys", operation_id = "admin_list_keys", tag = "admin",
    responses(
        (status = 200, description = "Every key, active and revoked.", body = [KeyView]),
        crate::openapi::Unauthorized,
        crate::openapi::NotAdmin,
    ),
    security(("bearer" = []), ("key" = []))
)]
pub async fn list_keys(
    State(state): State<AppState>,
    AdminKey(_admin): AdminKey,
) -> Result<Json<Vec<KeyView>>, ApiError> {
    let mut out = Vec::new();
    for k in state.store.list_keys().await? {
        out.push(view(&state, &k).await?);
    }
    Ok(Json(out))
}

#[utoipa::path(
    delete, path = "/admin/keys/{name}", operation_id = "admin_revoke_key", tag = "admin",
    params(("name" = String, Path, description = "The key's name.")),
    responses(
        (status = 204, description = "Revoked; it stops working within `auth.key_cache_ttl`."),
        (status = 409, description = "It is the key making the call (revoke it with another admin key).", body = crate::openapi::ErrorBody),
        crate::openapi::Unauthorized,
        crate::openapi::NotAdmin,
        (status = 404, description = "No active key has that name.", body = crate::openapi::ErrorBody),
    ),
    security(("bearer" = []), ("key" = []))
)]
pub async fn revoke_key(
    State(state): State<AppState>,
    AdminKey(actor): AdminKey,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    // An admin cannot lock itself out by accident: another admin key revokes this one.
    if name == actor.name {
        return Err(ApiError::Conflict {
            detail: "this is the key making the call; revoke it with another admin key".into(),
            code: crate::ErrorCode::CannotRevokeSelf,
        });
    }
    if !state.store.revoke_key(&name, state.clock.now_ms()).await? {
        return Err(ApiError::NotFound(format!("no active key is named {name:?}")));
    }
    // At once here; on other replicas within `auth.key_cache_ttl`.
    state.keys.forget_named(&name);
    audit(&state, &actor, "key.revoke", &name, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    put, path = "/admin/keys/{name}/limits", operation_id = "admin_set_limits", tag = "admin",
    params(("name" = String, Path, description = "The key's name.")),
    request_body = LimitsBody,
    responses(
        (status = 200, description = "The key with its new limits.", body = KeyView),
        (status = 400, description = "Malformed JSON.", body = crate::openapi::ErrorBody),
        crate::openapi::Unauthorized,
        crate::openapi::NotAdmin,
        (status = 404, description = "No active key has that name.", body = crate::openapi::ErrorBody),
        (status = 422, description = "A bad field, named.", body = crate::openapi::ValidationErrorBody),
    ),
    security(("bearer" = []), ("key" = []))
)]
pub async fn set_limits(
    State(state): State<AppState>,
    AdminKey(actor): AdminKey,
    Path(name): Path<String>,
    JsonBody(body, _): JsonBody,
) -> Result<Json<KeyView>, ApiError> {
    let body: LimitsBody = typed(body)?;
    let limits = body.checked()?;
    key_named(&state, &name).await?;
    state.store.set_key_limits(&name, limits).await?;
    audit(&state, &actor, "key.limits", &name, Some(json!(body))).await?;
    Ok(Json(view(&state, &key_named(&state, &name).await?).await?))
}

#[utoipa::path(
    put, path = "/admin/keys/{name}/budget", operation_id = "admin_set_budget", tag = "admin",
    params(("name" = String, Path, description = "The key's name.")),
    request_body = BudgetBody,
    responses(
        (status = 200, description = "The key with its new budget.", body = KeyView),
        (status = 400, description = "Malformed JSON.", body = crate::openapi::ErrorBody),
        crate::openapi::Unauthorized,
        crate::openapi::NotAdmin,
        (status = 404, description = "No active key has that name.", body = crate::openapi::ErrorBody),
        (status = 422, description = "A bad field, named.", body = crate::openapi::ValidationErrorBody),
    ),
    security(("bearer" = []), ("key" = []))
)]
pub async fn set_budget(
    State(state): State<AppState>,
    AdminKey(actor): AdminKey,
    Path(name): Path<String>,
    JsonBody(body, _): JsonBody,
) -> Result<Json<KeyView>, ApiError> {
    let body: BudgetBody = typed(body)?;
    let budget = body.checked()?;
    key_named(&state, &name).await?;
    state.store.set_key_budget(&name, budget).await?;
    audit(&state, &actor, "key.budget", &name, Some(json!(body))).await?;
    Ok(Json(view(&state, &key_named(&state, &name).await?).await?))
}

#[utoipa::path(
    post, path = "/admin/keys/{name}/top-ups", operation_id = "admin_top_up", tag = "admin",
    params(("name" = String, Path, description = "The key's name.")),
    request_body = TopUpBody,
    responses(
        (status = 200, description = "The key with its new balance.", body = KeyView),
        (status = 400, description = "Malformed JSON.", body = crate::openapi::ErrorBody),
        crate::openapi::Unauthorized,
        crate::openapi::NotAdmin,
        (status = 404, description = "No active key has that name.", body = crate::openapi::ErrorBody),
        (status = 409, description = "A negative adjustment larger than a prepaid key's balance (`would_overdraw`).", body = crate::openapi::ErrorBody),
        (status = 422, description = "A bad field, named.", body = crate::openapi::ValidationErrorBody),
    ),
    security(("bearer" = []), ("key" = []))
)]
pub async fn top_up(
    State(state): State<AppState>,
    AdminKey(actor): AdminKey,
    Path(name): Path<String>,
    JsonBody(body, _): JsonBody,
) -> Result<Json<KeyView>, ApiError> {
    let body: TopUpBody = typed(body)?;
    let credits = Credits::from_credits(body.amount)
        .filter(|c| *c != Credits::ZERO && body.amount.abs() <= MAX_CREDITS)
        .ok_or_else(|| {
            ApiError::invalid(
                &["body", "amount"],
                "value_error",
                format!("amount must be a non-zero number of credits within ±{MAX_CREDITS}"),
            )
        })?;
    let note = body.note.clone().unwrap_or_default();
    if note.chars().count() > 200 {
        return Err(ApiError::invalid(
            &["body", "note"],
            "string_too_long",
            "note is at most 200 characters",
        ));
    }
    let key = key_named(&state, &name).await?;
    let note = format!("{}: {note}", actor.name);
    let now = state.clock.now_ms();
    match state.store.top_up(&key.id, credits, note.trim_end_matches([':', ' ']), now).await? {
        TopUp::Done(_) => {}
        TopUp::NoSuchKey => return Err(ApiError::NotFound(format!("no key named {name:?}"))),
        TopUp::WouldOverdraw { balance } => {
            return Err(ApiError::Conflict {
                detail: format!(
                    "key {name:?} is prepaid and its balance is {balance} credits: an adjustment of {} would take it below zero",
                    body.amount
                ),
                code: crate::ErrorCode::WouldOverdraw,
            });
        }
    }
    audit(
        &state,
        &actor,
        "key.top_up",
        &name,
        Some(json!({"amount": body.amount, "note": body.note})),
    )
    .await?;
    Ok(Json(view(&state, &key).await?))
}
