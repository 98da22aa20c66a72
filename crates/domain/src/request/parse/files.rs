//! `file_infos`: each entry's type and the field it names (`file_id`, `url`, or the file
//! itself in `base64`), the newer per-file fields, and the limits on them all.

use serde_json::{Map, Value};

use super::{BASE64_MAX_BYTES, PROMPT_MAX, Parser, SWITCH, extras, loc, present, type_name};
use crate::field_error::{FieldError, Loc};
use crate::models;
use crate::request::fields::{NEWER_FILE_INFO_FIELDS, SEED_FILE_INFO_FIELDS};
use crate::request::{FileInfo, FileKind};

impl Parser<'_> {
    pub(super) fn file_infos(&mut self, obj: &Map<String, Value>, base: &[Loc]) -> Vec<FileInfo> {
        let Some(v) = present(obj, "file_infos") else { return Vec::new() };
        let Value::Array(items) = v else {
            self.push(
                base,
                "file_infos",
                "list_type",
                format!("file_infos must be an array, got {}", type_name(v)),
            );
            return Vec::new();
        };
        if items.len() > models::MAX_FILE_INFOS {
            self.push(
                base,
                "file_infos",
                "too_long",
                format!(
                    "file_infos holds at most {} entries, got {}",
                    models::MAX_FILE_INFOS,
                    items.len()
                ),
            );
            return Vec::new();
        }
        let list_base = loc(base, "file_infos");
        let infos: Vec<FileInfo> = items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| self.file_info(item, &loc(&list_base, i)))
            .collect();
        if self.base64_bytes > BASE64_MAX_BYTES {
            self.push(
                base,
                "file_infos",
                "too_large",
                format!(
                    "the base64 files add up to {} bytes; the upstream takes at most {BASE64_MAX_BYTES} (7 MB) in all, so its 10 MB request limit holds: give large files by url",
                    self.base64_bytes
                ),
            );
        }
        infos
    }

    /// The size of the file an entry of `type: Base64` carries in `base64`: raw standard
    /// base64, without a `data:…;base64,` prefix (the upstream refuses one).
    pub(super) fn base64(&mut self, fi: &Map<String, Value>, base: &[Loc]) -> Option<usize> {
        use base64::Engine;
        let Some(v) = present(fi, "base64") else {
            self.push(base, "base64", "missing", "base64 is required when type is Base64");
            return None;
        };
        let Value::String(text) = v else {
            let msg = format!("base64 must be a string, got {}", type_name(v));
            self.push(base, "base64", "string_type", msg);
            return None;
        };
        if text.starts_with("data:") {
            let msg = "base64 is the file's bytes in base64 alone: drop the data:…;base64, prefix";
            self.push(base, "base64", "value_error", msg);
            return None;
        }
        match base64::engine::general_purpose::STANDARD.decode(text.trim()) {
            Ok(bytes) if bytes.is_empty() => {
                self.push(base, "base64", "value_error", "base64 holds an empty file");
                None
            }
            Ok(bytes) => Some(bytes.len()),
            Err(e) => {
                let msg = format!("base64 is not standard base64: {e}");
                self.push(base, "base64", "value_error", msg);
                None
            }
        }
    }

    fn file_info(&mut self, item: &Value, base: &[Loc]) -> Option<FileInfo> {
        let Value::Object(fi) = item else {
            self.errors.push(FieldError::new(
                base.to_vec(),
                "dict_type",
                format!("each file_infos entry must be an object, got {}", type_name(item)),
            ));
            return None;
        };
        self.unknown_fields(fi, base, SEED_FILE_INFO_FIELDS, NEWER_FILE_INFO_FIELDS);
        let kind = if present(fi, "type").is_none() {
            self.push(
                base,
                "type",
                "missing",
                "type is required: File (a VOD file_id), Url (a url) or Base64 (the file in base64)",
            );
            None
        } else {
            let kinds =
                [("File", FileKind::File), ("Url", FileKind::Url), ("Base64", FileKind::Base64)];
            self.choice(fi, base, "type", &kinds)
        };
        let file_id = self.string(fi, base, "file_id", Some(128)).filter(|s| !s.is_empty());
        let url = self.http_url(fi, base, "url");
        let text = self.string(fi, base, "text", Some(PROMPT_MAX));
        self.choice(fi, base, "category", &[("Image", ()), ("Video", ()), ("Audio", ())]);
        self.choice(fi, base, "usage", &[("FirstFrame", ()), ("LastFrame", ()), ("Reference", ())]);
        self.choice(fi, base, "keep_original_sound", SWITCH);
        for key in ["reference_type", "object_id", "voice_id"] {
            self.string(fi, base, key, Some(256));
        }
        let extra = extras(fi, SEED_FILE_INFO_FIELDS);
        let kind = kind?;
        match kind {
            FileKind::File if file_id.is_none() => {
                if present(fi, "file_id").is_none() {
                    self.push(base, "file_id", "missing", "file_id is required when type is File");
                }
                return None;
            }
            FileKind::Url if url.is_none() => {
                if present(fi, "url").is_none() {
                    self.push(base, "url", "missing", "url is required when type is Url");
                }
                return None;
            }
            FileKind::Base64 => {
                let bytes = self.base64(fi, base)?;
                self.base64_bytes += bytes;
            }
            _ => {}
        }
        Some(FileInfo { kind, file_id, url, text, extra })
    }
}
