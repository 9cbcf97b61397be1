//! Reads a block's `index` file (format in `docs/formats/index.md`).

use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use roaring::RoaringBitmap;

use super::matchers::PostingsSource;
use super::writer::ChunkMeta;
use super::{postings_list, HEADER_LEN, MAGIC, TOC_LEN, VERSION, VERSION_1};
use crate::encoding::{be_u32, be_u64, crc32c, Decbuf, DecodeError};
use crate::{Error, Label, Labels, Result};

/// Postings of one label name: `(value symbol, postings list offset)`,
/// ascending by value.
struct NameEntry {
    name: u32,
    values: Vec<(u32, u64)>,
}

/// A memory-mapped, validated index file.
///
/// Header, TOC, symbol table, series offset table and postings offset table
/// are checked at open; each series entry and postings list is checked when
/// read. Every failure is `Error::Corruption` naming the file.
pub struct IndexReader {
    path: PathBuf,
    mmap: Mmap,
    /// File offset of each symbol's encoded string.
    symbols: Vec<u32>,
    num_series: u32,
    /// File offset of the series offset table's array of offsets.
    sot_array: usize,
    /// Bytes per offset in that array (4 or 8).
    sot_width: usize,
    /// The file's format version ([`VERSION`] or [`VERSION_1`]).
    version: u8,
    series_range: (usize, usize),
    postings_range: (usize, usize),
    names: Vec<NameEntry>,
}

fn de<T>(path: &Path, what: &str, r: std::result::Result<T, DecodeError>) -> Result<T> {
    r.map_err(|e| Error::corruption(path, format!("{what}: {e}")))
}

impl IndexReader {
    /// Maps and validates the index at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        if len < (HEADER_LEN + TOC_LEN) as u64 {
            return Err(Error::corruption(
                path,
                format!("index file too short ({len} bytes)"),
            ));
        }
        // SAFETY: block files are immutable once written; nothing truncates
        // them while a reader holds the mapping.
        let mmap = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        let b: &[u8] = &mmap;
        let corrupt = |d: String| Error::corruption(path, d);

        // Header.
        let mut d = Decbuf::new(b);
        let magic = de(path, "header", d.u32())?;
        let version = de(path, "header", d.u8())?;
        if magic != MAGIC {
            return Err(corrupt(format!("bad index magic {magic:#010x}")));
        }
        if version != VERSION && version != VERSION_1 {
            return Err(corrupt(format!("unsupported index version {version}")));
        }

        // TOC.
        let toc_at = b.len() - TOC_LEN;
        let toc = &b[toc_at..];
        let mut d = Decbuf::new(toc);
        let mut offs = [0u64; 5];
        for o in &mut offs {
            *o = de(path, "toc", d.u64())?;
        }
        let crc = de(path, "toc", d.u32())?;
        if crc != crc32c(&toc[..TOC_LEN - 4]) {
            return Err(corrupt("index TOC checksum mismatch".into()));
        }
        let [sym_off, series_off, sot_off, postings_off, pot_off] = offs;
        let ordered = sym_off == HEADER_LEN as u64
            && sym_off <= series_off
            && series_off <= sot_off
            && sot_off <= postings_off
            && postings_off <= pot_off
            && pot_off <= toc_at as u64;
        if !ordered {
            return Err(corrupt(format!("index TOC offsets out of order: {offs:?}")));
        }
        let (sym_off, series_off, sot_off, postings_off, pot_off) = (
            sym_off as usize,
            series_off as usize,
            sot_off as usize,
            postings_off as usize,
            pot_off as usize,
        );
        let framed = |start: usize, end: usize, what: &str| -> Result<&[u8]> {
            let mut d = Decbuf::new(&b[start..end]);
            let n = de(path, what, d.u32())? as usize;
            let content = de(path, what, d.bytes(n))?;
            let crc = de(path, what, d.u32())?;
            if !d.is_empty() {
                return Err(corrupt(format!("{what}: {} trailing bytes", d.remaining())));
            }
            if crc != crc32c(content) {
                return Err(corrupt(format!("{what} checksum mismatch")));
            }
            Ok(content)
        };

        // Symbol table.
        let content = framed(sym_off, series_off, "symbol table")?;
        let base = sym_off + 4;
        let mut d = Decbuf::new(content);
        let count = de(path, "symbol table", d.u32())?;
        let mut symbols = Vec::with_capacity((count as usize).min(content.len()));
        let mut prev: Option<&str> = None;
        for _ in 0..count {
            let at = base + content.len() - d.remaining();
            let s = de(path, "symbol table", d.uvarint_str())?;
            if prev.is_some_and(|p| p >= s) {
                return Err(corrupt(format!("symbol table not sorted at {s:?}")));
            }
            prev = Some(s);
            symbols.push(at as u32);
        }
        if !d.is_empty() {
            return Err(corrupt("symbol table: trailing bytes".into()));
        }

        // Series offset table.
        let content = framed(sot_off, postings_off, "series offset table")?;
        let mut d = Decbuf::new(content);
        let num_series = de(path, "series offset table", d.u32())?;
        let sot_width = match version {
            VERSION_1 => 8,
            _ => de(path, "series offset table", d.u8())? as usize,
        };
        if sot_width != 4 && sot_width != 8 {
            return Err(corrupt(format!(
                "series offset table: offsets of {sot_width} bytes"
            )));
        }
        if d.remaining() != sot_width * num_series as usize {
            return Err(corrupt("series offset table: wrong length".into()));
        }
        let sot_array = sot_off + 4 + (content.len() - d.remaining());
        let mut prev = None;
        for _ in 0..num_series {
            let o = match sot_width {
                4 => de(path, "series offset table", d.u32())? as u64,
                _ => de(path, "series offset table", d.u64())?,
            };
            if o < series_off as u64 || o >= sot_off as u64 || prev.is_some_and(|p| p >= o) {
                return Err(corrupt(format!("series offset {o} out of range")));
            }
            prev = Some(o);
        }

        // Postings offset table.
        let content = framed(pot_off, toc_at, "postings offset table")?;
        let what = "postings offset table";
        let mut d = Decbuf::new(content);
        let nnames = de(path, what, d.uvarint())?;
        let mut names: Vec<NameEntry> = Vec::new();
        let nsyms = symbols.len() as u64;
        for _ in 0..nnames {
            let name = de(path, what, d.uvarint())?;
            let nvals = de(path, what, d.uvarint())?;
            if name >= nsyms || names.last().is_some_and(|l| l.name as u64 >= name) {
                return Err(corrupt(format!("{what}: bad name symbol {name}")));
            }
            let mut values: Vec<(u32, u64)> =
                Vec::with_capacity((nvals as usize).min(d.remaining()));
            for _ in 0..nvals {
                let v = de(path, what, d.uvarint())?;
                let off = de(path, what, d.uvarint())?;
                if v >= nsyms || values.last().is_some_and(|l| l.0 as u64 >= v) {
                    return Err(corrupt(format!("{what}: bad value symbol {v}")));
                }
                if off < postings_off as u64 || off >= pot_off as u64 {
                    return Err(corrupt(format!(
                        "{what}: postings offset {off} out of range"
                    )));
                }
                values.push((v as u32, off));
            }
            names.push(NameEntry {
                name: name as u32,
                values,
            });
        }
        if !d.is_empty() {
            return Err(corrupt(format!("{what}: trailing bytes")));
        }

        Ok(IndexReader {
            path: path.to_path_buf(),
            symbols,
            num_series,
            sot_array,
            sot_width,
            version,
            series_range: (series_off, sot_off),
            postings_range: (postings_off, pot_off),
            names,
            mmap,
        })
    }

    fn corrupt(&self, detail: impl Into<String>) -> Error {
        Error::corruption(&self.path, detail)
    }

    fn de<T>(&self, what: &str, r: std::result::Result<T, DecodeError>) -> Result<T> {
        de(&self.path, what, r)
    }

    /// The symbol with index `i`.
    fn sym(&self, i: u64) -> Result<&str> {
        let Some(&at) = self.symbols.get(i as usize) else {
            return Err(self.corrupt(format!("symbol reference {i} out of range")));
        };
        self.de(
            "symbol",
            Decbuf::new(&self.mmap[at as usize..]).uvarint_str(),
        )
    }

    /// The index of symbol `s`, if present.
    fn lookup(&self, s: &str) -> Result<Option<u32>> {
        let (mut lo, mut hi) = (0usize, self.symbols.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.sym(mid as u64)?.cmp(s) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(Some(mid as u32)),
            }
        }
        Ok(None)
    }

    fn name_entry(&self, name: &str) -> Result<Option<&NameEntry>> {
        let Some(n) = self.lookup(name)? else {
            return Ok(None);
        };
        Ok(self
            .names
            .binary_search_by_key(&n, |e| e.name)
            .ok()
            .map(|i| &self.names[i]))
    }

    fn read_postings(&self, off: u64) -> Result<RoaringBitmap> {
        let (start, end) = self.postings_range;
        let mut d = Decbuf::new(&self.mmap[off as usize..end]);
        debug_assert!(off as usize >= start);
        let what = "postings list";
        let data = match self.version {
            VERSION_1 => {
                let n = self.de(what, d.u32())?;
                self.de(what, d.bytes(n as usize))?
            }
            _ => self.de(what, d.uvarint_bytes())?,
        };
        let crc = self.de(what, d.u32())?;
        if crc != crc32c(data) {
            return Err(self.corrupt(format!("postings list at offset {off}: checksum mismatch")));
        }
        let list = match self.version {
            VERSION_1 => RoaringBitmap::deserialize_from(data).map_err(|e| e.to_string()),
            _ => postings_list::decode(data),
        };
        list.map_err(|e| self.corrupt(format!("postings list at offset {off}: {e}")))
    }

    /// Number of series; their ids are `0..num_series()`.
    pub fn num_series(&self) -> u32 {
        self.num_series
    }

    /// Labels and chunk metas of series `id`, after checking its CRC.
    pub fn series(&self, id: u32) -> Result<(Labels, Vec<ChunkMeta>)> {
        if id >= self.num_series {
            return Err(self.corrupt(format!(
                "series id {id} out of range (have {})",
                self.num_series
            )));
        }
        let at = self.sot_array + self.sot_width * id as usize;
        let off = match self.sot_width {
            4 => be_u32(self.mmap[at..at + 4].try_into().expect("4 bytes")) as usize,
            _ => be_u64(self.mmap[at..at + 8].try_into().expect("8 bytes")) as usize,
        };
        let what = "series entry";
        let mut d = Decbuf::new(&self.mmap[off..self.series_range.1]);
        let content = self.de(what, d.uvarint_bytes())?;
        let crc = self.de(what, d.u32())?;
        if crc != crc32c(content) {
            return Err(self.corrupt(format!("series {id}: checksum mismatch")));
        }
        let mut d = Decbuf::new(content);
        let nl = self.de(what, d.uvarint())?;
        let mut pairs = Vec::with_capacity((nl as usize).min(content.len()));
        for _ in 0..nl {
            let n = self.de(what, d.uvarint())?;
            let v = self.de(what, d.uvarint())?;
            pairs.push(Label::new(self.sym(n)?, self.sym(v)?));
        }
        if pairs.windows(2).any(|w| w[0].name >= w[1].name) {
            return Err(self.corrupt(format!("series {id}: labels not sorted")));
        }
        let nc = self.de(what, d.uvarint())?;
        let mut chunks = Vec::with_capacity((nc as usize).min(content.len()));
        let mut prev: Option<ChunkMeta> = None;
        for _ in 0..nc {
            let c = match prev {
                None => {
                    let mint = self.de(what, d.varint())?;
                    let maxt = mint.wrapping_add(self.de(what, d.uvarint())? as i64);
                    let chunk_ref = self.de(what, d.uvarint())?;
                    ChunkMeta {
                        mint,
                        maxt,
                        chunk_ref,
                    }
                }
                Some(p) => {
                    let mint = p.maxt.wrapping_add(self.de(what, d.varint())?);
                    let maxt = mint.wrapping_add(self.de(what, d.uvarint())? as i64);
                    let chunk_ref = p.chunk_ref.wrapping_add(self.de(what, d.varint())? as u64);
                    ChunkMeta {
                        mint,
                        maxt,
                        chunk_ref,
                    }
                }
            };
            chunks.push(c);
            prev = Some(c);
        }
        if !d.is_empty() {
            return Err(self.corrupt(format!("series {id}: trailing bytes")));
        }
        Ok((Labels::from_sorted(pairs), chunks))
    }

    /// All label names, sorted.
    pub fn label_names(&self) -> Result<Vec<String>> {
        self.names
            .iter()
            .map(|e| self.sym(e.name as u64).map(str::to_owned))
            .collect()
    }

    /// All values of label `name`, sorted.
    pub fn label_values(&self, name: &str) -> Result<Vec<String>> {
        let Some(e) = self.name_entry(name)? else {
            return Ok(Vec::new());
        };
        e.values
            .iter()
            .map(|&(v, _)| self.sym(v as u64).map(str::to_owned))
            .collect()
    }

    /// Size of the index file in bytes.
    pub fn size_bytes(&self) -> u64 {
        self.mmap.len() as u64
    }

    /// Path of the index file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl PostingsSource for IndexReader {
    fn all_postings(&self) -> Result<RoaringBitmap> {
        let mut b = RoaringBitmap::new();
        b.insert_range(0..self.num_series);
        Ok(b)
    }

    fn postings(&self, name: &str, value: &str) -> Result<RoaringBitmap> {
        let Some(e) = self.name_entry(name)? else {
            return Ok(RoaringBitmap::new());
        };
        let Some(v) = self.lookup(value)? else {
            return Ok(RoaringBitmap::new());
        };
        match e.values.binary_search_by_key(&v, |&(v, _)| v) {
            Ok(i) => self.read_postings(e.values[i].1),
            Err(_) => Ok(RoaringBitmap::new()),
        }
    }

    fn postings_for_values(
        &self,
        name: &str,
        pred: &dyn Fn(&str) -> bool,
    ) -> Result<RoaringBitmap> {
        let mut out = RoaringBitmap::new();
        let Some(e) = self.name_entry(name)? else {
            return Ok(out);
        };
        for &(v, off) in &e.values {
            if pred(self.sym(v as u64)?) {
                out |= self.read_postings(off)?;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::writer::IndexWriter;
    use crate::Matcher;

    fn write_index(path: &Path, series: &[(Labels, Vec<ChunkMeta>)]) -> u64 {
        write_index_version(path, series, VERSION)
    }

    fn write_index_version(path: &Path, series: &[(Labels, Vec<ChunkMeta>)], version: u8) -> u64 {
        let fs = crate::vfs::Fs::os();
        let mut w = match version {
            VERSION_1 => IndexWriter::create_version_1(fs, path),
            _ => IndexWriter::create(fs, path),
        }
        .unwrap();
        for (i, (l, c)) in series.iter().enumerate() {
            assert_eq!(w.add_series(l, c).unwrap(), i as u32);
        }
        w.finish().unwrap()
    }

    fn sample() -> Vec<(Labels, Vec<ChunkMeta>)> {
        let mut v: Vec<(Labels, Vec<ChunkMeta>)> = (0..50)
            .map(|i| {
                let l = Labels::from_pairs([
                    ("__name__", format!("metric_{}", i % 3)),
                    ("job", format!("job{}", i % 4)),
                    ("instance", format!("host-{i}")),
                ]);
                let chunks = (0..i % 4)
                    .map(|k| ChunkMeta {
                        mint: -1000 + 100 * k as i64,
                        maxt: -1000 + 100 * k as i64 + 99,
                        chunk_ref: (1u64 << 40) + (i * 1000 + k * 7) as u64,
                    })
                    .collect();
                (l, chunks)
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    #[test]
    fn roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let mut sizes = Vec::new();
        for version in [VERSION_1, VERSION] {
            let path = dir.path().join(format!("index{version}"));
            sizes.push(check_roundtrip(&path, version));
            assert_eq!(std::fs::read(&path).unwrap()[4], version);
        }
        // Version 2 exists to be smaller: 50 series, most postings lists
        // of one series.
        assert!(sizes[1] + 50 * 4 + 50 * 12 < sizes[0], "{sizes:?}");
    }

    /// Writes [`sample`] at `version` and reads it all back; returns the
    /// file size.
    fn check_roundtrip(path: &Path, version: u8) -> u64 {
        let path = path.to_path_buf();
        let series = sample();
        let size = write_index_version(&path, &series, version);
        let r = IndexReader::open(&path).unwrap();
        assert_eq!(size, std::fs::metadata(&path).unwrap().len());
        assert_eq!(r.size_bytes(), size);
        assert_eq!(r.num_series(), series.len() as u32);
        for (i, (l, c)) in series.iter().enumerate() {
            let (gl, gc) = r.series(i as u32).unwrap();
            assert_eq!(&gl, l);
            assert_eq!(&gc, c);
        }
        assert!(r.series(series.len() as u32).is_err());
        assert_eq!(
            r.label_names().unwrap(),
            vec!["__name__", "instance", "job"]
        );
        assert_eq!(
            r.label_values("__name__").unwrap(),
            vec!["metric_0", "metric_1", "metric_2"]
        );
        assert!(r.label_values("nope").unwrap().is_empty());
        let want: Vec<u32> = series
            .iter()
            .enumerate()
            .filter(|(_, (l, _))| l.get("job") == "job1")
            .map(|(i, _)| i as u32)
            .collect();
        assert_eq!(
            r.postings("job", "job1")
                .unwrap()
                .iter()
                .collect::<Vec<_>>(),
            want
        );
        assert!(r.postings("job", "zzz").unwrap().is_empty());
        assert_eq!(r.all_postings().unwrap().len(), series.len() as u64);
        let got = crate::index::postings_for_matchers(
            &r,
            &[
                Matcher::equal("__name__", "metric_1"),
                Matcher::equal("job", "job1"),
            ],
        )
        .unwrap();
        assert!(!got.is_empty());
        for id in got.iter() {
            let (l, _) = r.series(id).unwrap();
            assert_eq!((l.get("__name__"), l.get("job")), ("metric_1", "job1"));
        }
        for (i, (l, _)) in series.iter().enumerate() {
            let p = r.postings("instance", l.get("instance")).unwrap();
            assert_eq!(p.iter().collect::<Vec<_>>(), vec![i as u32]);
        }
        size
    }

    #[test]
    fn empty_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index");
        write_index(&path, &[]);
        let r = IndexReader::open(&path).unwrap();
        assert_eq!(r.num_series(), 0);
        assert!(r.label_names().unwrap().is_empty());
        assert!(r.all_postings().unwrap().is_empty());
    }

    #[test]
    fn writer_rejects_out_of_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = IndexWriter::create(crate::vfs::Fs::os(), &dir.path().join("index")).unwrap();
        w.add_series(&Labels::from_pairs([("a", "2")]), &[])
            .unwrap();
        assert!(w
            .add_series(&Labels::from_pairs([("a", "1")]), &[])
            .is_err());
        assert!(w
            .add_series(&Labels::from_pairs([("a", "2")]), &[])
            .is_err());
        assert!(w.add_series(&Labels::default(), &[]).is_err());
    }

    fn toc(b: &[u8]) -> [usize; 5] {
        let mut d = Decbuf::new(&b[b.len() - TOC_LEN..]);
        [(); 5].map(|_| d.u64().unwrap() as usize)
    }

    fn assert_corruption(e: Error, path: &Path) {
        assert!(matches!(e, Error::Corruption { .. }), "{e:?}");
        assert!(e.to_string().contains(&path.display().to_string()), "{e}");
    }

    fn corrupt_copy(dir: &Path, good: &[u8], name: &str, f: impl FnOnce(&mut Vec<u8>)) -> PathBuf {
        let mut b = good.to_vec();
        f(&mut b);
        let p = dir.join(name);
        std::fs::write(&p, &b).unwrap();
        p
    }

    #[test]
    fn corruption_detected() {
        for version in [VERSION_1, VERSION] {
            corruption_detected_in(version);
        }
    }

    fn corruption_detected_in(version: u8) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index");
        write_index_version(&path, &sample(), version);
        let good = std::fs::read(&path).unwrap();
        let [sym, series, _sot, postings, pot] = toc(&good);

        // Anything checked at open.
        for (name, at) in [
            ("header", 1),
            ("symbols", sym + 6),
            ("sot", _sot + 9),
            ("pot", pot + 5),
            ("toc", good.len() - 7),
        ] {
            let p = corrupt_copy(dir.path(), &good, name, |b| b[at] ^= 0x10);
            let e = IndexReader::open(&p)
                .err()
                .unwrap_or_else(|| panic!("{name}"));
            assert_corruption(e, &p);
        }

        // A series entry: detected when read.
        let p = corrupt_copy(dir.path(), &good, "series", |b| b[series + 2] ^= 0x01);
        let r = IndexReader::open(&p).unwrap();
        assert_corruption(r.series(0).unwrap_err(), &p);
        assert!(r.series(1).is_ok());

        // A postings list: detected when read.
        let p = corrupt_copy(dir.path(), &good, "postings", |b| b[postings + 6] ^= 0x01);
        let r = IndexReader::open(&p).unwrap();
        let mut errs = 0;
        for n in r.label_names().unwrap() {
            for v in r.label_values(&n).unwrap() {
                if let Err(e) = r.postings(&n, &v) {
                    assert_corruption(e, &p);
                    errs += 1;
                }
            }
        }
        assert_eq!(errs, 1);
        let e = crate::index::postings_for_matchers(
            &r,
            &[Matcher::new(crate::MatchOp::RegexMatch, "__name__", ".+").unwrap()],
        )
        .unwrap_err();
        assert_corruption(e, &p);

        // Truncation.
        for keep in [0, 3, 20, good.len() / 2, good.len() - 1] {
            let p = corrupt_copy(dir.path(), &good, &format!("trunc{keep}"), |b| {
                b.truncate(keep)
            });
            assert_corruption(IndexReader::open(&p).err().unwrap(), &p);
        }
    }

    #[test]
    fn reader_is_send_sync() {
        fn f<T: Send + Sync>() {}
        f::<IndexReader>();
    }
}
