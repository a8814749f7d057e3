//! The canonical form of a message: the bytes a signature covers.
//!
//! A context string, a version byte, then each field length-prefixed (a big-endian `u32`
//! and the UTF-8 bytes), optional fields preceded by a presence byte (`0` absent, `1`
//! present), in this order: from, to, id, created, reply_to, thread, content, priority,
//! and the signer's encryption key. No field can run into another, so two different
//! messages never have the same form; an absent `reply_to` differs from an empty one.
//!
//! The strings are exactly those that travel in the frame (`created` is the `timestamp` as
//! the sender's client wrote it, `priority` is `high`, `normal` or `low`), so the receiver
//! rebuilds the form from what it received, without normalising anything. The encryption
//! key is in it so that nobody can put their own key beside a valid signature and have
//! replies sealed to them.
//!
//! The same length-prefixed fields ([`Writer`], [`Reader`]) make the sealed payload's
//! inner fields (`seal.rs`). Golden vectors: `tests::golden_vector_v1`.

/// The first bytes of every signed form: what the signature is for, so a signature made
/// for a message is never valid as anything else (a key rotation, see `keys.rs`).
const CONTEXT: &[u8] = b"datacore-messaging/message\0";
/// The version of the form; a receiver refuses versions it does not know.
pub(crate) const VERSION: u8 = 1;

/// The fields of a message that its signature covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Signable<'a> {
    /// The sender, as the relay will authenticate it.
    pub(crate) from: &'a str,
    /// The recipient.
    pub(crate) to: &'a str,
    /// The sender's message ID.
    pub(crate) id: &'a str,
    /// The sender's timestamp, as sent in the frame (`[2026-11-24 Tue 10:02]`).
    pub(crate) created: &'a str,
    /// The message answered, if any.
    pub(crate) reply_to: Option<&'a str>,
    /// The thread, if any.
    pub(crate) thread: Option<&'a str>,
    /// The text.
    pub(crate) content: &'a str,
    /// `high`, `normal` or `low`.
    pub(crate) priority: &'a str,
}

impl Signable<'_> {
    /// The canonical bytes of these fields signed by the holder of `encryption_key`'s pair.
    pub(crate) fn canonical(&self, encryption_key: &[u8; 32]) -> Vec<u8> {
        let mut out = Writer::with_capacity(
            CONTEXT.len() + 64 + self.content.len() + self.from.len() + self.id.len() + 64,
        );
        out.raw(CONTEXT);
        out.raw(&[VERSION]);
        out.field(self.from.as_bytes());
        out.field(self.to.as_bytes());
        out.field(self.id.as_bytes());
        out.field(self.created.as_bytes());
        out.optional(self.reply_to.map(str::as_bytes));
        out.optional(self.thread.map(str::as_bytes));
        out.field(self.content.as_bytes());
        out.field(self.priority.as_bytes());
        out.field(encryption_key);
        out.finish()
    }
}

/// Length-prefixed fields, written.
pub(crate) struct Writer(Vec<u8>);

impl Writer {
    pub(crate) fn with_capacity(capacity: usize) -> Writer {
        Writer(Vec::with_capacity(capacity))
    }

    /// Bytes as they are (a context, a version).
    pub(crate) fn raw(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    /// A field: its length as a big-endian `u32`, then the bytes.
    pub(crate) fn field(&mut self, bytes: &[u8]) {
        // A frame is at most a few MiB, so every field is far below 4 GiB.
        let len = u32::try_from(bytes.len()).expect("a field under 4 GiB");
        self.0.extend_from_slice(&len.to_be_bytes());
        self.0.extend_from_slice(bytes);
    }

    /// An optional field: `0`, or `1` and the field.
    pub(crate) fn optional(&mut self, bytes: Option<&[u8]>) {
        match bytes {
            None => self.0.push(0),
            Some(bytes) => {
                self.0.push(1);
                self.field(bytes);
            }
        }
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        self.0
    }
}

/// Length-prefixed fields, read; every read checks the bounds (the bytes may be hostile).
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes }
    }

    /// `n` bytes as they are.
    pub(crate) fn raw(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.bytes.len() < n {
            return None;
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Some(head)
    }

    pub(crate) fn field(&mut self) -> Option<&'a [u8]> {
        let len = u32::from_be_bytes(self.raw(4)?.try_into().ok()?);
        self.raw(usize::try_from(len).ok()?)
    }

    pub(crate) fn text(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.field()?).ok()
    }

    pub(crate) fn optional_text(&mut self) -> Option<Option<&'a str>> {
        match self.raw(1)? {
            [0] => Some(None),
            [1] => self.text().map(Some),
            _ => None,
        }
    }

    /// What is left.
    pub(crate) fn rest(self) -> &'a [u8] {
        self.bytes
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The message of the golden vectors (`signature.rs`'s too).
    pub(crate) fn sample() -> Signable<'static> {
        Signable {
            from: "alice",
            to: "bob-claude",
            id: "msg-20261124-100259-1a2b3c4d",
            created: "[2026-11-24 Tue 10:02]",
            reply_to: None,
            thread: Some("msg-20261124-095900-00ff00ff"),
            content: "Can you review PR #24?\nThanks",
            priority: "high",
        }
    }

    /// The form, byte for byte. A change here breaks every signature made before it: give
    /// the new form another [`VERSION`] instead.
    #[test]
    fn golden_vector_v1() {
        let bytes = sample().canonical(&[7; 32]);
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            concat!(
                "64617461636f72652d6d6573736167696e672f6d65737361676500", // context
                "01",                                                     // version
                "00000005",
                "616c696365", // from
                "0000000a",
                "626f622d636c61756465", // to
                "0000001c",
                "6d73672d32303236313132342d3130303235392d3161326233633464", // id
                "00000016",
                "5b323032362d31312d3234205475652031303a30325d", // created
                "00",                                           // reply_to: none
                "01",
                "0000001c",
                "6d73672d32303236313132342d3039353930302d3030666630306666", // thread
                "0000001d",
                "43616e20796f7520726576696577205052202332343f0a5468616e6b73", // content
                "00000004",
                "68696768", // priority
                "00000020",
                "0707070707070707070707070707070707070707070707070707070707070707", // key
            )
        );
    }

    #[test]
    fn no_two_messages_share_a_form() {
        let base = sample();
        let key = [7; 32];
        let variants = [
            Signable {
                from: "alic",
                to: "ebob-claude",
                ..base
            },
            Signable {
                reply_to: Some(""),
                ..base
            },
            Signable {
                reply_to: Some("msg-20261124-095900-00ff00ff"),
                thread: None,
                ..base
            },
            Signable {
                content: "Can you review PR #24?\nThanks ",
                ..base
            },
            Signable {
                priority: "normal",
                ..base
            },
            Signable {
                created: "[2026-11-24 Tue 10:03]",
                ..base
            },
            Signable {
                id: "msg-20261124-100259-1a2b3c4e",
                ..base
            },
        ];
        let original = base.canonical(&key);
        for variant in variants {
            assert_ne!(variant.canonical(&key), original, "{variant:?}");
        }
        assert_ne!(base.canonical(&[8; 32]), original);
    }

    #[test]
    fn the_reader_reads_what_the_writer_wrote_and_refuses_short_input() {
        let mut out = Writer::with_capacity(0);
        out.field(b"one");
        out.optional(None);
        out.optional(Some("two".as_bytes()));
        out.raw(b"tail");
        let bytes = out.finish();
        let mut reader = Reader::new(&bytes);
        assert_eq!(reader.text(), Some("one"));
        assert_eq!(reader.optional_text(), Some(None));
        assert_eq!(reader.optional_text(), Some(Some("two")));
        assert_eq!(reader.rest(), b"tail");
        for cut in 0..bytes.len() - 4 {
            let mut reader = Reader::new(&bytes[..cut]);
            let whole = reader.text().is_some()
                && reader.optional_text().is_some()
                && reader.optional_text().is_some();
            assert!(!whole, "cut at {cut}");
        }
        assert_eq!(Reader::new(&[0, 0, 0, 9, b'a']).field(), None);
        assert_eq!(Reader::new(&[2]).optional_text(), None);
        assert_eq!(Reader::new(&[0, 0, 0, 1, 0xff]).text(), None);
    }
}
