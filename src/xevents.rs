//! The event connection, read without x11rb once it is subscribed: xexit sends it nothing
//! more and reads what arrives through one fixed buffer, so no number of events (a flood of
//! root-window property changes) costs memory. x11rb reads everything the socket holds
//! into a queue of its own, which grows without bound when the server sends faster than
//! events are handled.

use std::io;
use std::os::fd::BorrowedFd;

use rustix::event::{PollFd, PollFlags, poll};

/// Every X event and error is 32 bytes; replies and generic events say how much more follows.
const PACKET: usize = 32;
const ERROR: u8 = 0;
const REPLY: u8 = 1;
const PROPERTY_NOTIFY: u8 = 28;
const GENERIC_EVENT: u8 = 35;
/// PropertyNotify's state for a new value (the other is Deleted).
const NEW_VALUE: u8 = 0;
/// How many buffers are read while more is waiting, before the caller gets to act.
const READS_PER_CALL: usize = 64;

/// What one call saw.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Seen {
    /// The watched property on the watched window got a new value.
    pub changed: bool,
    /// The sequence number of the last reply.
    pub reply: Option<u16>,
    /// The sequence number and error code of the last error.
    pub error: Option<(u16, u8)>,
}

/// The raw packets of one connection, in the client's byte order (x11rb's is the native one).
pub struct EventStream {
    buffer: Box<[u8; 4096]>,
    filled: usize,
    /// Bytes of a long packet still to be passed over.
    skip: usize,
    window: u32,
    atom: u32,
}

impl EventStream {
    /// Watches `atom` on `window`.
    pub fn new(window: u32, atom: u32) -> EventStream {
        EventStream { buffer: Box::new([0; 4096]), filled: 0, skip: 0, window, atom }
    }

    /// Waits until something arrives, then reads what is there (a bounded amount); an
    /// error at end-of-file.
    pub fn next(&mut self, fd: BorrowedFd<'_>) -> io::Result<Seen> {
        let mut seen = Seen::default();
        for read in 0..READS_PER_CALL {
            let mut ready = [PollFd::new(&fd, PollFlags::IN)];
            let timeout = if read == 0 { None } else { Some(&rustix::event::Timespec { tv_sec: 0, tv_nsec: 0 }) };
            match poll(&mut ready, timeout) {
                Ok(0) => break,
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
            match rustix::io::read(fd, &mut self.buffer[self.filled..]) {
                Ok(0) => {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the X server closed the connection"));
                }
                Ok(n) => self.filled += n,
                Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
            self.take(&mut seen);
        }
        Ok(seen)
    }

    /// Handles the whole packets in the buffer and keeps the rest for the next read.
    fn take(&mut self, seen: &mut Seen) {
        let passed = self.skip.min(self.filled);
        self.skip -= passed;
        let mut at = passed;
        while self.filled - at >= PACKET {
            let packet = &self.buffer[at..at + PACKET];
            let word = |offset: usize| u32::from_ne_bytes(packet[offset..offset + 4].try_into().unwrap());
            let sequence = u16::from_ne_bytes([packet[2], packet[3]]);
            let kind = packet[0] & 0x7f;
            let size = match kind {
                REPLY | GENERIC_EVENT => PACKET + 4 * word(4) as usize,
                _ => PACKET,
            };
            match kind {
                ERROR => seen.error = Some((sequence, packet[1])),
                REPLY => seen.reply = Some(sequence),
                PROPERTY_NOTIFY => {
                    seen.changed |= word(4) == self.window && word(8) == self.atom && packet[16] == NEW_VALUE;
                }
                _ => {}
            }
            let here = size.min(self.filled - at);
            self.skip = size - here;
            at += here;
        }
        self.buffer.copy_within(at..self.filled, 0);
        self.filled -= at;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(kind: u8, sequence: u16, words: &[(usize, u32)], byte16: u8) -> Vec<u8> {
        let mut packet = vec![0; PACKET];
        packet[0] = kind;
        packet[2..4].copy_from_slice(&sequence.to_ne_bytes());
        for (offset, value) in words {
            packet[*offset..offset + 4].copy_from_slice(&value.to_ne_bytes());
        }
        packet[16] = byte16;
        packet
    }

    /// Feeds `bytes` in pieces of `piece` bytes, as reads may return them.
    fn feed(stream: &mut EventStream, bytes: &[u8], piece: usize) -> Seen {
        let mut seen = Seen::default();
        for chunk in bytes.chunks(piece) {
            stream.buffer[stream.filled..stream.filled + chunk.len()].copy_from_slice(chunk);
            stream.filled += chunk.len();
            stream.take(&mut seen);
        }
        seen
    }

    #[test]
    fn only_a_new_value_of_the_watched_property_on_the_watched_window_counts() {
        let other_atom = packet(PROPERTY_NOTIFY, 5, &[(4, 7), (8, 99)], NEW_VALUE);
        let other_window = packet(PROPERTY_NOTIFY, 5, &[(4, 8), (8, 42)], NEW_VALUE);
        let deleted = packet(PROPERTY_NOTIFY | 0x80, 5, &[(4, 7), (8, 42)], 1);
        let ours = packet(PROPERTY_NOTIFY | 0x80, 6, &[(4, 7), (8, 42)], NEW_VALUE);
        for piece in [1, 7, 32, 4096] {
            let mut stream = EventStream::new(7, 42);
            let noise = [other_atom.clone(), other_window.clone(), deleted.clone()].concat();
            assert!(!feed(&mut stream, &noise, piece).changed, "piece {piece}");
            assert!(feed(&mut stream, &[noise.clone(), ours.clone(), noise].concat(), piece).changed);
            assert_eq!(stream.filled, 0);
        }
    }

    #[test]
    fn replies_errors_and_long_packets_keep_the_stream_aligned() {
        let long_reply = [packet(REPLY, 2, &[(4, 3)], 0), vec![0xff; 12]].concat();
        let error = packet(ERROR, 1, &[], 0);
        let ours = packet(PROPERTY_NOTIFY, 3, &[(4, 7), (8, 42)], NEW_VALUE);
        for piece in [1, 5, 32, 44, 4096] {
            let mut stream = EventStream::new(7, 42);
            let mut error = error.clone();
            error[1] = 3;
            let seen = feed(&mut stream, &[error, long_reply.clone(), ours.clone()].concat(), piece);
            assert_eq!(seen, Seen { changed: true, reply: Some(2), error: Some((1, 3)) }, "piece {piece}");
        }
    }
}
