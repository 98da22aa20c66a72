//! Which body fields vidgate knows: the seed's, and the newer upstream fields it has been
//! told about (reference §2). With strict model rules on, anything else is a typo until
//! proven otherwise and is refused with `extra_forbidden`; off, it passes through.

/// Top-level fields of the seed, typed in `VideoRequest`.
pub const SEED_TOP_FIELDS: &[&str] = &[
    "model_name",
    "model_version",
    "prompt",
    "negative_prompt",
    "enhance_prompt",
    "file_infos",
    "last_frame_url",
    "output_config",
    "session_id",
    "session_context",
    "tasks_priority",
    "ext_info",
];

/// Newer top-level upstream fields, checked for type and passed through.
pub const NEWER_TOP_FIELDS: &[&str] =
    &["seed", "scene_type", "input_region", "subject_infos", "procedure", "last_frame_file_id"];

pub const SEED_OUTPUT_FIELDS: &[&str] = &[
    "storage_mode",
    "media_name",
    "duration",
    "resolution",
    "aspect_ratio",
    "audio_generation",
    "person_generation",
    "input_compliance_check",
    "output_compliance_check",
    "enhance_switch",
];

pub const NEWER_OUTPUT_FIELDS: &[&str] =
    &["frame_interpolate", "logo_add", "off_peak", "enable_bgm", "class_id", "expire_time"];

pub const SEED_FILE_INFO_FIELDS: &[&str] = &["type", "file_id", "url", "text"];

pub const NEWER_FILE_INFO_FIELDS: &[&str] = &[
    "category",
    "usage",
    "reference_type",
    "object_id",
    "voice_id",
    "keep_original_sound",
    "base64",
];
