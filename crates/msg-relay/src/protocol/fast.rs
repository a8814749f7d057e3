//! A hand-written reader for the two frames a busy relay reads most (`send` and `ack`), and
//! writers for the two it writes most (`message` and `ack`), without serde's buffering of
//! internally tagged enums and without an allocation per field.
//!
//! The reader is a *fast path*, never a second definition of the protocol: it accepts a
//! subset of what [`ClientFrame::parse`](super::ClientFrame::parse) accepts and returns
//! `None` for anything else — another frame type, a number, array or object as an unknown
//! field's value, a repeated key, an escaped key, a `\u` escape of a surrogate, text after the
//! object — and the caller then parses the frame with serde. Whatever it accepts, serde
//! accepts with the same values (tests compare the two on many inputs, hostile ones included).
//! `priority`, `signature` and `sealed` ([`PassedOn`]) are read like the other strings and
//! written into the `message` frame as they came: the relay never looks inside them.
//! The writers produce byte for byte what [`ServerFrame::to_json`](super::ServerFrame::to_json)
//! produces (tested too).

use std::borrow::Cow;

use super::AckStatus;

/// A `send` or an `ack` from a client, its strings borrowed from the frame where they have no
/// escapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HotFrame<'a> {
    /// `{"type":"send", ...}`, each field `None` when absent or `null`.
    Send(SendFields<'a>),
    /// `{"type":"ack","id":...,"from":...}`.
    Ack {
        /// The acknowledged message ID.
        id: Cow<'a, str>,
        /// Its sender, when the client names it.
        from: Option<Cow<'a, str>>,
    },
}

/// The fields of a `send` (as [`ClientFrame::Send`](super::ClientFrame::Send) has them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SendFields<'a> {
    pub(crate) to: Option<Cow<'a, str>>,
    pub(crate) content: Option<Cow<'a, str>>,
    pub(crate) id: Option<Cow<'a, str>>,
    pub(crate) thread: Option<Cow<'a, str>>,
    pub(crate) reply_to: Option<Cow<'a, str>>,
    pub(crate) timestamp: Option<Cow<'a, str>>,
    /// The fields the relay passes on untouched (`priority`, `signature`, `sealed`).
    pub(crate) passed_on: PassedOn<'a>,
}

/// The optional fields of a `send` that only the recipient's client reads: the relay copies
/// them into the `message` frame as they came, after `timestamp`, in this order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PassedOn<'a> {
    pub(crate) priority: Option<Cow<'a, str>>,
    pub(crate) signature: Option<Cow<'a, str>>,
    pub(crate) sealed: Option<Cow<'a, str>>,
}

impl PassedOn<'_> {
    /// Each field with its name, in the order `message` frames carry them.
    fn fields(&self) -> [(&'static str, Option<&str>); 3] {
        [
            ("priority", self.priority.as_deref()),
            ("signature", self.signature.as_deref()),
            ("sealed", self.sealed.as_deref()),
        ]
    }
}

/// A value this reader understands: a string or `null` (`true` and `false` are skipped as
/// unknown fields' values and never stored).
enum Value<'a> {
    Null,
    Str(Cow<'a, str>),
    Other,
}

/// The fields a hot frame may carry; each at most once.
#[derive(Default)]
struct Slots<'a> {
    kind: Option<Cow<'a, str>>,
    to: Option<Option<Cow<'a, str>>>,
    content: Option<Option<Cow<'a, str>>>,
    id: Option<Option<Cow<'a, str>>>,
    thread: Option<Option<Cow<'a, str>>>,
    reply_to: Option<Option<Cow<'a, str>>>,
    timestamp: Option<Option<Cow<'a, str>>>,
    priority: Option<Option<Cow<'a, str>>>,
    signature: Option<Option<Cow<'a, str>>>,
    sealed: Option<Option<Cow<'a, str>>>,
    /// An `ack`'s sender (a `send` has none: the relay sets it, and ignores this one).
    from: Option<Option<Cow<'a, str>>>,
    /// `id` was present with a value that is not a string (or `null`).
    id_not_string: bool,
}

/// Reads `text` as a `send` or an `ack`; `None` means "ask serde".
pub(crate) fn parse_hot(text: &str) -> Option<HotFrame<'_>> {
    let mut reader = Reader {
        text,
        bytes: text.as_bytes(),
        pos: 0,
    };
    let mut slots = Slots::default();
    reader.skip_ws();
    reader.expect(b'{')?;
    reader.skip_ws();
    if reader.peek()? == b'}' {
        return None; // no `type`: serde's error
    }
    loop {
        reader.skip_ws();
        let key = reader.string(false)?;
        reader.skip_ws();
        reader.expect(b':')?;
        reader.skip_ws();
        let value = reader.value()?;
        let slot = match &*key {
            "type" => {
                let Value::Str(kind) = value else {
                    return None;
                };
                if slots.kind.replace(kind).is_some() {
                    return None;
                }
                reader.skip_ws();
                match reader.next()? {
                    b',' => continue,
                    b'}' => break,
                    _ => return None,
                }
            }
            "to" => Some(&mut slots.to),
            "content" => Some(&mut slots.content),
            "id" => Some(&mut slots.id),
            "thread" => Some(&mut slots.thread),
            "reply_to" => Some(&mut slots.reply_to),
            "timestamp" => Some(&mut slots.timestamp),
            "priority" => Some(&mut slots.priority),
            "signature" => Some(&mut slots.signature),
            "sealed" => Some(&mut slots.sealed),
            "from" => Some(&mut slots.from),
            _ => None, // an unknown field: ignored, whatever its (simple) value
        };
        if let Some(slot) = slot {
            let stored = match value {
                Value::Null => None,
                Value::Str(text) => Some(text),
                Value::Other => {
                    // A field of a `send` with the wrong type: serde's error. In an `ack`
                    // only `id` counts, and it must be a string.
                    if &*key == "id" {
                        slots.id_not_string = true;
                    } else {
                        return None;
                    }
                    None
                }
            };
            if slot.replace(stored).is_some() {
                return None; // a repeated field
            }
        }
        reader.skip_ws();
        match reader.next()? {
            b',' => continue,
            b'}' => break,
            _ => return None,
        }
    }
    reader.skip_ws();
    if reader.pos != reader.bytes.len() {
        return None;
    }
    match &*slots.kind? {
        "send" => {
            if slots.id_not_string {
                return None;
            }
            Some(HotFrame::Send(SendFields {
                to: slots.to.flatten(),
                content: slots.content.flatten(),
                id: slots.id.flatten(),
                thread: slots.thread.flatten(),
                reply_to: slots.reply_to.flatten(),
                timestamp: slots.timestamp.flatten(),
                passed_on: PassedOn {
                    priority: slots.priority.flatten(),
                    signature: slots.signature.flatten(),
                    sealed: slots.sealed.flatten(),
                },
            }))
        }
        "ack" => {
            if slots.id_not_string {
                return None;
            }
            // Other fields of `send` are unknown fields of `ack`, ignored by serde too.
            Some(HotFrame::Ack {
                id: slots.id.flatten()?,
                from: slots.from.flatten(),
            })
        }
        _ => None,
    }
}

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.pos += 1;
        Some(byte)
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.next()? == byte).then_some(())
    }

    /// JSON's whitespace: space, tab, line feed, carriage return.
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// A string, `null`, `true` or `false`; anything else is left to serde.
    fn value(&mut self) -> Option<Value<'a>> {
        match self.peek()? {
            b'"' => Some(Value::Str(self.string(true)?)),
            b'n' => self.literal(b"null").map(|()| Value::Null),
            b't' => self.literal(b"true").map(|()| Value::Other),
            b'f' => self.literal(b"false").map(|()| Value::Other),
            _ => None,
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.pos + word.len();
        if self.bytes.get(self.pos..end)? != word {
            return None;
        }
        self.pos = end;
        Some(())
    }

    /// A string at the cursor (which is at its opening quote). Borrowed when it has no
    /// escapes. `escapes` false: a string with escapes is left to serde (used for keys).
    fn string(&mut self, escapes: bool) -> Option<Cow<'a, str>> {
        self.expect(b'"')?;
        let start = self.pos;
        let end = start + special(&self.bytes[start..])?;
        match self.bytes[end] {
            b'"' => {
                self.pos = end + 1;
                return Some(Cow::Borrowed(&self.text[start..end]));
            }
            b'\\' if escapes => {}
            // serde_json refuses raw control characters in strings.
            _ => return None,
        }
        // Escapes: copy what came before and decode the rest.
        let mut owned = String::from(&self.text[start..end]);
        self.pos = end;
        loop {
            let run = self.pos;
            self.pos += special(&self.bytes[run..])?;
            owned.push_str(&self.text[run..self.pos]);
            match self.next()? {
                b'"' => return Some(Cow::Owned(owned)),
                b'\\' => {
                    let decoded = match self.next()? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hex = self.text.get(self.pos..self.pos + 4)?;
                            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                                return None;
                            }
                            let code = u32::from_str_radix(hex, 16).ok()?;
                            self.pos += 4;
                            // Surrogates (pairs and lone halves) are left to serde.
                            char::from_u32(code)?
                        }
                        _ => return None,
                    };
                    owned.push(decoded);
                }
                _ => return None, // a raw control character
            }
        }
    }
}

/// The offset of the first byte that ends a run of plain string text: a quote, a backslash
/// or a control character (ASCII, so never inside a multi-byte character).
fn special(bytes: &[u8]) -> Option<usize> {
    bytes
        .iter()
        .position(|&byte| byte == b'"' || byte == b'\\' || byte < 0x20)
}

/// [`special`] for a whole string being written, eight bytes at a time: a word with none of
/// those bytes is skipped with a few arithmetic operations (the classic "has a zero byte" /
/// "has a byte less than n" bit tricks, which never miss one and may flag a byte above a
/// real one); a flagged word is searched byte by byte. (The reader keeps the byte loop: it
/// mostly meets short keys and names, whose closing quote is within the first word, where
/// this costs more under callgrind.)
fn special_wide(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
    let is_special = |byte: &u8| *byte == b'"' || *byte == b'\\' || *byte < 0x20;
    let has_zero = |word: u64| word.wrapping_sub(ONES) & !word & HIGH;
    let mut chunks = bytes.chunks_exact(8);
    let mut start = 0;
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().expect("a chunk of 8"));
        let flags = (word.wrapping_sub(ONES * 0x20) & !word & HIGH)
            | has_zero(word ^ (ONES * u64::from(b'"')))
            | has_zero(word ^ (ONES * u64::from(b'\\')));
        if flags != 0
            && let Some(offset) = chunk.iter().position(is_special)
        {
            return Some(start + offset);
        }
        start += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(is_special)
        .map(|offset| start + offset)
}

/// `ServerFrame::Message {..}.to_json()`, written without building the frame.
#[allow(clippy::too_many_arguments)]
pub(crate) fn message_json(
    from: &str,
    to: &str,
    content: &str,
    id: &str,
    thread: Option<&str>,
    reply_to: Option<&str>,
    timestamp: &str,
    passed_on: &PassedOn<'_>,
) -> String {
    let passed = passed_on.fields();
    let strings = from.len() + to.len() + content.len() + id.len() + timestamp.len();
    let options = thread.map_or(0, str::len)
        + reply_to.map_or(0, str::len)
        + passed
            .iter()
            .map(|(_, value)| value.map_or(0, |v| v.len() + 16))
            .sum::<usize>();
    let mut out = String::with_capacity(110 + strings + strings / 8 + options);
    out.push_str(r#"{"type":"message","from":"#);
    escape_into(&mut out, from);
    out.push_str(r#","to":"#);
    escape_into(&mut out, to);
    out.push_str(r#","content":"#);
    escape_into(&mut out, content);
    out.push_str(r#","id":"#);
    escape_into(&mut out, id);
    out.push_str(r#","thread":"#);
    optional_into(&mut out, thread);
    out.push_str(r#","reply_to":"#);
    optional_into(&mut out, reply_to);
    out.push_str(r#","timestamp":"#);
    escape_into(&mut out, timestamp);
    for (name, value) in passed {
        if let Some(value) = value {
            out.push_str(",\"");
            out.push_str(name);
            out.push_str("\":");
            escape_into(&mut out, value);
        }
    }
    out.push('}');
    out
}

/// `ServerFrame::Ack {..}.to_json()`, written without building the frame.
pub(crate) fn ack_json(id: &str, to: &str, status: AckStatus, duplicate: bool) -> String {
    let mut out = String::with_capacity(64 + id.len() + to.len());
    out.push_str(r#"{"type":"ack","id":"#);
    escape_into(&mut out, id);
    out.push_str(r#","to":"#);
    escape_into(&mut out, to);
    out.push_str(r#","status":""#);
    out.push_str(status.as_str());
    out.push_str(r#"","duplicate":"#);
    out.push_str(if duplicate { "true" } else { "false" });
    out.push('}');
    out
}

fn optional_into(out: &mut String, value: Option<&str>) {
    match value {
        Some(value) => escape_into(out, value),
        None => out.push_str("null"),
    }
}

/// A JSON string as serde_json writes it: `"` and `\` escaped, the control characters as
/// `\b \t \n \f \r` or `\u00XX` (lowercase hex), everything else as it is.
fn escape_into(out: &mut String, text: &str) {
    out.push('"');
    let mut run = 0;
    while let Some(offset) = special_wide(&text.as_bytes()[run..]) {
        let index = run + offset;
        out.push_str(&text[run..index]);
        let byte = text.as_bytes()[index];
        let short = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x09 => "\\t",
            0x0a => "\\n",
            0x0c => "\\f",
            0x0d => "\\r",
            _ => "",
        };
        if short.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        } else {
            out.push_str(short);
        }
        run = index + 1;
    }
    out.push_str(&text[run..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ClientFrame, ServerFrame};

    #[test]
    fn special_wide_finds_the_first_special_byte_at_every_position() {
        let naive = |bytes: &[u8]| {
            bytes
                .iter()
                .position(|&byte| byte == b'"' || byte == b'\\' || byte < 0x20)
        };
        // Every byte value at every position of texts up to 20 bytes, alone and after
        // another special byte further on (a word's flag above a real one must not win).
        for len in 0..20 {
            for at in 0..len {
                for byte in 0..=255u8 {
                    let mut text = vec![b'a'; len];
                    text[at] = byte;
                    assert_eq!(special_wide(&text), naive(&text), "{len} {at} {byte}");
                    for later in [b'"', b'\\', 0x1f, 0x00] {
                        if at + 1 < len {
                            text[len - 1] = later;
                            assert_eq!(
                                special_wide(&text),
                                naive(&text),
                                "{len} {at} {byte} {later}"
                            );
                        }
                    }
                    for high in [0x80, 0xa0, 0xff, 0x20, 0x21, 0x5d] {
                        text.fill(high);
                        text[at] = byte;
                        assert_eq!(
                            special_wide(&text),
                            naive(&text),
                            "{len} {at} {byte} {high}"
                        );
                    }
                }
            }
        }
    }

    /// Whatever the fast path accepts, serde accepts with the same values. Returns whether
    /// the fast path took it.
    fn agree(text: &str) -> bool {
        let Some(hot) = parse_hot(text) else {
            return false;
        };
        let serde = ClientFrame::parse(text)
            .unwrap_or_else(|err| panic!("fast path took {text:?}, serde refuses it: {err}"));
        match (hot, serde) {
            (
                HotFrame::Send(fields),
                ClientFrame::Send {
                    to,
                    content,
                    id,
                    thread,
                    reply_to,
                    timestamp,
                    priority,
                    signature,
                    sealed,
                },
            ) => {
                let same = fields.to.as_deref() == to.as_deref()
                    && fields.passed_on.priority.as_deref() == priority.as_deref()
                    && fields.passed_on.signature.as_deref() == signature.as_deref()
                    && fields.passed_on.sealed.as_deref() == sealed.as_deref()
                    && fields.content.as_deref() == content.as_deref()
                    && fields.id.as_deref() == id.as_deref()
                    && fields.thread.as_deref() == thread.as_deref()
                    && fields.reply_to.as_deref() == reply_to.as_deref()
                    && fields.timestamp.as_deref() == timestamp.as_deref();
                assert!(same, "{text:?}: fast {fields:?}");
            }
            (
                HotFrame::Ack { id, from },
                ClientFrame::Ack {
                    id: serde_id,
                    from: serde_from,
                },
            ) => {
                assert_eq!(id, serde_id, "{text:?}");
                assert_eq!(from.as_deref(), serde_from.as_deref(), "{text:?}");
            }
            (hot, serde) => panic!("{text:?}: fast {hot:?}, serde {serde:?}"),
        }
        true
    }

    #[test]
    fn the_common_frames_take_the_fast_path_with_serdes_values() {
        let taken = [
            r#"{"type":"send","to":"bob","content":"hi","id":"m-1"}"#,
            r#"{"type":"send","to":"bob","id":"m-u0-7","content":"1732444800123456"}"#,
            r#"{"to":"bob","content":"hi","type":"send"}"#,
            r#" { "type" : "send" , "to" : "bob" } "#,
            "{\n\t\"type\":\"send\",\r\n\"to\":\"bob\"}\n",
            r#"{"type":"send","to":"bob","content":"line\nbreak \"quoted\" back\\slash \/ \u00e9 \u0000 \b\f\r\t"}"#,
            r#"{"type":"send","to":"bob","content":"é 日本 🎉"}"#,
            r#"{"type":"send","to":"bob","thread":null,"reply_to":"m-0","timestamp":"2026-01-02T03:04:05"}"#,
            r#"{"type":"send","to":"bob","priority":"high","signature":"sig1.a.b.c","sealed":"AQI"}"#,
            r#"{"type":"send","to":"bob","sealed":null,"signature":"s\u0069g"}"#,
            r#"{"type":"send","to":"bob","extra":"x","flag":true,"none":null,"extra":"again"}"#,
            r#"{"type":"send"}"#,
            r#"{"type":"send","to":"","id":""}"#,
            r#"{"type":"s\u0065nd","to":"bob"}"#,
            r#"{"type":"ack","id":"m-1"}"#,
            r#"{"id":"m-1","type":"ack"}"#,
            r#"{"type":"ack","id":"m-1","to":"x","content":null,"more":false}"#,
            r#"{"type":"ack","id":""}"#,
            r#"{"type":"ack","id":"m-1","from":"alice"}"#,
            r#"{"type":"ack","from":null,"id":"m-1"}"#,
            r#"{"type":"send","to":"bob","from":"carol"}"#,
        ];
        for text in taken {
            assert!(agree(text), "not taken: {text}");
        }
    }

    #[test]
    fn anything_unusual_goes_to_serde() {
        let left = [
            "",
            "{",
            "{}",
            "[]",
            "null",
            r#"{"type":"ping"}"#,
            r#"{"type":"auth","username":"a"}"#,
            r#"{"type":"send","to":5}"#,
            r#"{"type":"send","to":"bob","count":1}"#,
            r#"{"type":"send","to":"bob","nested":{"a":[1]}}"#,
            r#"{"type":"send","to":"a","to":"b"}"#,
            r#"{"type":"send","to":"a","sealed":"x","sealed":"y"}"#,
            r#"{"type":"send","to":"a","signature":{"v":1}}"#,
            r#"{"type":"send","to":"a","priority":1}"#,
            r#"{"type":"send","type":"send"}"#,
            r#"{"typ\u0065":"send","to":"bob"}"#,
            r#"{"type":"send","to":"bob",}"#,
            r#"{"type":"send","to":"bob"} x"#,
            r#"{"type":"send","to":"bob"}{}"#,
            r#"{"type":"send","to":"\ud83d\ude00"}"#,
            r#"{"type":"send","to":"\ud800"}"#,
            r#"{"type":"send","to":"\x"}"#,
            r#"{"type":"send","to":"\u12"}"#,
            "{\"type\":\"send\",\"to\":\"a\u{1}b\"}",
            "\u{feff}{\"type\":\"send\"}",
            r#"{"type":"ack"}"#,
            r#"{"type":"ack","id":null}"#,
            r#"{"type":"ack","id":7}"#,
            r#"{"type":"ack","id":"m-1","from":true}"#,
            r#"{"type":"ack","id":"m-1","from":"a","from":"b"}"#,
            r#"{"type":"send","id":true}"#,
            r#"{"type":null}"#,
            r#"{"type":"send","to":"bob","flag":tru}"#,
            r#"{"type":"send","to":"bob" "content":"x"}"#,
            r#"["send","bob"]"#,
        ];
        for text in left {
            assert!(parse_hot(text).is_none(), "taken: {text}");
        }
    }

    /// xorshift64*: deterministic, so a failure repeats.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }
    }

    const KEYS: &[&str] = &[
        r#""type""#,
        r#""to""#,
        r#""content""#,
        r#""id""#,
        r#""thread""#,
        r#""reply_to""#,
        r#""timestamp""#,
        r#""priority""#,
        r#""signature""#,
        r#""sealed""#,
        r#""from""#,
        r#""extra""#,
        r#""t\u006f""#,
        r#""""#,
        r#""Type""#,
    ];

    const VALUES: &[&str] = &[
        r#""send""#,
        r#""ack""#,
        r#""ping""#,
        r#""bob""#,
        r#""""#,
        "null",
        "true",
        "false",
        "1",
        "-0.5e3",
        "[]",
        r#"{"a":[1,{}]}"#,
        r#""a\nb\"c\\d\/e\u00e9\u0000\b\f\r\t""#,
        r#""\ud83d\ude00""#,
        r#""\ud800""#,
        r#""\uDFFF x""#,
        r#""\u00""#,
        r#""\q""#,
        "\"raw\u{1}control\"",
        "\"raw\ttab\"",
        r#""é 日本 🎉""#,
        r#""s\u0065nd""#,
        r#""ac\u006b""#,
        "nul",
        "\"unterminated",
    ];

    const WHITESPACE: &[&str] = &["", "", "", "", " ", "\n", "\t", "\r\n"];

    /// Not JSON whitespace: serde refuses them between tokens.
    const NOT_WHITESPACE: &[&str] = &["\u{a0}", "\u{feff}", "\u{b}", "\u{c}"];

    /// Mostly JSON whitespace, now and then something that only looks like it.
    fn space(rng: &mut Rng) -> &'static str {
        if rng.below(40) == 0 {
            rng.pick(NOT_WHITESPACE)
        } else {
            rng.pick(WHITESPACE)
        }
    }

    /// Mostly a string or `null`, now and then anything.
    fn value(rng: &mut Rng) -> &'static str {
        if rng.below(3) == 0 {
            rng.pick(VALUES)
        } else {
            rng.pick(&VALUES[..8])
        }
    }

    fn frame(rng: &mut Rng) -> String {
        let mut text = String::from(space(rng));
        text.push('{');
        let fields = rng.below(7);
        for n in 0..fields {
            if n > 0 {
                text.push(',');
            }
            text.push_str(space(rng));
            // Mostly a type first, so that many frames are hot ones.
            let value = if n == 0 && rng.below(4) != 0 {
                text.push_str(r#""type""#);
                rng.pick(&[
                    r#""send""#,
                    r#""ack""#,
                    r#""send""#,
                    r#""s\u0065nd""#,
                    "null",
                ])
            } else {
                text.push_str(rng.pick(KEYS));
                value(rng)
            };
            text.push_str(space(rng));
            text.push(':');
            text.push_str(space(rng));
            text.push_str(value);
        }
        text.push_str(space(rng));
        text.push('}');
        text.push_str(space(rng));
        text
    }

    fn mutate(rng: &mut Rng, text: &str) -> String {
        let mut chars: Vec<char> = text.chars().collect();
        for _ in 0..=rng.below(3) {
            let at = rng.below(chars.len() + 1);
            match rng.below(3) {
                0 if at < chars.len() => {
                    chars.remove(at);
                }
                1 => {
                    let insert = [
                        '"', '\\', '{', '}', '[', ',', ':', ' ', 'a', 'u', '0', '\u{0}', 'é',
                    ];
                    chars.insert(at, insert[rng.below(insert.len())]);
                }
                _ => chars.truncate(at),
            }
        }
        chars.into_iter().collect()
    }

    #[test]
    fn the_fast_path_agrees_with_serde_on_generated_and_mutated_frames() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let (mut taken, mut taken_mutated) = (0, 0);
        let cases = 60_000;
        for _ in 0..cases {
            let text = frame(&mut rng);
            taken += usize::from(agree(&text));
            let mutated = mutate(&mut rng, &text);
            taken_mutated += usize::from(agree(&mutated));
        }
        // The generator must exercise the fast path, not only the fallback.
        assert!(taken > cases / 20, "only {taken} of {cases} taken");
        assert!(
            taken_mutated > cases / 200,
            "only {taken_mutated} mutated of {cases} taken"
        );
    }

    #[test]
    fn the_writers_write_what_serde_writes() {
        let mut strings: Vec<String> = (0u32..=0x7f)
            .filter_map(char::from_u32)
            .map(|c| format!("a{c}b"))
            .collect();
        strings.extend(
            [
                "",
                "é 日本 🎉",
                "\u{7f}\u{80}\u{2028}",
                "\"\\\"\\",
                "\u{0}\u{1f}",
            ]
            .map(String::from),
        );
        for (n, text) in strings.iter().enumerate() {
            let other = &strings[(n * 7 + 3) % strings.len()];
            let option = (n % 3 != 0).then_some(other.as_str());
            let expected = ServerFrame::Message {
                from: text.clone(),
                to: other.clone(),
                content: text.repeat(3),
                id: other.clone(),
                thread: option.map(str::to_owned),
                reply_to: (n % 2 == 0).then(|| text.clone()),
                timestamp: text.clone(),
                priority: (n % 4 == 1).then(|| other.clone()),
                signature: (n % 3 == 1).then(|| text.clone()),
                sealed: (n % 5 != 0).then(|| other.repeat(2)),
            }
            .to_json();
            let written = message_json(
                text,
                other,
                &text.repeat(3),
                other,
                option,
                (n % 2 == 0).then_some(text.as_str()),
                text,
                &PassedOn {
                    priority: (n % 4 == 1).then_some(Cow::Borrowed(other.as_str())),
                    signature: (n % 3 == 1).then_some(Cow::Borrowed(text.as_str())),
                    sealed: (n % 5 != 0).then(|| Cow::Owned(other.repeat(2))),
                },
            );
            assert_eq!(written, expected);
            for status in [AckStatus::Delivered, AckStatus::Queued] {
                for duplicate in [false, true] {
                    let expected = ServerFrame::Ack {
                        id: text.clone(),
                        to: other.clone(),
                        status,
                        duplicate,
                    }
                    .to_json();
                    assert_eq!(ack_json(text, other, status, duplicate), expected);
                }
            }
        }
    }
}
