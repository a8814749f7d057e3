//! Where messages cross between the relay and the files, for the relay client: a received
//! message goes into `inbox.org` once ([`receive_all`]), and a sent message in
//! `outbox.org` records what the relay said about its delivery ([`record_delivery`]).
//!
//! Each is a call on the space's [`msg_store::MessageStore`] (which owns the rules: dedupe
//! by ID under the lock, a reused ID from another sender kept apart as `<id>-<hash>` with
//! `ORIGINAL_ID`, one transaction per batch, `fdatasync` before returning); this module only
//! finds the store of the context's space.

use msg_store::{Message, StoreError};

use crate::context::Context;
use crate::error::HooksError;

pub(crate) use msg_store::{DeliveryState, Incoming, Receipt};

/// Writes `messages` into the inbox of `ctx`'s space, unread, each unless it is there
/// already (same ID, same sender), in one transaction; one result per message, in order.
/// Returns once the entries are on disk (see [`msg_store::MessageStore::receive_all`]).
pub(crate) fn receive_all(
    ctx: &Context,
    messages: &[Incoming],
) -> Result<Vec<Result<Receipt, StoreError>>, HooksError> {
    Ok(ctx.store()?.receive_all(messages)?)
}

/// The sent messages of `ctx`'s space still waiting for the relay (`:DELIVERY: pending`),
/// from one of `senders`, in file order. Reads nothing when there is no inbox yet.
pub(crate) fn pending(ctx: &Context, senders: &[String]) -> Result<Vec<Message>, HooksError> {
    let Some(store) = ctx.existing_store()? else {
        return Ok(Vec::new());
    };
    let senders: Vec<&str> = senders.iter().map(String::as_str).collect();
    Ok(store.pending_deliveries(&senders)?)
}

/// Records `state` on the sent message `id` in `outbox.org`; returns whether the entry
/// changed (see [`msg_store::MessageStore::record_delivery`]).
pub(crate) fn record_delivery(
    ctx: &Context,
    id: &str,
    state: &DeliveryState,
) -> Result<bool, HooksError> {
    Ok(ctx.store()?.record_delivery(id, state)?)
}

/// Records on the pending message `id` why the last attempt did not go through, leaving it
/// pending (see [`msg_store::MessageStore::record_attempt_error`]).
pub(crate) fn record_attempt_error(ctx: &Context, id: &str, code: &str) -> Result<(), HooksError> {
    Ok(ctx.store()?.record_attempt_error(id, code)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use msg_core::config::Settings;
    use msg_core::paths::Paths;

    fn ctx(root: &std::path::Path) -> Context {
        let settings = Settings::from_yaml_str(
            "identity: {name: bob}\n",
            std::path::Path::new("settings.local.yaml"),
        )
        .unwrap();
        Context::new(Paths::new(root), settings, None).unwrap()
    }

    #[test]
    fn the_relay_clients_calls_reach_the_spaces_store() {
        let dir = assert_fs::TempDir::new().unwrap();
        let ctx = ctx(dir.path());
        assert!(
            pending(&ctx, &["bob".into()]).unwrap().is_empty(),
            "no inbox yet"
        );
        assert!(!dir.path().join("0-personal").exists(), "and none created");
        let incoming = Incoming {
            from: "alice".into(),
            to: "bob".into(),
            content: "hello".into(),
            id: "msg-1".into(),
            ..Incoming::default()
        };
        assert!(
            receive_all(&ctx, std::slice::from_ref(&incoming)).unwrap()[0]
                .as_ref()
                .unwrap()
                .new
        );
        assert!(
            !receive_all(&ctx, &[incoming]).unwrap()[0]
                .as_ref()
                .unwrap()
                .new
        );
        let sent = crate::desk::send::send(
            &ctx,
            &crate::desk::send::Outgoing {
                thread: None,
                from: "bob".into(),
                to: "alice".into(),
                content: "hi".into(),
                reply_to: None,
                priority: msg_store::Priority::Normal,
            },
            None,
        )
        .unwrap();
        let id = sent.message.id;
        assert_eq!(pending(&ctx, &["bob".into()]).unwrap().len(), 1);
        record_attempt_error(&ctx, &id, "rate_limited").unwrap();
        assert!(record_delivery(&ctx, &id, &DeliveryState::Delivered).unwrap());
        assert!(pending(&ctx, &["bob".into()]).unwrap().is_empty());
    }
}
