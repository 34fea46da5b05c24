//! The inbox invitation flow end to end, in one process: the module instance (driven through
//! its exported functions) invites a plain de-MLS node on the same memory network; that node
//! reads the frame from its inbox, joins by the invitation, and the two chat both ways; then
//! the module asks the group to remove it. (A second module instance needs a second process;
//! that is the test host's job.)

use std::ffi::CString;
use std::time::{Duration, Instant};

use demls::{BlockingNode, Event, Transport};
use demls_module::abi::*;
use serde_json::json;

use crate::instance::*;

#[test]
fn an_invited_node_joins_through_its_inbox_and_chats_with_the_module() {
    if !in_own_process!(an_invited_node_joins_through_its_inbox_and_chats_with_the_module) {
        return;
    }
    demls_transport_memory::link();
    demls_storage_memory::link();
    demls_consensus_hashgraph::link();
    demls::policy::link();
    let dir = tempfile::tempdir().unwrap();
    let path = CString::new(dir.path().to_str().unwrap()).unwrap();
    // SAFETY: valid C strings and a callback for any thread.
    unsafe {
        logos_module_set_context(std::ptr::null(), std::ptr::null(), path.as_ptr());
        logos_module_set_emit_callback(Some(on_event), std::ptr::null_mut());
    }
    let config = json!({
        "transport": "memory",
        "transport_options": {"network": "join"},
        "auto_accept_invitations": true
    });
    let me = ok("init", json!([config]));
    let convo = ok("create_group_conversation", json!(["team", "the team"]));
    let convo = convo.as_str().unwrap().to_owned();

    // The peer: a plain node on the same network, and a listener on its inbox.
    let peer = std::sync::Arc::new(
        BlockingNode::from_config_str(&format!(
            "[node]\nname = \"peer\"\nidentity_seed = \"{}\"\n[transport]\nbackend = \"memory\"\n\
         network = \"join\"\n[storage]\nbackend = \"memory\"\n",
            "05".repeat(32)
        ))
        .unwrap(),
    );
    let peer_id = peer.member_id();
    let peer_address = demls_module::ids::address(&peer_id);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let inbox = demls_transport_memory::MemoryNetwork::named("join").endpoint("peer-inbox");
    rt.block_on(inbox.subscribe(&demls_module::ids::inbox_topic(&peer_id)))
        .unwrap();

    ok("add_group_member", json!([convo, peer_address]));
    let frame = rt
        .block_on(async { tokio::time::timeout(Duration::from_secs(10), inbox.recv()).await })
        .unwrap()
        .unwrap();
    let invited = demls_module::invite::open(&frame.payload, &peer_id).unwrap();
    assert_eq!(invited.inviter, me.as_str().unwrap());
    assert_eq!(
        (invited.name.as_str(), invited.description.as_str()),
        ("team", "the team")
    );
    peer.join_by_invitation(&invited.invitation).unwrap();

    wait_for("the peer to be a committed member", || {
        call("list_group_members", json!([convo]))
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["address"] == peer_address && m["pending"] == false)
    });
    wait_for("members_changed", || {
        has_event("members_changed", |d| d[0] == convo)
    });
    wait_for("the add decision", || {
        has_event("membership_decision", |d| {
            d[0] == convo && d[1] == "add" && d[2] == peer_address && d[3] == "approved"
        })
    });

    // Peer → module.
    let group = demls_module::ids::group_of(&convo).unwrap();
    peer.send(
        group.as_bytes(),
        &demls_module::content::encode_text("hi from peer"),
    )
    .unwrap();
    wait_for("message_received", || {
        has_event("message_received", |d| {
            d[0] == convo && d[1] == "hi from peer" && d[3] == peer_address
        })
    });
    let messages = call("get_messages", json!([convo]));
    assert_eq!(messages[0]["sender"], peer_address);
    assert_eq!(messages[0]["from_self"], false);

    // Module → peer.
    ok("send_message", json!([convo, "hi peer"]));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "the peer got no message");
        if let Some(Event::MessageReceived { payload, .. }) =
            peer.next_event(Duration::from_millis(200)).unwrap()
        {
            assert_eq!(
                demls_module::content::decode(&payload).as_deref(),
                Some("hi peer")
            );
            break;
        }
    }

    // The module asks the group to remove the peer.
    let removal = ok("remove_group_member", json!([convo, peer_address]));
    assert!(removal["status"] == "opened" || removal["status"] == "deferred");
    wait_for("the removal decision", || {
        has_event("membership_decision", |d| {
            d[0] == convo && d[1] == "remove" && d[2] == peer_address
        })
    });
    wait_for("the peer to be removed", || {
        call("list_group_members", json!([convo])) == json!([{"address": me, "pending": false}])
    });

    // A second group the peer leaves: the instance, its steward, commits the leave.
    let second = ok("create_group_conversation", json!(["second", ""]));
    let second = second.as_str().unwrap().to_owned();
    ok("add_group_member", json!([second, peer_address]));
    let frame = rt
        .block_on(async { tokio::time::timeout(Duration::from_secs(10), inbox.recv()).await })
        .unwrap()
        .unwrap();
    let invited = demls_module::invite::open(&frame.payload, &peer_id).unwrap();
    peer.join_by_invitation(&invited.invitation).unwrap();
    wait_for("the peer in the second group", || {
        call("list_group_members", json!([second]))
            .as_array()
            .unwrap()
            .len()
            == 2
    });
    wait_for("members_changed in the second group", || {
        has_event("members_changed", |d| d[0] == second)
    });
    let group2 = demls_module::ids::group_of(&second).unwrap();
    peer.leave(group2.as_bytes()).unwrap();
    wait_for("the peer's leave", || {
        has_event("membership_decision", |d| {
            d == &json!([second, "leave", peer_address, "approved"])
        }) && call("list_group_members", json!([second]))
            .as_array()
            .unwrap()
            .len()
            == 1
    });

    // A third group the instance (its steward) leaves, once the peer has joined: the peer,
    // next in leaf order, commits the leave.
    let third = ok("create_group_conversation", json!(["third", ""]));
    let third = third.as_str().unwrap().to_owned();
    ok("add_group_member", json!([third, peer_address]));
    let frame = rt
        .block_on(async { tokio::time::timeout(Duration::from_secs(10), inbox.recv()).await })
        .unwrap()
        .unwrap();
    let invited = demls_module::invite::open(&frame.payload, &peer_id).unwrap();
    peer.join_by_invitation(&invited.invitation).unwrap();
    let group3 = demls_module::ids::group_of(&third).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(
            Instant::now() < deadline,
            "the peer did not join the third group"
        );
        if let Some(Event::Joined { group, .. }) =
            peer.next_event(Duration::from_millis(100)).unwrap()
        {
            if group == group3 {
                break;
            }
        }
    }
    wait_for("members_changed in the third group", || {
        has_event("members_changed", |d| d[0] == third)
    });
    ok("leave_group_conversation", json!([third]));
    let drain = std::thread::spawn({
        let peer = peer.clone();
        move || {
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                let _ = peer.next_event(Duration::from_millis(100));
            }
        }
    });
    wait_for("conversation_left", || {
        has_event("conversation_left", |d| d == &json!([third, "left"]))
    });
    let convos = call("list_conversations", json!([]));
    let left = convos
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["convo_id"] == third)
        .unwrap();
    assert_eq!(left["state"], "left");
    assert_eq!(left["member_count"], 0);
    drop(drain);

    // The other way round: the peer creates a group and invites the instance through the
    // instance's inbox; with auto_accept_invitations the instance joins at once.
    let group4 = demls::GroupId::new(vec![0x44; 16]).unwrap();
    peer.create_group(group4.as_bytes()).unwrap();
    let invitation = peer.invitation(group4.as_bytes()).unwrap();
    let peer_identity = demls::Identity::from_seed([5u8; 32]).unwrap();
    let me_id = demls_module::ids::member_of(me.as_str().unwrap()).unwrap();
    let frame =
        demls_module::invite::seal(&peer_identity, &invitation, "theirs", "by peer", &me_id);
    rt.block_on(inbox.publish(&demls_module::ids::inbox_topic(&me_id), frame))
        .unwrap();
    let fourth = "44".repeat(16);
    wait_for("invitation_received", || {
        has_event("invitation_received", |d| {
            d == &json!([fourth, peer_address, "theirs", "by peer"])
        })
    });
    let drain = std::thread::spawn({
        let peer = peer.clone();
        move || {
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                let _ = peer.next_event(Duration::from_millis(100));
            }
        }
    });
    wait_for("the instance to join the peer's group", || {
        has_event("conversation_created", |d| {
            d == &json!([fourth, false, peer_address, "group", "theirs", "by peer"])
        })
    });
    wait_for("members_changed in the peer's group", || {
        has_event("members_changed", |d| d[0] == fourth)
    });
    assert_eq!(
        call("list_group_members", json!([fourth]))
            .as_array()
            .unwrap()
            .len(),
        2
    );
    drop(drain);
    ok("shutdown", json!([]));
    peer.shutdown().unwrap();
}
