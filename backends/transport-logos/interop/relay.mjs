// A js-waku relay node for the demls-transport-logos interop test.
//
// Usage: node relay.mjs <clusterId> <shard> <contentTopic>
// Prints one JSON object per line on stdout:
//   {"event":"ready","peerId":..,"multiaddrs":[..],"pubsubTopic":..}
//   {"event":"mesh","peers":[..]}                     once a relay peer is in the mesh
//   {"event":"message","payloadHex":..,"hash":..}     for each message on the content topic
//   {"event":"sent","hash":..,"recipients":n}        after each send
//   {"event":"error","message":..}
// Reads JSON commands on stdin: {"cmd":"send","payloadHex":".."} and {"cmd":"exit"}.
// Payloads are wrapped in a single-segment lip-segmentation SegmentMessageProto, as the
// Rust transport sends and expects them.

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

function field(tag, bytes) {
  return [...varint((tag << 3) | 2), ...varint(bytes.length), ...bytes];
}

// SegmentMessageProto { entire_message_hash = 1; data_segment_count = 3 (= 1); payload = 4 }
function wrapSegment(payload) {
  const hash = keccak_256(payload);
  return Uint8Array.from([...field(1, hash), 0x18, 0x01, ...field(4, payload)]);
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

// Returns the payload of a complete single-segment message, verifying its hash.
function unwrapSegment(buf) {
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
  if ((fields[3] ?? 0) !== 1) throw new Error("multi-segment message");
  const payload = fields[4] ?? new Uint8Array();
  if (hex(keccak_256(payload)) !== hex(fields[1] ?? [])) throw new Error("segment hash mismatch");
  return payload;
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
    const payload = unwrapSegment(msg.payload);
    out({
      event: "message",
      payloadHex: hex(payload),
      // Hash the raw protobuf: a DecodedMessage's `timestamp` is a Date, which would drop the
      // nanoseconds the deterministic hash covers.
      hash: messageHashStr(pubsubTopic, msg.proto),
      contentTopic: msg.contentTopic,
    });
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

async function send(payloadHex) {
  const message = { payload: wrapSegment(Buffer.from(payloadHex, "hex")), timestamp: new Date() };
  const proto = await encoder.toProtoObj(message);
  const result = await node.relay.send(encoder, message);
  out({
    event: "sent",
    hash: messageHashStr(pubsubTopic, proto),
    recipients: result.successes.length,
    failures: result.failures.map((f) => String(f.error)),
  });
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
  if (cmd.cmd === "send") send(cmd.payloadHex).catch((e) => out({ event: "error", message: String(e) }));
  else if (cmd.cmd === "exit") exit(0);
});
lines.on("close", () => exit(0));
// Never outlive a test that forgot us.
setTimeout(() => exit(3), 120_000).unref();
