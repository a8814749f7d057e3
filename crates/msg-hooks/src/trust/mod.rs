//! Trust that does not rest on the relay (DESIGN.md §12): keys, signatures, sealing.
//!
//! - [`keys`]: each local identity's secret keys under `.datacore/keys/` and public keys
//!   in their text forms (key card, fingerprint);
//! - [`canonical`]: the canonical form of a message, the bytes a signature covers;
//! - [`signature`]: the signature token that travels in the frame;
//! - [`seal`]: content sealed to the recipient and the sender (HPKE-wrapped content key);
//! - [`pins`]: whose key is whose (`contacts.yaml`, this machine's identities);
//! - [`pinning`]: pins written to `contacts.yaml` (first use, a key given, a confirmation,
//!   a rotation);
//! - [`outgoing`]: a message signed and sealed on its way out;
//! - [`receive`]: a batch of received messages opened and checked, with the [`replay`]
//!   window held until it is stored; [`verdict`]: the check, its words, the entry's
//!   properties and whether the sender's tier applies;
//! - [`rotation`]: a key change announced with the old keys vouching for the new.
//!
//! Nothing here knows the wire or the files of the stores: the relay client signs and
//! seals what it sends and checks what it receives with these, and `msg-store` only keeps
//! the results as properties.

#[doc(hidden)]
pub mod bench;
pub(crate) mod canonical;
pub(crate) mod keys;
pub(crate) mod outgoing;
pub(crate) mod pinning;
pub(crate) mod pins;
pub(crate) mod receive;
pub(crate) mod replay;
pub(crate) mod rotation;
pub(crate) mod seal;
pub(crate) mod signature;
pub(crate) mod verdict;
