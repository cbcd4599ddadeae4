//! What deskprov knows of a phone from its fetches: when it first and last fetched, from where,
//! what it said it is, which configuration version of each file it got, and how often each file
//! was answered how. A fetch updates this state in memory; only the changes an admin or a
//! security rule depends on ([`Event`]s) have to reach the store before the phone is answered.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};

/// How a request was answered, as counted per file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The file was sent.
    Served,
    /// `304`: the phone has the current file.
    NotModified,
    /// The phone's upload was stored.
    Uploaded,
    /// Refused (the reason is in the event, when it is one).
    Refused,
    /// deskprov failed (a 5xx).
    Failed,
}

impl Answer {
    /// Every answer, in the order of [`Counts`].
    pub const ALL: [Answer; 5] = [
        Answer::Served,
        Answer::NotModified,
        Answer::Uploaded,
        Answer::Refused,
        Answer::Failed,
    ];

    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Answer::Served => "served",
            Answer::NotModified => "not_modified",
            Answer::Uploaded => "uploaded",
            Answer::Refused => "refused",
            Answer::Failed => "failed",
        }
    }

    /// The answer named `name` (see [`Answer::as_str`]).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }

    /// Whether the phone got what it asked for (or stored what it sent).
    pub fn granted(self) -> bool {
        matches!(
            self,
            Answer::Served | Answer::NotModified | Answer::Uploaded
        )
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Requests of one file by one device, by [`Answer`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts([u32; 5]);

impl Counts {
    /// How many were answered `answer`.
    pub fn get(&self, answer: Answer) -> u32 {
        self.0[answer.index()]
    }

    /// Counts one more `answer` (saturating: a phone that fetches every second for 136 years
    /// stops counting).
    pub fn add(&mut self, answer: Answer, n: u32) {
        let slot = &mut self.0[answer.index()];
        *slot = slot.saturating_add(n);
    }

    /// Every non-zero count.
    pub fn nonzero(&self) -> impl Iterator<Item = (Answer, u32)> + '_ {
        Answer::ALL
            .into_iter()
            .map(|a| (a, self.get(a)))
            .filter(|(_, n)| *n > 0)
    }
}

/// What a device's state keeps of one file it asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileState {
    /// The file's name as asked for.
    pub name: Arc<str>,
    /// The configuration version it got last: a fingerprint of the body's hash (the full hash
    /// is stored; a fingerprint is enough to tell a new version from the last).
    pub version: Option<u64>,
    /// How often it was answered how.
    pub counts: Counts,
}

/// The fingerprint of a configuration version (see [`FileState::version`]): the same bytes are
/// the same version, whatever address the phone reached deskprov at.
pub fn version_fingerprint(body_hash: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    // Fixed keys: the same version has the same fingerprint for the process's lifetime, which
    // is as long as fingerprints are kept (the store keeps the hash itself).
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    body_hash.hash(&mut hasher);
    hasher.finish()
}

/// One fetch of a known device, as the state sees it.
#[derive(Debug, Clone)]
pub struct Fetched<'a> {
    /// When.
    pub at: DateTime<Utc>,
    /// From where.
    pub ip: IpAddr,
    /// The User-Agent, when it sent one.
    pub user_agent: Option<&'a str>,
    /// The model the User-Agent names.
    pub model: Option<&'a str>,
    /// The firmware the User-Agent names.
    pub firmware: Option<&'a str>,
    /// The file asked for.
    pub file: &'a str,
    /// How it was answered.
    pub answer: Answer,
    /// The version served (see [`FileState::version`]), when a file was served.
    pub version: Option<u64>,
}

/// A change worth keeping: written to the store before the phone gets its answer, and shown in
/// the device's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The first successful fetch: it binds the device (address, client certificate).
    FirstFetch,
    /// Another source address than the last fetch's (the previous one).
    Address(Option<IpAddr>),
    /// Another User-Agent than the last one (the previous one), firmware and model alike.
    UserAgent(Option<Arc<str>>),
    /// Another model than the last one named (the previous one).
    Model(Option<Arc<str>>),
    /// Another firmware than the last one named (the previous one).
    Firmware(Option<Arc<str>>),
    /// A version of the file this device had not fetched before.
    NewVersion,
    /// The request was refused or failed.
    Refused,
}

impl Change {
    /// The name stored and shown.
    pub fn kind(&self) -> &'static str {
        match self {
            Change::FirstFetch => "first_fetch",
            Change::Address(_) => "address",
            Change::UserAgent(_) => "user_agent",
            Change::Model(_) => "model",
            Change::Firmware(_) => "firmware",
            Change::NewVersion => "new_version",
            Change::Refused => "refused",
        }
    }

    /// What it was before, for the changes that replace something.
    pub fn before(&self) -> Option<String> {
        match self {
            Change::Address(ip) => ip.map(|ip| ip.to_string()),
            Change::UserAgent(v) | Change::Model(v) | Change::Firmware(v) => {
                v.as_deref().map(str::to_owned)
            }
            Change::FirstFetch | Change::NewVersion | Change::Refused => None,
        }
    }
}

/// One device's state: what its fetches left.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceState {
    /// The first successful fetch, when it made one (since its enrollment was last opened).
    pub first_fetch_at: Option<DateTime<Utc>>,
    /// The latest successful fetch.
    pub last_fetch_at: Option<DateTime<Utc>>,
    /// The address of the latest request.
    pub last_ip: Option<IpAddr>,
    /// The latest User-Agent sent.
    pub user_agent: Option<Arc<str>>,
    /// The latest model named.
    pub model: Option<Arc<str>>,
    /// The latest firmware named.
    pub firmware: Option<Arc<str>>,
    /// The latest file served.
    pub last_file: Option<Arc<str>>,
    /// Every file asked for.
    pub files: Vec<FileState>,
}

impl DeviceState {
    /// Takes in one fetch; returns the changes it makes that must be kept before the phone is
    /// answered (none: the state may be written later, with others).
    ///
    /// `enrolled` is whether the stored device has its first fetch: an admin who re-opens the
    /// enrollment clears it, and the next successful fetch binds the device again.
    pub fn observe(&mut self, fetch: &Fetched<'_>, enrolled: bool) -> Vec<Change> {
        if !enrolled {
            self.first_fetch_at = None;
        }
        let file = self.file_index(fetch.file);
        self.files[file].counts.add(fetch.answer, 1);
        // A refused request tells nothing about the phone: its address and User-Agent may be
        // anyone's.
        if !fetch.answer.granted() {
            return vec![Change::Refused];
        }
        let mut changes = Vec::new();
        let was_enrolled = self.first_fetch_at.is_some();
        // Only a fetch enrolls a phone: an upload comes after one.
        if !was_enrolled && fetch.answer != Answer::Uploaded {
            self.first_fetch_at = Some(fetch.at);
            changes.push(Change::FirstFetch);
        }
        if let Some(before) = self.last_ip.filter(|ip| *ip != fetch.ip) {
            changes.push(Change::Address(Some(before)));
        }
        self.last_ip = Some(fetch.ip);
        self.observe_identity(fetch, was_enrolled, &mut changes);
        self.last_fetch_at = Some(fetch.at);
        let file = &mut self.files[file];
        // The same text as the file's own name: one allocation for both.
        if fetch.answer != Answer::Uploaded && self.last_file.as_ref() != Some(&file.name) {
            self.last_file = Some(file.name.clone());
        }
        if let Some(version) = fetch.version
            && file.version != Some(version)
        {
            file.version = Some(version);
            changes.push(Change::NewVersion);
        }
        changes
    }

    /// What the User-Agent says: a new model or firmware is a change of its own; a new
    /// User-Agent that names neither anew is one too. What a first fetch says is part of that
    /// fetch; what an enrolled phone says for the first time is a change.
    fn observe_identity(&mut self, fetch: &Fetched<'_>, enrolled: bool, changes: &mut Vec<Change>) {
        let mut identity_changed = false;
        if let Some(model) = fetch.model
            && self.model.as_deref() != Some(model)
        {
            let before = self.model.replace(Arc::from(model));
            if before.is_some() || enrolled {
                changes.push(Change::Model(before));
                identity_changed = true;
            }
        }
        if let Some(firmware) = fetch.firmware
            && self.firmware.as_deref() != Some(firmware)
        {
            let before = self.firmware.replace(Arc::from(firmware));
            if before.is_some() || enrolled {
                changes.push(Change::Firmware(before));
                identity_changed = true;
            }
        }
        if let Some(ua) = fetch.user_agent
            && self.user_agent.as_deref() != Some(ua)
        {
            let before = self.user_agent.replace(Arc::from(ua));
            if (before.is_some() || enrolled) && !identity_changed {
                changes.push(Change::UserAgent(before));
            }
        }
    }

    /// Where the file named `name` is in `files`, added when it is new.
    fn file_index(&mut self, name: &str) -> usize {
        match self.files.iter().position(|f| &*f.name == name) {
            Some(i) => i,
            None => {
                // Phones ask for two or three files: no room kept for more.
                self.files.reserve_exact(1);
                self.files.push(FileState {
                    name: Arc::from(name),
                    version: None,
                    counts: Counts::default(),
                });
                self.files.len() - 1
            }
        }
    }

    /// The file named `name`, when it was asked for.
    pub fn file(&self, name: &str) -> Option<&FileState> {
        self.files.iter().find(|f| &*f.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arc(s: &str) -> Arc<str> {
        Arc::from(s)
    }

    struct Phone {
        ua: String,
        firmware: String,
    }

    fn phone(firmware: &str) -> Phone {
        Phone {
            ua: format!("Yealink SIP-T46U {firmware} 80:5e:c0:00:00:01"),
            firmware: firmware.to_owned(),
        }
    }

    fn fetch<'a>(p: &'a Phone, ip: &str, answer: Answer, version: Option<u64>) -> Fetched<'a> {
        Fetched {
            at: Utc::now(),
            ip: ip.parse().unwrap(),
            user_agent: Some(&p.ua),
            model: Some("T46U"),
            firmware: Some(&p.firmware),
            file: "805ec0000001.cfg",
            answer,
            version,
        }
    }

    #[test]
    fn the_first_fetch_is_a_change_and_the_same_fetch_again_is_none() {
        let p = phone("108.86.0.45");
        let mut state = DeviceState::default();
        let first = state.observe(&fetch(&p, "10.0.0.5", Answer::Served, Some(1)), false);
        assert_eq!(first, [Change::FirstFetch, Change::NewVersion]);
        let again = state.observe(&fetch(&p, "10.0.0.5", Answer::Served, Some(1)), true);
        assert!(again.is_empty(), "{again:?}");
        let unchanged = state.observe(&fetch(&p, "10.0.0.5", Answer::NotModified, None), true);
        assert!(unchanged.is_empty(), "{unchanged:?}");
        assert_eq!(state.files[0].counts.get(Answer::Served), 2);
        assert_eq!(state.files[0].counts.get(Answer::NotModified), 1);
        assert_eq!(state.last_file.as_deref(), Some("805ec0000001.cfg"));
    }

    #[test]
    fn a_new_address_firmware_or_version_is_a_change_each() {
        let old = phone("108.86.0.45");
        let new = phone("108.86.0.50");
        let mut state = DeviceState::default();
        state.observe(&fetch(&old, "10.0.0.5", Answer::Served, Some(1)), false);
        let moved = state.observe(&fetch(&old, "10.0.0.6", Answer::Served, Some(1)), true);
        assert_eq!(moved, [Change::Address(Some("10.0.0.5".parse().unwrap()))]);
        let upgraded = state.observe(&fetch(&new, "10.0.0.6", Answer::Served, Some(2)), true);
        assert_eq!(
            upgraded,
            [
                Change::Firmware(Some(arc("108.86.0.45"))),
                Change::NewVersion
            ],
            "the new User-Agent is the firmware's change, not one of its own"
        );
    }

    #[test]
    fn a_refusal_is_a_change_and_does_not_enroll_or_count_as_seen() {
        let p = phone("108.86.0.45");
        let mut state = DeviceState::default();
        let refused = state.observe(&fetch(&p, "203.0.113.9", Answer::Refused, None), false);
        assert_eq!(refused, [Change::Refused]);
        assert_eq!(state.first_fetch_at, None);
        assert_eq!(state.last_fetch_at, None);
        assert_eq!(state.files[0].counts.get(Answer::Refused), 1);
    }

    #[test]
    fn an_upload_is_seen_but_does_not_enroll() {
        let p = phone("108.86.0.45");
        let mut state = DeviceState::default();
        let upload = state.observe(&fetch(&p, "10.0.0.5", Answer::Uploaded, None), false);
        assert!(upload.is_empty(), "{upload:?}");
        assert_eq!(state.first_fetch_at, None);
        assert!(state.last_fetch_at.is_some());
        let first = state.observe(&fetch(&p, "10.0.0.5", Answer::Served, Some(1)), false);
        assert_eq!(first, [Change::FirstFetch, Change::NewVersion]);
    }

    #[test]
    fn a_reopened_enrollment_binds_again_on_the_next_fetch() {
        let p = phone("108.86.0.45");
        let mut state = DeviceState::default();
        state.observe(&fetch(&p, "10.0.0.5", Answer::Served, Some(1)), false);
        let rebound = state.observe(&fetch(&p, "10.0.0.5", Answer::Served, Some(1)), false);
        assert_eq!(rebound, [Change::FirstFetch]);
    }

    #[test]
    fn answers_round_trip_their_names_and_counts_saturate() {
        for a in Answer::ALL {
            assert_eq!(Answer::parse(a.as_str()), Some(a));
        }
        let mut counts = Counts::default();
        counts.add(Answer::Served, u32::MAX);
        counts.add(Answer::Served, 1);
        assert_eq!(counts.get(Answer::Served), u32::MAX);
    }
}
