use super::*;

fn invalid_message(options: toml::Table) -> String {
    match Config::from_options(&options) {
        Err(ConfigError::InvalidValue { section, message }) => {
            assert_eq!(section, "transport");
            message
        }
        other => panic!("expected InvalidValue for {options:?}, got {other:?}"),
    }
}

#[test]
fn an_empty_table_selects_nwaku_compatible_defaults() {
    let c = Config::from_options(&toml::Table::new()).unwrap();
    assert_eq!(c, Config::default());
    assert_eq!(c.max_message_size, 153_600);
    assert_eq!(
        (c.gossipsub.d, c.gossipsub.d_low, c.gossipsub.d_high),
        (6, 4, 8)
    );
    assert_eq!(c.gossipsub.heartbeat_ms, 1000);
    assert_eq!((c.cluster_id, c.shard), (0, 0));
}

#[test]
fn every_option_is_read() {
    let options = toml::toml! {
        listen = "/ip4/0.0.0.0/tcp/60001"
        static_peers = ["/ip4/127.0.0.1/tcp/60000/p2p/12D3KooWLRPJAA5o6Z6yqSdjyNsmDjR2TQPMz7oV2GmtLwbXaBd3"]
        cluster_id = 42
        shard = 7
        node_key_file = "keys/node.key"
        max_message_size = 65536
        max_payload = 1000000
        queue_capacity = 16
        [reassembly]
        max_partial_messages = 4
        max_bytes = 2000000
        timeout_secs = 5
        [gossipsub]
        d = 8
        d_low = 6
        d_high = 12
        d_out = 2
        d_lazy = 8
        heartbeat_ms = 700
        history_length = 5
        history_gossip = 2
        fanout_ttl_ms = 1000
        seen_ttl_ms = 2000
        flood_publish = false
    };
    let c = Config::from_options(&options).unwrap();
    assert_eq!(c.static_peers().unwrap().len(), 1);
    assert_eq!((c.cluster_id, c.shard), (42, 7));
    assert_eq!(c.node_key_file, Some(PathBuf::from("keys/node.key")));
    assert_eq!(c.segment_size(), 65536 - SEGMENT_OVERHEAD);
    assert_eq!(c.reassembly_limits().timeout, Duration::from_secs(5));
    assert_eq!(c.gossipsub.d_high, 12);
    assert!(!c.gossipsub.flood_publish);
}

#[test]
fn an_unknown_key_is_named_also_inside_the_gossipsub_table() {
    for (options, expected) in [
        (toml::toml! { shrad = 1 }, "shrad"),
        (
            toml::toml! { [gossipsub]
            dd = 1 },
            "gossipsub.dd",
        ),
    ] {
        match Config::from_options(&options) {
            Err(ConfigError::UnknownKey { section, key, .. }) => {
                assert_eq!((section.as_str(), key.as_str()), ("transport", expected));
            }
            other => panic!("expected UnknownKey, got {other:?}"),
        }
    }
}

#[test]
fn a_static_peer_without_a_peer_id_is_rejected() {
    let msg = invalid_message(toml::toml! { static_peers = ["/ip4/127.0.0.1/tcp/60000"] });
    assert!(msg.contains("/p2p/"), "{msg}");
}

#[test]
fn malformed_multiaddrs_are_rejected_by_name() {
    assert!(invalid_message(toml::toml! { listen = "127.0.0.1:60000" }).contains("listen"));
    assert!(invalid_message(toml::toml! { static_peers = ["nope"] }).contains("nope"));
}

#[test]
fn out_of_range_values_are_rejected() {
    for (options, needle) in [
        (toml::toml! { shard = 1024 }, "shard"),
        (toml::toml! { max_message_size = 100 }, "max_message_size"),
        (toml::toml! { max_payload = 0 }, "max_payload"),
        (toml::toml! { max_payload = 100000000 }, "max_payload"),
        (toml::toml! { queue_capacity = 0 }, "queue_capacity"),
        (
            toml::toml! { [reassembly]
            max_bytes = 10 },
            "max_bytes",
        ),
        (
            toml::toml! { [gossipsub]
            d_low = 9 },
            "d_low",
        ),
        (
            toml::toml! { [gossipsub]
            d_out = 4 },
            "d_out",
        ),
        (
            toml::toml! { [gossipsub]
            heartbeat_ms = 0 },
            "heartbeat_ms",
        ),
        (toml::toml! { cluster_id = 70000 }, "cluster_id"),
        (toml::toml! { cluster_id = "one" }, "cluster_id"),
    ] {
        let msg = invalid_message(options);
        assert!(msg.contains(needle), "{needle}: {msg}");
    }
}
