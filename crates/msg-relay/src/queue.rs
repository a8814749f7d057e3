//! Store-and-forward state: each recipient's queue of messages the relay is responsible for,
//! the bounds on it, expiry by age, and the dedupe window of (sender, id, recipient) triples.
//!
//! Every message the relay accepts enters its recipient's queue and stays there until the
//! relay is done with it, in the order the relay accepted them ([`Delivery`]): never written
//! (the recipient was offline), handed to a connection that counts it delivered once it is
//! written to the socket (a v0.2.0 client), or written to an `acks` client that has not
//! acknowledged it yet. At the next login whatever is left is the backlog, oldest first, so
//! a connection that dies loses nothing the relay acknowledged. The queue lives inside the
//! registry's mutex (`registry.rs`), so deciding "online or queued" and acting on it is one
//! step. Nothing here waits or does I/O.

use std::cmp::Reverse;
use std::collections::hash_map::Entry;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher, RandomState};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::limits::Limits;
use crate::protocol::{AckStatus, QueueLimit};
use crate::session::QueuedAt;
use crate::spool::{Record, Recovery, Spool, unix_ms};

/// A message's position in acceptance order, unique for the life of the relay (and, with a
/// spool, across restarts).
pub(crate) type Seq = u64;

/// One message waiting in a recipient's queue.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub(crate) seq: Seq,
    pub(crate) sender: Arc<str>,
    pub(crate) id: MessageId,
    /// The serialised `message` frame, exactly as it is written to the recipient.
    pub(crate) frame: Message,
    /// When the relay accepted it; the time to live counts from here.
    pub(crate) accepted: Instant,
    pub(crate) delivery: Delivery,
    /// Its sender was told `queued` (nobody took it when it was sent): when it leaves the
    /// queue delivered, the sender is told so ([`Receipt`]).
    pub(crate) told_queued: bool,
}

/// A message its sender was told was `queued` that has now reached its recipient: the
/// registry tells the sender `delivered` (the `receipts` of docs/relay.md).
#[derive(Debug)]
pub(crate) struct Receipt {
    pub(crate) sender: Arc<str>,
    pub(crate) id: MessageId,
    pub(crate) to: Arc<str>,
}

/// Where a queued message stands with its recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// Not handed to any connection of the recipient yet.
    Waiting,
    /// In the outbox of a connection whose messages count as delivered once written (a
    /// v0.2.0 client): it leaves the queue when that connection's writer has flushed it.
    OnWrite,
    /// Written to a connection that acknowledges what it stores (an `acks` client): it
    /// leaves the queue with the client's `ack`.
    AwaitingAck,
}

impl Delivery {
    /// Handed to a connection at least once.
    pub(crate) fn handed_over(self) -> bool {
        self != Delivery::Waiting
    }
}

impl Pending {
    pub(crate) fn bytes(&self) -> usize {
        self.frame.len()
    }
}

/// The longest message ID a queue entry keeps inline (a UUID is 36 bytes).
const INLINE_ID: usize = 38;

/// A message ID as a queue entry keeps it: inline up to [`INLINE_ID`] bytes (UUIDs, the IDs
/// the relay generates), so queuing a message allocates nothing for its ID; a longer one in
/// its own allocation.
#[derive(Debug, Clone)]
pub(crate) enum MessageId {
    Inline { len: u8, bytes: [u8; INLINE_ID] },
    Shared(Arc<str>),
}

impl MessageId {
    pub(crate) fn new(id: &str) -> MessageId {
        match u8::try_from(id.len()) {
            Ok(len) if id.len() <= INLINE_ID => {
                let mut bytes = [0; INLINE_ID];
                bytes[..id.len()].copy_from_slice(id.as_bytes());
                MessageId::Inline { len, bytes }
            }
            _ => MessageId::Shared(Arc::from(id)),
        }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            MessageId::Inline { len, bytes } => &bytes[..usize::from(*len)],
            MessageId::Shared(id) => id.as_bytes(),
        }
    }

    /// The ID as text (checks the inline bytes again: for the rare uses, not the `ack` path).
    pub(crate) fn as_str(&self) -> &str {
        match self {
            MessageId::Inline { .. } => {
                std::str::from_utf8(self.as_bytes()).expect("copied from a str whole")
            }
            MessageId::Shared(id) => id,
        }
    }
}

/// A message dropped at the end of its time to live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Expired {
    pub(crate) sender: Arc<str>,
    pub(crate) id: Arc<str>,
    pub(crate) to: Arc<str>,
    /// It had been handed to a connection of the recipient (which never acknowledged it or
    /// never wrote it).
    pub(crate) written: bool,
}

/// A recipient's queue. It stays in the map while empty, until its expiry entry comes due
/// (see [`Queues::expire`]): a recipient whose queue empties and fills again for every message
/// (an `acks` client acknowledging as it goes) costs neither a map insert nor an allocation
/// per message.
#[derive(Debug, Default)]
struct UserQueue {
    /// In `seq` order.
    entries: VecDeque<Pending>,
    bytes: usize,
}

impl UserQueue {
    fn append(&mut self, pending: Pending, bytes: usize) {
        debug_assert!(
            self.entries
                .back()
                .is_none_or(|last| last.seq < pending.seq)
        );
        self.bytes += bytes;
        self.entries.push_back(pending);
    }
}

/// An empty queue keeps at most this many entries' worth of memory until it is dropped.
const EMPTY_QUEUE_KEEP: usize = 64;

/// What the queues hold in all, and for each sender across its recipients.
#[derive(Default)]
struct Usage {
    bytes: usize,
    messages: usize,
    /// Only senders with at least one message queued.
    by_sender: HashMap<Arc<str>, SenderUsage>,
}

#[derive(Default)]
struct SenderUsage {
    messages: usize,
    bytes: usize,
}

impl Usage {
    fn add(&mut self, entry: &Pending) {
        self.bytes += entry.bytes();
        self.messages += 1;
        let sender = match self.by_sender.get_mut(&entry.sender) {
            Some(sender) => sender,
            None => self.by_sender.entry(Arc::clone(&entry.sender)).or_default(),
        };
        sender.messages += 1;
        sender.bytes += entry.bytes();
    }

    /// Books out a message that left its queue, and logs it as `done` to the spool.
    fn release(&mut self, entry: &Pending, spool: Option<&Spool>) {
        self.release_of(&entry.sender, 1, entry.bytes());
        if let Some(spool) = spool {
            spool.append(Record::Done { seq: entry.seq });
        }
    }

    /// Books out `messages` messages of `sender` holding `bytes` (their `done` records
    /// logged by the caller).
    fn release_of(&mut self, sender: &str, messages: usize, bytes: usize) {
        self.bytes -= bytes;
        self.messages -= messages;
        if let Some(usage) = self.by_sender.get_mut(sender) {
            usage.messages -= messages;
            usage.bytes -= bytes;
            if usage.messages == 0 {
                self.by_sender.remove(sender);
            }
        }
    }
}

pub(crate) struct Queues {
    max_messages: usize,
    max_bytes: usize,
    total_bytes_limit: usize,
    sender_max_messages: usize,
    sender_max_bytes: usize,
    ttl: Duration,
    /// Every queue here has exactly one entry in `expiry`, and only the expiry removes it.
    by_user: HashMap<Arc<str>, UserQueue>,
    usage: Usage,
    next_seq: Seq,
    /// One (deadline, recipient) per queue in `by_user`, earliest first: the deadline of the
    /// queue's oldest entry when it was scheduled, or earlier (that entry was acknowledged
    /// meanwhile; then the queue is scheduled again at its new oldest entry's deadline). The
    /// time to live is the same for every message and a queue is in acceptance order, so a
    /// queue's oldest entry expires first. One entry per recipient, not per message: memory
    /// stays bounded by the number of recipients while messages come and go.
    expiry: BinaryHeap<Reverse<(Instant, Arc<str>)>>,
    dedupe: Dedupe,
    /// With `--spool`: every message entering a queue is appended as `accept`, every one
    /// leaving as `done`, in the order of the changes (the caller holds the registry lock).
    spool: Option<Spool>,
}

impl Queues {
    pub(crate) fn new(limits: &Limits, spool: Option<Spool>) -> Queues {
        if let Some(spool) = &spool {
            spool.remember_sends(limits.dedupe_window, limits.dedupe_max_entries);
        }
        Queues {
            spool,
            max_messages: limits.queue_max_messages,
            max_bytes: limits.queue_max_bytes,
            total_bytes_limit: limits.queue_total_bytes,
            sender_max_messages: limits.sender_queue_max_messages,
            sender_max_bytes: limits.sender_queue_max_bytes,
            ttl: limits.queue_ttl,
            by_user: HashMap::new(),
            usage: Usage::default(),
            next_seq: 1,
            expiry: BinaryHeap::new(),
            dedupe: Dedupe::new(limits.dedupe_window, limits.dedupe_max_entries),
        }
    }

    /// Puts back what a spool held at start, without logging it again. Each message keeps
    /// its age: one accepted a day ago expires a day earlier. The dedupe window learns every
    /// send the log remembers within it, queued or not, so a sender repeating a send after
    /// the restart is answered as before it.
    pub(crate) fn restore(&mut self, recovery: Recovery, now: Instant) {
        self.next_seq = self.next_seq.max(recovery.max_seq + 1);
        let now_ms = unix_ms();
        let at = |at_ms: u64| {
            let age = Duration::from_millis(now_ms.saturating_sub(at_ms));
            (age, now.checked_sub(age).unwrap_or(now))
        };
        // Oldest first, so that the window forgets them in order.
        let mut sends: Vec<(u64, &str, &str, &str, bool)> = recovery
            .seen
            .iter()
            .map(|seen| {
                (
                    seen.at_ms,
                    &*seen.from,
                    &*seen.id,
                    &*seen.to,
                    seen.delivered,
                )
            })
            .chain(recovery.queued.iter().map(|queued| {
                let (from, id, to) = (&*queued.from, &*queued.id, &*queued.to);
                (queued.at_ms, from, id, to, queued.delivered)
            }))
            .collect();
        sends.sort_by_key(|send| send.0);
        for (at_ms, from, id, to, delivered) in sends {
            let (age, accepted) = at(at_ms);
            if age >= self.dedupe.window {
                continue;
            }
            let status = if delivered {
                AckStatus::Delivered
            } else {
                AckStatus::Queued
            };
            let key = self.dedupe.key(from, id, to);
            self.dedupe.record(key, status, accepted);
        }
        for record in recovery.queued {
            let (_, accepted) = at(record.at_ms);
            let to = record.to;
            let pending = Pending {
                seq: record.seq,
                sender: Arc::from(record.from),
                id: MessageId::new(&record.id),
                frame: Message::text(record.frame),
                accepted,
                delivery: Delivery::Waiting,
                told_queued: !record.delivered,
            };
            self.insert(&to, pending);
        }
    }

    pub(crate) fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Messages and bytes in all queues (the metrics gauges).
    pub(crate) fn totals(&self) -> (usize, usize) {
        (self.usage.messages, self.usage.bytes)
    }

    /// The next sequence number (taken only when a message is accepted).
    pub(crate) fn take_seq(&mut self) -> Seq {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Whether `to`'s queue, `from`'s messages in all queues and all queues together can
    /// take a message of `bytes` more; otherwise the bound that refuses it.
    pub(crate) fn check_room(&self, from: &str, to: &str, bytes: usize) -> Result<(), QueueLimit> {
        if let Some(queue) = self.by_user.get(to) {
            if queue.entries.len() >= self.max_messages {
                return Err(QueueLimit::Count);
            }
            if queue.bytes + bytes > self.max_bytes {
                return Err(QueueLimit::Bytes);
            }
        } else if bytes > self.max_bytes {
            return Err(QueueLimit::Bytes);
        }
        if let Some(sender) = self.usage.by_sender.get(from) {
            if sender.messages >= self.sender_max_messages {
                return Err(QueueLimit::SenderCount);
            }
            if sender.bytes + bytes > self.sender_max_bytes {
                return Err(QueueLimit::SenderBytes);
            }
        } else if bytes > self.sender_max_bytes {
            return Err(QueueLimit::SenderBytes);
        }
        if self.usage.bytes + bytes > self.total_bytes_limit {
            return Err(QueueLimit::TotalBytes);
        }
        Ok(())
    }

    /// Appends a message to `to`'s queue. The caller checked the room first; `seq` must be
    /// above every `seq` already queued (so a queue stays in order).
    pub(crate) fn push(&mut self, to: &str, pending: Pending) {
        if let Some(spool) = &self.spool {
            spool.append(Record::Accept {
                seq: pending.seq,
                from: pending.sender.to_string(),
                to: to.to_string(),
                id: pending.id.as_str().to_owned(),
                at_ms: unix_ms(),
                delivered: pending.delivery.handed_over(),
                frame: pending.frame.to_text().unwrap_or_default().to_owned(),
            });
        }
        self.insert(to, pending);
    }

    fn insert(&mut self, to: &str, pending: Pending) {
        let bytes = pending.bytes();
        self.usage.add(&pending);
        // One lookup when the queue exists (the common case), and a new queue is scheduled
        // for expiry at its first entry's deadline.
        if let Some(queue) = self.by_user.get_mut(to) {
            queue.append(pending, bytes);
            return;
        }
        let name: Arc<str> = Arc::from(to);
        self.expiry
            .push(Reverse((pending.accepted + self.ttl, Arc::clone(&name))));
        let mut queue = UserQueue::default();
        queue.append(pending, bytes);
        self.by_user.insert(name, queue);
    }

    /// Up to `max` entries of `user`'s queue after `after` (a login's backlog, in chunks),
    /// as they were; in the queue they are now marked `handed` (the connection writes them
    /// next).
    pub(crate) fn backlog_after(
        &mut self,
        user: &str,
        after: Seq,
        max: usize,
        handed: Delivery,
    ) -> Vec<Pending> {
        let Some(queue) = self.by_user.get_mut(user) else {
            return Vec::new();
        };
        let start = queue.entries.partition_point(|entry| entry.seq <= after);
        let mut chunk = Vec::with_capacity(max.min(queue.entries.len() - start));
        for entry in queue.entries.range_mut(start..).take(max) {
            chunk.push(entry.clone());
            entry.delivery = handed;
        }
        chunk
    }

    /// Whether `user` has entries after `after`.
    pub(crate) fn has_after(&self, user: &str, after: Seq) -> bool {
        self.by_user
            .get(user)
            .and_then(|queue| queue.entries.back())
            .is_some_and(|last| last.seq > after)
    }

    /// A connection's writer flushed these messages to its socket: those that count as
    /// delivered on write leave their queues (an `acks` client may have one too, and then
    /// its `ack` decides). A writer's batch is usually all one recipient's, from one sender,
    /// in order: the queue is looked up once per run of one recipient, and the sender's
    /// usage once per run of one sender. Returns how many left; those whose sender was told
    /// `queued` are added to `receipts`.
    pub(crate) fn remove_written(
        &mut self,
        written: &[QueuedAt],
        receipts: &mut Vec<Receipt>,
    ) -> usize {
        let Queues {
            by_user,
            usage,
            spool,
            ..
        } = self;
        let mut removed = 0;
        let mut queue: Option<(&str, &mut UserQueue)> = None;
        // The sender whose messages are being released, and how many of them, how large.
        let mut releasing: Option<(Arc<str>, usize, usize)> = None;
        for at in written {
            let same = queue
                .as_ref()
                .is_some_and(|(name, _)| **name == *at.recipient);
            if !same {
                queue = by_user
                    .get_mut(&*at.recipient)
                    .map(|found| (&*at.recipient, found));
            }
            let Some((_, user_queue)) = queue.as_mut() else {
                continue;
            };
            // In order, so the message is almost always at the front.
            let index = match user_queue.entries.front() {
                Some(front) if front.seq == at.seq => 0,
                _ => match user_queue
                    .entries
                    .binary_search_by_key(&at.seq, |entry| entry.seq)
                {
                    Ok(index) => index,
                    Err(_) => continue,
                },
            };
            if user_queue.entries[index].delivery != Delivery::OnWrite {
                continue;
            }
            let entry = user_queue.entries.remove(index).expect("index is in range");
            user_queue.bytes -= entry.bytes();
            shrink_if_empty(user_queue);
            if let Some(spool) = spool.as_ref() {
                spool.append(Record::Done { seq: entry.seq });
            }
            if entry.told_queued {
                receipts.push(Receipt {
                    sender: Arc::clone(&entry.sender),
                    id: entry.id.clone(),
                    to: Arc::clone(&at.recipient),
                });
            }
            match &mut releasing {
                Some((sender, count, bytes)) if *sender == entry.sender => {
                    *count += 1;
                    *bytes += entry.bytes();
                }
                _ => {
                    if let Some((sender, count, bytes)) = releasing.take() {
                        usage.release_of(&sender, count, bytes);
                    }
                    releasing = Some((Arc::clone(&entry.sender), 1, entry.bytes()));
                }
            }
            removed += 1;
        }
        if let Some((sender, count, bytes)) = releasing {
            usage.release_of(&sender, count, bytes);
        }
        removed
    }

    /// The recipient `user` acknowledged `id` of `from`: removes that sender's entry with
    /// that id that was written to it. IDs are the senders', and two senders may use the
    /// same one, so an ack that names no sender (a client of before `from`) removes every
    /// written entry with that id. Returns how many entries it removed; those whose sender
    /// was told `queued` are added to `receipts`.
    pub(crate) fn ack(
        &mut self,
        user: &str,
        from: Option<&str>,
        id: &str,
        receipts: &mut Vec<Receipt>,
    ) -> usize {
        let Some(queue) = self.by_user.get_mut(user) else {
            return 0;
        };
        let mut removed = 0;
        // Clients acknowledge in order, so the match is almost always at the front.
        let mut index = 0;
        while index < queue.entries.len() {
            let entry = &queue.entries[index];
            if entry.delivery.handed_over()
                && same_id(entry.id.as_bytes(), id.as_bytes())
                && from.is_none_or(|from| *entry.sender == *from)
            {
                let entry = queue.entries.remove(index).expect("index is in range");
                queue.bytes -= entry.bytes();
                self.usage.release(&entry, self.spool.as_ref());
                if entry.told_queued {
                    receipts.push(Receipt {
                        sender: Arc::clone(&entry.sender),
                        id: entry.id,
                        to: Arc::from(user),
                    });
                }
                removed += 1;
            } else {
                index += 1;
            }
        }
        shrink_if_empty(queue);
        removed
    }

    /// Drops every message whose time to live ended at `now`.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<Expired> {
        let mut expired = Vec::new();
        while let Some(Reverse((deadline, _))) = self.expiry.peek() {
            if *deadline > now {
                break;
            }
            let Reverse((_, user)) = self.expiry.pop().expect("peeked");
            let Some(queue) = self.by_user.get_mut(&user) else {
                debug_assert!(false, "every expiry entry has its queue");
                continue;
            };
            while let Some(front) = queue.entries.front() {
                if front.accepted + self.ttl > now {
                    break;
                }
                let entry = queue.entries.pop_front().expect("front exists");
                queue.bytes -= entry.bytes();
                self.usage.release(&entry, self.spool.as_ref());
                expired.push(Expired {
                    sender: entry.sender,
                    id: Arc::from(entry.id.as_str()),
                    to: Arc::clone(&user),
                    written: entry.delivery.handed_over(),
                });
            }
            match queue.entries.front() {
                Some(front) => {
                    let deadline = front.accepted + self.ttl;
                    self.expiry.push(Reverse((deadline, user)));
                }
                None => {
                    self.by_user.remove(&user);
                }
            }
        }
        expired
    }

    /// `user` went offline: if its queue is empty, gives back the queue's memory (the map
    /// entry stays until its expiry entry comes due, a few dozen bytes). An online user's
    /// empty queue keeps up to [`EMPTY_QUEUE_KEEP`] entries' worth, for its next messages.
    pub(crate) fn release_if_empty(&mut self, user: &str) {
        if let Some(queue) = self.by_user.get_mut(user)
            && queue.entries.is_empty()
        {
            queue.entries = VecDeque::new();
        }
    }

    /// When the next message expires, if any is queued (or earlier: a queue's oldest
    /// entry may have been acknowledged since it was scheduled).
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.expiry.peek().map(|Reverse((deadline, _))| *deadline)
    }

    /// The key of (sender, id, recipient) in the dedupe window.
    pub(crate) fn dedupe_key(&self, sender: &str, id: &str, to: &str) -> DedupeKey {
        self.dedupe.key(sender, id, to)
    }

    /// The first outcome of a send with this key, if it is in the dedupe window.
    pub(crate) fn dedupe_lookup(&mut self, key: DedupeKey, now: Instant) -> Option<AckStatus> {
        self.dedupe.lookup(key, now)
    }

    pub(crate) fn dedupe_record(&mut self, key: DedupeKey, status: AckStatus, now: Instant) {
        self.dedupe.record(key, status, now);
    }
}

/// Whether two message IDs are equal. An `ack` compares its ID with every entry of the
/// queue (every match goes), so most comparisons are unequal: this rejects them on the length
/// and the last eight bytes (where IDs numbered in sequence differ) before comparing all.
fn same_id(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    if let (Some(a_tail), Some(b_tail)) = (a.last_chunk::<8>(), b.last_chunk::<8>())
        && a_tail != b_tail
    {
        return false;
    }
    a == b
}

/// Gives back the memory of a queue that a large backlog left empty (it stays in the map
/// until its expiry entry comes due).
fn shrink_if_empty(queue: &mut UserQueue) {
    if queue.entries.is_empty() && queue.entries.capacity() > EMPTY_QUEUE_KEEP {
        queue.entries.shrink_to(EMPTY_QUEUE_KEEP);
    }
}

/// (sender, id, recipient) triples accepted recently, bounded in time and in count.
///
/// Looked up and recorded for every `send`, so it is built to stay small and cheap: a triple
/// is kept as two 64-bit outputs of one keyed hash (the standard library's SipHash under a
/// per-process random key; senders choose IDs, so an unkeyed hash would let one flood a
/// bucket): the hash of the triple, the map key, and the hash of the triple followed by one
/// more byte, which confirms a hit. The second costs only SipHash's finalisation, not a second
/// pass over the strings, and two different triples are taken for one another only if both
/// outputs collide (their 256-bit internal states would have to collide), about as likely as
/// two random 128-bit IDs colliding. No string is copied or kept, and an entry is 24 bytes in
/// the map (key, record number, check with the status in its lowest bit) plus 24 in the
/// order queue; recording one allocates nothing (beyond the amortised growth of both).
struct Dedupe {
    window: Duration,
    max_entries: usize,
    hasher: RandomState,
    seen: HashMap<u64, Seen, BuildHasherDefault<KeyHasher>>,
    /// Keys in the order they were recorded, for forgetting the oldest. The entry at index
    /// `i` is record number `recorded - order.len() + i`.
    order: VecDeque<(Instant, u64)>,
    /// Records made so far (the next record's number).
    recorded: u64,
}

/// A triple's entry in the window: 16 bytes (24 with its key in the map).
#[derive(Clone, Copy)]
struct Seen {
    /// Its record number: the entry of `order` that forgets it, unless recorded again later.
    number: u64,
    /// The check hash with its lowest bit replaced by the status ([`status_bit`]).
    check: u64,
}

/// A triple as the dedupe window knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DedupeKey {
    key: u64,
    /// The check hash, lowest bit cleared (it carries the status in a [`Seen`]).
    check: u64,
}

fn status_bit(status: AckStatus) -> u64 {
    u64::from(status != AckStatus::Delivered)
}

fn status_of(check: u64) -> AckStatus {
    if check & 1 == 0 {
        AckStatus::Delivered
    } else {
        AckStatus::Queued
    }
}

impl Dedupe {
    fn new(window: Duration, max_entries: usize) -> Dedupe {
        Dedupe {
            window,
            max_entries,
            hasher: RandomState::new(),
            seen: HashMap::default(),
            order: VecDeque::new(),
            recorded: 0,
        }
    }

    fn key(&self, sender: &str, id: &str, to: &str) -> DedupeKey {
        let mut hasher = self.hasher.build_hasher();
        // `str`'s Hash ends each string with a 0xff byte, which no UTF-8 text contains:
        // ("ab", "c") and ("a", "bc") hash apart.
        sender.hash(&mut hasher);
        id.hash(&mut hasher);
        to.hash(&mut hasher);
        let key = hasher.finish();
        // The same keyed hash of the triple followed by one byte: `finish` does not end the
        // hasher, so this costs the finalisation only.
        hasher.write_u8(1);
        DedupeKey {
            key,
            check: hasher.finish() & !1,
        }
    }

    /// The first outcome of the triple, if it is in the window.
    fn lookup(&mut self, key: DedupeKey, now: Instant) -> Option<AckStatus> {
        self.forget_old(now);
        self.seen
            .get(&key.key)
            .filter(|seen| seen.check & !1 == key.check)
            .map(|seen| status_of(seen.check))
    }

    fn record(&mut self, key: DedupeKey, status: AckStatus, now: Instant) {
        if self.max_entries == 0 || self.window.is_zero() {
            return;
        }
        debug_assert!(
            status != AckStatus::Unknown,
            "the relay records its own outcomes"
        );
        let number = self.recorded;
        self.recorded += 1;
        self.order.push_back((now, key.key));
        self.seen.insert(
            key.key,
            Seen {
                number,
                check: key.check | status_bit(status),
            },
        );
        while self.order.len() > self.max_entries {
            self.forget_front();
        }
    }

    fn forget_old(&mut self, now: Instant) {
        while let Some((at, _)) = self.order.front() {
            if now.saturating_duration_since(*at) < self.window {
                break;
            }
            self.forget_front();
        }
    }

    fn forget_front(&mut self) {
        let number = self.recorded - self.order.len() as u64;
        if let Some((_, key)) = self.order.pop_front() {
            // Only if not recorded again later (then a newer order entry owns it). One probe
            // of the map: this runs for every send once the window is full.
            if let Entry::Occupied(entry) = self.seen.entry(key)
                && entry.get().number == number
            {
                entry.remove();
            }
        }
    }
}

/// The hasher of maps keyed by a [`DedupeKey`]'s key, which is already a keyed hash: it
/// passes the value through.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed with it; fold anything else in anyway.
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_messages: usize, max_bytes: usize, total: usize) -> Limits {
        Limits {
            queue_max_messages: max_messages,
            queue_max_bytes: max_bytes,
            queue_total_bytes: total,
            queue_ttl: Duration::from_secs(60),
            ..Limits::default()
        }
    }

    fn pending(queues: &mut Queues, id: &str, text: &str, now: Instant) -> Pending {
        Pending {
            seq: queues.take_seq(),
            sender: Arc::from("alice"),
            id: MessageId::new(id),
            frame: Message::text(text.to_owned()),
            accepted: now,
            delivery: Delivery::Waiting,
            told_queued: true,
        }
    }

    /// A writer's report that it wrote `user`'s message `seq`: whether it left the queue.
    fn written(queues: &mut Queues, user: &str, seq: Seq) -> bool {
        let at = QueuedAt {
            recipient: Arc::from(user),
            seq,
        };
        queues.remove_written(&[at], &mut Vec::new()) == 1
    }

    /// What a login does with the backlog: takes it, handed as `how`.
    fn hand_over(queues: &mut Queues, user: &str, how: Delivery) -> Vec<Seq> {
        let backlog = queues.backlog_after(user, 0, usize::MAX, how);
        backlog.iter().map(|pending| pending.seq).collect()
    }

    #[test]
    fn each_bound_is_named() {
        let now = Instant::now();
        let (bob, carol) = ("bob", "carol");
        let mut queues = Queues::new(&limits(2, 10, 15), None);
        assert_eq!(
            queues.check_room("alice", "bob", 11),
            Err(QueueLimit::Bytes)
        );
        let p = pending(&mut queues, "1", "aaaaa", now);
        queues.push(bob, p);
        let p = pending(&mut queues, "2", "bbbb", now);
        queues.push(bob, p);
        assert_eq!(queues.check_room("alice", "bob", 1), Err(QueueLimit::Count));
        let p = pending(&mut queues, "3", "ccccc", now);
        queues.push(carol, p);
        assert_eq!(
            queues.check_room("alice", "carol", 6),
            Err(QueueLimit::Bytes)
        );
        assert_eq!(
            queues.check_room("alice", "carol", 2),
            Err(QueueLimit::TotalBytes)
        );
        assert_eq!(queues.check_room("alice", "carol", 1), Ok(()));
        assert_eq!(queues.totals(), (3, 14));
    }

    #[test]
    fn a_senders_messages_are_bounded_across_recipients_and_released_however_they_leave() {
        let now = Instant::now();
        let mut queues = Queues::new(
            &Limits {
                sender_queue_max_messages: 3,
                sender_queue_max_bytes: 10,
                ..limits(100, 1000, 1000)
            },
            None,
        );
        for (to, text) in [("bob", "aaaa"), ("carol", "bbbb"), ("dave", "c")] {
            assert_eq!(queues.check_room("alice", to, text.len()), Ok(()));
            let p = pending(&mut queues, text, text, now);
            queues.push(to, p);
        }
        assert_eq!(
            queues.check_room("alice", "erin", 1),
            Err(QueueLimit::SenderCount)
        );
        assert_eq!(queues.check_room("mallory", "erin", 10), Ok(()));
        assert_eq!(
            queues.check_room("mallory", "erin", 11),
            Err(QueueLimit::SenderBytes)
        );
        // Acknowledged, written or expired: each gives the sender its room back.
        hand_over(&mut queues, "bob", Delivery::AwaitingAck);
        assert_eq!(queues.ack("bob", None, "aaaa", &mut Vec::new()), 1);
        assert_eq!(
            queues.check_room("alice", "erin", 6),
            Err(QueueLimit::SenderBytes)
        );
        assert_eq!(queues.check_room("alice", "erin", 5), Ok(()));
        hand_over(&mut queues, "carol", Delivery::OnWrite);
        assert!(written(&mut queues, "carol", 2));
        assert_eq!(queues.expire(now + Duration::from_secs(60)).len(), 1);
        assert!(queues.usage.by_sender.is_empty());
    }

    #[test]
    fn acks_remove_written_entries_only_and_expiry_skips_them() {
        let now = Instant::now();
        let bob = "bob";
        let mut queues = Queues::new(&limits(10, 1000, 1000), None);
        let first = pending(&mut queues, "m1", "one", now);
        queues.push(bob, first);
        let second = pending(&mut queues, "m2", "two", now + Duration::from_secs(1));
        queues.push(bob, second);
        assert!(
            queues.ack("bob", None, "m1", &mut Vec::new()) == 0,
            "not written yet"
        );
        assert_eq!(hand_over(&mut queues, "bob", Delivery::AwaitingAck), [1, 2]);
        assert!(
            !written(&mut queues, "bob", 1),
            "an acks client's: kept until its ack"
        );
        assert_eq!(queues.ack("bob", None, "m1", &mut Vec::new()), 1);
        assert!(
            queues.ack("bob", None, "m1", &mut Vec::new()) == 0,
            "idempotent"
        );
        assert!(queues.expire(now + Duration::from_secs(60)).is_empty());
        let expired = queues.expire(now + Duration::from_secs(61));
        assert_eq!(expired.len(), 1);
        assert_eq!(&*expired[0].id, "m2");
        assert!(expired[0].written);
        assert_eq!(queues.totals(), (0, 0));
        assert!(queues.by_user.is_empty());
    }

    #[test]
    fn a_queue_that_empties_and_fills_again_keeps_one_expiry_entry_and_exact_ttls() {
        let start = Instant::now();
        let mut queues = Queues::new(&limits(10, 1000, 1000), None);
        // An `acks` client: each message is written, then acknowledged, 10,000 times.
        for n in 0..10_000u64 {
            let at = start + Duration::from_millis(n);
            let mut p = pending(&mut queues, &format!("m{n}"), "x", at);
            p.delivery = Delivery::AwaitingAck;
            let seq = p.seq;
            queues.push("bob", p);
            assert_eq!(
                queues.ack("bob", None, &format!("m{n}"), &mut Vec::new()),
                1
            );
            assert_eq!(queues.totals(), (0, 0));
            assert_eq!(
                queues.ack("bob", None, &format!("m{n}"), &mut Vec::new()),
                0,
                "seq {seq}"
            );
        }
        assert_eq!(
            queues.expiry.len(),
            1,
            "one entry per recipient, not per message"
        );
        // The entry is due at the first message's deadline; nothing is left to expire then.
        assert_eq!(
            queues.next_deadline(),
            Some(start + Duration::from_secs(60))
        );
        // A message accepted later expires at its own deadline, not the stale one.
        let late = start + Duration::from_secs(30);
        let p = pending(&mut queues, "late", "y", late);
        queues.push("bob", p);
        assert!(queues.expire(start + Duration::from_secs(60)).is_empty());
        assert_eq!(queues.next_deadline(), Some(late + Duration::from_secs(60)));
        assert!(
            queues
                .expire(late + Duration::from_secs(60) - Duration::from_millis(1))
                .is_empty()
        );
        let expired = queues.expire(late + Duration::from_secs(60));
        assert_eq!(expired.len(), 1);
        assert_eq!((&*expired[0].id, &*expired[0].to), ("late", "bob"));
        assert!(queues.by_user.is_empty() && queues.expiry.is_empty());
        assert_eq!(queues.next_deadline(), None);
    }

    #[test]
    fn an_empty_queue_gives_its_memory_back_when_its_user_leaves() {
        let now = Instant::now();
        let mut queues = Queues::new(&limits(1000, 100_000, 100_000), None);
        for n in 0..100 {
            let p = pending(&mut queues, &format!("m{n}"), "x", now);
            queues.push("bob", p);
        }
        queues.release_if_empty("bob");
        assert_eq!(queues.totals(), (100, 100), "not empty: kept");
        assert_eq!(hand_over(&mut queues, "bob", Delivery::OnWrite).len(), 100);
        for seq in 1..=100 {
            assert!(written(&mut queues, "bob", seq));
        }
        let capacity = |queues: &Queues| queues.by_user["bob"].entries.capacity();
        assert!(capacity(&queues) <= EMPTY_QUEUE_KEEP);
        queues.release_if_empty("bob");
        assert_eq!(capacity(&queues), 0);
        // Still scheduled: the queue leaves the map when its expiry entry comes due.
        assert_eq!(queues.expiry.len(), 1);
        assert!(queues.expire(now + Duration::from_secs(60)).is_empty());
        assert!(queues.by_user.is_empty() && queues.expiry.is_empty());
    }

    #[test]
    fn a_message_delivered_on_write_leaves_only_when_written_and_only_itself() {
        let now = Instant::now();
        let mut queues = Queues::new(&limits(10, 1000, 1000), None);
        for id in ["a", "b", "c"] {
            let p = pending(&mut queues, id, id, now);
            queues.push("bob", p);
        }
        assert!(!written(&mut queues, "bob", 2), "not handed over yet");
        assert_eq!(hand_over(&mut queues, "bob", Delivery::OnWrite), [1, 2, 3]);
        assert!(written(&mut queues, "bob", 2));
        assert!(!written(&mut queues, "bob", 2), "once");
        assert!(!written(&mut queues, "carol", 1));
        // The connection died before writing the others: they are the next backlog.
        let left = queues.backlog_after("bob", 0, 10, Delivery::OnWrite);
        let ids: Vec<&str> = left.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["a", "c"]);
        assert!(left.iter().all(|p| p.delivery.handed_over()));
        assert_eq!(queues.totals(), (2, 2));
    }

    #[test]
    fn a_writers_batch_leaves_its_queues_with_one_lookup_per_recipient_and_sender() {
        let now = Instant::now();
        let mut queues = Queues::new(&limits(10, 1000, 1000), None);
        for (to, id) in [("bob", "a"), ("bob", "b"), ("carol", "c"), ("bob", "d")] {
            let p = pending(&mut queues, id, id, now);
            queues.push(to, p);
        }
        hand_over(&mut queues, "bob", Delivery::OnWrite);
        hand_over(&mut queues, "carol", Delivery::OnWrite);
        let at = |to: &str, seq| QueuedAt {
            recipient: Arc::from(to),
            seq,
        };
        // Unknown seqs and recipients are skipped; the rest leave, whatever the order.
        let batch = [
            at("bob", 1),
            at("bob", 2),
            at("dave", 1),
            at("carol", 3),
            at("bob", 9),
        ];
        assert_eq!(queues.remove_written(&batch, &mut Vec::new()), 3);
        assert_eq!(queues.totals(), (1, 1));
        assert_eq!(queues.usage.by_sender["alice"].messages, 1);
        assert_eq!(queues.remove_written(&[at("bob", 4)], &mut Vec::new()), 1);
        assert!(queues.usage.by_sender.is_empty());
    }

    #[test]
    fn written_unacknowledged_messages_still_expire_and_say_so() {
        let now = Instant::now();
        let mut queues = Queues::new(&limits(10, 1000, 1000), None);
        for (id, after) in [("a", 0), ("b", 5), ("c", 10)] {
            let p = pending(&mut queues, id, id, now + Duration::from_secs(after));
            queues.push("bob", p);
        }
        for pending in queues.backlog_after("bob", 0, 2, Delivery::AwaitingAck) {
            assert_eq!(pending.delivery, Delivery::Waiting, "as it was");
        }
        assert_eq!(queues.ack("bob", None, "a", &mut Vec::new()), 1);
        let expired = queues.expire(now + Duration::from_secs(65));
        assert_eq!(expired.len(), 1);
        assert_eq!(&*expired[0].id, "b");
        assert!(expired[0].written);
        assert_eq!(queues.totals(), (1, 1));
        let left = queues.backlog_after("bob", 0, 10, Delivery::OnWrite);
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].id.as_str(), "c");
    }

    #[test]
    fn the_dedupe_window_forgets_by_age_and_by_count() {
        let now = Instant::now();
        let mut dedupe = Dedupe::new(Duration::from_secs(10), 2);
        let record = |dedupe: &mut Dedupe, id: &str| {
            let key = dedupe.key("alice", id, "bob");
            dedupe.record(key, AckStatus::Queued, now);
        };
        let seen = |dedupe: &mut Dedupe, sender: &str, id: &str, to: &str, at: Instant| {
            let key = dedupe.key(sender, id, to);
            dedupe.lookup(key, at)
        };
        record(&mut dedupe, "a");
        assert_eq!(
            seen(&mut dedupe, "alice", "a", "bob", now),
            Some(AckStatus::Queued)
        );
        assert_eq!(seen(&mut dedupe, "mallory", "a", "bob", now), None);
        assert_eq!(seen(&mut dedupe, "alice", "a", "carol", now), None);
        assert_eq!(seen(&mut dedupe, "alic", "ea", "bob", now), None);
        record(&mut dedupe, "b");
        record(&mut dedupe, "c");
        assert_eq!(
            seen(&mut dedupe, "alice", "a", "bob", now),
            None,
            "count bound"
        );
        assert!(seen(&mut dedupe, "alice", "b", "bob", now).is_some());
        let later = now + Duration::from_secs(10);
        assert_eq!(
            seen(&mut dedupe, "alice", "c", "bob", later),
            None,
            "time bound"
        );
        assert!(dedupe.seen.is_empty());
    }

    #[test]
    fn a_key_hit_with_another_check_is_not_a_duplicate() {
        let now = Instant::now();
        let mut dedupe = Dedupe::new(Duration::from_secs(10), 10);
        let key = dedupe.key("alice", "a", "bob");
        dedupe.record(key, AckStatus::Delivered, now);
        let colliding = DedupeKey {
            key: key.key,
            check: key.check ^ 1,
        };
        assert_eq!(dedupe.lookup(colliding, now), None);
        assert_eq!(dedupe.lookup(key, now), Some(AckStatus::Delivered));
    }

    #[test]
    fn a_triple_recorded_again_outlives_its_first_record_and_keeps_its_status() {
        let now = Instant::now();
        let mut dedupe = Dedupe::new(Duration::from_secs(10), 2);
        let a = dedupe.key("alice", "a", "bob");
        let b = dedupe.key("alice", "b", "bob");
        dedupe.record(a, AckStatus::Queued, now);
        dedupe.record(a, AckStatus::Delivered, now);
        // The count bound forgets the first record of `a`, not its second.
        dedupe.record(b, AckStatus::Queued, now);
        assert_eq!(dedupe.lookup(a, now), Some(AckStatus::Delivered));
        assert_eq!(dedupe.lookup(b, now), Some(AckStatus::Queued));
        assert_eq!(dedupe.seen.len(), 2);
        assert_eq!(std::mem::size_of::<Seen>(), 16);
    }

    #[test]
    fn ids_compare_equal_exactly_when_they_are() {
        for (a, b) in [
            ("", ""),
            ("m", "m"),
            ("m-1-12345", "m-1-12345"),
            ("0123456789abcdef", "0123456789abcdef"),
        ] {
            assert!(same_id(a.as_bytes(), b.as_bytes()), "{a} {b}");
        }
        for (a, b) in [
            ("", "m"),
            ("m-1-12345", "m-1-12346"),
            ("m-1-12345", "n-1-12345"),
            ("x0123456789", "y0123456789"),
            ("1234567", "1234568"),
            ("m-1-1234", "m-1-12345"),
        ] {
            let (x, y) = (a.as_bytes(), b.as_bytes());
            assert!(!same_id(x, y) && !same_id(y, x), "{a} {b}");
        }
    }

    #[test]
    fn message_ids_keep_their_text_inline_or_shared() {
        let uuid = "0b8f3c1e-5d2a-4c7b-9e61-2f4a8d9c0e13";
        for id in [
            "",
            "m-1-2",
            uuid,
            &"é".repeat(19),
            &"x".repeat(39),
            &"y".repeat(300),
        ] {
            let kept = MessageId::new(id);
            assert_eq!((kept.as_str(), kept.as_bytes()), (id, id.as_bytes()));
            let inline = matches!(kept, MessageId::Inline { .. });
            assert_eq!(inline, id.len() <= INLINE_ID, "{id}");
        }
    }
}
