//! Crash-safe persistence of the store: an append-only log of every committed write plus a
//! snapshot, in one directory.
//!
//! Files:
//! - `log`: records appended as the store commits writes; each write is synced to disk
//!   before the API answers it (concurrent writers share one `fsync`: group commit).
//! - `snapshot`: every object at one resourceVersion, written by compaction to
//!   `snapshot.tmp`, synced, renamed into place and the directory synced; then the log is
//!   replaced by an empty one the same way.
//!
//! Record framing (both files): `u32` little-endian payload length, `u32` little-endian
//! CRC-32 (IEEE) of the payload, then the payload: one JSON object
//! `{"t":"put"|"del","rv":N,"key":"group/resource","obj":{…}}`. The snapshot starts with
//! `{"t":"snapshot","rv":N}`. Replay stops at the first record that is short, fails its
//! checksum or does not parse (a torn write at the moment of a crash) and truncates the log
//! there; log records at or below the snapshot's resourceVersion are skipped (a crash
//! between the snapshot's rename and the log's replacement).

use serde_json::{Value, json};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

const LOG: &str = "log";
const SNAPSHOT: &str = "snapshot";
/// Records above this size are taken as corruption.
const MAX_RECORD: u32 = 64 * 1024 * 1024;
/// The log is compacted into a snapshot once it is larger than this (by default).
pub const DEFAULT_COMPACT_BYTES: u64 = 32 * 1024 * 1024;

/// CRC-32 (IEEE 802.3, reflected, as zlib's `crc32`).
pub fn crc32(data: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, slot) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            *slot = c;
        }
        t
    });
    let mut c = !0u32;
    for &b in data {
        c = table[((c ^ b as u32) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

/// One replayed change.
#[derive(Debug, Clone)]
pub struct Record {
    pub rv: u64,
    /// `group/resource`.
    pub key: String,
    pub deleted: bool,
    pub object: Value,
}

/// What was on disk.
#[derive(Debug, Default)]
pub struct Replayed {
    /// The snapshot's objects, then the log's changes after it, in order.
    pub records: Vec<Record>,
    /// The highest resourceVersion seen.
    pub rv: u64,
}

fn frame(payload: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// Encodes one record.
pub fn encode(t: &str, rv: u64, key: &str, obj: &Value, out: &mut Vec<u8>) {
    let payload =
        serde_json::to_vec(&json!({"t": t, "rv": rv, "key": key, "obj": obj})).unwrap_or_default();
    frame(&payload, out);
}

/// Decodes the valid prefix of `data`: the payloads and the length of that prefix.
pub fn decode(data: &[u8]) -> (Vec<Value>, usize) {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while data.len() - pos >= 8 {
        let len = u32::from_le_bytes(data[pos..pos + 4].try_into().expect("4 bytes"));
        let sum = u32::from_le_bytes(data[pos + 4..pos + 8].try_into().expect("4 bytes"));
        if len > MAX_RECORD || data.len() - pos - 8 < len as usize {
            break;
        }
        let payload = &data[pos + 8..pos + 8 + len as usize];
        if crc32(payload) != sum {
            break;
        }
        let Ok(v) = serde_json::from_slice::<Value>(payload) else {
            break;
        };
        out.push(v);
        pos += 8 + len as usize;
    }
    (out, pos)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes `bytes` to `dir/name` atomically: temporary file, sync, rename, sync directory.
fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, dir.join(name))?;
    sync_dir(dir)
}

struct LogState {
    file: Arc<File>,
    len: u64,
    /// The resourceVersion of the last record written to `file`.
    written: u64,
}

/// The open log of a state directory.
pub struct Log {
    dir: PathBuf,
    state: Mutex<LogState>,
    /// Held by the thread that syncs; the others wait and usually find their record synced.
    sync_lock: Mutex<()>,
    /// Every record at or below this resourceVersion is on disk.
    synced: AtomicU64,
    compact_bytes: u64,
    buf: Mutex<Vec<u8>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn to_record(v: &Value) -> Option<Record> {
    let t = v["t"].as_str()?;
    Some(Record {
        rv: v["rv"].as_u64()?,
        key: v["key"].as_str()?.to_string(),
        deleted: t == "del",
        object: v.get("obj").cloned().unwrap_or(Value::Null),
    })
}

impl Log {
    /// Opens (creating) the state directory and reads what it holds. A torn tail of the log
    /// is cut off.
    pub fn open(dir: &Path, compact_bytes: u64) -> io::Result<(Log, Replayed)> {
        std::fs::create_dir_all(dir)?;
        let mut replayed = Replayed::default();
        let mut snapshot_rv = 0;
        if let Ok(mut f) = File::open(dir.join(SNAPSHOT)) {
            let mut data = Vec::new();
            f.read_to_end(&mut data)?;
            let (values, used) = decode(&data);
            if used != data.len() || values.first().is_none_or(|h| h["t"] != "snapshot") {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: damaged snapshot", dir.join(SNAPSHOT).display()),
                ));
            }
            snapshot_rv = values[0]["rv"].as_u64().unwrap_or(0);
            replayed
                .records
                .extend(values[1..].iter().filter_map(to_record));
        }
        replayed.rv = snapshot_rv;
        let log_path = dir.join(LOG);
        let mut data = Vec::new();
        if let Ok(mut f) = File::open(&log_path) {
            f.read_to_end(&mut data)?;
        }
        let (values, used) = decode(&data);
        for r in values.iter().filter_map(to_record) {
            if r.rv > snapshot_rv {
                replayed.rv = replayed.rv.max(r.rv);
                replayed.records.push(r);
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)?;
        if used < data.len() {
            // A torn or damaged tail: keep only the records before it.
            file.set_len(used as u64)?;
            file.sync_all()?;
        }
        sync_dir(dir)?;
        let log = Log {
            dir: dir.to_path_buf(),
            state: Mutex::new(LogState {
                file: Arc::new(file),
                len: used as u64,
                written: replayed.rv,
            }),
            sync_lock: Mutex::new(()),
            synced: AtomicU64::new(replayed.rv),
            compact_bytes: compact_bytes.max(1),
            buf: Mutex::new(Vec::new()),
        };
        Ok((log, replayed))
    }

    /// Appends records (in resourceVersion order; the caller holds the store lock). They are
    /// durable only after [`Log::sync`] with the returned resourceVersion.
    pub fn append<'a>(
        &self,
        records: impl Iterator<Item = (&'a str, u64, &'a str, &'a Value)>,
    ) -> io::Result<u64> {
        let mut buf = lock(&self.buf);
        buf.clear();
        let mut last = 0;
        for (t, rv, key, obj) in records {
            encode(t, rv, key, obj, &mut buf);
            last = rv;
        }
        let mut st = lock(&self.state);
        if buf.is_empty() {
            return Ok(st.written);
        }
        (&*st.file).write_all(&buf)?;
        st.len += buf.len() as u64;
        st.written = st.written.max(last);
        Ok(st.written)
    }

    /// Whether the log has grown past the compaction threshold.
    pub fn needs_compaction(&self) -> bool {
        lock(&self.state).len > self.compact_bytes
    }

    /// Replaces snapshot and log by a snapshot of `objects` at `rv` and an empty log (the
    /// caller holds the store lock, so nothing is appended meanwhile).
    pub fn compact<'a>(
        &self,
        rv: u64,
        objects: impl Iterator<Item = (&'a str, &'a Value)>,
    ) -> io::Result<()> {
        let mut bytes = Vec::new();
        frame(
            &serde_json::to_vec(&json!({"t": "snapshot", "rv": rv})).unwrap_or_default(),
            &mut bytes,
        );
        for (key, obj) in objects {
            encode("put", rv, key, obj, &mut bytes);
        }
        write_atomic(&self.dir, SNAPSHOT, &bytes)?;
        // Everything up to `rv` is durable in the snapshot now.
        self.synced.fetch_max(rv, Ordering::SeqCst);
        write_atomic(&self.dir, LOG, &[])?;
        let file = OpenOptions::new().append(true).open(self.dir.join(LOG))?;
        let mut st = lock(&self.state);
        st.file = Arc::new(file);
        st.len = 0;
        st.written = st.written.max(rv);
        Ok(())
    }

    /// Returns once every record up to `rv` is on disk. Concurrent callers share syncs.
    pub fn sync(&self, rv: u64) -> io::Result<()> {
        if self.synced.load(Ordering::SeqCst) >= rv {
            return Ok(());
        }
        let _guard = lock(&self.sync_lock);
        if self.synced.load(Ordering::SeqCst) >= rv {
            return Ok(());
        }
        let (file, target) = {
            let st = lock(&self.state);
            (st.file.clone(), st.written)
        };
        file.sync_data()?;
        self.synced.fetch_max(target, Ordering::SeqCst);
        Ok(())
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "kube-sandbox-persist-{name}-{}-{}",
            std::process::id(),
            crate::util::random_suffix(6)
        ));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn crc32_known_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn torn_tail_is_cut_and_replay_continues() {
        let dir = tmpdir("torn");
        {
            let (log, r) = Log::open(&dir, DEFAULT_COMPACT_BYTES).unwrap();
            assert!(r.records.is_empty());
            for i in 1..=5u64 {
                let obj = json!({"metadata": {"name": format!("o{i}")}});
                let rv = log
                    .append([("put", i, "/configmaps", &obj)].into_iter())
                    .unwrap();
                log.sync(rv).unwrap();
            }
        }
        // A torn record at the end: half a frame.
        let mut extra = Vec::new();
        encode("put", 6, "/configmaps", &json!({"x": 1}), &mut extra);
        let mut f = OpenOptions::new().append(true).open(dir.join(LOG)).unwrap();
        f.write_all(&extra[..extra.len() / 2]).unwrap();
        drop(f);
        let before = std::fs::metadata(dir.join(LOG)).unwrap().len();
        let (log, r) = Log::open(&dir, DEFAULT_COMPACT_BYTES).unwrap();
        assert_eq!(r.records.len(), 5);
        assert_eq!(r.rv, 5);
        let after = std::fs::metadata(dir.join(LOG)).unwrap().len();
        assert_eq!(after, before - (extra.len() / 2) as u64);
        // A flipped byte in the middle stops replay there.
        let obj = json!({"metadata": {"name": "o6"}});
        log.sync(
            log.append([("put", 6, "/configmaps", &obj)].into_iter())
                .unwrap(),
        )
        .unwrap();
        drop(log);
        let mut data = std::fs::read(dir.join(LOG)).unwrap();
        let (_, used) = decode(&data);
        assert_eq!(used, data.len());
        let n = data.len();
        data[n - 3] ^= 0xff;
        std::fs::write(dir.join(LOG), &data).unwrap();
        let (_, r) = Log::open(&dir, DEFAULT_COMPACT_BYTES).unwrap();
        assert_eq!(r.records.len(), 5);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn compaction_keeps_state_and_skips_old_log_records() {
        let dir = tmpdir("compact");
        let (log, _) = Log::open(&dir, 200).unwrap();
        let a = json!({"metadata": {"name": "a"}});
        let b = json!({"metadata": {"name": "b"}});
        log.append([("put", 1, "/configmaps", &a), ("put", 2, "/configmaps", &b)].into_iter())
            .unwrap();
        log.append([("del", 3, "/configmaps", &a)].into_iter())
            .unwrap();
        assert!(log.needs_compaction() || std::fs::metadata(dir.join(LOG)).unwrap().len() <= 200);
        // Keep a copy of the old log to simulate a crash between snapshot and log swap.
        let old_log = std::fs::read(dir.join(LOG)).unwrap();
        log.compact(3, [("/configmaps", &b)].into_iter()).unwrap();
        assert!(!log.needs_compaction());
        let c = json!({"metadata": {"name": "c"}});
        log.sync(
            log.append([("put", 4, "/configmaps", &c)].into_iter())
                .unwrap(),
        )
        .unwrap();
        drop(log);
        let (_, r) = Log::open(&dir, 200).unwrap();
        let names: Vec<_> = r
            .records
            .iter()
            .map(|r| {
                (
                    r.object["metadata"]["name"].as_str().unwrap().to_string(),
                    r.deleted,
                )
            })
            .collect();
        assert_eq!(names, [("b".to_string(), false), ("c".to_string(), false)]);
        assert_eq!(r.rv, 4);
        // The old log next to the new snapshot: its records are at or below the snapshot.
        std::fs::write(dir.join(LOG), &old_log).unwrap();
        let (_, r) = Log::open(&dir, 200).unwrap();
        assert_eq!(r.records.len(), 1);
        assert_eq!(r.rv, 3);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
