//! Line numbers of records, counted independently of the csv crate's positions.

use std::collections::VecDeque;
use std::io::Read;

/// Counts lines for record positions.
///
/// The csv crate reports a record's position from *before* the line terminator and blank lines
/// that precede it, so its line numbers run one behind after a `\r\n` or a blank line. This
/// wrapper notes the offset of every `\r` and `\n` byte it passes on (only those not yet behind
/// the parser are kept) so that [`LineTracker::record_start_line`] can skip them.
pub(super) struct LineTracker<R> {
    inner: R,
    /// Bytes handed out so far.
    offset: u64,
    /// Offsets of `\r`/`\n` bytes not yet accounted for, with `true` for `\n`.
    terminators: VecDeque<(u64, bool)>,
    /// `\n` bytes already accounted for.
    newlines: u64,
}

impl<R: Read> LineTracker<R> {
    pub(super) fn new(inner: R) -> Self {
        LineTracker {
            inner,
            offset: 0,
            terminators: VecDeque::new(),
            newlines: 0,
        }
    }

    /// 1-based line of the first byte of the record whose reported start offset is `start`
    /// (offsets must not decrease from call to call).
    pub(super) fn record_start_line(&mut self, start: u64) -> u64 {
        let mut next = start;
        while let Some(&(at, lf)) = self.terminators.front() {
            if at < start || at == next {
                next = next.max(at + 1);
                self.newlines += u64::from(lf);
                self.terminators.pop_front();
            } else {
                break;
            }
        }
        self.newlines + 1
    }
}

impl<R: Read> Read for LineTracker<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for (i, &b) in buf[..n].iter().enumerate() {
            if b == b'\n' || b == b'\r' {
                self.terminators
                    .push_back((self.offset + i as u64, b == b'\n'));
            }
        }
        self.offset += n as u64;
        Ok(n)
    }
}
