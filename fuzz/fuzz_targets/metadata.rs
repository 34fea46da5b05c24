//! 66/WAKU2-METADATA: `Metadata::decode` and the length-prefixed request/response framing of
//! `MetadataCodec`. An even first byte makes the rest a bare message, an odd one a framed
//! stream read as a request and as a response. Nothing may panic; decoded metadata
//! round-trips through `encode` and through the codec's framing.
#![no_main]

use demls_transport_logos::{METADATA_PROTOCOL, Metadata, MetadataCodec};
use futures::executor::block_on;
use futures::io::Cursor;
use libfuzzer_sys::fuzz_target;
use libp2p::request_response::Codec as _;

fn round_trip(m: &Metadata) {
    assert_eq!(Metadata::decode(&m.encode()).ok().as_ref(), Some(m));
    let mut framed = Cursor::new(Vec::new());
    block_on(MetadataCodec.write_request(&METADATA_PROTOCOL, &mut framed, m.clone()))
        .expect("writing to memory works");
    let mut reader = Cursor::new(framed.into_inner());
    let back = block_on(MetadataCodec.read_response(&METADATA_PROTOCOL, &mut reader))
        .expect("a written frame reads back");
    assert_eq!(&back, m);
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        if let Ok(m) = Metadata::decode(rest) {
            round_trip(&m);
        }
        return;
    }
    let request =
        block_on(MetadataCodec.read_request(&METADATA_PROTOCOL, &mut Cursor::new(rest.to_vec())));
    let response =
        block_on(MetadataCodec.read_response(&METADATA_PROTOCOL, &mut Cursor::new(rest.to_vec())));
    assert_eq!(request.as_ref().ok(), response.as_ref().ok());
    if let Ok(m) = request {
        round_trip(&m);
    }
});
