//! MessageStore against the original's behaviours (reference §9.2), its defects, and real
//! files written by the Python original and edited in Emacs.

use std::fs;
use std::path::{Path, PathBuf};

use assert_fs::TempDir;
use msg_core::org::Document;
use msg_store::{
    DELIVERY_PENDING, DELIVERY_PROPERTY, DeliveryState, Incoming, Message, MessageKind,
    MessageState, MessageStore, NewFileDelivery, NewMessage, Priority, Receipt, StoreError,
};
use time::macros::datetime;

fn store() -> (TempDir, MessageStore) {
    let dir = TempDir::new().unwrap();
    let store = MessageStore::open(dir.path()).unwrap();
    (dir, store)
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// A space whose inbox is a copy of `fixture`.
fn space_with_inbox(fixture: &str) -> (TempDir, MessageStore, Vec<u8>) {
    let dir = TempDir::new().unwrap();
    let messaging = dir.path().join("org/messaging");
    fs::create_dir_all(&messaging).unwrap();
    let bytes = fs::read(fixtures().join(fixture)).unwrap();
    fs::write(messaging.join("inbox.org"), &bytes).unwrap();
    let store = MessageStore::open(dir.path()).unwrap();
    (dir, store, bytes)
}

fn report() -> NewFileDelivery {
    NewFileDelivery {
        from: "tex".into(),
        filename: "report.pdf".into(),
        size: 2_400_000,
        content_type: "application/pdf".into(),
        swarm_ref: "abc123".into(),
        fairdrop_ref: String::new(),
    }
}

// --- The original's tests (reference §9.2), one per behaviour ---

#[test]
fn a_new_message_is_unread_with_its_fields() {
    let (_dir, store) = store();
    let m = store
        .create_message(&NewMessage::new("gregor", "tex", "hi"))
        .unwrap();
    assert_eq!(m.state, MessageState::Unread);
    assert_eq!(m.keyword.as_deref(), Some("TODO"));
    assert_eq!(m.tags, ["unread", "message"]);
    assert_eq!((m.from.as_str(), m.to.as_deref()), ("gregor", Some("tex")));
    assert!(m.id.starts_with("msg-"));
    let on_disk = store.by_id(&m.id).unwrap().unwrap();
    assert_eq!(on_disk.line, Some(2));
    assert_eq!(
        Message {
            line: None,
            ..on_disk
        },
        m,
        "the snapshot is what the file says"
    );
}

#[test]
fn a_reply_joins_its_parents_thread() {
    let (_dir, store) = store();
    let root = store
        .create_message(&NewMessage::new("a", "b", "root"))
        .unwrap();
    let reply = store
        .create_message(&NewMessage::new("b", "a", "r1").reply_to(&root.id))
        .unwrap();
    assert_eq!(reply.reply_to.as_deref(), Some(root.id.as_str()));
    assert_eq!(reply.thread.as_deref(), Some(root.id.as_str()));
    // A reply to a reply keeps the root (looked up on disk).
    let nested = store
        .create_message(&NewMessage::new("a", "b", "r2").reply_to(&reply.id))
        .unwrap();
    assert_eq!(nested.thread.as_deref(), Some(root.id.as_str()));
    // A parent we do not have: the thread starts at the ID given.
    let orphan = store
        .create_message(&NewMessage::new("a", "b", "x").reply_to("msg-elsewhere"))
        .unwrap();
    assert_eq!(orphan.thread.as_deref(), Some("msg-elsewhere"));
    let thread: Vec<String> = store
        .thread(&root.id)
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(
        thread,
        [root.id.clone(), reply.id, nested.id],
        "root included, in order"
    );
}

#[test]
fn ids_differ_for_different_and_identical_content() {
    let (_dir, store) = store();
    let a = store
        .create_message(&NewMessage::new("a", "b", "one"))
        .unwrap();
    let b = store
        .create_message(&NewMessage::new("a", "b", "two"))
        .unwrap();
    let c = store
        .create_message(&NewMessage::new("a", "b", "two"))
        .unwrap();
    assert!(a.id != b.id && b.id != c.id);
}

#[test]
fn an_earlier_handle_stays_usable_after_more_creates() {
    let (_dir, store) = store();
    let first = store
        .create_message(&NewMessage::new("a", "b", "first"))
        .unwrap();
    store
        .create_message(&NewMessage::new("a", "b", "second"))
        .unwrap();
    assert_eq!(first.from, "a");
    let read = store.mark_read(&first.id).unwrap();
    assert_eq!(read.state, MessageState::Read);
}

#[test]
fn unread_counts_follow_mark_read() {
    let (_dir, store) = store();
    let a = store
        .create_message(&NewMessage::new("a", "b", "1"))
        .unwrap();
    let b = store
        .create_message(&NewMessage::new("a", "b", "2"))
        .unwrap();
    assert_eq!(store.unread().unwrap().len(), 2);
    store.mark_read(&a.id).unwrap();
    store.mark_read(&b.id).unwrap();
    assert!(store.unread().unwrap().is_empty());
}

#[test]
fn mark_read_then_archive() {
    let (_dir, store) = store();
    let m = store
        .create_message(&NewMessage::new("a", "b", "1"))
        .unwrap();
    let read = store.mark_read(&m.id).unwrap();
    assert_eq!(
        (read.keyword.as_deref(), read.tags.as_slice()),
        (Some("DONE"), &["message".to_owned()][..])
    );
    let archived = store.archive(&m.id).unwrap();
    assert_eq!(archived.state, MessageState::Archived);
}

#[test]
fn line_breaks_in_fields_name_the_field() {
    let (_dir, store) = store();
    let check = |result: Result<_, StoreError>, field: &str| {
        let err = result.unwrap_err();
        assert!(err.to_string().starts_with(field), "{err}");
    };
    check(
        store.create_message(&NewMessage::new("a\nb", "t", "x")),
        "from_actor",
    );
    check(
        store.create_message(&NewMessage::new("a", "t\r", "x")),
        "to_actor",
    );
    check(
        store.create_message(&NewMessage::new("a", "t", "x").reply_to("m\n* TODO x")),
        "reply_to",
    );
    check(
        store.create_message(&NewMessage::new("a", "t", "x").property("CUSTOM", "1\n2")),
        "CUSTOM",
    );
    check(
        store.create_file_delivery(&NewFileDelivery {
            filename: "a\nb.pdf".into(),
            ..report()
        }),
        "filename",
    );
    let inbox = fs::read_to_string(store.inbox_path()).unwrap();
    assert_eq!(
        inbox, "#+TODO: TODO WAITING QUEUED WORKING | DONE CANCELLED ARCHIVED\n",
        "nothing written"
    );
}

#[test]
fn a_multi_line_body_is_allowed_and_cannot_forge_entries() {
    let (_dir, store) = store();
    let body =
        "line one\n* TODO forged :unread:message:\n:PROPERTIES:\n:ID: forged\n:END:\n#+TODO: EVIL";
    let m = store
        .create_message(&NewMessage::new("stranger", "gregor", body))
        .unwrap();
    assert_eq!(m.body, body);
    let all = store.all().unwrap();
    assert_eq!(all.len(), 1, "exactly one entry: {all:?}");
    assert_eq!(all[0].body, body);
}

#[test]
fn file_deliveries_have_the_originals_properties() {
    let (_dir, store) = store();
    let d = store.create_file_delivery(&report()).unwrap();
    assert_eq!(d.kind, MessageKind::FileDelivery);
    assert_eq!(d.tags, ["unread", "file_delivery"]);
    assert_eq!(d.property("FILENAME"), Some("report.pdf"));
    assert_eq!(d.property("SIZE"), Some("2400000"));
    assert_eq!(d.property("DOWNLOADED"), Some("false"));
    assert_eq!(d.property("FAIRDROP_REF"), Some(""));
    assert!(d.id.starts_with("file-"));
    assert_eq!(
        store.mark_downloaded(&d.id).unwrap().property("DOWNLOADED"),
        Some("true")
    );
}

// --- Beyond the original ---

#[test]
fn unread_tells_messages_and_file_deliveries_apart() {
    let (_dir, store) = store();
    store
        .create_message(&NewMessage::new("a", "b", "1"))
        .unwrap();
    store.create_file_delivery(&report()).unwrap();
    let kinds: Vec<MessageKind> = store
        .unread()
        .unwrap()
        .into_iter()
        .map(|m| m.kind)
        .collect();
    assert_eq!(kinds, [MessageKind::Message, MessageKind::FileDelivery]);
    assert_eq!(store.messages().unwrap().len(), 1);
    assert_eq!(store.file_deliveries(true).unwrap().len(), 1);
}

#[test]
fn extra_properties_cannot_override_what_the_store_sets() {
    let (_dir, store) = store();
    for key in ["FROM", "to", "ID", "CREATED", "THREAD"] {
        let err = store
            .create_message(&NewMessage::new("a", "b", "x").property(key, "forged"))
            .unwrap_err();
        assert!(
            matches!(err, StoreError::ReservedProperty { .. }),
            "{key}: {err}"
        );
    }
    let m = store
        .create_message(&NewMessage::new("a", "b", "x").property("CHANNEL", "review"))
        .unwrap();
    assert_eq!(m.property("CHANNEL"), Some("review"));
}

#[test]
fn priorities_are_org_cookies_and_the_originals_drawer_line_is_read() {
    let (_dir, store) = store();
    let m = store
        .create_message(&NewMessage::new("a", "b", "x").priority(Priority::High))
        .unwrap();
    assert_eq!(m.priority, Priority::High);
    let text = fs::read_to_string(store.inbox_path()).unwrap();
    assert!(text.contains("* TODO [#A] ["), "{text}");
    let (_dir, store, _) =
        space_with_inbox("python-v0.2.0/root/0-personal/org/messaging/inbox.org");
    let high = store
        .by_id("msg-20261124-070853-8afa25ad")
        .unwrap()
        .unwrap();
    assert_eq!(high.priority, Priority::High);
}

#[test]
fn sent_messages_go_to_the_outbox_not_the_inbox() {
    let (_dir, store) = store();
    let question = store
        .create_message(&NewMessage::new("tex", "gregor", "review?"))
        .unwrap();
    let sent = store
        .record_sent(&NewMessage::new("gregor", "tex", "yes").reply_to(&question.id))
        .unwrap();
    assert_eq!(sent.thread.as_deref(), Some(question.id.as_str()));
    assert_eq!(
        store.unread().unwrap().len(),
        1,
        "our own reply is not unread in our inbox"
    );
    let on_disk: Vec<Message> = store
        .sent()
        .unwrap()
        .into_iter()
        .map(|m| Message { line: None, ..m })
        .collect();
    assert_eq!(on_disk, std::slice::from_ref(&sent));
    // A reply to something we sent finds its thread in the outbox.
    let back = store
        .create_message(&NewMessage::new("tex", "gregor", "thanks").reply_to(&sent.id))
        .unwrap();
    assert_eq!(back.thread.as_deref(), Some(question.id.as_str()));
    let ids: Vec<String> = store
        .thread(&question.id)
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(
        ids,
        [question.id.clone(), sent.id, back.id],
        "conversation order"
    );
}

#[test]
fn transitions_start_from_the_state_in_the_file_now() {
    let (_dir, store) = store();
    let m = store
        .create_message(&NewMessage::new("a", "b", "x"))
        .unwrap();
    // A person cancels it in Emacs.
    let text = fs::read_to_string(store.inbox_path()).unwrap();
    fs::write(
        store.inbox_path(),
        text.replacen("* TODO", "* CANCELLED", 1),
    )
    .unwrap();
    let err = store.mark_read(&m.id).unwrap_err();
    assert!(
        err.to_string().starts_with(&format!(
            "cannot mark read message {}: it is CANCELLED (line 2 of",
            m.id
        )),
        "{err}"
    );
    let err = store.archive("msg-missing").unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    // Archiving from unread clears the tag; mark_unread brings a read one back.
    let n = store
        .create_message(&NewMessage::new("a", "b", "y"))
        .unwrap();
    assert_eq!(store.archive(&n.id).unwrap().tags, ["message"]);
    let o = store
        .create_message(&NewMessage::new("a", "b", "z"))
        .unwrap();
    store.mark_read(&o.id).unwrap();
    let again = store.mark_unread(&o.id).unwrap();
    assert!(again.is_unread());
    assert_eq!(again.tags, ["unread", "message"]);
}

/// The Python original's files: read with the same meaning, and our writes keep working.
#[test]
fn python_files_read_the_same_and_keep_working() {
    let (_dir, store, _) =
        space_with_inbox("python-v0.2.0/root/0-personal/org/messaging/inbox.org");
    let unread: Vec<(String, MessageKind)> = store
        .unread()
        .unwrap()
        .into_iter()
        .map(|m| (m.id, m.kind))
        .collect();
    assert_eq!(
        unread,
        [
            ("msg-20261124-070853-75ae0f47".into(), MessageKind::Message),
            ("msg-20261124-070853-e29f763d".into(), MessageKind::Message),
            (
                "file-20261124-070853-68f03cf7".into(),
                MessageKind::FileDelivery
            ),
        ]
    );
    let thread: Vec<String> = store
        .thread("msg-20261124-070853-f0089658")
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(thread.len(), 3);
    store.mark_read("msg-20261124-070853-75ae0f47").unwrap();
    store
        .create_message(
            &NewMessage::new("gregor", "tex", "ok").reply_to("msg-20261124-070853-75ae0f47"),
        )
        .unwrap();
    let all = store.all().unwrap();
    assert_eq!(all.len(), 6);
    assert_eq!(
        all[5].thread.as_deref(),
        Some("msg-20261124-070853-f0089658")
    );
}

/// A person's Emacs edits around the messages stay byte for byte (CRLF and no final newline
/// included) while mark_read and archive work.
#[test]
fn emacs_edited_inboxes_keep_every_other_byte() {
    for fixture in [
        "emacs/inbox-edited-in-emacs.org",
        "emacs/inbox-crlf.org",
        "emacs/inbox-no-final-newline.org",
    ] {
        let (_dir, store, original) = space_with_inbox(fixture);
        let doc = Document::parse(
            original.clone(),
            &msg_core::org::TodoKeywords::parse(msg_store::STATES),
        );
        let target = doc
            .find_by_id("msg-20261124-070853-e29f763d")
            .unwrap()
            .unwrap()
            .ranges()
            .section_range();
        store.mark_read("msg-20261124-070853-e29f763d").unwrap();
        store.archive("msg-20261124-070853-e29f763d").unwrap();
        let after = fs::read(store.inbox_path()).unwrap();
        let new_doc = Document::parse(
            after.clone(),
            &msg_core::org::TodoKeywords::parse(msg_store::STATES),
        );
        let new_target = new_doc
            .find_by_id("msg-20261124-070853-e29f763d")
            .unwrap()
            .unwrap()
            .ranges()
            .section_range();
        assert_eq!(after[..target.start], original[..target.start], "{fixture}");
        assert_eq!(after[new_target.end..], original[target.end..], "{fixture}");
        let m = store
            .by_id("msg-20261124-070853-e29f763d")
            .unwrap()
            .unwrap();
        assert_eq!(
            (m.state, m.tags),
            (MessageState::Archived, vec!["message".to_owned()])
        );
        if fixture.contains("crlf") {
            assert!(
                !String::from_utf8_lossy(&after)
                    .replace("\r\n", "")
                    .contains('\n'),
                "all CRLF"
            );
        }
    }
}

#[test]
fn old_read_messages_move_to_a_monthly_archive_file() {
    let (dir, store, original) = space_with_inbox("emacs/inbox-edited-in-emacs.org");
    let report = store
        .archive_older_than(30, datetime!(2027-01-15 10:00 UTC))
        .unwrap();
    // The two read/archived roots move (with the person's child notes); unread ones stay.
    assert_eq!(
        report.moved,
        [
            "msg-20261124-070853-f0089658",
            "msg-20261124-070853-8afa25ad",
            "msg-20261124-070853-75ae0f47"
        ]
    );
    let archive = report.archive_file.unwrap();
    assert_eq!(
        archive,
        dir.path().join("org/messaging/archive/inbox-2027-01.org")
    );
    let remaining: Vec<String> = store.all().unwrap().into_iter().map(|m| m.id).collect();
    assert_eq!(
        remaining,
        [
            "msg-20261124-070853-e29f763d",
            "file-20261124-070853-68f03cf7"
        ]
    );
    let after = fs::read_to_string(store.inbox_path()).unwrap();
    let original = String::from_utf8(original).unwrap();
    assert!(after.starts_with("#+TITLE: Messages\n#+STARTUP: overview\nSome words a person wrote"));
    assert!(original.ends_with(&after[after.find("* TODO [#A]").unwrap()..]));
    let archived = fs::read_to_string(&archive).unwrap();
    insta::assert_snapshot!(
        "archive_file",
        archived.replace(&store.inbox_path().display().to_string(), "<inbox>")
    );
    // Nothing is old enough a second time.
    assert!(
        store
            .archive_older_than(30, datetime!(2027-01-15 10:00 UTC))
            .unwrap()
            .moved
            .is_empty()
    );
}

// --- Received messages (the relay's deliveries) and delivery states of sent ones ---

fn incoming(from: &str, id: &str, content: &str) -> Incoming {
    Incoming {
        from: from.into(),
        to: "bob".into(),
        content: content.into(),
        id: id.into(),
        timestamp: "2026-11-24T10:00:00".into(),
        ..Incoming::default()
    }
}

#[test]
fn a_redelivery_is_not_written_twice() {
    let (_dir, store) = store();
    let first = store.receive(&incoming("alice", "msg-1", "hello")).unwrap();
    assert_eq!(
        first,
        Receipt {
            id: "msg-1".into(),
            new: true
        }
    );
    let bytes = fs::read(store.inbox_path()).unwrap();
    let again = store.receive(&incoming("alice", "msg-1", "hello")).unwrap();
    assert_eq!(
        again,
        Receipt {
            id: "msg-1".into(),
            new: false
        }
    );
    assert_eq!(
        fs::read(store.inbox_path()).unwrap(),
        bytes,
        "nothing written"
    );
    let all = store.all().unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].body, "hello");
    assert!(all[0].is_unread());
}

#[test]
fn a_received_message_is_written_in_the_canonical_form() {
    let (_dir, store) = store();
    let mut message = incoming(
        "alice",
        "msg-20261124-100000-0123456789ab",
        "hi\n* not a heading",
    );
    message.timestamp = "[2026-11-24 Tue 10:00]".into();
    message.reply_to = Some("msg-0".into());
    message.thread = Some("msg-0".into());
    store.receive(&message).unwrap();
    let received = store.all().unwrap()[0]
        .property("RECEIVED")
        .unwrap()
        .to_owned();
    let text = fs::read_to_string(store.inbox_path())
        .unwrap()
        .replace(&received, "[RECEIVED]");
    assert_eq!(
        text,
        "#+TODO: TODO WAITING QUEUED WORKING | DONE CANCELLED ARCHIVED\n\
         * TODO [RECEIVED] alice: hi :unread:message:\n\
         \x20 :PROPERTIES:\n\
         \x20 :ID: msg-20261124-100000-0123456789ab\n\
         \x20 :FROM: alice\n\
         \x20 :TO: bob\n\
         \x20 :REPLY_TO: msg-0\n\
         \x20 :THREAD: msg-0\n\
         \x20 :CREATED: [2026-11-24 Tue 10:00]\n\
         \x20 :RECEIVED: [RECEIVED]\n\
         \x20 :VIA: relay\n\
         \x20 :END:\n\
         \x20 hi\n\
         \x20 * not a heading\n"
    );
}

#[test]
fn another_sender_cannot_suppress_a_message_by_reusing_its_id() {
    let (_dir, store) = store();
    store
        .receive(&incoming("alice", "msg-1", "from alice"))
        .unwrap();
    let mallory = store
        .receive(&incoming("mallory", "msg-1", "from mallory"))
        .unwrap();
    assert!(mallory.new);
    assert!(mallory.id.starts_with("msg-1-"), "{}", mallory.id);
    let again = store
        .receive(&incoming("mallory", "msg-1", "from mallory"))
        .unwrap();
    assert_eq!(again.id, mallory.id);
    assert!(!again.new);
    // Alice's redelivery is still recognised as hers.
    assert!(
        !store
            .receive(&incoming("alice", "msg-1", "from alice"))
            .unwrap()
            .new
    );
    let all = store.all().unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(
        (all[0].id.as_str(), all[0].from.as_str()),
        ("msg-1", "alice")
    );
    assert_eq!(all[0].property("ORIGINAL_ID"), None);
    assert_eq!(all[1].from, "mallory");
    assert_eq!(all[1].property("ORIGINAL_ID"), Some("msg-1"));
}

#[test]
fn hostile_received_fields_cannot_forge_structure() {
    let (_dir, store) = store();
    let mut message = incoming("alice", "bad id\n:FROM: owner", "* DONE forged\n:END:");
    message.reply_to = Some("x\n* y".into());
    message.timestamp = "now\n* DONE forged".into();
    let receipt = store.receive(&message).unwrap();
    assert!(receipt.id.starts_with("relay-"), "{}", receipt.id);
    let again = store.receive(&message).unwrap();
    assert_eq!(again.id, receipt.id);
    assert!(!again.new);
    let all = store.all().unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].from, "alice");
    assert_eq!(all[0].reply_to, None);
    assert_eq!(all[0].body, "* DONE forged\n:END:");
    assert_eq!(all[0].created.as_deref(), all[0].property("RECEIVED"));
    // An ID too long to be a sender's is replaced too.
    let long = store
        .receive(&incoming("alice", &"x".repeat(129), "long"))
        .unwrap();
    assert!(long.id.starts_with("relay-"), "{}", long.id);
    // A sender or recipient that is not an actor name is refused, naming the field.
    let err = store.receive(&incoming("a\nb", "m", "x")).unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");
    assert!(err.to_string().contains("from"), "{err}");
    let mut to_nobody = incoming("alice", "m2", "x");
    to_nobody.to = " ".into();
    assert!(store.receive(&to_nobody).is_err());
    assert_eq!(store.all().unwrap().len(), 2);
}

#[test]
fn a_batch_is_one_write_and_repeats_within_it_are_stored_once() {
    let (_dir, store) = store();
    store
        .receive(&incoming("alice", "msg-0", "before"))
        .unwrap();
    let batch = [
        incoming("alice", "msg-0", "before"),
        incoming("alice", "msg-1", "one"),
        incoming("a\nb", "msg-2", "bad sender"),
        incoming("alice", "msg-1", "one"),
        incoming("carol", "msg-1", "carol's one"),
        incoming("alice", "msg-3", "three"),
    ];
    let results = store.receive_all(&batch).unwrap();
    let summary: Vec<Option<(String, bool)>> = results
        .iter()
        .map(|r| r.as_ref().ok().map(|r| (r.id.clone(), r.new)))
        .collect();
    let carol = summary[4].clone().unwrap().0;
    assert!(carol.starts_with("msg-1-"), "{carol}");
    assert_eq!(
        summary,
        [
            Some(("msg-0".into(), false)),
            Some(("msg-1".into(), true)),
            None,
            Some(("msg-1".into(), false)),
            Some((carol, true)),
            Some(("msg-3".into(), true)),
        ]
    );
    let bodies: Vec<String> = store.all().unwrap().into_iter().map(|m| m.body).collect();
    assert_eq!(bodies, ["before", "one", "carol's one", "three"]);
    assert!(store.receive_all(&[]).unwrap().is_empty());
}

#[test]
fn a_batch_that_cannot_be_written_writes_nothing() {
    // An inbox that is not UTF-8 is refused before any append: the whole batch fails (the
    // caller acknowledges nothing, so the relay delivers it again) and the file is as it was.
    let (_dir, store) = store();
    store
        .receive(&incoming("alice", "msg-0", "before"))
        .unwrap();
    let mut bytes = fs::read(store.inbox_path()).unwrap();
    bytes.extend_from_slice(b"* TODO broken \xff\xfe by hand\n");
    fs::write(store.inbox_path(), &bytes).unwrap();
    let err = store
        .receive_all(&[
            incoming("alice", "msg-1", "one"),
            incoming("bob", "msg-2", "two"),
        ])
        .unwrap_err();
    assert!(matches!(err, StoreError::Org(_)), "{err}");
    assert!(err.to_string().contains("inbox.org"), "{err}");
    assert_eq!(fs::read(store.inbox_path()).unwrap(), bytes);
}

#[test]
fn delivery_is_recorded_once_on_pending_messages() {
    let (_dir, store) = store();
    let sent = store
        .record_sent(
            &NewMessage::new("bob", "alice", "hi").property(DELIVERY_PROPERTY, DELIVERY_PENDING),
        )
        .unwrap();
    let id = sent.id;
    let pending = |sender: &str| store.pending_deliveries(&[sender]).unwrap().len();
    assert_eq!((pending("bob"), pending("carol")), (1, 0));
    store.record_attempt_error(&id, "rate_limited").unwrap();
    assert_eq!(pending("bob"), 1, "an attempt's error leaves it pending");
    assert_eq!(
        store.sent().unwrap()[0].property("DELIVERY_ERROR"),
        Some("rate_limited")
    );
    let bytes = fs::read(store.outbox_path()).unwrap();
    store.record_attempt_error(&id, "rate_limited").unwrap();
    assert_eq!(
        fs::read(store.outbox_path()).unwrap(),
        bytes,
        "a repeat writes nothing"
    );
    assert!(store.record_delivery(&id, &DeliveryState::Queued).unwrap());
    assert!(!store.record_delivery(&id, &DeliveryState::Queued).unwrap());
    let sent = store.sent().unwrap();
    assert_eq!(sent[0].property("DELIVERY"), Some("queued"));
    // Queued is not delivered (issue 19, defect 14): only QUEUED_AT.
    assert!(sent[0].property("QUEUED_AT").is_some());
    assert_eq!(sent[0].property("DELIVERED_AT"), None);
    assert_eq!(pending("bob"), 0);
    assert!(
        !store
            .record_delivery("msg-unknown", &DeliveryState::Queued)
            .unwrap()
    );
    // Queued, then the relay says the recipient took it: delivered, once.
    assert!(
        store
            .record_delivery(&id, &DeliveryState::Delivered)
            .unwrap()
    );
    assert!(
        !store
            .record_delivery(&id, &DeliveryState::Delivered)
            .unwrap()
    );
    let sent = store.sent().unwrap();
    assert_eq!(sent[0].property("DELIVERY"), Some("delivered"));
    assert!(sent[0].property("DELIVERED_AT").is_some());
    // Delivered is final: a late `expired` changes nothing.
    assert!(
        !store
            .record_delivery(&id, &DeliveryState::Failed("expired".into()))
            .unwrap()
    );
    // Queued, then expired at the relay: failed after all.
    let other = store
        .record_sent(
            &NewMessage::new("bob", "alice", "again").property(DELIVERY_PROPERTY, DELIVERY_PENDING),
        )
        .unwrap()
        .id;
    assert!(
        store
            .record_delivery(&other, &DeliveryState::Queued)
            .unwrap()
    );
    assert!(
        store
            .record_delivery(&other, &DeliveryState::Failed("expired".into()))
            .unwrap()
    );
    let sent = store.sent().unwrap();
    assert_eq!(sent[1].property("DELIVERY"), Some("failed"));
    assert_eq!(sent[1].property("DELIVERY_ERROR"), Some("expired"));
    assert!(
        !store
            .record_delivery(&other, &DeliveryState::Delivered)
            .unwrap()
    );
    // A message sent without the pending mark (to the local user) is never touched.
    let local = store
        .record_sent(&NewMessage::new("bob", "bob", "note"))
        .unwrap();
    assert!(
        !store
            .record_delivery(&local.id, &DeliveryState::Delivered)
            .unwrap()
    );
    store.record_attempt_error(&local.id, "x").unwrap();
    assert_eq!(store.sent().unwrap()[2].property("DELIVERY_ERROR"), None);
}

// --- A full disk (simulated by msg-core's test hook) ---

/// Every write of the store under a full disk: an error naming the file, and both files
/// exactly as they were (no torn message the relay would deliver, nothing to duplicate on
/// a retry). With room again, the same calls work.
#[test]
fn a_full_disk_fails_every_write_cleanly() {
    use msg_core::durable::fault::disk_full;
    let (dir, store, _) = space_with_inbox("python-v0.2.0/root/0-personal/org/messaging/inbox.org");
    let sent = store
        .record_sent(&NewMessage::new("gregor", "tex", "first"))
        .unwrap();
    let unread = store.unread().unwrap()[0].id.clone();
    let files = || {
        (
            fs::read(store.inbox_path()).unwrap(),
            fs::read(store.outbox_path()).unwrap(),
        )
    };
    let before = files();
    for free in [0, 1, 50, 200] {
        let _full = disk_full(dir.path(), free);
        let long = "a line of the message\n".repeat(40);
        let errors = [
            store
                .record_sent(&NewMessage::new("gregor", "tex", long.as_str()))
                .map(drop)
                .unwrap_err(),
            store
                .create_message(&NewMessage::new("gregor", "gregor", long.as_str()))
                .map(drop)
                .unwrap_err(),
            store
                .record_sent(&NewMessage::new("gregor", "tex", "re").reply_to(&sent.id))
                .map(drop)
                .unwrap_err(),
            store
                .receive_all(&[incoming("tex", "msg-remote-1", &long)])
                .map(drop)
                .unwrap_err(),
            store.mark_read(&unread).map(drop).unwrap_err(),
            store.archive(&unread).map(drop).unwrap_err(),
        ];
        for err in errors {
            let message = err.to_string();
            assert!(message.contains(".org"), "{free} bytes free: {message}");
        }
        assert!(files() == before, "{free} bytes free: a file changed");
    }
    store
        .receive_all(&[incoming("tex", "msg-remote-1", "now it fits")])
        .unwrap();
    store.mark_read(&unread).unwrap();
}

// --- Headings that say who and what ---

/// The heading lines of `path`, each timestamp `[YYYY-MM-DD Ddd HH:MM]` replaced by `[T]`.
fn headings(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("* "))
        .map(|l| {
            let mut out = l.to_owned();
            while let Some(start) = out.find("[20") {
                let end = start + out[start..].find(']').unwrap();
                out.replace_range(start..=end, "[T]");
            }
            out
        })
        .collect()
}

#[test]
fn headings_name_the_sender_or_recipient_and_the_first_line() {
    let (_dir, store) = store();
    let hi = store
        .create_message(&NewMessage::new(
            "alice",
            "bob",
            "Can you review PR #24?\n\nThe OAuth part is the tricky one.",
        ))
        .unwrap();
    store
        .record_sent(&NewMessage::new("bob", "alice", "On it.").priority(Priority::High))
        .unwrap();
    store.create_file_delivery(&report()).unwrap();
    let mut received = incoming("carol", "msg-1", "\n\n  Lunch at 12?  \nor 1?");
    received.timestamp = "[2026-11-24 Tue 10:00]".into();
    store.receive(&received).unwrap();
    assert_eq!(
        headings(store.inbox_path()),
        [
            "* TODO [T] alice: Can you review PR #24? :unread:message:",
            "* TODO [T] tex: file report.pdf :unread:file_delivery:",
            "* TODO [T] carol: Lunch at 12? :unread:message:",
        ]
    );
    assert_eq!(
        headings(store.outbox_path()),
        ["* DONE [#A] [T] to alice: On it. :sent:message:"]
    );
    // The body keeps the whole text; the heading is only a summary.
    assert_eq!(
        store.by_id(&hi.id).unwrap().unwrap().body,
        "Can you review PR #24?\n\nThe OAuth part is the tricky one."
    );
}

#[test]
fn a_hostile_sender_can_forge_nothing_and_run_nothing() {
    let (_dir, store) = store();
    let text = "[[elisp:(kill-emacs)][OK]] [#A] [1/3] <2026-12-08> :urgent:\n\
                <%%(shell-command \"touch /tmp/x\")>";
    let mut message = incoming("mallory", "<%%(x)>", text);
    message.thread = Some("<%%(shell-command \"y\")>".into());
    message.reply_to = Some("msg-0".into());
    message.timestamp = "<%%(z)>".into();
    let receipt = store.receive(&message).unwrap();
    let file = fs::read_to_string(store.inbox_path()).unwrap();
    assert!(
        !file.contains("<%%"),
        "no diary sexp reaches the file:\n{file}"
    );
    let z = '\u{200B}';
    assert_eq!(
        headings(store.inbox_path()),
        [format!(
            "* TODO [T] mallory: [{z}[elisp:(kill-emacs)][OK]] [{z}#A] [{z}1/3] <{z}2026-12-08> :urgent{z}: :unread:message:"
        )]
    );
    let stored = store.by_id(&receipt.id).unwrap().unwrap();
    assert_eq!(stored.body, text, "the body reads back exactly");
    assert_eq!(stored.thread, None, "a sexp thread is dropped");
    assert_eq!(stored.reply_to.as_deref(), Some("msg-0"));
    assert_ne!(receipt.id, "<%%(x)>", "a sexp ID is replaced");
    assert_eq!(
        stored.created,
        stored.property("RECEIVED").map(str::to_owned)
    );
    let doc = Document::parse(
        file.into_bytes(),
        &msg_core::org::TodoKeywords::parse(
            "TODO WAITING QUEUED WORKING | DONE CANCELLED ARCHIVED",
        ),
    );
    assert_eq!(doc.entry(0).tags(), ["unread", "message"]);
    assert_eq!(doc.entry(0).priority(), None);
}

#[test]
fn an_archived_message_comes_back_read() {
    let (_dir, store) = store();
    let m = store
        .create_message(&NewMessage::new("bob", "alice", "keep this"))
        .unwrap();
    assert!(matches!(
        store.unarchive(&m.id).unwrap_err(),
        StoreError::Transition { .. }
    ));
    store.archive(&m.id).unwrap();
    let back = store.unarchive(&m.id).unwrap();
    assert_eq!(back.state, MessageState::Read);
    assert!(!back.is_unread());
    let before = fs::read(store.inbox_path()).unwrap();
    store.unarchive(&m.id).unwrap();
    assert_eq!(
        fs::read(store.inbox_path()).unwrap(),
        before,
        "a read message changes nothing"
    );
}
