//! The `Xor` chunk header: sample count and where each column lives.

use crate::encoding::be_u16;

/// Header of an `Xor` chunk: sample count and where each column lives.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Header {
    pub(crate) num_samples: usize,
    pub(crate) ts_start: usize,
    pub(crate) ts_end: usize,
}

/// Parses and checks the header; `Err` describes what is wrong.
pub(crate) fn parse_header(b: &[u8]) -> Result<Header, String> {
    if b.len() < 2 {
        return Err(format!(
            "chunk of {} bytes is shorter than its header",
            b.len()
        ));
    }
    let n = be_u16([b[0], b[1]]) as usize;
    let mut d = crate::encoding::Decbuf::new(&b[2..]);
    let ts_len = d
        .uvarint()
        .map_err(|e| format!("timestamp column length: {e}"))?;
    let ts_start = b.len() - d.remaining();
    if ts_len > d.remaining() as u64 {
        return Err(format!(
            "timestamp column of {ts_len} bytes exceeds the {} bytes left",
            d.remaining()
        ));
    }
    let ts_end = ts_start + ts_len as usize;
    if n > 0 && (ts_len == 0 || b.len() == ts_end) {
        return Err(format!(
            "{n} samples but timestamp column {ts_len} bytes, value column {} bytes",
            b.len() - ts_end
        ));
    }
    Ok(Header {
        num_samples: n,
        ts_start,
        ts_end,
    })
}
