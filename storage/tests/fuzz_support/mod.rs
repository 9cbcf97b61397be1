//! The harness every crate's `tests/fuzz.rs` shares (the promql and server
//! crates include this file by `#[path]`, so there is one copy and no public
//! test-only API in a library). See `docs/fuzzing.md`.
//!
//! A target is a closure over bytes. [`fuzz`] replays the target's seeds
//! (built by the test from the real encoders) and its committed corpus
//! (`testdata/fuzz/<target>/`), then, for the time [`budget`] gives, feeds it
//! inputs proptest generates (stable Rust, no new dependency): a seed with a
//! list of [`Mutation`]s applied (bytes flipped, cut, repeated, spliced,
//! length-like fields set to extremes) or plain random bytes. A failure is
//! shrunk by proptest and reported with the seed that replays the run
//! (`FERROPROM_FUZZ_SEED`). [`fuzz_typed`] does the same for structured
//! inputs (any proptest strategy), which is how targets get past checksums:
//! they encode arbitrary content with the real writer.
//!
//! Every input also runs under an allocation watch: the largest single
//! allocation made while decoding must stay within [`alloc_limit`] of the
//! input's size, so a length field read as 2^40 is an error, not a
//! preallocation. Requests beyond [`HARD_CAP`] fail (abort) at once rather
//! than take the machine's memory.

#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt::Debug;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestError, TestRng, TestRunner};

/// Seconds each target runs for, from `FERROPROM_FUZZ_SECONDS`. The default
/// keeps every target of the workspace together within CI's budget.
pub fn budget() -> Duration {
    let secs = std::env::var("FERROPROM_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .unwrap_or(15.0);
    Duration::from_secs_f64(secs)
}

/// `testdata/fuzz/<target>` of the workspace.
pub fn corpus_dir(target: &str) -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = manifest
        .ancestors()
        .find(|d| d.join("testdata").is_dir() && d.join("Cargo.lock").is_file())
        .expect("workspace root with testdata/")
        .to_path_buf();
    root.join("testdata").join("fuzz").join(target)
}

/// The committed corpus of `target`, sorted by file name.
pub fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir(target);
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out: Vec<_> = rd
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (name, bytes)
        })
        .collect();
    out.sort();
    out
}

/// Largest allocation any input may make, whatever its size.
pub const HARD_CAP: usize = 1 << 30;

/// Largest single allocation an input of `len` bytes may cause: generous
/// (decoders may reserve working buffers and expand compressed data), but
/// far below what an unchecked length field asks for.
pub fn alloc_limit(len: usize) -> usize {
    (4 << 20) + len.saturating_mul(256)
}

/// The global allocator of the fuzz test binaries: the system allocator,
/// noting the largest request per thread.
pub struct Watch;

thread_local! {
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) -> bool {
    let _ = PEAK.try_with(|p| {
        if size > p.get() {
            p.set(size)
        }
    });
    size <= HARD_CAP
}

// SAFETY: forwards to `System` unchanged, except that requests over
// HARD_CAP get null, which the caller must (and std does) handle.
unsafe impl GlobalAlloc for Watch {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !note(layout.size()) {
            return std::ptr::null_mut();
        }
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !note(layout.size()) {
            return std::ptr::null_mut();
        }
        System.alloc_zeroed(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !note(new_size) {
            return std::ptr::null_mut();
        }
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static WATCH: Watch = Watch;

/// Runs `f`, returning the largest single allocation it made on this thread.
pub fn peak_alloc<R>(f: impl FnOnce() -> R) -> (R, usize) {
    PEAK.with(|p| p.set(0));
    let r = f();
    (r, PEAK.with(|p| p.get()))
}

/// Runs `check` on one input under the allocation watch.
pub fn run_one(target: &str, input: &[u8], check: &impl Fn(&[u8])) {
    if let Ok(path) = std::env::var("FERROPROM_FUZZ_TRACE") {
        // Offline only: the input about to run, for when it aborts.
        let _ = std::fs::write(format!("{path}.{target}"), input);
    }
    let ((), peak) = peak_alloc(|| check(input));
    let limit = alloc_limit(input.len());
    assert!(
        peak <= limit,
        "{target}: one allocation of {peak} bytes for an input of {} bytes (limit {limit})",
        input.len()
    );
}

/// Values for length and count fields that break careless decoders.
const INTERESTING: [u64; 12] = [
    0,
    1,
    0x7f,
    0x80,
    0xff,
    0x7fff,
    0xffff,
    0x7fff_ffff,
    0xffff_ffff,
    1 << 40,
    1 << 60,
    u64::MAX,
];

/// One edit of a seed. Positions are taken modulo the length.
#[derive(Clone, Debug)]
pub enum Mutation {
    Flip {
        at: u32,
        bit: u8,
    },
    Set {
        at: u32,
        value: u8,
    },
    /// Overwrites 1, 2, 4 or 8 bytes, big- or little-endian, with an
    /// [`INTERESTING`] value.
    Int {
        at: u32,
        which: u8,
        width: u8,
    },
    /// Inserts the uvarint of an [`INTERESTING`] value (varint lengths).
    Varint {
        at: u32,
        which: u8,
    },
    Insert {
        at: u32,
        bytes: Vec<u8>,
    },
    Remove {
        at: u32,
        len: u16,
    },
    Truncate {
        at: u32,
    },
    /// Copies a run of the input over another place (repeated structure).
    Copy {
        from: u32,
        to: u32,
        len: u16,
    },
    /// Inserts a run of another seed (splicing two valid inputs).
    Splice {
        at: u32,
        seed: u16,
        from: u32,
        len: u16,
    },
}

fn pos(at: u32, len: usize) -> usize {
    if len == 0 {
        0
    } else {
        at as usize % len
    }
}

fn interesting(which: u8) -> u64 {
    INTERESTING[which as usize % INTERESTING.len()]
}

impl Mutation {
    fn apply(&self, b: &mut Vec<u8>, seeds: &[Vec<u8>]) {
        match self {
            Mutation::Flip { at, bit } => {
                if !b.is_empty() {
                    let i = pos(*at, b.len());
                    b[i] ^= 1 << (bit % 8);
                }
            }
            Mutation::Set { at, value } => {
                if !b.is_empty() {
                    let i = pos(*at, b.len());
                    b[i] = *value;
                }
            }
            Mutation::Int { at, which, width } => {
                let v = interesting(*which);
                let w = 1usize << (width % 4);
                let bytes = if width & 0x10 == 0 {
                    v.to_be_bytes()[8 - w..].to_vec()
                } else {
                    v.to_le_bytes()[..w].to_vec()
                };
                let i = pos(*at, b.len());
                let end = (i + w).min(b.len());
                b.splice(i..end, bytes);
            }
            Mutation::Varint { at, which } => {
                let mut enc = storage::encoding::Encbuf { buf: Vec::new() };
                enc.put_uvarint(interesting(*which));
                let i = pos(*at, b.len() + 1);
                b.splice(i..i, enc.buf);
            }
            Mutation::Insert { at, bytes } => {
                let i = pos(*at, b.len() + 1);
                b.splice(i..i, bytes.iter().copied());
            }
            Mutation::Remove { at, len } => {
                let i = pos(*at, b.len());
                let end = (i + *len as usize).min(b.len());
                b.drain(i..end);
            }
            Mutation::Truncate { at } => {
                let i = pos(*at, b.len() + 1);
                b.truncate(i);
            }
            Mutation::Copy { from, to, len } => {
                if b.is_empty() {
                    return;
                }
                let f = pos(*from, b.len());
                let end = (f + *len as usize).min(b.len());
                let run = b[f..end].to_vec();
                let t = pos(*to, b.len() + 1);
                b.splice(t..t, run);
            }
            Mutation::Splice {
                at,
                seed,
                from,
                len,
            } => {
                if seeds.is_empty() {
                    return;
                }
                let other = &seeds[*seed as usize % seeds.len()];
                let f = pos(*from, other.len());
                let end = (f + *len as usize).min(other.len());
                let i = pos(*at, b.len() + 1);
                b.splice(i..i, other[f..end].iter().copied());
            }
        }
    }
}

/// A generated input: a seed with edits, or (when the seed index says so,
/// or there are no seeds) raw bytes.
#[derive(Clone, Debug)]
pub struct Input {
    seed: u16,
    mutations: Vec<Mutation>,
    raw: Vec<u8>,
}

impl Input {
    fn bytes(&self, seeds: &[Vec<u8>]) -> Vec<u8> {
        // One in eight inputs is raw bytes.
        let pick = self.seed as usize % (seeds.len() * 8 / 7 + 1);
        let Some(seed) = seeds.get(pick) else {
            return self.raw.clone();
        };
        let mut b = seed.clone();
        for m in &self.mutations {
            m.apply(&mut b, seeds);
        }
        b
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = any::<u32>();
    prop_oneof![
        (at, any::<u8>()).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        (at, any::<u8>()).prop_map(|(at, value)| Mutation::Set { at, value }),
        (at, any::<u8>(), any::<u8>()).prop_map(|(at, which, width)| Mutation::Int {
            at,
            which,
            width
        }),
        (at, any::<u8>()).prop_map(|(at, which)| Mutation::Varint { at, which }),
        (at, vec(any::<u8>(), 1..16)).prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (at, 1u16..64).prop_map(|(at, len)| Mutation::Remove { at, len }),
        at.prop_map(|at| Mutation::Truncate { at }),
        (at, any::<u32>(), 1u16..256).prop_map(|(from, to, len)| Mutation::Copy { from, to, len }),
        (at, any::<u16>(), any::<u32>(), 1u16..256).prop_map(|(at, seed, from, len)| {
            Mutation::Splice {
                at,
                seed,
                from,
                len,
            }
        }),
    ]
}

fn input() -> impl Strategy<Value = Input> {
    (
        any::<u16>(),
        vec(mutation(), 0..12),
        vec(any::<u8>(), 0..512),
    )
        .prop_map(|(seed, mutations, raw)| Input {
            seed,
            mutations,
            raw,
        })
}

/// The run's random seed: `FERROPROM_FUZZ_SEED` (hex, to replay a run) or
/// a fresh one.
fn run_seed() -> [u8; 32] {
    if let Ok(hex) = std::env::var("FERROPROM_FUZZ_SEED") {
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .filter_map(|i| {
                hex.get(i..i + 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            })
            .collect();
        let mut seed = [0u8; 32];
        for (d, s) in seed.iter_mut().zip(bytes) {
            *d = s;
        }
        return seed;
    }
    use std::hash::{BuildHasher, Hasher};
    let mut seed = [0u8; 32];
    for chunk in seed.chunks_mut(8) {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos(),
        );
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    seed
}

/// Runs generated values of `strategy` through `check` for [`budget`];
/// a failure is shrunk and reported with the seed that replays the run.
fn run_for<S: Strategy>(target: &str, strategy: S, check: impl Fn(&S::Value))
where
    S::Value: Debug,
{
    let budget = budget();
    let seed = run_seed();
    let hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
    let config = Config {
        failure_persistence: None,
        max_shrink_time: 30_000,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed));
    let start = Instant::now();
    let mut runs = 0u64;
    while start.elapsed() < budget {
        let tree = strategy.new_tree(&mut runner).expect("strategy");
        let result = runner.run_one(tree, |v| {
            check(&v);
            Ok(())
        });
        match result {
            Ok(_) => runs += 1,
            Err(TestError::Fail(why, minimal)) => {
                panic!("{target}: {why}\nminimal input: {minimal:#?}\nreplay: FERROPROM_FUZZ_SEED={hex}")
            }
            Err(TestError::Abort(why)) => panic!("{target}: aborted: {why}"),
        }
    }
    eprintln!("{target}: {runs} inputs in {:.1?}", start.elapsed());
}

/// Fuzzes `check` over `seeds` (valid inputs made by the caller) plus the
/// committed corpus of `target`: each is run once as it is, then mutated
/// ones for [`budget`]. `check` asserts what must hold and panics otherwise;
/// decoding errors are fine.
pub fn fuzz(target: &str, mut seeds: Vec<Vec<u8>>, check: impl Fn(&[u8])) {
    seeds.extend(corpus(target).into_iter().map(|(_, b)| b));
    for s in &seeds {
        run_one(target, s, &check);
    }
    run_for(target, input(), |i| {
        run_one(target, &i.bytes(&seeds), &check)
    });
}

/// Fuzzes `check` over generated values of `strategy` for [`budget`];
/// `size` tells the allocation watch how big a value's encoding is.
pub fn fuzz_typed<S: Strategy>(
    target: &str,
    strategy: S,
    size: impl Fn(&S::Value) -> usize,
    check: impl Fn(&S::Value),
) where
    S::Value: Debug,
{
    run_for(target, strategy, |v| {
        let ((), peak) = peak_alloc(|| check(v));
        let limit = alloc_limit(size(v));
        assert!(
            peak <= limit,
            "{target}: one allocation of {peak} bytes (limit {limit})"
        );
    });
}
