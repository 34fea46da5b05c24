// A js-waku relay node for the demls-transport-logos interop test.
//
// Usage: node relay.mjs <clusterId> <shard> <contentTopic>
// Prints one JSON object per line on stdout:
//   {"event":"ready","peerId":..,"multiaddrs":[..],"pubsubTopic":..}
//   {"event":"mesh","peers":[..]}                  once a relay peer is in the mesh
//   {"event":"metadata","peer":..,"clusterId":..,"shards":[..]}   that peer's 66/WAKU2-METADATA
//   {"event":"message","length":n,"keccak":..,"payloadHex":..,"hash":..,"segments":n}
//                                                  for each complete payload on the content topic
//                                                  (payloadHex only up to 4 KiB; hash: the
//                                                  deterministic hash of segment 0's message)
//   {"event":"sent","hashes":[..],"recipients":n}  after each send
//   {"event":"error","message":..}
// Reads JSON commands on stdin:
//   {"cmd":"send","payloadHex":".."}   {"cmd":"sendPattern","length":n}   {"cmd":"exit"}
// (the pattern is byte i = (i * 31) % 251). Payloads travel as lip-segmentation segments
// (SegmentMessageProto, no parity), as the Rust transport sends and expects them.

import { createInterface } from "node:readline";

// stdout carries only our JSON lines; libraries' chatter goes to stderr.
console.log = console.info = (...args) => console.error(...args);

if (typeof Promise.withResolvers !== "function") {
  Promise.withResolvers = function () {
    let resolve, reject;
    const promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

const { createRelayNode } = await import("@waku/sdk/relay");
const { createEncoder, createDecoder } = await import("@waku/core");
const { messageHashStr } = await import("@waku/message-hash");
const { tcp } = await import("@libp2p/tcp");
const { yamux } = await import("@chainsafe/libp2p-yamux");
const { keccak_256 } = await import("@noble/hashes/sha3");

const [clusterId, shard] = process.argv.slice(2, 4).map(Number);
const contentTopic = process.argv[4];
const pubsubTopic = `/waku/2/rs/${clusterId}/${shard}`;
// Payload bytes per segment: the 150 KiB message limit less 1 KiB of headers.
const SEGMENT_SIZE = 150 * 1024 - 1024;

const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const hex = (bytes) => Buffer.from(bytes).toString("hex");

function varint(n) {
  const bytes = [];
  while (n > 0x7f) {
    bytes.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  bytes.push(n);
  return bytes;
}

function bytesField(tag, bytes) {
  return Buffer.concat([Buffer.from([...varint((tag << 3) | 2), ...varint(bytes.length)]), bytes]);
}

function varintField(tag, n) {
  return n === 0 ? Buffer.alloc(0) : Buffer.from([...varint(tag << 3), ...varint(n)]);
}

// SegmentMessageProto { entire_message_hash = 1; data_segment_index = 2;
//                       data_segment_count = 3; payload = 4 }
function segments(payload) {
  const hash = Buffer.from(keccak_256(payload));
  const count = Math.max(1, Math.ceil(payload.length / SEGMENT_SIZE));
  const out = [];
  for (let i = 0; i < count; i++) {
    const chunk = payload.subarray(i * SEGMENT_SIZE, (i + 1) * SEGMENT_SIZE);
    out.push(
      new Uint8Array(
        Buffer.concat([bytesField(1, hash), varintField(2, i), varintField(3, count), bytesField(4, chunk)]),
      ),
    );
  }
  return out;
}

function readVarint(buf, pos) {
  let value = 0;
  let shift = 0;
  for (;;) {
    if (pos >= buf.length) throw new Error("truncated varint");
    const b = buf[pos++];
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if ((b & 0x80) === 0) return [value, pos];
    if (shift > 63) throw new Error("varint too long");
  }
}

function parseSegment(buf) {
  const fields = {};
  let pos = 0;
  while (pos < buf.length) {
    let key;
    [key, pos] = readVarint(buf, pos);
    const tag = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) {
      let v;
      [v, pos] = readVarint(buf, pos);
      fields[tag] = v;
    } else if (wire === 2) {
      let len;
      [len, pos] = readVarint(buf, pos);
      fields[tag] = buf.subarray(pos, pos + len);
      pos += len;
    } else {
      throw new Error(`unexpected wire type ${wire}`);
    }
  }
  const segment = {
    hash: hex(fields[1] ?? []),
    index: fields[2] ?? 0,
    count: fields[3] ?? 0,
    payload: fields[4] ?? new Uint8Array(),
  };
  if (segment.hash.length !== 64 || segment.count < 1 || segment.index >= segment.count || fields[7]) {
    throw new Error("invalid segment");
  }
  return segment;
}

// Incomplete payloads by entire-message hash (the test sends a handful: no eviction needed).
const partial = new Map();

function onSegment(segment, messageHash) {
  const entry = partial.get(segment.hash) ?? { parts: new Map(), firstHash: null };
  entry.parts.set(segment.index, segment.payload);
  if (segment.index === 0) entry.firstHash = messageHash;
  partial.set(segment.hash, entry);
  if (entry.parts.size < segment.count) return;
  partial.delete(segment.hash);
  const payload = Buffer.concat([...Array(segment.count).keys()].map((i) => entry.parts.get(i)));
  const keccak = hex(keccak_256(payload));
  if (keccak !== segment.hash) throw new Error("reassembled payload does not match its hash");
  out({
    event: "message",
    length: payload.length,
    keccak,
    payloadHex: payload.length <= 4096 ? hex(payload) : undefined,
    hash: entry.firstHash,
    segments: segment.count,
    contentTopic,
  });
}

const node = await createRelayNode({
  networkConfig: { clusterId, shards: [shard] },
  defaultBootstrap: false,
  libp2p: {
    transports: [tcp()],
    streamMuxers: [yamux()],
    addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] },
  },
});
await node.start();

const encoder = createEncoder({ contentTopic, pubsubTopic });
const decoder = createDecoder(contentTopic, pubsubTopic);

await node.relay.subscribe([decoder], (msg) => {
  try {
    // Hash the raw protobuf: a DecodedMessage's `timestamp` is a Date, which would drop the
    // nanoseconds the deterministic hash covers.
    onSegment(parseSegment(msg.payload), messageHashStr(pubsubTopic, msg.proto));
  } catch (e) {
    out({ event: "error", message: String(e) });
  }
});

out({
  event: "ready",
  peerId: node.libp2p.peerId.toString(),
  multiaddrs: node.libp2p.getMultiaddrs().map((a) => a.toString()),
  pubsubTopic,
});

const meshTimer = setInterval(() => {
  const peers = node.relay.getMeshPeers(pubsubTopic);
  if (peers.length > 0) {
    clearInterval(meshTimer);
    out({ event: "mesh", peers });
    queryMetadata(peers[0]).catch((e) => out({ event: "error", message: `metadata: ${e}` }));
  }
}, 100);

// Asks the peer for its 66/WAKU2-METADATA (cluster and shards).
async function queryMetadata(peerIdStr) {
  const peerId = node.libp2p.getPeers().find((p) => p.toString() === peerIdStr);
  const { shardInfo, error } = await node.libp2p.services.metadata.query(peerId);
  if (error) throw new Error(String(error));
  out({ event: "metadata", peer: peerIdStr, clusterId: shardInfo.clusterId, shards: shardInfo.shards });
}

let lastTimestamp = 0;

async function send(payload) {
  const hashes = [];
  let recipients = Infinity;
  for (const segment of segments(payload)) {
    // Strictly increasing millisecond timestamps (js-waku's precision).
    lastTimestamp = Math.max(Date.now(), lastTimestamp + 1);
    const message = { payload: segment, timestamp: new Date(lastTimestamp) };
    const proto = await encoder.toProtoObj(message);
    const result = await node.relay.send(encoder, message);
    if (result.failures.length > 0) throw new Error(`send failed: ${result.failures.map((f) => f.error)}`);
    hashes.push(messageHashStr(pubsubTopic, proto));
    recipients = Math.min(recipients, result.successes.length);
  }
  out({ event: "sent", hashes, recipients });
}

function pattern(length) {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31) % 251;
  return bytes;
}

async function exit(code) {
  clearInterval(meshTimer);
  try {
    await node.stop();
  } finally {
    process.exit(code);
  }
}

const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => {
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch {
    out({ event: "error", message: `not JSON: ${line}` });
    return;
  }
  const failed = (e) => out({ event: "error", message: String(e) });
  if (cmd.cmd === "send") send(Buffer.from(cmd.payloadHex, "hex")).catch(failed);
  else if (cmd.cmd === "sendPattern") send(pattern(cmd.length)).catch(failed);
  else if (cmd.cmd === "exit") exit(0);
});
lines.on("close", () => exit(0));
// Never outlive a test that forgot us.
setTimeout(() => exit(3), 120_000).unref();
