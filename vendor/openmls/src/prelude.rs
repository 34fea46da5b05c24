//! Prelude for OpenMLS.
//! Include this to get access to all the public functions of OpenMLS.

// MlsGroup
pub use crate::group::{
    commit_builder::{
        CommitBuilder, CommitMessageBundle, Complete, ExternalCommitBuilder,
        ExternalCommitBuilderError, Initial, LoadedPsks,
    },
    Member, *,
};

pub use crate::group::public_group::{errors::*, PublicGroup};

// Ciphersuite
pub use crate::ciphersuite::{hash_ref::KeyPackageRef, signable::*, signature::*, *};

// Messages
pub use crate::messages::{external_proposals::*, proposals::*, proposals_in::*, *};

// Credentials
pub use crate::credentials::{errors::*, *};

// MLS Versions
pub use crate::versions::*;

// Extensions
pub use crate::extensions::{errors::*, *};

// Framing
pub use crate::framing::{
    message_in::{MlsMessageBodyIn, MlsMessageIn, ProtocolMessage},
    message_out::MlsMessageOut,
    sender::Sender,
    validation::{ApplicationMessage, ProcessedMessage, ProcessedMessageContent},
    *,
};

// Key packages
pub use crate::key_packages::{errors::*, *};

// Tree
pub use crate::tree::sender_ratchet::SenderRatchetConfiguration;

// Binary tree
pub use crate::binary_tree::{LeafNodeIndex, ParentNodeIndex};

// TreeSync
pub use crate::treesync::{
    errors::{ApplyUpdatePathError, PublicTreeError},
    node::leaf_node::{Capabilities, CapabilitiesBuilder, LeafNode, LeafNodeParameters},
    node::parent_node::ParentNode,
    node::Node,
    RatchetTreeIn,
};

// PSKs
// TODO #751
// pub use crate::schedule::psk::{
//    BranchPsk, ExternalPsk, PreSharedKeyId, PreSharedKeys, Psk, PskBundle, PskType, ReinitPsk,
// };

// Targeted messages
#[cfg(feature = "targeted-messages-draft")]
#[cfg_attr(docsrs, doc(cfg(feature = "targeted-messages-draft")))]
pub use crate::targeted_messages::{
    CreateTargetedMessageError, ProcessTargetedMessageError, ProcessedTargetedMessage,
    TargetedMessage, TargetedMessageIn,
};

// TLS codec traits
pub use tls_codec::{self, *};

// Errors
pub use crate::error::*;

// OpenMLS traits
pub use openmls_traits::{crypto::OpenMlsCrypto, random::OpenMlsRand, types::*, OpenMlsProvider};
