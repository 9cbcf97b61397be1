//! String interning for the head.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;

#[derive(Default)]
struct Inner {
    ids: HashMap<Arc<str>, u32>,
    strings: Vec<Arc<str>>,
    bytes: usize,
}

/// Id → string lookups inside [`SymbolTable::with`].
pub struct Resolver<'a>(&'a [Arc<str>]);

impl Resolver<'_> {
    /// The string with id `id`. Panics on an id the table never returned.
    pub fn get(&self, id: u32) -> &str {
        &self.0[id as usize]
    }
}

/// Interns label strings for the head: each distinct string stored once; ids
/// are stable u32s assigned in first-seen order.
///
/// Lookups of an already interned string take only a read lock and do not
/// allocate.
#[derive(Default)]
pub struct SymbolTable {
    inner: RwLock<Inner>,
}

impl SymbolTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// The id of `s`, adding it if new.
    pub fn intern(&self, s: &str) -> u32 {
        if let Some(&id) = self.inner.read().ids.get(s) {
            return id;
        }
        let mut w = self.inner.write();
        if let Some(&id) = w.ids.get(s) {
            return id;
        }
        let id = u32::try_from(w.strings.len()).expect("more than u32::MAX symbols");
        let a: Arc<str> = Arc::from(s);
        w.bytes += s.len();
        w.strings.push(a.clone());
        w.ids.insert(a, id);
        id
    }

    /// The string with id `id`. Panics on an id this table never returned.
    pub fn get(&self, id: u32) -> Arc<str> {
        self.inner.read().strings[id as usize].clone()
    }

    /// Runs `f` with a resolver that maps ids to strings under one read lock
    /// and without refcount traffic: the cheap way to compare or copy a
    /// whole label set.
    pub fn with<R>(&self, f: impl FnOnce(&Resolver<'_>) -> R) -> R {
        let g = self.inner.read();
        f(&Resolver(&g.strings))
    }

    /// Number of distinct strings.
    pub fn len(&self) -> usize {
        self.inner.read().strings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Approximate heap usage: string bytes, Arc headers, vector and map slots.
    pub fn heap_bytes(&self) -> usize {
        let r = self.inner.read();
        let arc_header = 2 * std::mem::size_of::<usize>();
        let fat = std::mem::size_of::<Arc<str>>();
        r.bytes
            + r.strings.len() * arc_header
            + r.strings.capacity() * fat
            + r.ids.capacity() * (fat + std::mem::size_of::<u32>() + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intern_is_stable_and_dedups() {
        let t = SymbolTable::new();
        let a = t.intern("foo");
        let b = t.intern("bar");
        assert_ne!(a, b);
        assert_eq!(t.intern("foo"), a);
        assert_eq!(&*t.get(b), "bar");
        assert_eq!(t.len(), 2);
        assert!(t.heap_bytes() >= 6);
    }

    #[test]
    fn concurrent_intern() {
        let t = Arc::new(SymbolTable::new());
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let t = t.clone();
                std::thread::spawn(move || {
                    (0..1000)
                        .map(|i| t.intern(&format!("s{i}")))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let rs: Vec<_> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        assert!(rs.windows(2).all(|w| w[0] == w[1]));
        assert_eq!(t.len(), 1000);
    }
}
