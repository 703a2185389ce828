//! How fast requests start: one adaptive rate per quota, shared by every backend of the
//! cluster.
//!
//! Cognito meters ListUsers per account and region, over every client. A rate kept per backend
//! lets four backends run at four times the quota, and throttling then fails scans. So the rate
//! lives in a small file mapped `MAP_SHARED` under the data directory (`cognito_fdw_rate.1`),
//! one slot per quota key (endpoint and region: an endpoint names the region's service, and we
//! cannot know the account behind a key id without asking STS), read and written only with
//! atomics. A file works without `shared_preload_libraries`, which a hosted database may not
//! let users change, and every backend of the cluster maps the same pages.
//!
//! Each slot holds a schedule (`next_free`: when the next request may start, in
//! CLOCK_MONOTONIC nanoseconds, which every process of the machine shares): a backend reserves
//! the next free instant with a compare-and-swap and sleeps until then, so requests from all
//! backends are spaced `1/rate` apart. The rate adapts as the AWS SDKs' adaptive retry mode
//! does: multiplied by `DECREASE` on throttling (at most once per `COOL_DOWN`, since one
//! crowded second throttles several requests at once), raised additively by each success
//! (`INCREASE` per second at full pace), never above the scan's `requests_per_second`. The
//! slot also keeps a round-trip estimate and which backends are listing, from which a scan
//! chooses how many requests to keep in flight.

use std::fs::{File, OpenOptions};
use std::hash::{Hash, Hasher};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering::*};
use std::sync::OnceLock;
use std::time::Duration;

use super::runtime::{report_wait, Waiting};

/// Slots in the shared file; keys beyond this share a slot, which only makes them slower.
const SLOTS: usize = 256;
/// Backends remembered per slot as currently listing.
const HOLDERS: usize = 16;
/// A backend counts as listing for this long after its latest request.
const HOLD_NS: u64 = 2_000_000_000;
/// Factor applied to the rate on throttling.
const DECREASE: f64 = 0.75;
/// Requests per second added per second of successes at full pace.
const INCREASE: f64 = 3.0;
/// Throttles within this time of a decrease belong to the same crowded second.
const COOL_DOWN: u64 = 1_000_000_000;
/// The rate never falls below this many requests per second.
const FLOOR: f64 = 0.5;
/// A schedule more than this far ahead was left by another boot or a stopped clock: ignore it.
const STALE_NS: u64 = 120_000_000_000;
/// Requests are spaced this much wider than the rate. A quota counts requests as they arrive,
/// and the way there adds a few ms of jitter: spaced at exactly the quota, request n + rate
/// can arrive less than a second after request n and be throttled, which cuts the rate by a
/// quarter for seconds. 2% leaves 20 ms of slack per second at any rate.
const SPACING: f64 = 1.02;
/// The round trip assumed before any request of this key has finished.
const DEFAULT_RTT_US: u64 = 150_000;
const MAGIC: u64 = 0x636f_676e_7261_7401; // "cognrat" + version 1
/// The shared file in the data directory; the layout's version is in its name.
const FILE_NAME: &str = "cognito_fdw_rate.1";

/// One quota's shared state. Every field is an atomic, so a zeroed page is a valid, empty slot.
#[repr(C)]
pub struct Slot {
    /// Hash of the quota key; 0: free.
    key: AtomicU64,
    /// When the next request may start (CLOCK_MONOTONIC ns).
    next_free: AtomicU64,
    /// The adaptive rate, in thousandths of a request per second; 0: not yet set (the ceiling).
    rate_milli: AtomicU64,
    /// When the rate was last decreased.
    last_cut: AtomicU64,
    /// Smoothed round trip of successful requests, microseconds; 0: none yet.
    rtt_us: AtomicU64,
    _reserved: [AtomicU64; 3],
    /// (pid, listing until ns) of backends that listed recently.
    holders: [[AtomicU64; 2]; HOLDERS],
}

impl Slot {
    fn current_rate(&self, ceiling: u32) -> f64 {
        let ceiling = f64::from(ceiling.max(1));
        match self.rate_milli.load(Relaxed) {
            0 => ceiling,
            milli => (milli as f64 / 1000.0).clamp(FLOOR, ceiling),
        }
    }

    fn store_rate(&self, rate: f64) {
        self.rate_milli
            .store((rate * 1000.0).round() as u64, Relaxed);
    }

    /// Reserve the next start for a request at `now`: the instant it may start.
    pub fn reserve(&self, now: u64, ceiling: u32) -> u64 {
        let interval = (1e9 * SPACING / self.current_rate(ceiling)) as u64;
        let mut seen = self.next_free.load(Acquire);
        loop {
            let start = if seen > now.saturating_add(STALE_NS) {
                now
            } else {
                seen.max(now)
            };
            match self
                .next_free
                .compare_exchange_weak(seen, start + interval, AcqRel, Acquire)
            {
                Ok(_) => return start,
                Err(other) => seen = other,
            }
        }
    }

    /// A request was throttled at `now`: slow down, once per crowded second.
    pub fn throttled(&self, now: u64, ceiling: u32) {
        let last = self.last_cut.load(Relaxed);
        if now.saturating_sub(last) < COOL_DOWN && last != 0 {
            return;
        }
        if self
            .last_cut
            .compare_exchange(last, now.max(1), Relaxed, Relaxed)
            .is_ok()
        {
            let rate = (self.current_rate(ceiling) * DECREASE).max(FLOOR);
            self.store_rate(rate);
        }
    }

    /// A request succeeded: speed up a little, and learn the round trip of a full page (what
    /// a full scan waits for; a lookup's answer comes back faster and would make a full scan
    /// take too few streams).
    pub fn succeeded(&self, ceiling: u32, full_page_rtt: Option<Duration>) {
        // Only a throttled quota has a rate of its own (0: none, each scan's ceiling holds):
        // a scan with a low ceiling must not cap the others'. Each success adds INCREASE/rate,
        // so a second at full pace adds INCREASE; back at this scan's ceiling, the quota is
        // no longer known to be throttled.
        if self.rate_milli.load(Relaxed) != 0 {
            let rate = self.current_rate(ceiling);
            let raised = rate + INCREASE / rate;
            if raised >= f64::from(ceiling.max(1)) {
                self.rate_milli.store(0, Relaxed);
            } else {
                self.store_rate(raised);
            }
        }
        let Some(rtt) = full_page_rtt else {
            return;
        };
        let sample = rtt.as_micros().min(60_000_000) as u64;
        let old = self.rtt_us.load(Relaxed);
        let new = if old == 0 {
            sample
        } else {
            (old * 7 + sample) / 8
        };
        self.rtt_us.store(new.max(1), Relaxed);
    }

    pub fn rate(&self, ceiling: u32) -> f64 {
        self.current_rate(ceiling)
    }

    pub fn round_trip(&self) -> Duration {
        match self.rtt_us.load(Relaxed) {
            0 => Duration::from_micros(DEFAULT_RTT_US),
            us => Duration::from_micros(us),
        }
    }

    /// Note that backend `pid` is listing at `now`.
    pub fn hold(&self, now: u64, pid: u64) {
        let until = now + HOLD_NS;
        for [who, till] in &self.holders {
            if who.load(Relaxed) == pid {
                till.store(until, Relaxed);
                return;
            }
        }
        for [who, till] in &self.holders {
            let old = who.load(Relaxed);
            if till.load(Relaxed) < now && who.compare_exchange(old, pid, Relaxed, Relaxed).is_ok()
            {
                till.store(until, Relaxed);
                return;
            }
        }
    }

    /// Backends that listed within the last `HOLD_NS`, at least 1 (the caller).
    pub fn holders(&self, now: u64) -> usize {
        self.holders
            .iter()
            .filter(|[_, till]| till.load(Relaxed) >= now)
            .count()
            .max(1)
    }

    /// Requests to keep in flight so that, with the others listing, the rate is reached: about
    /// round trip x rate, with a quarter more for the spread of round trips, shared out.
    pub fn streams(&self, now: u64, ceiling: u32) -> usize {
        let needed = self.rate(ceiling) * self.round_trip().as_secs_f64() * 1.25;
        (needed / self.holders(now) as f64).ceil().max(1.0) as usize
    }
}

/// The slots, mapped from the shared file or, without one (unit tests, or a data directory we
/// cannot write), in this process only.
struct Table {
    slots: &'static [Slot],
}

impl Table {
    fn local() -> Table {
        let slots: Vec<Slot> = (0..SLOTS + 1)
            .map(|_| {
                // SAFETY: every field of Slot is an AtomicU64, for which all-zero bytes are a
                // valid value.
                unsafe { std::mem::zeroed() }
            })
            .collect();
        Table {
            slots: &Box::leak(slots.into_boxed_slice())[1..],
        }
    }

    /// Map `path` (created if missing), resetting it when it was written by another boot.
    fn shared(path: &Path) -> std::io::Result<Table> {
        let size = std::mem::size_of::<Slot>() * (SLOTS + 1);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let _lock = Flock::exclusive(&file)?;
        use std::os::unix::fs::FileExt;
        // Never shorten the file: another backend may have it mapped, and touching a mapped
        // page past the end of its file is SIGBUS. (The layout is in the file's name, so a
        // file of this name never needs another size.)
        if file.metadata()?.len() < size as u64 {
            file.set_len(size as u64)?;
        }
        let boot = boot_id();
        let mut header = [0u8; 16];
        file.read_exact_at(&mut header, 0)?;
        let ours = u64::from_ne_bytes(header[..8].try_into().expect("8 bytes")) == MAGIC
            && u64::from_ne_bytes(header[8..].try_into().expect("8 bytes")) == boot;
        if !ours {
            // New, or written in another boot (whose processes are all gone): a schedule of
            // that boot's clock means nothing now, so start from zeros.
            file.write_all_at(&vec![0u8; size], 0)?;
            header[..8].copy_from_slice(&MAGIC.to_ne_bytes());
            header[8..].copy_from_slice(&boot.to_ne_bytes());
            file.write_all_at(&header, 0)?;
        }
        // SAFETY: a fresh mapping of `size` bytes of a file that is at least that long (made so
        // above under the lock, and never shortened by anyone); it is never unmapped, so the 'static slice below stays valid for the life of the process.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: the mapping is page-aligned and `size` bytes long, so it holds SLOTS + 1
        // Slots, suitably aligned; Slot is repr(C) of AtomicU64s only, valid for any bytes, and
        // other processes touch it only through atomics too. Slot 0 is the header, skipped.
        let slots = unsafe { std::slice::from_raw_parts(base.cast::<Slot>(), SLOTS + 1) };
        Ok(Table { slots: &slots[1..] })
    }

    fn slot(&self, key: &str) -> &'static Slot {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut hasher);
        let hash = hasher.finish().max(1);
        for i in 0..SLOTS {
            let slot = &self.slots[(hash as usize + i) % SLOTS];
            match slot.key.compare_exchange(0, hash, AcqRel, Acquire) {
                Ok(_) => return slot,
                Err(k) if k == hash => return slot,
                Err(_) => {}
            }
        }
        &self.slots[hash as usize % SLOTS]
    }
}

struct Flock<'a>(&'a File);

impl<'a> Flock<'a> {
    fn exclusive(file: &'a File) -> std::io::Result<Flock<'a>> {
        // SAFETY: flock on a file descriptor we own and keep open while the guard lives.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Flock(file))
    }
}

impl Drop for Flock<'_> {
    fn drop(&mut self) {
        // SAFETY: as in exclusive; unlocking a lock we hold.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

fn boot_id() -> u64 {
    let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    id.trim().hash(&mut hasher);
    hasher.finish()
}

static TABLE: OnceLock<Table> = OnceLock::new();

/// Share the rate with the other backends through a file in `data_dir`; called once the data
/// directory is known. Without it (or if the file cannot be mapped) the rate is this backend's.
pub fn attach(data_dir: &Path) {
    TABLE.get_or_init(|| {
        Table::shared(&data_dir.join(FILE_NAME)).unwrap_or_else(|_| Table::local())
    });
}

fn table() -> &'static Table {
    TABLE.get_or_init(Table::local)
}

/// Nanoseconds of CLOCK_MONOTONIC, the clock every process of this machine shares.
pub fn now() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we pass and nothing else.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// A scan's handle on its quota: the shared slot and this scan's ceiling.
#[derive(Clone, Copy)]
pub struct Limiter {
    slot: &'static Slot,
    ceiling: u32,
    /// A second, fixed rate some requests are held to as well: AWS caps some operations per
    /// pool below their category's rate.
    cap: Option<(&'static Slot, u32)>,
}

impl Limiter {
    /// The limiter of requests of quota `category` to `endpoint` in `region`, at most
    /// `ceiling` per second.
    pub fn new(endpoint: &str, region: &str, category: &str, ceiling: u32) -> Limiter {
        Limiter {
            slot: table().slot(&format!("{endpoint} {region} {category}")),
            ceiling: ceiling.max(1),
            cap: None,
        }
    }

    /// This limiter, with every request also held to `per_second` under `key` (an endpoint,
    /// region, pool and operation).
    pub fn capped(self, key: &str, per_second: u32) -> Limiter {
        let slot = table().slot(key);
        Limiter {
            cap: Some((slot, per_second.max(1))),
            ..self
        }
    }

    /// Count this backend as listing on the quota (requests do it too).
    pub fn hold(&self) {
        self.slot.hold(now(), u64::from(std::process::id()));
    }

    /// Wait for this request's turn.
    pub async fn acquire(&self) {
        // The cap first: the category's turn is taken only once the operation may go, so a
        // capped operation does not spend the rate other operations of its category could use.
        if let Some((cap, per_second)) = self.cap {
            let now = now();
            let start = cap.reserve(now, per_second);
            if start > now {
                report_wait(Waiting::Rate);
                tokio::time::sleep(Duration::from_nanos(start - now)).await;
            }
        }
        let now = now();
        self.slot.hold(now, u64::from(std::process::id()));
        let start = self.slot.reserve(now, self.ceiling);
        if start > now {
            report_wait(Waiting::Rate);
            tokio::time::sleep(Duration::from_nanos(start - now)).await;
        }
        report_wait(Waiting::Network);
    }

    pub fn throttled(&self) {
        self.slot.throttled(now(), self.ceiling);
    }

    pub fn succeeded(&self, full_page_rtt: Option<Duration>) {
        self.slot.succeeded(self.ceiling, full_page_rtt);
    }

    /// Requests this scan should keep in flight now.
    pub fn streams(&self) -> usize {
        self.slot.streams(now(), self.ceiling)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn slot() -> &'static Slot {
        Table::local().slot("http://x us-east-1")
    }

    #[test]
    fn requests_are_spaced_by_the_rate_across_holders() {
        let s = slot();
        let t0 = 1_000 * MS;
        // Two backends asking at once get consecutive slots 1/25 s apart, and 2% more.
        let gap = 40 * MS * 102 / 100;
        assert_eq!(s.reserve(t0, 25), t0);
        assert_eq!(s.reserve(t0, 25), t0 + gap);
        assert_eq!(s.reserve(t0 + 10 * MS, 25), t0 + 2 * gap);
        // Idle time is not saved up into a burst.
        let later = t0 + 5_000 * MS;
        assert_eq!(s.reserve(later, 25), later);
        assert_eq!(s.reserve(later, 25), later + gap);
        // A schedule far ahead (another boot's clock) is ignored.
        s.next_free.store(later + 1_000_000 * MS, Relaxed);
        assert_eq!(s.reserve(later, 25), later);
    }

    #[test]
    fn no_rolling_second_holds_more_than_the_rate_over_many_threads() {
        let s = slot();
        let t0 = now();
        let starts: Vec<u64> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..4)
                .map(|_| scope.spawn(|| (0..30).map(|_| s.reserve(t0, 30)).collect::<Vec<_>>()))
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap())
                .collect()
        });
        let mut starts = starts;
        starts.sort_unstable();
        starts.dedup();
        assert_eq!(starts.len(), 120, "every reservation is its own instant");
        for (i, &start) in starts.iter().enumerate() {
            let in_window = starts[i..]
                .iter()
                .take_while(|&&t| t < start + 1_000 * MS)
                .count();
            assert!(in_window <= 30, "{in_window} requests in one second");
        }
        assert!(starts[119] - starts[0] < 4_100 * MS);
    }

    #[test]
    fn throttling_cuts_the_rate_once_per_crowded_second_and_successes_restore_it() {
        let s = slot();
        let t0 = 10_000 * MS;
        assert_eq!(s.rate(30), 30.0);
        s.throttled(t0, 30);
        assert_eq!(s.rate(30), 22.5);
        // Other requests throttled in the same second do not cut again.
        s.throttled(t0 + 200 * MS, 30);
        s.throttled(t0 + 900 * MS, 30);
        assert_eq!(s.rate(30), 22.5);
        s.throttled(t0 + 1_100 * MS, 30);
        assert!((s.rate(30) - 16.875).abs() < 0.01, "{}", s.rate(30));
        // A second of successes at the current pace adds about INCREASE.
        let before = s.rate(30);
        for _ in 0..before.round() as usize {
            s.succeeded(30, Some(Duration::from_millis(100)));
        }
        let gained = s.rate(30) - before;
        assert!((2.5..3.5).contains(&gained), "{gained}");
        // Never above the ceiling, never below the floor.
        for _ in 0..1000 {
            s.succeeded(30, Some(Duration::from_millis(100)));
        }
        assert_eq!(s.rate(30), 30.0);
        assert_eq!(s.rate(10), 10.0, "a lower ceiling wins");
        assert_eq!(s.rate(1000), 1000.0, "and does not cap a higher one");
        for i in 0..40 {
            s.throttled(t0 + (2 + i) * 1_000 * MS, 30);
        }
        assert_eq!(s.rate(30), FLOOR);
    }

    #[test]
    fn a_throttled_schedule_spaces_requests_wider() {
        let s = slot();
        let t0 = 50_000 * MS;
        let first = s.reserve(t0, 20);
        let second = s.reserve(t0, 20);
        assert_eq!(second - first, 51 * MS);
        s.throttled(t0, 20);
        let third = s.reserve(t0, 20);
        let fourth = s.reserve(t0, 20);
        assert_eq!(fourth - third, (1.02e9 / 15.0) as u64);
    }

    #[test]
    fn streams_follow_rate_times_round_trip_shared_by_the_backends_listing() {
        let s = slot();
        let t0 = 80_000 * MS;
        // Nothing measured yet: 150 ms at 30/s, plus a quarter: 6 requests in flight.
        assert_eq!(s.streams(t0, 30), 6);
        s.succeeded(30, Some(Duration::from_millis(40)));
        assert_eq!(s.round_trip(), Duration::from_millis(40));
        assert_eq!(s.streams(t0, 30), 2);
        s.succeeded(30, Some(Duration::from_millis(200)));
        assert_eq!(s.round_trip(), Duration::from_micros(60_000));
        for _ in 0..50 {
            s.succeeded(30, Some(Duration::from_millis(160)));
        }
        assert_eq!(s.streams(t0, 30), 6);
        // A lookup's quick answer says nothing of a full page's round trip.
        s.succeeded(30, None);
        assert_eq!(s.streams(t0, 30), 6);
        for pid in [1, 2, 3, 2] {
            s.hold(t0, pid);
        }
        assert_eq!(s.holders(t0), 3);
        assert_eq!(s.streams(t0, 30), 2);
        // Holders that stopped listing drop out, and their places are reused.
        assert_eq!(s.holders(t0 + HOLD_NS + 1), 1);
        s.hold(t0 + HOLD_NS + 1, 9);
        assert_eq!(s.holders(t0 + HOLD_NS + 1), 1);
        assert_eq!(s.streams(t0 + HOLD_NS + 1, 30), 6);
    }

    #[test]
    fn keys_get_their_own_slots_and_the_file_is_shared() {
        let dir = std::env::temp_dir().join(format!("cognito_rate_test_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(FILE_NAME);
        let a = Table::shared(&path).unwrap();
        let b = Table::shared(&path).unwrap();
        let (a1, a2) = (a.slot("one"), a.slot("two"));
        assert!(!std::ptr::eq(a1, a2));
        // The second mapping (as another backend would make) sees the first one's schedule.
        let t0 = 1_000 * MS;
        assert_eq!(a1.reserve(t0, 10), t0);
        assert_eq!(b.slot("one").reserve(t0, 10), t0 + 102 * MS);
        assert_eq!(b.slot("two").reserve(t0, 10), t0);
        // A file left by another boot (its boot id differs) starts again from zeros.
        {
            use std::os::unix::fs::FileExt;
            let file = OpenOptions::new().write(true).open(&path).unwrap();
            file.write_all_at(&0u64.to_ne_bytes(), 8).unwrap();
        }
        let c = Table::shared(&path).unwrap();
        assert_eq!(
            c.slot("one").reserve(t0, 10),
            t0,
            "the old schedule is gone"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
