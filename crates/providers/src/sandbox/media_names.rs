//! Names of the media the sandbox stores. A request's files live in
//! `<media_dir>/<request id>.<token>/`, served as `/media/<request id>.<token>/…`, with File ids
//! `sbx-<request id>.<token>-cover`. The token is an HMAC of the owning key's id and the
//! request id under a secret kept beside the media (`.media-key`, made on first use, shared by
//! replicas that share the directory). So media URLs cannot be guessed from request ids (which
//! are UUIDv7, partly predictable), and a File id resolves only for the key that owns it:
//! another key's id fails exactly as a missing one does.

use crate::SetupError;
use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use vidgate_domain::RequestId;

const KEY_FILE: &str = ".media-key";
/// Hex characters of the token (128 bits).
const TOKEN_CHARS: usize = 32;

#[derive(Clone)]
pub struct MediaNames {
    secret: Vec<u8>,
}

impl std::fmt::Debug for MediaNames {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MediaNames(<secret>)")
    }
}

impl MediaNames {
    /// Reads the media directory's secret, making it on first use.
    pub fn open(media_dir: &Path) -> Result<Self, SetupError> {
        let path = media_dir.join(KEY_FILE);
        if let Ok(text) = std::fs::read_to_string(&path) {
            return Self::from_hex(text.trim(), &path);
        }
        std::fs::create_dir_all(media_dir).map_err(SetupError::io("create", media_dir))?;
        let secret: String = (0..2).map(|_| uuid::Uuid::new_v4().simple().to_string()).collect();
        // Written aside and linked into place: a replica starting at the same moment either
        // links first or reads the winner's whole file.
        let tmp = media_dir.join(format!("{KEY_FILE}.{}", uuid::Uuid::new_v4().simple()));
        std::fs::write(&tmp, &secret).map_err(SetupError::io("write", &tmp))?;
        restrict(&tmp);
        let linked = std::fs::hard_link(&tmp, &path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => Self::from_hex(&secret, &path),
            Err(_) => {
                let text = std::fs::read_to_string(&path).map_err(SetupError::io("read", &path))?;
                Self::from_hex(text.trim(), &path)
            }
        }
    }

    fn from_hex(text: &str, path: &Path) -> Result<Self, SetupError> {
        match hex::decode(text) {
            Ok(secret) if secret.len() >= 16 => Ok(MediaNames { secret }),
            _ => Err(SetupError::BadMediaKey(path.to_path_buf())),
        }
    }

    fn token(&self, key_id: &str, id: RequestId) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes any key");
        mac.update(format!("vidgate-media:{key_id}:{id}").as_bytes());
        hex::encode(mac.finalize().into_bytes())[..TOKEN_CHARS].to_owned()
    }

    /// The directory name (and URL segment) of a request's media.
    pub fn dir_name(&self, key_id: &str, id: RequestId) -> String {
        format!("{id}.{}", self.token(key_id, id))
    }

    /// `kind`: `video` or `cover`.
    pub fn file_id(&self, key_id: &str, id: RequestId, kind: &str) -> String {
        format!("sbx-{}-{kind}", self.dir_name(key_id, id))
    }

    /// The stored cover a File id names, for the key `key_id`, or why it names none.
    pub fn resolve(
        &self,
        media_dir: &Path,
        key_id: &str,
        file_id: &str,
    ) -> Result<PathBuf, FileIdError> {
        let not_ours = || FileIdError::NotOurs(file_id.to_owned());
        let missing = || FileIdError::Missing(file_id.to_owned());
        let rest = file_id.strip_prefix("sbx-").ok_or_else(not_ours)?;
        let (name, kind) = rest.rsplit_once('-').ok_or_else(not_ours)?;
        let (id, token) = name.split_once('.').ok_or_else(not_ours)?;
        // Parsing the id as a UUID is also what keeps the path inside media_dir.
        let id: RequestId = id.parse().map_err(|_| not_ours())?;
        let expected = self.token(key_id, id);
        // Another key's media answers as missing media does.
        if !crate::tencent::sign::same_signature(&expected, token) {
            return Err(missing());
        }
        match kind {
            "cover" => {
                let path = media_dir.join(self.dir_name(key_id, id)).join(super::COVER_FILE);
                if path.is_file() { Ok(path) } else { Err(missing()) }
            }
            "video" => Err(FileIdError::NotAnImage {
                file_id: file_id.to_owned(),
                cover: self.file_id(key_id, id, "cover"),
            }),
            _ => Err(not_ours()),
        }
    }
}

/// Why a File id names no image the caller may use. Each reads as a sentence for the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileIdError {
    #[error(
        "file_id {0:?} is not media this vidgate stores (sandbox file ids look like sbx-<request id>.<token>-cover)"
    )]
    NotOurs(String),
    /// Also what another key's media answers, so ids cannot be probed across keys.
    #[error("file_id {0:?} has expired or was never rendered here")]
    Missing(String),
    #[error("file_id {file_id:?} is a video; a frame must be an image (use {cover:?})")]
    NotAnImage { file_id: String, cover: String },
}

#[cfg(unix)]
fn restrict(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}

#[cfg(not(unix))]
fn restrict(_: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stable_per_directory_and_bound_to_their_key() {
        let dir = tempfile::tempdir().unwrap();
        let a = MediaNames::open(dir.path()).unwrap();
        let again = MediaNames::open(dir.path()).unwrap();
        let id = RequestId::new();
        assert_eq!(a.dir_name("k1", id), again.dir_name("k1", id), "the secret persists");
        assert_ne!(a.dir_name("k1", id), a.dir_name("k2", id));
        let other = tempfile::tempdir().unwrap();
        assert_ne!(
            a.dir_name("k1", id),
            MediaNames::open(other.path()).unwrap().dir_name("k1", id)
        );
        let cover = dir.path().join(a.dir_name("k1", id));
        std::fs::create_dir_all(&cover).unwrap();
        std::fs::write(cover.join(super::super::COVER_FILE), b"jpg").unwrap();
        let fid = a.file_id("k1", id, "cover");
        assert!(a.resolve(dir.path(), "k1", &fid).is_ok());
        let theirs = a.resolve(dir.path(), "k2", &fid).unwrap_err();
        assert_eq!(
            theirs.to_string(),
            format!("file_id {fid:?} has expired or was never rendered here")
        );
        let gone = a.file_id("k1", RequestId::new(), "cover");
        let missing = a.resolve(dir.path(), "k1", &gone).unwrap_err();
        assert_eq!(
            missing.to_string(),
            format!("file_id {gone:?} has expired or was never rendered here")
        );
        assert!(a.resolve(dir.path(), "k1", &format!("sbx-{id}-cover")).is_err(), "no token");
    }
}
