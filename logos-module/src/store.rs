//! What the module keeps under the instance persistence path, besides the node's SQLite
//! store (`demls.db`): the identity seed (`identity.seed`, hex, mode 0600), the conversation
//! metadata (`conversations.json`), the pending inbox invitations (`invitations.json`) and
//! one message log per conversation (`messages/<convo_id>.jsonl`, one JSON object a line).
//! The JSON files are replaced atomically (written aside, then renamed).

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::ModuleError;

/// File of the identity seed.
pub const SEED_FILE: &str = "identity.seed";
/// File of the node's SQLite store.
pub const DB_FILE: &str = "demls.db";
const CONVERSATIONS_FILE: &str = "conversations.json";
const INVITATIONS_FILE: &str = "invitations.json";
const MESSAGES_DIR: &str = "messages";
/// Characters of a conversation's preview.
pub const PREVIEW_CHARS: usize = 160;
/// Pending inbox invitations kept at most. Anyone can write to an inbox, so a flood of
/// invitations must not grow memory and disk without bound: when full, the oldest is dropped.
pub const MAX_PENDING_INVITATIONS: usize = 256;

/// Where a conversation stands here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConvoState {
    /// A join was asked for; the group has not added this instance yet.
    Joining,
    /// A member.
    Active,
    /// Left or removed.
    Left,
}

impl ConvoState {
    /// The contract's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ConvoState::Joining => "joining",
            ConvoState::Active => "active",
            ConvoState::Left => "left",
        }
    }
}

/// What the module knows of a conversation beyond the node's group state.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConvoMeta {
    /// The group's name.
    pub name: String,
    /// The group's description.
    pub description: String,
    /// The inviter's address for a group joined by an inbox invitation.
    #[serde(default)]
    pub inviter: Option<String>,
    /// Addresses invited from here that the group has not committed yet.
    #[serde(default)]
    pub pending: Vec<String>,
    /// Where it stands.
    pub state: ConvoState,
    /// This instance asked to leave.
    #[serde(default)]
    pub leaving: bool,
    /// `conversation_created` was emitted.
    #[serde(default)]
    pub announced: bool,
    /// Messages in the log.
    #[serde(default)]
    pub message_count: u64,
    /// Time of the last message (or of creation).
    #[serde(default)]
    pub last_activity_ms: u64,
    /// The last message's content, cut to [`PREVIEW_CHARS`].
    #[serde(default)]
    pub preview: Option<String>,
}

impl ConvoMeta {
    /// A conversation in `state`, created now.
    pub fn new(name: &str, description: &str, state: ConvoState, now_ms: u64) -> ConvoMeta {
        ConvoMeta {
            name: name.to_owned(),
            description: description.to_owned(),
            inviter: None,
            pending: Vec::new(),
            state,
            leaving: false,
            announced: false,
            message_count: 0,
            last_activity_ms: now_ms,
            preview: None,
        }
    }
}

/// An invitation received in the inbox and not accepted yet.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PendingInvitation {
    /// The invitation text.
    pub invitation: String,
    /// The group's name.
    pub name: String,
    /// The group's description.
    pub description: String,
    /// The inviter's address.
    pub inviter: String,
    /// When it arrived.
    pub received_ms: u64,
}

/// One logged message (the contract's `Message` record).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedMessage {
    /// Sent by this instance.
    pub from_self: bool,
    /// Its content.
    pub content: String,
    /// When it was sent or received (ms since the Unix epoch).
    pub timestamp_ms: u64,
    /// The sender's address (absent for this instance's own messages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
}

/// The preview of a message's content.
fn preview(content: &str) -> String {
    content.chars().take(PREVIEW_CHARS).collect()
}

/// The module's files under one instance directory.
pub struct Store {
    dir: PathBuf,
    convos: BTreeMap<String, ConvoMeta>,
    invitations: BTreeMap<String, PendingInvitation>,
}

fn read_json<T: for<'de> Deserialize<'de> + Default>(path: &Path) -> Result<T, ModuleError> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| ModuleError::Persistence(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
        Err(e) => Err(ModuleError::Persistence(format!("{}: {e}", path.display()))),
    }
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), ModuleError> {
    let text =
        serde_json::to_vec_pretty(value).map_err(|e| ModuleError::Persistence(e.to_string()))?;
    let aside = path.with_extension("json.tmp");
    {
        let mut f = File::create(&aside)?;
        f.write_all(&text)?;
        f.sync_all()?;
    }
    fs::rename(&aside, path)?;
    Ok(())
}

/// Creates `dir` (mode 0700 on Unix) if missing.
pub fn ensure_dir(dir: &Path) -> Result<(), ModuleError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| ModuleError::Persistence(format!("{}: {e}", dir.display())))
}

/// The identity seed of the instance in `dir`, created (random, file mode 0600) on first use.
pub fn load_or_create_seed(dir: &Path) -> Result<[u8; 32], ModuleError> {
    let path = dir.join(SEED_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => {
            let bytes = hex::decode(text.trim())
                .map_err(|_| ModuleError::Persistence(format!("{}: not hex", path.display())))?;
            return <[u8; 32]>::try_from(bytes).map_err(|_| {
                ModuleError::Persistence(format!("{}: not 32 bytes", path.display()))
            });
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(ModuleError::Persistence(format!("{}: {e}", path.display()))),
    }
    let mut seed = [0u8; 32];
    SystemRandom::new()
        .fill(&mut seed)
        .map_err(|_| ModuleError::Persistence("the system random generator failed".into()))?;
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options
        .open(&path)
        .map_err(|e| ModuleError::Persistence(format!("{}: {e}", path.display())))?;
    f.write_all(hex::encode(seed).as_bytes())?;
    f.sync_all()?;
    Ok(seed)
}

impl Store {
    /// Opens (or starts) the files in `dir`.
    pub fn open(dir: &Path) -> Result<Store, ModuleError> {
        ensure_dir(&dir.join(MESSAGES_DIR))?;
        let mut store = Store {
            dir: dir.to_owned(),
            convos: read_json(&dir.join(CONVERSATIONS_FILE))?,
            invitations: read_json(&dir.join(INVITATIONS_FILE))?,
        };
        // A message is only appended to its log (no metadata rewrite per message), so the
        // counters are taken from the logs here.
        let ids: Vec<String> = store.convos.keys().cloned().collect();
        for convo in ids {
            let log = store.read_log(&convo)?;
            if let (Some(last), Some(meta)) = (log.last(), store.convos.get_mut(&convo)) {
                meta.message_count = log.len() as u64;
                meta.last_activity_ms = last.timestamp_ms;
                meta.preview = Some(preview(&last.content));
            }
        }
        Ok(store)
    }

    fn save_convos(&self) -> Result<(), ModuleError> {
        write_json(&self.dir.join(CONVERSATIONS_FILE), &self.convos)
    }

    fn save_invitations(&self) -> Result<(), ModuleError> {
        write_json(&self.dir.join(INVITATIONS_FILE), &self.invitations)
    }

    /// Every conversation's metadata, by id.
    pub fn convos(&self) -> &BTreeMap<String, ConvoMeta> {
        &self.convos
    }

    /// One conversation's metadata.
    pub fn convo(&self, convo: &str) -> Option<&ConvoMeta> {
        self.convos.get(convo)
    }

    /// Changes (or with `make` creates) a conversation's metadata and saves it. Returns what
    /// `change` returns.
    pub fn update<R>(
        &mut self,
        convo: &str,
        make: impl FnOnce() -> ConvoMeta,
        change: impl FnOnce(&mut ConvoMeta) -> R,
    ) -> Result<R, ModuleError> {
        let meta = self.convos.entry(convo.to_owned()).or_insert_with(make);
        let r = change(meta);
        self.save_convos()?;
        Ok(r)
    }

    /// Forgets a conversation's metadata (a create that failed).
    pub fn forget(&mut self, convo: &str) -> Result<(), ModuleError> {
        if self.convos.remove(convo).is_some() {
            self.save_convos()?;
        }
        Ok(())
    }

    /// Records an inbox invitation (replacing an earlier one to the same conversation); at most
    /// [`MAX_PENDING_INVITATIONS`] are kept, the oldest dropped first.
    pub fn add_invitation(
        &mut self,
        convo: &str,
        invitation: PendingInvitation,
    ) -> Result<(), ModuleError> {
        if !self.invitations.contains_key(convo)
            && self.invitations.len() >= MAX_PENDING_INVITATIONS
        {
            let oldest = self
                .invitations
                .iter()
                .min_by_key(|(_, p)| p.received_ms)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                tracing::warn!(convo = %oldest, "inbox full: the oldest pending invitation was dropped");
                self.invitations.remove(&oldest);
            }
        }
        self.invitations.insert(convo.to_owned(), invitation);
        self.save_invitations()
    }

    /// The pending invitation to a conversation.
    pub fn invitation(&self, convo: &str) -> Option<&PendingInvitation> {
        self.invitations.get(convo)
    }

    /// Drops the pending invitation to a conversation.
    pub fn drop_invitation(&mut self, convo: &str) -> Result<(), ModuleError> {
        if self.invitations.remove(convo).is_some() {
            self.save_invitations()?;
        }
        Ok(())
    }

    fn log_path(&self, convo: &str) -> PathBuf {
        self.dir.join(MESSAGES_DIR).join(format!("{convo}.jsonl"))
    }

    /// Appends a message to a conversation's log and updates its counters.
    pub fn log(&mut self, convo: &str, message: LoggedMessage) -> Result<(), ModuleError> {
        let mut line =
            serde_json::to_string(&message).map_err(|e| ModuleError::Persistence(e.to_string()))?;
        line.push('\n');
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(convo))?;
        f.write_all(line.as_bytes())?;
        // The counters change in memory only: `open` recomputes them from the logs, so a
        // message costs one append, not a rewrite of every conversation's metadata.
        let counted = |m: &mut ConvoMeta| {
            m.message_count += 1;
            m.last_activity_ms = message.timestamp_ms;
            m.preview = Some(preview(&message.content));
        };
        match self.convos.get_mut(convo) {
            Some(meta) => {
                counted(meta);
                Ok(())
            }
            None => self.update(
                convo,
                || ConvoMeta::new("", "", ConvoState::Active, message.timestamp_ms),
                counted,
            ),
        }
    }

    /// A conversation's messages, oldest first (`[]` for none). A damaged line is skipped.
    pub fn messages(&self, convo: &str) -> Result<Vec<Value>, ModuleError> {
        Ok(self.read_log(convo)?.iter().map(|m| json!(m)).collect())
    }

    /// A conversation's logged messages, oldest first. A damaged line is skipped.
    fn read_log(&self, convo: &str) -> Result<Vec<LoggedMessage>, ModuleError> {
        let f = match File::open(self.log_path(convo)) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::new();
        for line in BufReader::new(f).lines() {
            let line = line?;
            match serde_json::from_str::<LoggedMessage>(&line) {
                Ok(m) => out.push(m),
                Err(e) => {
                    tracing::warn!(%convo, error = %e, "a damaged message log line was skipped")
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_is_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_create_seed(dir.path()).unwrap();
        let b = load_or_create_seed(dir.path()).unwrap();
        assert_eq!(a, b);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(SEED_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn metadata_invitations_and_logs_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut s = Store::open(dir.path()).unwrap();
            s.update(
                "ab",
                || ConvoMeta::new("n", "d", ConvoState::Active, 1),
                |_| (),
            )
            .unwrap();
            s.log(
                "ab",
                LoggedMessage {
                    from_self: true,
                    content: "hi".into(),
                    timestamp_ms: 5,
                    sender: None,
                },
            )
            .unwrap();
            s.add_invitation(
                "cd",
                PendingInvitation {
                    invitation: "x".into(),
                    name: "n".into(),
                    description: "d".into(),
                    inviter: "i".into(),
                    received_ms: 2,
                },
            )
            .unwrap();
        }
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.convo("ab").unwrap().message_count, 1);
        assert_eq!(s.convo("ab").unwrap().preview.as_deref(), Some("hi"));
        assert_eq!(s.messages("ab").unwrap().len(), 1);
        assert_eq!(s.messages("ab").unwrap()[0]["content"], "hi");
        assert!(s.messages("ab").unwrap()[0].get("sender").is_none());
        assert!(s.invitation("cd").is_some());
        assert!(s.messages("zz").unwrap().is_empty());
    }

    #[test]
    fn a_flood_of_invitations_keeps_only_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        for i in 0..MAX_PENDING_INVITATIONS as u64 + 3 {
            s.add_invitation(
                &format!("{i:04x}"),
                PendingInvitation {
                    invitation: "x".into(),
                    name: String::new(),
                    description: String::new(),
                    inviter: "i".into(),
                    received_ms: i,
                },
            )
            .unwrap();
        }
        assert_eq!(s.invitations.len(), MAX_PENDING_INVITATIONS);
        assert!(s.invitation("0000").is_none() && s.invitation("0002").is_none());
        assert!(s.invitation("0003").is_some());
        assert!(
            s.invitation(&format!("{:04x}", MAX_PENDING_INVITATIONS + 2))
                .is_some()
        );
    }
}
