//! API keys: generation, hashing, and the extractor that authenticates a request. A key is
//! `vg_` + 40 base62 characters (~238 bits); only its SHA-256 is stored.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use sha2::{Digest, Sha256};
use vidgate_domain::Millis;
use vidgate_store::KeyRecord;

use crate::limits::Bucket;
use crate::{ApiError, AppState};

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const KEY_CHARS: usize = 40;

/// A new random key, from the operating system's generator. Returns `(key, prefix shown in
/// listings)`.
pub fn generate_key() -> (String, String) {
    let mut chars = Vec::with_capacity(KEY_CHARS);
    let mut pool = [0u8; 64];
    while chars.len() < KEY_CHARS {
        fill_random(&mut pool);
        // Bytes below 248 only (248 = 4 × 62), so `% 62` stays unbiased.
        let usable = pool.iter().filter(|b| **b < 248);
        let wanted = KEY_CHARS - chars.len();
        chars.extend(usable.take(wanted).map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()]));
    }
    let key = format!("vg_{}", String::from_utf8_lossy(&chars));
    let prefix = key[..9].to_owned();
    (key, prefix)
}

/// OS randomness; should the OS refuse, the thread's CSPRNG (itself seeded from the OS).
fn fill_random(buf: &mut [u8]) {
    use rand::{RngCore, TryRngCore};
    if rand::rngs::OsRng.try_fill_bytes(buf).is_err() {
        rand::rng().fill_bytes(buf);
    }
}

/// The key's SHA-256 in lower-case hex (what the store keeps). Hex through a buffer:
/// `hex::encode` goes a `char` at a time, which cost more than the hash itself.
pub fn hash_key(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let mut hex = [0u8; 64];
    match hex::encode_to_slice(digest, &mut hex) {
        Ok(()) => String::from_utf8_lossy(&hex).into_owned(),
        Err(_) => hex::encode(digest),
    }
}

/// The caller, authenticated by `Authorization: Bearer <key>` or fal's `Authorization: Key <key>`,
/// with the key's stored hash (what its stream tokens are signed with).
#[derive(Clone)]
pub struct ApiKey(pub KeyRecord, pub String);

/// Without the hash: it keys the stream-token HMAC.
impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ApiKey").field(&self.0).field(&"<redacted>").finish()
    }
}

/// The TCP peer's address as the server loop recorded it (`"?"` when unknown, in tests that
/// call the router directly): what unauthenticated calls are throttled by.
pub fn client_address(extensions: &axum::http::Extensions) -> String {
    extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map_or_else(|| "?".to_owned(), |c| c.0.ip().to_string())
}

fn presented_key(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, key) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("key"))
        .then_some(key.trim())
}

/// An authenticated caller whose call draws on the key's read bucket (every route but create).
impl FromRequestParts<AppState> for ApiKey {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let key = authenticate(&parts.headers, &parts.extensions, state).await?;
        state.rates.take(
            &key.0.id,
            &key.0.limits,
            Bucket::Read,
            &state.config.limits,
            state.clock.now_ms(),
        )?;
        Ok(key)
    }
}

/// The caller of the create routes: draws on the key's create bucket instead. With the key's
/// hash, as `ApiKey` (a create that waits answers with a tokened stream URL).
#[derive(Clone)]
pub struct CreatorKey(pub KeyRecord, pub String);

impl std::fmt::Debug for CreatorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("CreatorKey").field(&self.0).field(&"<redacted>").finish()
    }
}

impl FromRequestParts<AppState> for CreatorKey {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ApiKey(key, hash) = authenticate(&parts.headers, &parts.extensions, state).await?;
        state.rates.take(
            &key.id,
            &key.limits,
            Bucket::Create,
            &state.config.limits,
            state.clock.now_ms(),
        )?;
        Ok(CreatorKey(key, hash))
    }
}

/// An admin key (role `admin`): the `/admin/` routes. Draws on the key's read bucket.
#[derive(Debug, Clone)]
pub struct AdminKey(pub KeyRecord);

impl FromRequestParts<AppState> for AdminKey {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ApiKey(key, _) = ApiKey::from_request_parts(parts, state).await?;
        if key.role != vidgate_store::KeyRole::Admin {
            return Err(ApiError::Forbidden(
                "this route needs an admin key (vidgate keys create --admin)",
            ));
        }
        Ok(AdminKey(key))
    }
}

/// Whether the request carries an `Authorization` header at all.
pub fn has_authorization(headers: &HeaderMap) -> bool {
    headers.contains_key(AUTHORIZATION)
}

/// Authenticates the key in `Authorization`. A key the store does not know is remembered
/// for a while, and a client address that keeps presenting unknown keys is throttled before
/// the store is asked, so guessing keys costs the database nothing past a small rate. (The
/// client address, from `extensions`, is formatted only on that path: a known key never
/// needs it.)
pub async fn authenticate(
    headers: &HeaderMap,
    extensions: &axum::http::Extensions,
    state: &AppState,
) -> Result<ApiKey, ApiError> {
    let Some(key) = presented_key(headers).filter(|k| !k.is_empty()) else {
        return Err(ApiError::Unauthorized(
            "missing API key: send `Authorization: Bearer <key>` (or `Key <key>`)",
        ));
    };
    let hash = hash_key(key);
    let now = state.clock.now_ms();
    if let Some(record) = state.keys.get(&hash, now) {
        return Ok(ApiKey(record, hash));
    }
    if state.keys.is_unknown(&hash, now) {
        return Err(ApiError::Unauthorized("invalid or revoked API key"));
    }
    let limits = &state.config.limits;
    let client = client_address(extensions);
    state.rates.peek(&client, Bucket::Unauthenticated, limits, now)?;
    match state.store.find_active_key(&hash).await? {
        Some(record) => {
            state.keys.put(&hash, &record, now);
            Ok(ApiKey(record, hash))
        }
        None => {
            state.keys.put_unknown(&hash, now);
            let no_limits = vidgate_store::KeyLimits::default();
            let _ = state.rates.take(&client, &no_limits, Bucket::Unauthenticated, limits, now);
            Err(ApiError::Unauthorized("invalid or revoked API key"))
        }
    }
}

/// Active keys recently found in the store, so a status poll costs no key lookup. Entries
/// live `ttl` (by the app's clock): a revocation, made by another process, takes effect
/// within it. Unknown keys are not cached (a new key works at once). Bounded: when full it
/// starts over, which costs one lookup per key.
pub struct KeyCache {
    ttl_ms: Millis,
    entries: Mutex<HashMap<String, (KeyRecord, Millis)>>,
    /// Hashes of keys the store did not know, and when it said so. A new key is never in
    /// here (nobody could present it before it existed), so it still works at once.
    unknown: Mutex<HashMap<String, Millis>>,
}

const KEY_CACHE_MAX: usize = 10_000;
/// How long an unknown key is answered 401 without asking the store again.
const UNKNOWN_TTL_MS: Millis = 10_000;

impl KeyCache {
    pub fn new(ttl: Duration) -> Self {
        KeyCache {
            ttl_ms: ttl.as_millis() as Millis,
            entries: Mutex::new(HashMap::new()),
            unknown: Mutex::new(HashMap::new()),
        }
    }

    fn is_unknown(&self, hash: &str, now: Millis) -> bool {
        let unknown = self.unknown.lock().unwrap_or_else(|e| e.into_inner());
        unknown.get(hash).is_some_and(|at| now < at + UNKNOWN_TTL_MS)
    }

    fn put_unknown(&self, hash: &str, now: Millis) {
        let mut unknown = self.unknown.lock().unwrap_or_else(|e| e.into_inner());
        if unknown.len() >= KEY_CACHE_MAX {
            unknown.retain(|_, at| now < *at + UNKNOWN_TTL_MS);
            if unknown.len() >= KEY_CACHE_MAX {
                unknown.clear();
            }
        }
        unknown.insert(hash.to_owned(), now);
    }

    fn get(&self, hash: &str, now: Millis) -> Option<KeyRecord> {
        if self.ttl_ms == 0 {
            return None;
        }
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(hash).filter(|(_, at)| now < at + self.ttl_ms).map(|(k, _)| k.clone())
    }

    /// Drops the key named `name`, so its revocation takes effect at once in this process
    /// (other replicas within `ttl`).
    pub fn forget_named(&self, name: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|_, (k, _)| k.name != name);
    }

    fn put(&self, hash: &str, record: &KeyRecord, now: Millis) {
        if self.ttl_ms == 0 {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= KEY_CACHE_MAX {
            entries.clear();
        }
        entries.insert(hash.to_owned(), (record.clone(), now));
    }
}

/// The request a signed token opens (`vidgate_wire::token`: a status stream or a file). A
/// missing request and a wrong or expired token answer the same 401, so the route tells
/// nothing about which ids exist; a client address that keeps presenting bad tokens is
/// throttled before the store is read.
pub async fn by_token(
    state: &AppState,
    client: &str,
    grant: vidgate_wire::token::Grant,
    token: &str,
) -> Result<vidgate_store::TaskRecord, ApiError> {
    use vidgate_wire::token::Grant;
    let id = match grant {
        Grant::Stream(id) | Grant::Content(id, _) => id,
    };
    let (limits, now) = (&state.config.limits, state.clock.now_ms());
    state.rates.peek(client, Bucket::Unauthenticated, limits, now)?;
    if let Some(task) = state.store.get_task_any(id).await?
        && let Some(hash) = state.store.active_key_hash(&task.key_id).await?
        && vidgate_wire::token::verify(&hash, grant, token, now)
        // Read as its key reads it: a request its owner deleted opens nothing any more.
        && let Some(task) = state.store.get_task(&task.key_id, id).await?
    {
        return Ok(task);
    }
    let none = vidgate_store::KeyLimits::default();
    let _ = state.rates.take(client, &none, Bucket::Unauthenticated, limits, now);
    Err(ApiError::Unauthorized("invalid or expired token"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_hash_is_its_sha256_in_lower_case_hex() {
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(hash_key("abc"), abc);
    }

    #[test]
    fn generated_keys_are_long_unique_and_prefixed() {
        let (a, pa) = generate_key();
        let (b, _) = generate_key();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(a.starts_with("vg_"));
        assert!(a.starts_with(&pa));
        assert!(a[3..].bytes().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn an_api_keys_debug_print_hides_its_hash() {
        let record = KeyRecord {
            id: "key_1".into(),
            name: "ci".into(),
            prefix: "vg_abc".into(),
            created_at: 0,
            revoked_at: None,
            limits: Default::default(),
            role: Default::default(),
            budget: Default::default(),
        };
        let hash = hash_key("vg_secret");
        let printed = format!("{:?}", ApiKey(record, hash.clone()));
        assert!(!printed.contains(&hash), "{printed}");
        assert!(printed.contains("redacted") && printed.contains("key_1"), "{printed}");
    }

    #[test]
    fn hashes_are_stable_hex_sha256() {
        assert_eq!(
            hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
