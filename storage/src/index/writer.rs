//! Writes a block's `index` file (format in `docs/formats/index.md`).

use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use roaring::RoaringBitmap;

use super::{postings_list, HEADER_LEN, MAGIC, VERSION, VERSION_1};
use crate::encoding::{crc32c, u32_be, Encbuf};
use crate::vfs::{Fs, OpenMode, WriteFile};
use crate::{Error, Labels, Result};

/// Where one chunk of a series lives and which time range it covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkMeta {
    pub mint: i64,
    pub maxt: i64,
    pub chunk_ref: u64,
}

/// Builds an index file from series given in ascending label order.
///
/// Series are buffered as temporary symbol-id pairs plus chunk metas; the
/// sorted symbol table, series entries and postings are written by
/// [`IndexWriter::finish`].
pub struct IndexWriter {
    path: PathBuf,
    file: WriteFile,
    sym_ids: HashMap<Arc<str>, u32>,
    sym_strs: Vec<Arc<str>>,
    /// Label pairs of all series as temporary symbol ids, back to back.
    pairs: Vec<(u32, u32)>,
    /// End index into `pairs` of each series.
    pair_ends: Vec<usize>,
    chunks: Vec<ChunkMeta>,
    chunk_ends: Vec<usize>,
    /// Postings keyed by temporary (name, value) symbol ids.
    postings: HashMap<(u32, u32), RoaringBitmap>,
    last: Option<Labels>,
    /// [`VERSION`], or [`VERSION_1`] in tests of reading old files.
    version: u8,
}

impl IndexWriter {
    /// Creates (truncates) the index file at `path`, written through `fs`.
    pub fn create(fs: Fs, path: &Path) -> Result<Self> {
        let file = fs.open(path, OpenMode::Truncate)?;
        Ok(IndexWriter {
            path: path.to_path_buf(),
            file,
            sym_ids: HashMap::new(),
            sym_strs: Vec::new(),
            pairs: Vec::new(),
            pair_ends: Vec::new(),
            chunks: Vec::new(),
            chunk_ends: Vec::new(),
            postings: HashMap::new(),
            last: None,
            version: VERSION,
        })
    }

    /// A writer of the first version's layout, as blocks written before
    /// version 2 have: for tests that readers still read them.
    #[cfg(test)]
    pub(crate) fn create_version_1(fs: Fs, path: &Path) -> Result<Self> {
        Ok(IndexWriter {
            version: VERSION_1,
            ..Self::create(fs, path)?
        })
    }

    fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.sym_ids.get(s) {
            return id;
        }
        let id = self.sym_strs.len() as u32;
        let a: Arc<str> = Arc::from(s);
        self.sym_strs.push(a.clone());
        self.sym_ids.insert(a, id);
        id
    }

    /// Adds the next series. Series must come in strictly ascending `Labels`
    /// order; returns the assigned id (0, 1, 2, …).
    pub fn add_series(&mut self, labels: &Labels, chunks: &[ChunkMeta]) -> Result<u32> {
        labels.validate()?;
        if let Some(last) = &self.last {
            if labels <= last {
                return Err(Error::InvalidLabels(format!(
                    "index series out of order: {labels} after {last}"
                )));
            }
        }
        let id = u32::try_from(self.pair_ends.len())
            .map_err(|_| Error::InvalidLabels("too many series for one index".into()))?;
        for l in labels {
            let n = self.intern(&l.name);
            let v = self.intern(&l.value);
            self.pairs.push((n, v));
            self.postings.entry((n, v)).or_default().push(id);
        }
        self.pair_ends.push(self.pairs.len());
        self.chunks.extend_from_slice(chunks);
        self.chunk_ends.push(self.chunks.len());
        self.last = Some(labels.clone());
        Ok(id)
    }

    /// Writes symbols, series, postings and the TOC, then fsyncs the file.
    /// Returns the file size.
    pub fn finish(self) -> Result<u64> {
        let IndexWriter {
            path,
            file,
            sym_strs,
            pairs,
            pair_ends,
            chunks,
            chunk_ends,
            postings,
            version,
            ..
        } = self;
        let mut w = Out {
            w: BufWriter::with_capacity(1 << 16, file),
            pos: 0,
            path: &path,
        };

        // Header.
        let mut e = Encbuf::with_capacity(HEADER_LEN);
        e.put_u32(MAGIC);
        e.put_u8(version);
        e.put_bytes(&[0, 0, 0]);
        w.write(&e.buf)?;

        // Symbols, sorted; remap temporary ids to final indexes.
        let mut order: Vec<u32> = (0..sym_strs.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| sym_strs[a as usize].cmp(&sym_strs[b as usize]));
        let mut remap = vec![0u32; sym_strs.len()];
        for (fin, &tmp) in order.iter().enumerate() {
            remap[tmp as usize] = fin as u32;
        }
        let symbols_off = w.pos;
        let mut e = Encbuf::new();
        e.put_u32(sym_strs.len() as u32);
        for &tmp in &order {
            e.put_uvarint_str(&sym_strs[tmp as usize]);
        }
        w.framed(&e.buf)?;
        drop(order);

        // Series entries.
        let series_off = w.pos;
        let mut offsets = Vec::with_capacity(pair_ends.len());
        let (mut p0, mut c0) = (0usize, 0usize);
        let mut e = Encbuf::new();
        let mut frame = Encbuf::new();
        for (&p1, &c1) in pair_ends.iter().zip(&chunk_ends) {
            offsets.push(w.pos);
            e.buf.clear();
            e.put_uvarint((p1 - p0) as u64);
            for &(n, v) in &pairs[p0..p1] {
                e.put_uvarint(remap[n as usize] as u64);
                e.put_uvarint(remap[v as usize] as u64);
            }
            encode_chunks(&mut e, &chunks[c0..c1]);
            frame.buf.clear();
            frame.put_uvarint_bytes(&e.buf);
            frame.put_u32(crc32c(&e.buf));
            w.write(&frame.buf)?;
            p0 = p1;
            c0 = c1;
        }
        drop(pairs);
        drop(chunks);

        // Series offset table.
        let sot_off = w.pos;
        let mut e = Encbuf::with_capacity(5 + 8 * offsets.len());
        e.put_u32(offsets.len() as u32);
        // Every offset is below the table's own.
        let narrow = version != VERSION_1 && u32::try_from(sot_off).is_ok();
        if version != VERSION_1 {
            e.put_u8(if narrow { 4 } else { 8 });
        }
        for &o in &offsets {
            if narrow {
                e.put_u32(o as u32);
            } else {
                e.put_u64(o);
            }
        }
        w.framed(&e.buf)?;
        drop(offsets);

        // Postings lists in (name, value) order.
        let postings_off = w.pos;
        let mut lists: Vec<(u32, u32, RoaringBitmap)> = postings
            .into_iter()
            .map(|((n, v), bm)| (remap[n as usize], remap[v as usize], bm))
            .collect();
        lists.sort_unstable_by_key(|&(n, v, _)| (n, v));
        let mut table: Vec<(u32, u32, u64)> = Vec::with_capacity(lists.len());
        let mut bytes = Vec::new();
        for (n, v, bm) in lists {
            table.push((n, v, w.pos));
            bytes.clear();
            if version == VERSION_1 {
                bm.serialize_into(&mut bytes)
            } else {
                postings_list::encode(&bm, &mut bytes)
            }
            .map_err(|e| Error::io(&path, e))?;
            if version == VERSION_1 {
                w.framed(&bytes)?;
            } else {
                w.varint_framed(&bytes)?;
            }
        }

        // Postings offset table.
        let pot_off = w.pos;
        let mut e = Encbuf::new();
        let groups: Vec<&[(u32, u32, u64)]> = table.chunk_by(|a, b| a.0 == b.0).collect();
        e.put_uvarint(groups.len() as u64);
        for g in groups {
            e.put_uvarint(g[0].0 as u64);
            e.put_uvarint(g.len() as u64);
            for &(_, v, off) in g {
                e.put_uvarint(v as u64);
                e.put_uvarint(off);
            }
        }
        w.framed(&e.buf)?;

        // TOC.
        let mut e = Encbuf::new();
        for o in [symbols_off, series_off, sot_off, postings_off, pot_off] {
            e.put_u64(o);
        }
        e.put_crc32c_of(0);
        w.write(&e.buf)?;

        let size = w.pos;
        let file =
            w.w.into_inner()
                .map_err(|e| Error::io(&path, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&path, e))?;
        Ok(size)
    }
}

pub(crate) fn encode_chunks(e: &mut Encbuf, chunks: &[ChunkMeta]) {
    e.put_uvarint(chunks.len() as u64);
    let mut prev: Option<&ChunkMeta> = None;
    for c in chunks {
        match prev {
            None => {
                e.put_varint(c.mint);
                e.put_uvarint(c.maxt.wrapping_sub(c.mint) as u64);
                e.put_uvarint(c.chunk_ref);
            }
            Some(p) => {
                e.put_varint(c.mint.wrapping_sub(p.maxt));
                e.put_uvarint(c.maxt.wrapping_sub(c.mint) as u64);
                e.put_varint(c.chunk_ref.wrapping_sub(p.chunk_ref) as i64);
            }
        }
        prev = Some(c);
    }
}

struct Out<'a> {
    w: BufWriter<WriteFile>,
    pos: u64,
    path: &'a Path,
}

impl Out<'_> {
    fn write(&mut self, b: &[u8]) -> Result<()> {
        self.w.write_all(b).map_err(|e| Error::io(self.path, e))?;
        self.pos += b.len() as u64;
        Ok(())
    }

    /// `len: uvarint | content | crc32c(content): u32`.
    fn varint_framed(&mut self, content: &[u8]) -> Result<()> {
        let mut e = Encbuf::new();
        e.put_uvarint(content.len() as u64);
        self.write(&e.buf)?;
        self.write(content)?;
        self.write(&u32_be(crc32c(content)))
    }

    /// `len: u32 | content | crc32c(content): u32`.
    fn framed(&mut self, content: &[u8]) -> Result<()> {
        let len = u32::try_from(content.len())
            .map_err(|_| Error::io(self.path, std::io::Error::other("index section over 4 GiB")))?;
        self.write(&u32_be(len))?;
        self.write(content)?;
        self.write(&u32_be(crc32c(content)))
    }
}
