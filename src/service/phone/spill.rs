//! Per-device files once rendered, kept on disk rather than in memory: a phone asks for its
//! own files again at every boot and every resync, and with 100,000 devices or more their
//! bytes do not fit in the memory a provisioning server should use, while the operating
//! system's page cache holds them as it holds the static files of a web server.
//!
//! One file, created unlinked in the database's folder (so nothing is left on disk when the
//! process ends, however it ends) and readable by this process alone. Each record is an
//! ETag and a body compressed with LZ4, against a dictionary when one is known: the first
//! body rendered for the same file and model, whose boilerplate every other device's file
//! shares (7× smaller on the benchmark's files, against 2.5× without). A record is never
//! rewritten: a newer rendering is appended and the old one becomes garbage, which
//! [`Spill::wasted`] counts so that the phone cache can start a new file when it is mostly
//! garbage.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use axum::body::Bytes;

/// Most dictionaries kept (each is one rendered file, 64 KiB at most).
const MAX_DICTIONARIES: usize = 1_024;

/// Longest dictionary: LZ4 looks back 64 KiB at most.
const MAX_DICTIONARY: usize = 64 << 10;

/// Longest ETag kept in a record.
const MAX_ETAG: usize = 255;

/// Where a record is and how to read it back. 24 bytes: one is kept per file per device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    offset: u64,
    /// Bytes on disk: ETag length byte, ETag, compressed body.
    len: u32,
    /// Length of the body.
    raw: u32,
    /// Index of the dictionary plus one; 0 for none.
    dictionary: u16,
}

/// A file read back: its ETag and its bytes.
#[derive(Debug, Clone)]
pub struct Record {
    /// Strong ETag, quoted.
    pub etag: String,
    /// The body.
    pub body: Bytes,
}

/// The dictionaries, by what they were the first body of.
#[derive(Default)]
struct Dictionaries {
    by_shape: HashMap<u64, u16>,
    list: Vec<Arc<[u8]>>,
}

/// The spill file. Cheap to share behind an `Arc`; reads and appends need no lock.
pub struct Spill {
    file: File,
    end: AtomicU64,
    live: AtomicU64,
    dead: AtomicU64,
    dictionaries: RwLock<Dictionaries>,
    /// Serialises adding dictionaries, not reads.
    adding: Mutex<()>,
}

impl std::fmt::Debug for Spill {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spill")
            .field("end", &self.end)
            .field("live", &self.live)
            .finish_non_exhaustive()
    }
}

impl Spill {
    /// A new, empty spill file in `dir` (the system's temporary folder when `None`).
    pub fn create(dir: Option<&Path>) -> io::Result<Self> {
        let file = match dir {
            Some(dir) => tempfile::tempfile_in(dir)?,
            None => tempfile::tempfile()?,
        };
        Ok(Self {
            file,
            end: AtomicU64::new(0),
            live: AtomicU64::new(0),
            dead: AtomicU64::new(0),
            dictionaries: RwLock::default(),
            adding: Mutex::default(),
        })
    }

    /// Appends `body` with its `etag`; `shape` names what other bodies look like it (the same
    /// file and model), whose first body becomes the dictionary.
    pub fn put(&self, shape: u64, etag: &str, body: &[u8]) -> io::Result<Slot> {
        if etag.len() > MAX_ETAG || body.len() > u32::MAX as usize {
            return Err(io::Error::other("record too large to spill"));
        }
        let (dictionary, dict) = self.dictionary_for(shape, body);
        let compressed = match &dict {
            Some(dict) => lz4_flex::block::compress_with_dict(body, dict),
            None => lz4_flex::block::compress(body),
        };
        let mut record = Vec::with_capacity(1 + etag.len() + compressed.len());
        record.push(etag.len() as u8);
        record.extend_from_slice(etag.as_bytes());
        record.extend_from_slice(&compressed);
        let len = record.len() as u64;
        let offset = self.end.fetch_add(len, Ordering::Relaxed);
        self.file.write_all_at(&record, offset)?;
        self.live.fetch_add(len, Ordering::Relaxed);
        Ok(Slot {
            offset,
            len: len as u32,
            raw: body.len() as u32,
            dictionary,
        })
    }

    /// The record at `slot`.
    pub fn get(&self, slot: &Slot) -> io::Result<Record> {
        let len = slot.len as usize;
        if len > MAX_READ_BUFFER {
            let mut record = vec![0; len];
            self.file.read_exact_at(&mut record, slot.offset)?;
            return self.decode(slot, &record);
        }
        READ_BUFFER.with_borrow_mut(|buffer| {
            // Grown once per thread (and zeroed then), never for each read.
            if buffer.len() < len {
                buffer.resize(len, 0);
            }
            let record = &mut buffer[..len];
            self.file.read_exact_at(record, slot.offset)?;
            self.decode(slot, record)
        })
    }

    /// The record `record` holds, read from `slot`.
    fn decode(&self, slot: &Slot, record: &[u8]) -> io::Result<Record> {
        let etag_len = usize::from(*record.first().ok_or_else(corrupt)?);
        let etag = record.get(1..1 + etag_len).ok_or_else(corrupt)?;
        let etag = String::from_utf8(etag.to_vec()).map_err(|_| corrupt())?;
        let compressed = &record[1 + etag_len..];
        let raw = slot.raw as usize;
        let body = if slot.dictionary == 0 {
            lz4_flex::block::decompress(compressed, raw)
        } else {
            let dict = self.dictionary(slot.dictionary).ok_or_else(corrupt)?;
            lz4_flex::block::decompress_with_dict(compressed, raw, &dict)
        }
        .map_err(|_| corrupt())?;
        Ok(Record {
            etag,
            body: Bytes::from(body),
        })
    }

    /// Counts the record at `slot` as garbage: nothing points at it any more.
    pub fn forget(&self, slot: &Slot) {
        self.live.fetch_sub(u64::from(slot.len), Ordering::Relaxed);
        self.dead.fetch_add(u64::from(slot.len), Ordering::Relaxed);
    }

    /// Bytes of records something points at.
    pub fn live(&self) -> u64 {
        self.live.load(Ordering::Relaxed)
    }

    /// Bytes of records nothing points at any more.
    pub fn wasted(&self) -> u64 {
        self.dead.load(Ordering::Relaxed)
    }

    fn dictionary(&self, id: u16) -> Option<Arc<[u8]>> {
        let dictionaries = self.dictionaries.read().unwrap_or_else(|e| e.into_inner());
        dictionaries.list.get(usize::from(id) - 1).cloned()
    }

    /// The dictionary for `shape` (its id and bytes), made of `body` when there is none yet.
    fn dictionary_for(&self, shape: u64, body: &[u8]) -> (u16, Option<Arc<[u8]>>) {
        {
            let dictionaries = self.dictionaries.read().unwrap_or_else(|e| e.into_inner());
            if let Some(&id) = dictionaries.by_shape.get(&shape) {
                return (id, dictionaries.list.get(usize::from(id) - 1).cloned());
            }
            if dictionaries.list.len() >= MAX_DICTIONARIES {
                return (0, None);
            }
        }
        let _one = self.adding.lock().unwrap_or_else(|e| e.into_inner());
        let mut dictionaries = self.dictionaries.write().unwrap_or_else(|e| e.into_inner());
        if let Some(&id) = dictionaries.by_shape.get(&shape) {
            return (id, dictionaries.list.get(usize::from(id) - 1).cloned());
        }
        if dictionaries.list.len() >= MAX_DICTIONARIES {
            return (0, None);
        }
        // The tail of a long body: LZ4 reaches back that far.
        let dict: Arc<[u8]> = Arc::from(&body[body.len().saturating_sub(MAX_DICTIONARY)..]);
        dictionaries.list.push(dict.clone());
        let id = dictionaries.list.len() as u16;
        dictionaries.by_shape.insert(shape, id);
        (id, Some(dict))
    }
}

/// Largest record read through a thread's [`READ_BUFFER`] (which keeps its size).
const MAX_READ_BUFFER: usize = 64 << 10;

thread_local! {
    /// Where [`Spill::get`] reads a compressed record before it is decompressed.
    static READ_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn corrupt() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "spilled record is damaged")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(n: usize, who: &str) -> String {
        (0..n)
            .map(|i| format!("<line index=\"{i}\"><User>{who}_{i}</User><TTL>3600</TTL></line>\n"))
            .collect()
    }

    #[test]
    fn what_is_put_is_got_back_byte_for_byte_and_compressed() {
        let spill = Spill::create(None).unwrap();
        let first = body(200, "alice");
        let second = body(200, "bob");
        let a = spill.put(7, "\"etag-a\"", first.as_bytes()).unwrap();
        let b = spill.put(7, "\"etag-b\"", second.as_bytes()).unwrap();
        let other = spill.put(8, "\"etag-c\"", b"short").unwrap();
        let got = spill.get(&b).unwrap();
        assert_eq!(got.etag, "\"etag-b\"");
        assert_eq!(got.body, second.as_bytes());
        assert_eq!(spill.get(&a).unwrap().body, first.as_bytes());
        assert_eq!(spill.get(&other).unwrap().body, &b"short"[..]);
        // The second body of a shape is mostly its dictionary: far smaller than the first.
        assert!(
            (b.len as usize) * 5 < second.len(),
            "{} of {}",
            b.len,
            second.len()
        );
        assert_eq!(spill.live(), u64::from(a.len + b.len + other.len));
        spill.forget(&a);
        assert_eq!(spill.wasted(), u64::from(a.len));
        assert_eq!(spill.live(), u64::from(b.len + other.len));
    }

    #[test]
    fn a_record_larger_than_the_read_buffer_reads_back_too() {
        let spill = Spill::create(None).unwrap();
        spill.put(9, "\"d\"", b"dictionary").unwrap();
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        let noise: Vec<u8> = (0..100_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let large = spill.put(9, "\"large\"", &noise).unwrap();
        assert!(large.len as usize > MAX_READ_BUFFER, "{}", large.len);
        let small = spill.put(9, "\"small\"", b"dictionary too").unwrap();
        assert_eq!(spill.get(&small).unwrap().body, &b"dictionary too"[..]);
        assert_eq!(spill.get(&large).unwrap().body, noise);
        assert_eq!(spill.get(&small).unwrap().etag, "\"small\"");
    }

    #[test]
    fn a_damaged_record_is_an_error_not_other_bytes() {
        let spill = Spill::create(None).unwrap();
        let slot = spill.put(1, "\"e\"", body(50, "carol").as_bytes()).unwrap();
        spill.file.write_all_at(&[0xff], slot.offset).unwrap();
        assert!(spill.get(&slot).is_err());
        let cut = Slot { len: 1, ..slot };
        assert!(spill.get(&cut).is_err());
    }

    #[test]
    fn the_file_is_gone_from_the_folder_from_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let spill = Spill::create(Some(dir.path())).unwrap();
        spill.put(1, "\"e\"", b"secret").unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
