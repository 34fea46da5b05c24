//! 66/WAKU2-METADATA: every peer answers `/vac/waku/metadata/1.0.0` with its cluster id and
//! shards, and asks the same of each new peer; a peer of another cluster is disconnected.
//!
//! Request and response share one layout: `cluster_id = 1` (optional uint32), shards packed in
//! field 3 and, for older peers, unpacked in field 2. Each is framed with an unsigned-varint
//! length prefix.

use std::io;

use async_trait::async_trait;
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;
use prost::Message as _;

/// The protocol id.
pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/vac/waku/metadata/1.0.0");
/// The largest request or response accepted, in bytes (a full shard list is far smaller).
pub const MAX_METADATA_LEN: usize = 16 * 1024;

/// A node's metadata: its cluster and the shards it relays.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metadata {
    /// The cluster id, when given.
    pub cluster_id: Option<u32>,
    /// Relayed shard indices.
    pub shards: Vec<u32>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct MetadataProto {
    #[prost(uint32, optional, tag = "1")]
    cluster_id: Option<u32>,
    #[prost(uint32, repeated, packed = "false", tag = "2")]
    shards_unpacked: Vec<u32>,
    #[prost(uint32, repeated, tag = "3")]
    shards: Vec<u32>,
}

impl Metadata {
    /// Serializes (without the length prefix).
    pub fn encode(&self) -> Vec<u8> {
        MetadataProto {
            cluster_id: self.cluster_id,
            shards_unpacked: self.shards.clone(),
            shards: self.shards.clone(),
        }
        .encode_to_vec()
    }

    /// Parses (without the length prefix); shards come from field 3, else field 2.
    pub fn decode(bytes: &[u8]) -> Result<Metadata, prost::DecodeError> {
        let p = MetadataProto::decode(bytes)?;
        let shards = if p.shards.is_empty() {
            p.shards_unpacked
        } else {
            p.shards
        };
        Ok(Metadata {
            cluster_id: p.cluster_id,
            shards,
        })
    }
}

/// The request-response codec for the metadata protocol.
#[derive(Clone, Copy, Debug, Default)]
pub struct MetadataCodec;

async fn read_frame<T: AsyncRead + Unpin + Send>(io: &mut T) -> io::Result<Metadata> {
    let mut len: u64 = 0;
    for i in 0..10 {
        let mut byte = [0u8; 1];
        io.read_exact(&mut byte).await?;
        len |= u64::from(byte[0] & 0x7f) << (7 * i);
        if byte[0] & 0x80 == 0 {
            break;
        }
        if i == 9 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "varint too long",
            ));
        }
    }
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    if len > MAX_METADATA_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("metadata of {len} bytes exceeds {MAX_METADATA_LEN}"),
        ));
    }
    let mut buf = vec![0u8; len];
    io.read_exact(&mut buf).await?;
    Metadata::decode(&buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

async fn write_frame<T: AsyncWrite + Unpin + Send>(io: &mut T, m: &Metadata) -> io::Result<()> {
    let body = m.encode();
    let mut frame = Vec::with_capacity(body.len() + 3);
    prost::encoding::encode_varint(body.len() as u64, &mut frame);
    frame.extend_from_slice(&body);
    io.write_all(&frame).await?;
    io.close().await
}

#[async_trait]
impl libp2p::request_response::Codec for MetadataCodec {
    type Protocol = StreamProtocol;
    type Request = Metadata;
    type Response = Metadata;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Metadata>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Metadata>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io).await
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: Metadata,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &req).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: Metadata,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &res).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        futures::executor::block_on(f)
    }

    #[test]
    fn metadata_round_trips_through_a_length_prefixed_frame() {
        let m = Metadata {
            cluster_id: Some(42),
            shards: vec![0, 7, 1023],
        };
        let mut buf = Vec::new();
        block_on(write_frame(&mut futures::io::Cursor::new(&mut buf), &m)).unwrap();
        assert_eq!(buf[0] as usize, buf.len() - 1);
        let got = block_on(read_frame(&mut futures::io::Cursor::new(&buf))).unwrap();
        assert_eq!(got, m);
    }

    #[test]
    fn shards_are_written_packed_in_field_three_and_unpacked_in_field_two() {
        let bytes = Metadata {
            cluster_id: Some(1),
            shards: vec![5],
        }
        .encode();
        // cluster 1; field 2 varint 5; field 3 packed [5].
        assert_eq!(bytes, vec![0x08, 0x01, 0x10, 0x05, 0x1a, 0x01, 0x05]);
    }

    #[test]
    fn an_old_peer_sending_only_field_two_is_understood() {
        let m = Metadata::decode(&[0x08, 0x10, 0x10, 0x03, 0x10, 0x04]).unwrap();
        assert_eq!((m.cluster_id, m.shards), (Some(16), vec![3, 4]));
    }

    #[test]
    fn an_oversized_or_garbled_frame_is_an_error_not_a_panic() {
        let mut huge = Vec::new();
        prost::encoding::encode_varint(1 << 20, &mut huge);
        assert!(block_on(read_frame(&mut futures::io::Cursor::new(&huge))).is_err());
        let garbled = [0x02, 0xff, 0xff];
        assert!(block_on(read_frame(&mut futures::io::Cursor::new(&garbled))).is_err());
        let endless = [0xffu8; 12];
        assert!(block_on(read_frame(&mut futures::io::Cursor::new(&endless))).is_err());
        let truncated = [0x05, 0x08];
        assert!(block_on(read_frame(&mut futures::io::Cursor::new(&truncated))).is_err());
    }
}
