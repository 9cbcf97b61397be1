//! Buffers for decompressed write-request bodies, reused from request to
//! request.
//!
//! A body decompresses to a few hundred KiB. Allocated fresh for every
//! request, those pages came back from the allocator already returned to
//! the kernel, and faulting them in again (the kernel zeroing each page)
//! took about 8% of the server's CPU under a 2000-sample-per-request
//! load. A handful of kept buffers serve the concurrent requests instead.

use parking_lot::Mutex;

/// Buffers kept at most; requests beyond this many at once allocate their
/// own, as before.
const KEPT: usize = 16;

/// A buffer larger than this (a rare huge request) is freed, not kept, so
/// the pool holds at most `KEPT` × this.
const MAX_KEPT_BYTES: usize = 4 << 20;

/// A pool of body buffers shared by the receiver's requests.
#[derive(Default)]
pub struct BodyPool {
    free: Mutex<Vec<Vec<u8>>>,
}

/// A buffer taken from a [`BodyPool`]; dropping it gives it back. Its
/// contents are whatever the last user left.
pub struct PooledBody<'p> {
    buf: Vec<u8>,
    pool: &'p BodyPool,
}

impl BodyPool {
    pub fn take(&self) -> PooledBody<'_> {
        PooledBody {
            buf: self.free.lock().pop().unwrap_or_default(),
            pool: self,
        }
    }

    /// Number of buffers waiting to be taken.
    pub fn kept(&self) -> usize {
        self.free.lock().len()
    }
}

impl std::ops::Deref for PooledBody<'_> {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.buf
    }
}

impl std::ops::DerefMut for PooledBody<'_> {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }
}

impl Drop for PooledBody<'_> {
    fn drop(&mut self) {
        if self.buf.capacity() == 0 || self.buf.capacity() > MAX_KEPT_BYTES {
            return;
        }
        let mut free = self.pool.free.lock();
        if free.len() < KEPT {
            free.push(std::mem::take(&mut self.buf));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_and_are_reused() {
        let pool = BodyPool::default();
        let ptr = {
            let mut b = pool.take();
            b.resize(1000, 7);
            b.as_ptr()
        };
        assert_eq!(pool.kept(), 1);
        let b = pool.take();
        assert_eq!(pool.kept(), 0);
        assert_eq!((b.as_ptr(), b.len()), (ptr, 1000));
    }

    #[test]
    fn unused_and_huge_buffers_are_not_kept() {
        let pool = BodyPool::default();
        drop(pool.take());
        assert_eq!(pool.kept(), 0);
        let mut b = pool.take();
        b.reserve(MAX_KEPT_BYTES + 1);
        drop(b);
        assert_eq!(pool.kept(), 0);
    }

    #[test]
    fn at_most_kept_buffers_stay() {
        let pool = BodyPool::default();
        let taken: Vec<_> = (0..KEPT + 5)
            .map(|_| {
                let mut b = pool.take();
                b.push(1);
                b
            })
            .collect();
        drop(taken);
        assert_eq!(pool.kept(), KEPT);
    }
}
