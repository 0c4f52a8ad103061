//! The KeyRing port on a local master key file: the embedded stand-in for KMS.
//!
//! Data keys are wrapped with AES-256-GCM under the master key, with the encryption context
//! as associated data, so a wrapped key only unwraps under the context it was made for.
//! Wrapped form: `[1] ‖ nonce (12 bytes) ‖ ciphertext and tag (48 bytes)`.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use haven_kernel::ports::{DataKey, EncryptionContext, KeyRing, KeyRingError, PlaintextKey};
use rand::TryRngCore;
use rand::rngs::OsRng;
use zeroize::Zeroizing;

use crate::EmbeddedError;

const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 12;
const TAG_BYTES: usize = 16;
const VERSION: u8 = 1;
const WRAPPED_BYTES: usize = 1 + NONCE_BYTES + KEY_BYTES + TAG_BYTES;
/// Prefixed to the context so these wrapped keys cannot be confused with any other use of
/// the master key.
const AAD_PREFIX: &[u8] = b"haven-keyring-v1\0";

/// A key ring whose master key is a 32-byte file readable by its owner only.
#[derive(Clone)]
pub struct FileKeyRing {
    master: Arc<Zeroizing<[u8; KEY_BYTES]>>,
}

impl std::fmt::Debug for FileKeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FileKeyRing(<redacted>)")
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> EmbeddedError + '_ {
    move |source| EmbeddedError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Fresh bytes from the operating system; `None` only if its random source fails.
fn random<const N: usize>() -> Option<Zeroizing<[u8; N]>> {
    let mut bytes = Zeroizing::new([0u8; N]);
    OsRng.try_fill_bytes(bytes.as_mut()).ok()?;
    Some(bytes)
}

/// Writes a fresh key to `path` (owner-only), unless some other process got there first.
fn create(path: &Path) -> Result<(), EmbeddedError> {
    let key = random::<KEY_BYTES>().ok_or_else(|| EmbeddedError::Io {
        path: path.to_owned(),
        source: std::io::Error::other("the system random source failed"),
    })?;
    // Written under a temporary name and published with a hard link, which fails when the
    // target exists: two processes starting together can never see a half-written key or
    // end up with different ones.
    let mut temp_name = path.as_os_str().to_owned();
    temp_name.push(format!(".{}.tmp", uuid::Uuid::new_v4().simple()));
    let temp = PathBuf::from(temp_name);
    let write = |target: &Path| -> Result<(), EmbeddedError> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(target)
            .map_err(io_error(target))?;
        file.write_all(key.as_ref()).map_err(io_error(target))?;
        file.sync_all().map_err(io_error(target))
    };
    write(&temp)?;
    let linked = fs::hard_link(&temp, path);
    // The temporary name is no longer needed whatever happened.
    let _ = fs::remove_file(&temp);
    match linked {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        // A file system without hard links: create the key in place instead.
        Err(_) => match write(path) {
            Err(EmbeddedError::Io { source, .. }) if source.kind() == ErrorKind::AlreadyExists => {
                Ok(())
            }
            other => other,
        },
    }
}

impl FileKeyRing {
    /// Opens the master key at `path`, creating it (mode 0600) when missing. Refuses a key
    /// file that group or others may access, or that is not exactly 32 bytes.
    pub fn open(path: &Path) -> Result<Self, EmbeddedError> {
        match fs::symlink_metadata(path) {
            Err(e) if e.kind() == ErrorKind::NotFound => create(path)?,
            Err(e) => return Err(io_error(path)(e)),
            Ok(_) => {}
        }
        let mut file = OpenOptions::new()
            .read(true)
            .open(path)
            .map_err(io_error(path))?;
        // Checked on the open file, so what is checked is what is read.
        let metadata = file.metadata().map_err(io_error(path))?;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(EmbeddedError::KeyFilePermissions {
                path: path.to_owned(),
                mode,
            });
        }
        if !metadata.is_file() || metadata.len() != KEY_BYTES as u64 {
            return Err(EmbeddedError::KeyFileSize {
                path: path.to_owned(),
                len: metadata.len(),
            });
        }
        let mut master = Zeroizing::new([0u8; KEY_BYTES]);
        file.read_exact(master.as_mut()).map_err(io_error(path))?;
        Ok(FileKeyRing {
            master: Arc::new(master),
        })
    }

    /// A secret for one purpose, derived from the master key (HMAC-SHA256 over `label`): the
    /// same on every open, and useless for anything but that purpose.
    pub(crate) fn derive(&self, label: &[u8]) -> Zeroizing<[u8; KEY_BYTES]> {
        use hmac::Mac;
        let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.master[..])
            .expect("any key length");
        mac.update(label);
        let mut out = Zeroizing::new([0u8; KEY_BYTES]);
        out.copy_from_slice(&mac.finalize().into_bytes());
        out
    }

    fn cipher(&self) -> Aes256Gcm {
        let key: &[u8; KEY_BYTES] = &self.master;
        Aes256Gcm::new(key.into())
    }

    fn wrap(&self, context: &EncryptionContext) -> Result<DataKey, KeyRingError> {
        let unavailable = || KeyRingError::Unavailable("the system random source failed".into());
        let plaintext: PlaintextKey = random::<KEY_BYTES>().ok_or_else(unavailable)?;
        let nonce = random::<NONCE_BYTES>().ok_or_else(unavailable)?;
        let aad = associated_data(context);
        let sealed = self
            .cipher()
            .encrypt(
                Nonce::from_slice(nonce.as_ref()),
                Payload {
                    msg: plaintext.as_ref(),
                    aad: &aad,
                },
            )
            .map_err(|_| KeyRingError::Unavailable("the data key could not be wrapped".into()))?;
        let mut wrapped = Vec::with_capacity(WRAPPED_BYTES);
        wrapped.push(VERSION);
        wrapped.extend_from_slice(nonce.as_ref());
        wrapped.extend_from_slice(&sealed);
        Ok(DataKey { plaintext, wrapped })
    }

    fn unwrap_key(
        &self,
        wrapped: &[u8],
        context: &EncryptionContext,
    ) -> Result<PlaintextKey, KeyRingError> {
        if wrapped.len() != WRAPPED_BYTES || wrapped[0] != VERSION {
            return Err(KeyRingError::Refused);
        }
        let (nonce, sealed) = wrapped[1..].split_at(NONCE_BYTES);
        let aad = associated_data(context);
        let opened = Zeroizing::new(
            self.cipher()
                .decrypt(
                    Nonce::from_slice(nonce),
                    Payload {
                        msg: sealed,
                        aad: &aad,
                    },
                )
                .map_err(|_| KeyRingError::Refused)?,
        );
        let mut key: PlaintextKey = Zeroizing::new([0u8; KEY_BYTES]);
        if opened.len() != KEY_BYTES {
            return Err(KeyRingError::Refused);
        }
        key.copy_from_slice(&opened);
        Ok(key)
    }
}

fn associated_data(context: &EncryptionContext) -> Vec<u8> {
    let mut aad = AAD_PREFIX.to_vec();
    aad.extend_from_slice(&context.canonical_bytes());
    aad
}

impl KeyRing for FileKeyRing {
    fn generate_data_key(
        &self,
        context: &EncryptionContext,
    ) -> impl Future<Output = Result<DataKey, KeyRingError>> + Send {
        std::future::ready(self.wrap(context))
    }

    fn decrypt_data_key(
        &self,
        wrapped: &[u8],
        context: &EncryptionContext,
    ) -> impl Future<Output = Result<PlaintextKey, KeyRingError>> + Send {
        std::future::ready(self.unwrap_key(wrapped, context))
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use haven_kernel::ports::{EncryptionContext, KeyRing, KeyRingError};

    use super::FileKeyRing;
    use crate::EmbeddedError;

    fn context(record: &str) -> EncryptionContext {
        EncryptionContext::new()
            .with("record", record)
            .with("purpose", "medical")
    }

    #[tokio::test]
    async fn data_keys_round_trip_under_their_context_only() {
        let dir = tempfile::tempdir().expect("dir");
        let ring = FileKeyRing::open(&dir.path().join("master.key")).expect("open");
        let key = ring
            .generate_data_key(&context("1"))
            .await
            .expect("generate");
        assert_eq!(key.wrapped.len(), 61);
        assert_eq!(key.wrapped[0], 1);
        let plain = ring
            .decrypt_data_key(&key.wrapped, &context("1"))
            .await
            .expect("decrypt");
        assert_eq!(*plain, *key.plaintext);
        let other = ring
            .generate_data_key(&context("1"))
            .await
            .expect("generate");
        assert_ne!(*other.plaintext, *key.plaintext, "fresh keys");
        assert_ne!(other.wrapped[1..13], key.wrapped[1..13], "fresh nonces");

        let refused = |r: Result<_, KeyRingError>| matches!(r, Err(KeyRingError::Refused));
        assert!(refused(
            ring.decrypt_data_key(&key.wrapped, &context("2")).await
        ));
        assert!(refused(
            ring.decrypt_data_key(&key.wrapped, &EncryptionContext::new())
                .await
        ));
        for i in [0, 1, 20, 60] {
            let mut tampered = key.wrapped.clone();
            tampered[i] ^= 1;
            assert!(
                refused(ring.decrypt_data_key(&tampered, &context("1")).await),
                "byte {i}"
            );
        }
        assert!(refused(
            ring.decrypt_data_key(&key.wrapped[..60], &context("1"))
                .await
        ));
        assert!(refused(ring.decrypt_data_key(&[], &context("1")).await));

        // Another key file cannot unwrap it; the same file, reopened, can.
        let other_ring = FileKeyRing::open(&dir.path().join("other.key")).expect("open other");
        assert!(refused(
            other_ring
                .decrypt_data_key(&key.wrapped, &context("1"))
                .await
        ));
        let reopened = FileKeyRing::open(&dir.path().join("master.key")).expect("reopen");
        assert!(
            reopened
                .decrypt_data_key(&key.wrapped, &context("1"))
                .await
                .is_ok()
        );
    }

    #[test]
    fn the_key_file_is_owner_only_and_checked() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("master.key");
        FileKeyRing::open(&path).expect("create");
        let metadata = fs::metadata(&path).expect("metadata");
        assert_eq!(metadata.permissions().mode() & 0o777, 0o600);
        assert_eq!(metadata.len(), 32);
        let leftovers = fs::read_dir(dir.path()).expect("dir").count();
        assert_eq!(leftovers, 1, "no temporary file left behind");

        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).expect("chmod");
        assert!(matches!(
            FileKeyRing::open(&path),
            Err(EmbeddedError::KeyFilePermissions { mode: 0o640, .. })
        ));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o604)).expect("chmod");
        assert!(FileKeyRing::open(&path).is_err());

        let short = dir.path().join("short.key");
        fs::write(&short, [0u8; 16]).expect("write");
        fs::set_permissions(&short, fs::Permissions::from_mode(0o600)).expect("chmod");
        assert!(matches!(
            FileKeyRing::open(&short),
            Err(EmbeddedError::KeyFileSize { len: 16, .. })
        ));
    }

    #[test]
    fn concurrent_creators_agree_on_one_key() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("master.key");
        let rings: Vec<FileKeyRing> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| s.spawn(|| FileKeyRing::open(&path).expect("open")))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("thread"))
                .collect()
        });
        for ring in &rings[1..] {
            assert_eq!(**ring.master, **rings[0].master);
        }
    }
}
