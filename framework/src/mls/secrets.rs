//! How OpenMLS's message secrets are encoded for storage, so that writing them costs what
//! changed rather than what the group holds.
//!
//! OpenMLS writes its whole message-secrets store after *every* message it encrypts or
//! decrypts (a sender ratchet moved). That store holds the current epoch's secret tree and,
//! for each retained past epoch, that epoch's secret tree **and its complete member list**
//! (credential and keys of every member) — about 150 bytes per member per past epoch. With
//! three past epochs that is most of the record, so before this encoding every received
//! message re-encoded three rosters: the per-message cost grew with the group.
//!
//! A past epoch's member list never changes once the epoch is retired. This module encodes
//! the store with postcard as usual, except that each past epoch's member list is cut out and
//! replaced by a *hole* naming it by the SHA-256 of that epoch's serialized group context
//! (which commits to the tree hash, hence to every member). The storage provider keeps each
//! list once, under that digest, and only writes lists it does not hold yet; reading splices
//! the lists back into the holes, giving byte for byte the plain postcard encoding.
//!
//! The cut is made while serializing, by a serializer that forwards everything to postcard
//! and recognises two fields of OpenMLS's types by their serde names (`MessageSecrets.
//! serialized_context`, `EpochTree.leaves`; openmls is pinned, and a test checks that the cut
//! happens). If the names ever stop matching, nothing is cut and the encoding is simply the
//! plain one: slower, never wrong.
//!
//! This module knows nothing about storage keys; [`super::store`] owns those.

use postcard::ser_flavors::Flavor;
use serde::Serialize;
use serde::ser::{self, SerializeMap, SerializeSeq, SerializeStruct};

/// A cut-out member list: where it goes in the body, and the digest it is stored under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Hole {
    /// Byte offset in the body at which the list's encoding is spliced back.
    pub offset: u32,
    /// SHA-256 of the past epoch's serialized group context.
    pub digest: [u8; 32],
}

/// A message-secrets store encoded with its past epochs' member lists cut out.
pub(crate) struct Split {
    /// The postcard encoding without the member lists.
    pub body: Vec<u8>,
    /// Where each member list goes, in body order.
    pub holes: Vec<Hole>,
    /// The encodings of the lists `split` was told are not stored yet.
    pub new_lists: Vec<([u8; 32], Vec<u8>)>,
}

/// Encodes `value`, cutting out every past epoch's member list. `stored` says whether a list
/// is already held under a digest (its encoding is then not even computed).
pub(crate) fn split<T: Serialize + ?Sized>(
    value: &T,
    stored: &dyn Fn(&[u8; 32]) -> bool,
) -> Result<Split, postcard::Error> {
    let mut ser = postcard::Serializer {
        output: Buf(Vec::with_capacity(4096)),
    };
    let mut cut = Cut {
        stored,
        context: None,
        holes: Vec::new(),
        new_lists: Vec::new(),
    };
    value.serialize(Tap {
        ser: &mut ser,
        cut: &mut cut,
    })?;
    Ok(Split {
        body: ser.output.0,
        holes: cut.holes,
        new_lists: cut.new_lists,
    })
}

/// Rebuilds the plain postcard encoding from a body, its holes and a way to fetch each list.
/// Fails if a hole lies outside the body or out of order, or a list cannot be fetched.
pub(crate) fn join<E>(
    body: &[u8],
    holes: &[Hole],
    mut list: impl FnMut(&[u8; 32]) -> Result<Vec<u8>, E>,
    malformed: impl Fn(&'static str) -> E,
) -> Result<Vec<u8>, E> {
    let mut out = Vec::with_capacity(body.len() + holes.len() * 1024);
    let mut at = 0usize;
    for hole in holes {
        let offset = hole.offset as usize;
        if offset < at || offset > body.len() {
            return Err(malformed("message secrets: hole outside the body"));
        }
        out.extend_from_slice(&body[at..offset]);
        out.extend_from_slice(&list(&hole.digest)?);
        at = offset;
    }
    out.extend_from_slice(&body[at..]);
    Ok(out)
}

/// A growable postcard output whose length the cutter can read.
struct Buf(Vec<u8>);

impl Flavor for Buf {
    type Output = Vec<u8>;

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.0.push(data);
        Ok(())
    }

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(data);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<Vec<u8>> {
        Ok(self.0)
    }
}

/// What the cutter has found so far.
struct Cut<'k> {
    stored: &'k dyn Fn(&[u8; 32]) -> bool,
    /// Digest of the latest `serialized_context` written (the epoch whose list comes next).
    context: Option<[u8; 32]>,
    holes: Vec<Hole>,
    new_lists: Vec<([u8; 32], Vec<u8>)>,
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref());
    out
}

/// A serializer that writes through postcard and watches struct fields.
struct Tap<'a, 'k> {
    ser: &'a mut postcard::Serializer<Buf>,
    cut: &'a mut Cut<'k>,
}

/// Every compound (sequence, tuple, map, struct, variant) of a [`Tap`]; postcard writes any
/// prefix (length, variant index) when the compound starts, and nothing when it ends.
struct Compound<'a, 'k> {
    ser: &'a mut postcard::Serializer<Buf>,
    cut: &'a mut Cut<'k>,
    name: &'static str,
}

impl<'a, 'k> Compound<'a, 'k> {
    fn tap(&mut self) -> Tap<'_, 'k> {
        Tap {
            ser: &mut *self.ser,
            cut: &mut *self.cut,
        }
    }
}

type Res = Result<(), postcard::Error>;

macro_rules! forward {
    ($($method:ident($ty:ty)),* $(,)?) => {
        $(fn $method(self, v: $ty) -> Res {
            ser::Serializer::$method(&mut *self.ser, v)
        })*
    };
}

impl<'a, 'k> ser::Serializer for Tap<'a, 'k> {
    type Ok = ();
    type Error = postcard::Error;
    type SerializeSeq = Compound<'a, 'k>;
    type SerializeTuple = Compound<'a, 'k>;
    type SerializeTupleStruct = Compound<'a, 'k>;
    type SerializeTupleVariant = Compound<'a, 'k>;
    type SerializeMap = Compound<'a, 'k>;
    type SerializeStruct = Compound<'a, 'k>;
    type SerializeStructVariant = Compound<'a, 'k>;

    forward!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_u128(u128),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
    );

    fn is_human_readable(&self) -> bool {
        false // as postcard: types that encode differently for humans must see the same answer
    }

    fn serialize_none(self) -> Res {
        ser::Serializer::serialize_none(&mut *self.ser)
    }

    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Res {
        // postcard: a 0x01 tag, then the value.
        self.ser.output.try_push(1)?;
        value.serialize(self)
    }

    fn serialize_unit(self) -> Res {
        ser::Serializer::serialize_unit(&mut *self.ser)
    }

    fn serialize_unit_struct(self, name: &'static str) -> Res {
        ser::Serializer::serialize_unit_struct(&mut *self.ser, name)
    }

    fn serialize_unit_variant(self, name: &'static str, index: u32, variant: &'static str) -> Res {
        ser::Serializer::serialize_unit_variant(&mut *self.ser, name, index, variant)
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Res {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Res {
        ser::Serializer::serialize_unit_variant(&mut *self.ser, name, index, variant)?;
        value.serialize(self)
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Compound<'a, 'k>, postcard::Error> {
        let _ = ser::Serializer::serialize_seq(&mut *self.ser, len)?;
        Ok(self.compound(""))
    }

    fn serialize_tuple(self, len: usize) -> Result<Compound<'a, 'k>, postcard::Error> {
        let _ = ser::Serializer::serialize_tuple(&mut *self.ser, len)?;
        Ok(self.compound(""))
    }

    fn serialize_tuple_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Compound<'a, 'k>, postcard::Error> {
        let _ = ser::Serializer::serialize_tuple_struct(&mut *self.ser, name, len)?;
        Ok(self.compound(name))
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a, 'k>, postcard::Error> {
        let _ =
            ser::Serializer::serialize_tuple_variant(&mut *self.ser, name, index, variant, len)?;
        Ok(self.compound(name))
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Compound<'a, 'k>, postcard::Error> {
        let _ = ser::Serializer::serialize_map(&mut *self.ser, len)?;
        Ok(self.compound(""))
    }

    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Compound<'a, 'k>, postcard::Error> {
        let _ = ser::Serializer::serialize_struct(&mut *self.ser, name, len)?;
        Ok(self.compound(name))
    }

    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a, 'k>, postcard::Error> {
        let _ =
            ser::Serializer::serialize_struct_variant(&mut *self.ser, name, index, variant, len)?;
        Ok(self.compound(name))
    }

    fn collect_str<T: ?Sized + std::fmt::Display>(self, value: &T) -> Res {
        ser::Serializer::collect_str(&mut *self.ser, value)
    }
}

impl<'a, 'k> Tap<'a, 'k> {
    fn compound(self, name: &'static str) -> Compound<'a, 'k> {
        Compound {
            ser: self.ser,
            cut: self.cut,
            name,
        }
    }
}

impl Compound<'_, '_> {
    /// Writes one struct field, cutting out a past epoch's member list.
    fn field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Res {
        match (self.name, key) {
            ("MessageSecrets", "serialized_context") => {
                let start = self.ser.output.0.len();
                value.serialize(self.tap())?;
                self.cut.context = Some(sha256(&self.ser.output.0[start..]));
                Ok(())
            }
            ("EpochTree", "leaves") => {
                let Some(digest) = self.cut.context.take() else {
                    return value.serialize(self.tap());
                };
                let offset = u32::try_from(self.ser.output.0.len())
                    .map_err(|_| postcard::Error::SerializeBufferFull)?;
                let fresh = !(self.cut.stored)(&digest)
                    && !self.cut.new_lists.iter().any(|(d, _)| *d == digest);
                if fresh {
                    self.cut
                        .new_lists
                        .push((digest, postcard::to_allocvec(value)?));
                }
                self.cut.holes.push(Hole { offset, digest });
                Ok(())
            }
            _ => value.serialize(self.tap()),
        }
    }
}

impl SerializeSeq for Compound<'_, '_> {
    type Ok = ();
    type Error = postcard::Error;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Res {
        value.serialize(self.tap())
    }
    fn end(self) -> Res {
        Ok(())
    }
}

impl ser::SerializeTuple for Compound<'_, '_> {
    type Ok = ();
    type Error = postcard::Error;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Res {
        value.serialize(self.tap())
    }
    fn end(self) -> Res {
        Ok(())
    }
}

impl ser::SerializeTupleStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = postcard::Error;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Res {
        value.serialize(self.tap())
    }
    fn end(self) -> Res {
        Ok(())
    }
}

impl ser::SerializeTupleVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = postcard::Error;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Res {
        value.serialize(self.tap())
    }
    fn end(self) -> Res {
        Ok(())
    }
}

impl SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = postcard::Error;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Res {
        key.serialize(self.tap())
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Res {
        value.serialize(self.tap())
    }
    fn end(self) -> Res {
        Ok(())
    }
}

impl SerializeStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = postcard::Error;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Res {
        self.field(key, value)
    }
    fn end(self) -> Res {
        Ok(())
    }
}

impl ser::SerializeStructVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = postcard::Error;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Res {
        self.field(key, value)
    }
    fn end(self) -> Res {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    // Stand-ins with the same serde names and field order as OpenMLS's types.
    #[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
    struct MessageSecrets {
        sender_data_secret: Vec<u8>,
        serialized_context: Vec<u8>,
        secret_tree: Vec<Option<u32>>,
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
    struct Member {
        index: u32,
        key: Vec<u8>,
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
    struct EpochTree {
        epoch: u64,
        message_secrets: MessageSecrets,
        leaves: Vec<Member>,
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
    enum Mode {
        A,
        B(u16),
        C { x: i64 },
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
    struct MessageSecretsStore {
        max_epochs: usize,
        past_epoch_trees: std::collections::VecDeque<EpochTree>,
        message_secrets: MessageSecrets,
        extra: (
            Option<String>,
            Mode,
            Mode,
            Mode,
            std::collections::BTreeMap<u8, bool>,
        ),
    }

    fn secrets(context: u8) -> MessageSecrets {
        MessageSecrets {
            sender_data_secret: vec![7; 32],
            serialized_context: vec![context; 40],
            secret_tree: vec![None, Some(300), None, Some(u32::MAX)],
        }
    }

    fn tree(epoch: u64, members: u32) -> EpochTree {
        EpochTree {
            epoch,
            message_secrets: secrets(epoch as u8),
            leaves: (0..members)
                .map(|i| Member {
                    index: i,
                    key: vec![i as u8; 32],
                })
                .collect(),
        }
    }

    fn store() -> MessageSecretsStore {
        MessageSecretsStore {
            max_epochs: 3,
            past_epoch_trees: [tree(4, 50), tree(5, 51), tree(6, 52)].into(),
            message_secrets: secrets(7),
            extra: (
                Some("x".into()),
                Mode::A,
                Mode::B(9),
                Mode::C { x: -5 },
                [(1, true), (2, false)].into(),
            ),
        }
    }

    fn rejoin(split: &Split, lists: &[([u8; 32], Vec<u8>)]) -> Vec<u8> {
        join(
            &split.body,
            &split.holes,
            |d| {
                lists
                    .iter()
                    .find(|(k, _)| k == d)
                    .map(|(_, v)| v.clone())
                    .ok_or("missing")
            },
            |m| m,
        )
        .unwrap()
    }

    #[test]
    fn joining_a_split_gives_the_plain_postcard_encoding() {
        let value = store();
        let plain = postcard::to_allocvec(&value).unwrap();
        let split = split(&value, &|_| false).unwrap();
        assert_eq!(split.holes.len(), 3, "each past epoch's list is cut out");
        assert_eq!(split.new_lists.len(), 3);
        assert!(split.body.len() < plain.len() / 4);
        assert_eq!(rejoin(&split, &split.new_lists), plain);
        let back: MessageSecretsStore = postcard::from_bytes(&plain).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn lists_already_stored_are_not_encoded_again() {
        let value = store();
        let first = split(&value, &|_| false).unwrap();
        let stored = first.new_lists.clone();
        let known = |d: &[u8; 32]| stored.iter().any(|(k, _)| k == d);
        let again = split(&value, &known).unwrap();
        assert!(again.new_lists.is_empty());
        assert_eq!(again.holes, first.holes);
        assert_eq!(again.body, first.body);
        // A new past epoch: only its list is new.
        let mut next = value.clone();
        next.past_epoch_trees.pop_front();
        next.past_epoch_trees.push_back(tree(7, 53));
        let third = split(&next, &known).unwrap();
        assert_eq!(third.new_lists.len(), 1);
        let mut all = stored.clone();
        all.extend(third.new_lists.clone());
        assert_eq!(rejoin(&third, &all), postcard::to_allocvec(&next).unwrap());
    }

    #[test]
    fn a_hole_outside_the_body_is_refused() {
        let holes = [Hole {
            offset: 10,
            digest: [0; 32],
        }];
        let r = join(&[1, 2, 3], &holes, |_| Ok::<_, &str>(vec![]), |m| m);
        assert!(r.is_err());
        let holes = [
            Hole {
                offset: 2,
                digest: [0; 32],
            },
            Hole {
                offset: 1,
                digest: [0; 32],
            },
        ];
        assert!(join(&[1, 2, 3], &holes, |_| Ok::<_, &str>(vec![]), |m| m).is_err());
    }
}
