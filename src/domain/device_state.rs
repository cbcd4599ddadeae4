//! What deskprov knows of a phone from its fetches: when it first and last fetched, from where,
//! what it said it is, which configuration version of each file it got, and how often each file
//! was answered how. A fetch updates this state in memory; only the changes an admin or a
//! security rule depends on ([`Event`]s) have to reach the store before the phone is answered.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::Mac;

mod quiet;

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

/// Most texts [`Texts`] keeps: models, firmware versions, User-Agents and file names (with the
/// device's MAC taken out) are few; past this, states keep their own copies.
pub const MAX_TEXTS: usize = 50_000;

/// Stands for the device's own MAC in a text kept in [`Texts`]: a control character no
/// User-Agent or file name this would apply to has (texts that do are kept as they are).
const MAC_MARK: char = '\u{1}';

/// How many spellings of a MAC a text may carry ([`mac_spelling`]).
const SPELLINGS: u8 = 6;

/// The `form`-th spelling of `mac` (1 to [`SPELLINGS`]): `805ec0000001`, `805EC0000001`,
/// `80:5e:c0:00:00:01`, `80:5E:C0:00:00:01`, `80-5e-c0-00-00-01`, `80-5E-C0-00-00-01`.
fn mac_spelling(mac: &Mac, form: u8) -> String {
    let text = if form <= 2 {
        mac.lower12()
    } else {
        let sep = if form <= 4 { ":" } else { "-" };
        mac.bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(sep)
    };
    if form.is_multiple_of(2) {
        text.to_ascii_uppercase()
    } else {
        text
    }
}

/// `text` with every `mac` of its first spelling found replaced by [`MAC_MARK`], and that
/// spelling; `None` when it names the MAC in no spelling (or has the mark itself, so the way
/// back would not be exact).
fn without_mac(text: &str, mac: &Mac) -> Option<(u8, String)> {
    if text.contains(MAC_MARK) {
        return None;
    }
    (1..=SPELLINGS).find_map(|form| {
        let spelt = mac_spelling(mac, form);
        text.contains(&spelt)
            .then(|| (form, text.replace(&spelt, &MAC_MARK.to_string())))
    })
}

/// Texts many devices' states hold, each kept once and named by a number: models, firmware
/// versions, and User-Agents and file names with the device's own MAC taken out (a model's
/// phones send one User-Agent but for their MAC, and ask for `<prefix><mac><suffix>`).
#[derive(Debug, Default)]
pub struct Texts {
    ids: std::collections::HashMap<Arc<str>, u32>,
    texts: Vec<Arc<str>>,
}

impl Texts {
    /// How many texts are kept.
    pub fn len(&self) -> usize {
        self.texts.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }

    /// Keeps every text of `state` not yet kept (while there is room), so that
    /// [`Packed::pack`] finds them.
    pub fn add(&mut self, state: &DeviceState, mac: &Mac) {
        for text in state.texts() {
            let key = without_mac(text, mac).map(|(_, t)| Arc::from(t));
            let key = key.unwrap_or_else(|| text.clone());
            if self.texts.len() < MAX_TEXTS && !self.ids.contains_key(&key) {
                self.ids.insert(key.clone(), self.texts.len() as u32);
                self.texts.push(key);
            }
        }
    }

    /// The code of `text` in a packed state ([`Packed`]): its number and MAC spelling, or
    /// [`LITERAL`] when it is not kept (`None` when it could be, but is not yet).
    fn code(&self, text: &str, mac: &Mac) -> Option<u64> {
        let (form, key) = match without_mac(text, mac) {
            Some((form, key)) => (form, std::borrow::Cow::Owned(key)),
            None => (0, std::borrow::Cow::Borrowed(text)),
        };
        match self.ids.get(&*key) {
            Some(&id) => Some(u64::from(id) << 3 | u64::from(form)),
            None if self.texts.len() < MAX_TEXTS => None,
            None => Some(LITERAL),
        }
    }

    /// The text `code` names, the MAC spelt back in.
    fn text(&self, code: u64, mac: &Mac) -> Option<Arc<str>> {
        let kept = self.texts.get(usize::try_from(code >> 3).ok()?)?;
        Some(match (code & 7) as u8 {
            0 => kept.clone(),
            form => Arc::from(kept.replace(MAC_MARK, &mac_spelling(mac, form))),
        })
    }
}

/// The code of a text a packed state carries itself (length and bytes follow).
const LITERAL: u64 = 7;

impl DeviceState {
    /// Every text this state holds.
    fn texts(&self) -> impl Iterator<Item = &Arc<str>> {
        [
            &self.user_agent,
            &self.model,
            &self.firmware,
            &self.last_file,
        ]
        .into_iter()
        .flatten()
        .chain(self.files.iter().map(|f| &f.name))
    }
}

/// A [`DeviceState`] in one allocation (40 to 80 bytes by its files), for keeping many in
/// memory: times as seconds and nanoseconds, texts as numbers in [`Texts`], counts only for the
/// answers a file had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packed(Box<[u8]>);

/// Flags of a packed state's first byte: which parts follow.
mod part {
    pub const FIRST: u8 = 1;
    pub const LAST: u8 = 2;
    pub const V4: u8 = 4;
    pub const V6: u8 = 8;
    pub const UA: u8 = 16;
    pub const MODEL: u8 = 32;
    pub const FIRMWARE: u8 = 64;
    pub const LAST_FILE: u8 = 128;
}

/// A file's flag: a version follows its counts.
const HAS_VERSION: u8 = 1 << 5;

impl Packed {
    /// `state` packed, its texts named by their numbers in `texts`; `None` when a text could
    /// be kept there but is not yet ([`Texts::add`] it, then pack again).
    pub fn pack(state: &DeviceState, mac: &Mac, texts: &Texts) -> Option<Self> {
        let out = pack(state, mac, texts, &Codes::default())?;
        Some(Self(out.into_boxed_slice()))
    }

    /// The state packed, with the texts of `texts` (the ones it was packed with, or more).
    pub fn unpack(&self, mac: &Mac, texts: &Texts) -> DeviceState {
        self.unpack_with_codes(mac, texts).0
    }

    /// [`unpack`](Self::unpack), and the codes of its texts, for [`Packed::repack`].
    pub fn unpack_with_codes(&self, mac: &Mac, texts: &Texts) -> (DeviceState, Codes) {
        let mut r = Reader(&self.0, Codes::default());
        let flags = r.byte();
        let has = |f: u8| flags & f != 0;
        let mut state = DeviceState {
            first_fetch_at: has(part::FIRST).then(|| r.time()),
            last_fetch_at: has(part::LAST).then(|| r.time()),
            ..DeviceState::default()
        };
        if has(part::V4) {
            state.last_ip = Some(IpAddr::from(r.array::<4>()));
        } else if has(part::V6) {
            state.last_ip = Some(IpAddr::from(r.array::<16>()));
        }
        state.user_agent = has(part::UA).then(|| r.text(mac, texts));
        state.model = has(part::MODEL).then(|| r.text(mac, texts));
        state.firmware = has(part::FIRMWARE).then(|| r.text(mac, texts));
        let files = r.varint() as usize;
        state.files = (0..files).map(|_| r.file(mac, texts)).collect();
        if has(part::LAST_FILE) {
            state.last_file = Some(match r.varint() {
                0 => r.text(mac, texts),
                i => state.files[i as usize - 1].name.clone(),
            });
        }
        (state, r.1)
    }

    /// This packed state replaced by `state` (unpacked from it with `codes`): the texts it had
    /// are not looked up again, and its allocation is kept when the size is the same (as for
    /// most fetches), so that long-lived states do not move among short-lived buffers.
    pub fn repack(
        &mut self,
        state: &DeviceState,
        mac: &Mac,
        texts: &Texts,
        codes: &Codes,
    ) -> Option<()> {
        let out = pack(state, mac, texts, codes)?;
        if out.len() == self.0.len() {
            self.0.copy_from_slice(&out);
        } else {
            self.0 = out.into_boxed_slice();
        }
        Some(())
    }

    /// Bytes it takes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it takes none (never: the flags are always there).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What [`Packed`] holds for `state`.
fn pack(state: &DeviceState, mac: &Mac, texts: &Texts, codes: &Codes) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(64);
    let mut flags = 0;
    let texts_of = [
        (part::UA, &state.user_agent),
        (part::MODEL, &state.model),
        (part::FIRMWARE, &state.firmware),
    ];
    for (flag, present) in [
        (part::FIRST, state.first_fetch_at.is_some()),
        (part::LAST, state.last_fetch_at.is_some()),
        (part::V4, matches!(state.last_ip, Some(IpAddr::V4(_)))),
        (part::V6, matches!(state.last_ip, Some(IpAddr::V6(_)))),
        (part::LAST_FILE, state.last_file.is_some()),
    ]
    .into_iter()
    .chain(texts_of.iter().map(|(f, t)| (*f, t.is_some())))
    {
        if present {
            flags |= flag;
        }
    }
    out.push(flags);
    for at in [state.first_fetch_at, state.last_fetch_at]
        .into_iter()
        .flatten()
    {
        put_time(&mut out, at);
    }
    match state.last_ip {
        Some(IpAddr::V4(ip)) => out.extend_from_slice(&ip.octets()),
        Some(IpAddr::V6(ip)) => out.extend_from_slice(&ip.octets()),
        None => {}
    }
    for text in texts_of.iter().filter_map(|(_, t)| t.as_ref()) {
        put_text(&mut out, text, mac, texts, codes)?;
    }
    put_varint(&mut out, state.files.len() as u64);
    for file in &state.files {
        put_file(&mut out, file, mac, texts, codes)?;
    }
    if let Some(last) = &state.last_file {
        // Nearly always one of the files: its index, else the text.
        match state.files.iter().position(|f| f.name == *last) {
            Some(i) => put_varint(&mut out, i as u64 + 1),
            None => {
                put_varint(&mut out, 0);
                put_text(&mut out, last, mac, texts, codes)?;
            }
        }
    }
    Some(out)
}

fn put_varint(out: &mut impl Extend<u8>, mut n: u64) {
    while n >= 0x80 {
        out.extend([n as u8 | 0x80]);
        n >>= 7;
    }
    out.extend([n as u8]);
}

/// A time as seconds (zigzag, varint) and nanoseconds (varint): exact for any time chrono has.
fn put_time(out: &mut impl Extend<u8>, at: DateTime<Utc>) {
    let secs = at.timestamp();
    put_varint(out, ((secs << 1) ^ (secs >> 63)) as u64);
    put_varint(out, u64::from(at.timestamp_subsec_nanos()));
}

fn put_text(
    out: &mut Vec<u8>,
    text: &Arc<str>,
    mac: &Mac,
    texts: &Texts,
    codes: &Codes,
) -> Option<()> {
    let known = codes.0.iter().find(|(t, _)| Arc::ptr_eq(t, text));
    let code = match known {
        Some((_, code)) => *code,
        None => texts.code(text, mac)?,
    };
    put_varint(out, code);
    if code == LITERAL {
        put_varint(out, text.len() as u64);
        out.extend_from_slice(text.as_bytes());
    }
    Some(())
}

/// A file: its name, which answers it had (and whether a version follows), their counts, the
/// version.
fn put_file(
    out: &mut Vec<u8>,
    file: &FileState,
    mac: &Mac,
    texts: &Texts,
    codes: &Codes,
) -> Option<()> {
    put_text(out, &file.name, mac, texts, codes)?;
    let mut flags = if file.version.is_some() {
        HAS_VERSION
    } else {
        0
    };
    for (i, a) in Answer::ALL.into_iter().enumerate() {
        if file.counts.get(a) > 0 {
            flags |= 1 << i;
        }
    }
    out.push(flags);
    for (_, n) in file.counts.nonzero() {
        put_varint(out, u64::from(n));
    }
    if let Some(v) = file.version {
        out.extend_from_slice(&v.to_le_bytes());
    }
    Some(())
}

/// Reads a packed state. Only what [`Packed::pack`] wrote is ever read: a short or odd buffer
/// is a bug, and panics.
struct Reader<'a>(&'a [u8], Codes);

/// The codes of the texts an unpacked state holds (see [`Packed::repack`]).
#[derive(Debug, Default)]
pub struct Codes(Vec<(Arc<str>, u64)>);

impl Reader<'_> {
    fn byte(&mut self) -> u8 {
        let (b, rest) = self.0.split_first().expect("a packed state's byte");
        self.0 = rest;
        *b
    }

    fn array<const N: usize>(&mut self) -> [u8; N] {
        let (head, rest) = self.0.split_at(N);
        self.0 = rest;
        head.try_into().expect("N bytes")
    }

    fn varint(&mut self) -> u64 {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte();
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
        }
        n
    }

    fn time(&mut self) -> DateTime<Utc> {
        let zigzag = self.varint();
        let secs = (zigzag >> 1) as i64 ^ -((zigzag & 1) as i64);
        let nanos = self.varint() as u32;
        DateTime::from_timestamp(secs, nanos).expect("a time that was packed")
    }

    fn text(&mut self, mac: &Mac, texts: &Texts) -> Arc<str> {
        let code = self.varint();
        if code == LITERAL {
            let len = self.varint() as usize;
            let (bytes, rest) = self.0.split_at(len);
            self.0 = rest;
            return Arc::from(std::str::from_utf8(bytes).expect("packed text"));
        }
        let text = texts.text(code, mac).expect("a kept text");
        self.1.0.push((text.clone(), code));
        text
    }

    fn file(&mut self, mac: &Mac, texts: &Texts) -> FileState {
        let name = self.text(mac, texts);
        let flags = self.byte();
        let mut counts = Counts::default();
        for (i, a) in Answer::ALL.into_iter().enumerate() {
            if flags & (1 << i) != 0 {
                counts.add(a, self.varint() as u32);
            }
        }
        let version = (flags & HAS_VERSION != 0).then(|| u64::from_le_bytes(self.array::<8>()));
        FileState {
            name,
            version,
            counts,
        }
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

    fn packs_back(state: &DeviceState, mac: &Mac, texts: &mut Texts) -> Packed {
        let packed = match Packed::pack(state, mac, texts) {
            Some(p) => p,
            None => {
                texts.add(state, mac);
                Packed::pack(state, mac, texts).unwrap()
            }
        };
        assert_eq!(&packed.unpack(mac, texts), state);
        packed
    }

    #[test]
    fn a_packed_state_unpacks_to_the_same_state() {
        let mac = Mac::parse("805ec0000001").unwrap();
        let mut texts = Texts::default();
        let p = phone("108.86.0.45");
        let mut state = DeviceState::default();
        packs_back(&state, &mac, &mut texts);
        state.observe(
            &fetch(&p, "10.0.0.5", Answer::Served, Some(u64::MAX)),
            false,
        );
        state.observe(&fetch(&p, "2001:db8::5", Answer::Refused, None), true);
        state.observe(&fetch(&p, "2001:db8::5", Answer::NotModified, None), true);
        let packed = packs_back(&state, &mac, &mut texts);
        assert!(packed.len() < 60, "{} bytes", packed.len());
        // Whatever a store or a phone may hold: far times, odd texts, a last file that is none
        // of the files, the MAC in other spellings, the mark itself.
        state.first_fetch_at = DateTime::from_timestamp(-62_000_000_000, 999_999_999);
        state.last_fetch_at = DateTime::from_timestamp(253_402_300_799, 1);
        state.user_agent = Some(arc("X 80-5E-C0-00-00-01 and 805ec0000001 \u{1}"));
        state.last_file = Some(arc("elsewhere.cfg"));
        state.files.push(FileState {
            name: arc("805EC0000001-user.cfg"),
            version: None,
            counts: Counts([u32::MAX, 0, 3, 0, 1]),
        });
        packs_back(&state, &mac, &mut texts);
        for ua in [
            "a \u{1} 80-5e-c0-00-00-01",
            "Phone 80-5E-C0-00-00-01 80-5E-C0-00-00-01",
        ] {
            state.user_agent = Some(arc(ua));
            packs_back(&state, &mac, &mut texts);
        }
    }

    #[test]
    fn texts_are_kept_once_for_every_device_and_no_more_than_the_limit() {
        let mut texts = Texts::default();
        let p = phone("108.86.0.45");
        for n in 1..=3u64 {
            let mac = Mac::parse(&format!("805ec000000{n}")).unwrap();
            let own = format!("{}.cfg", mac.lower12());
            let ua = format!("Yealink SIP-T46U 108.86.0.45 {}", mac.colon());
            let mut state = DeviceState::default();
            let mut f = fetch(&p, "10.0.0.5", Answer::Served, Some(n));
            f.user_agent = Some(&ua);
            f.file = &own;
            state.observe(&f, false);
            packs_back(&state, &mac, &mut texts);
        }
        assert_eq!(texts.len(), 4, "User-Agent, model, firmware, file name");
        let mac = Mac::parse("805ec0000009").unwrap();
        while texts.len() < MAX_TEXTS {
            let name = format!("f{}", texts.len());
            let mut state = DeviceState::default();
            state.observe(
                &Fetched {
                    file: &name,
                    ..fetch(&p, "10.0.0.5", Answer::Refused, None)
                },
                true,
            );
            texts.add(&state, &mac);
        }
        let mut state = DeviceState::default();
        state.observe(
            &Fetched {
                file: "one-more.cfg",
                ..fetch(&p, "10.0.0.5", Answer::Refused, None)
            },
            true,
        );
        let packed = Packed::pack(&state, &mac, &texts).expect("no room: the state carries it");
        assert_eq!(packed.unpack(&mac, &texts), state);
        assert_eq!(texts.len(), MAX_TEXTS);
    }
}
