/*
 * The C API's test program (run by c-bindings/tests/c_api.rs under AddressSanitizer and
 * UndefinedBehaviorSanitizer, with the shared and with the static library, and under valgrind).
 *
 *   api_test backends   the backend listing names every bundled backend (registration)
 *   api_test errors     every error path: NULL arguments, bad TOML, unknown group, payload too
 *                       large, use after free of the parent, double shutdown, wrong thread
 *   api_test group      three nodes (memory transport) form a group by votes, chat, remove
 *                       one, one leaves; events by callback (alice) and by polling (bob, carol)
 *   api_test all        all three
 */
#define _POSIX_C_SOURCE 200809L

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "demls.h"
#include "events.h"

#define STEP_SECONDS 60.0

static char network[64];

/* A node's configuration: memory transport on this process's own network, memory storage. */
static void config(char *out, size_t cap, const char *name) {
    int n = snprintf(out, cap,
                     "[node]\nname = \"%s\"\n"
                     "[transport]\nbackend = \"memory\"\nnetwork = \"%s\"\n"
                     "[storage]\nbackend = \"memory\"\n"
                     "[steward]\nbackend = \"single\"\ncommit_delay_ms = 50\n"
                     "[group]\nvote_timeout_ms = 5000\nmax_app_message_bytes = 16384\n",
                     name, network);
    CHECK(n > 0 && (size_t)n < cap);
}

static demls_node *start(const char *name) {
    char cfg[512];
    config(cfg, sizeof cfg, name);
    demls_node *node = NULL;
    OK(demls_node_new(cfg, &node));
    CHECK(node != NULL);
    return node;
}

/* ---- backends ------------------------------------------------------------------------ */

/* True if the JSON array after `"slot":` names `name`. */
static bool slot_has(const char *json, const char *slot, const char *name) {
    char key[64], quoted[64];
    snprintf(key, sizeof key, "\"%s\":[", slot);
    snprintf(quoted, sizeof quoted, "\"%s\"", name);
    const char *start = strstr(json, key);
    if (start == NULL) {
        return false;
    }
    const char *end = strchr(start, ']');
    const char *hit = strstr(start, quoted);
    return end != NULL && hit != NULL && hit < end;
}

static void test_backends(void) {
    CHECK(strcmp(demls_version(), "") != 0);
    char *json = NULL;
    OK(demls_backends(&json));
    CHECK(json != NULL);
    printf("backends: %s\n", json);
    CHECK(slot_has(json, "transport", "logos"));
    CHECK(slot_has(json, "transport", "memory"));
    CHECK(slot_has(json, "storage", "memory"));
    CHECK(slot_has(json, "storage", "sqlite"));
    CHECK(slot_has(json, "consensus", "hashgraph"));
    CHECK(slot_has(json, "steward", "multi"));
    CHECK(slot_has(json, "steward", "single"));
    demls_string_free(json);
    printf("ok: backends\n");
}

/* ---- errors -------------------------------------------------------------------------- */

typedef struct callback_probe {
    pthread_mutex_t lock;
    int calls;
    demls_result blocking;   /* what a blocking call returned inside the callback */
    demls_result polling;    /* what polling with timeout 0 returned inside it */
    demls_node *node;
} callback_probe;

static void probe_callback(void *userdata, const char *event_json) {
    callback_probe *p = userdata;
    (void)event_json;
    char *status = NULL;
    demls_result blocking = demls_node_status(p->node, &status);
    demls_string_free(status);
    char *event = NULL;
    demls_result polling = demls_node_next_event(p->node, 0, &event);
    demls_string_free(event);
    pthread_mutex_lock(&p->lock);
    p->calls++;
    p->blocking = blocking;
    p->polling = polling;
    pthread_mutex_unlock(&p->lock);
}

static void test_errors(void) {
    char cfg[512];
    config(cfg, sizeof cfg, "eve");
    demls_node *node = (demls_node *)(uintptr_t)0x1; /* outputs are written only on success */

    /* NULL arguments */
    EXPECT(DEMLS_RESULT_NULL_ARGUMENT, demls_node_new(NULL, &node));
    EXPECT(DEMLS_RESULT_NULL_ARGUMENT, demls_node_new(cfg, NULL));
    EXPECT(DEMLS_RESULT_NULL_ARGUMENT, demls_node_new_from_file(NULL, &node));
    EXPECT(DEMLS_RESULT_NULL_ARGUMENT, demls_backends(NULL));
    EXPECT(DEMLS_RESULT_NULL_ARGUMENT, demls_node_shutdown(NULL));
    CHECK(strstr(demls_last_error(), "node") != NULL);
    CHECK(node == (demls_node *)(uintptr_t)0x1);

    /* bad configurations */
    EXPECT(DEMLS_RESULT_INVALID_CONFIG, demls_node_new("[node\nname = ", &node));
    CHECK(strlen(demls_last_error()) > 0);
    EXPECT(DEMLS_RESULT_INVALID_CONFIG,
           demls_node_new("[transport]\nbackend = \"carrier-pigeon\"\n", &node));
    CHECK(strstr(demls_last_error(), "carrier-pigeon") != NULL);
    EXPECT(DEMLS_RESULT_INVALID_CONFIG, demls_node_new_from_file("/nonexistent/demls.toml", &node));
    CHECK(node == (demls_node *)(uintptr_t)0x1);
    CHECK(strcmp(demls_result_name(DEMLS_RESULT_INVALID_CONFIG), "invalid_config") == 0);

    OK(demls_node_new(cfg, &node));
    char *out = NULL;
    demls_group *group = NULL;
    uint8_t *bytes = NULL;
    size_t len = 0;
    EXPECT(DEMLS_RESULT_NULL_ARGUMENT, demls_node_status(NULL, &out));
    EXPECT(DEMLS_RESULT_NULL_ARGUMENT, demls_node_status(node, NULL));
    EXPECT(DEMLS_RESULT_NULL_ARGUMENT, demls_node_call(node, NULL, "", &out));
    EXPECT(DEMLS_RESULT_NULL_ARGUMENT, demls_node_call(node, "status", NULL, &out));
    EXPECT(DEMLS_RESULT_NULL_ARGUMENT, demls_node_call(node, "status", "", NULL));
    EXPECT(DEMLS_RESULT_NULL_ARGUMENT, demls_node_create_group(node, NULL, 3, &group));
    EXPECT(DEMLS_RESULT_NULL_ARGUMENT, demls_node_create_group(node, (const uint8_t *)"abc", 3, NULL));
    EXPECT(DEMLS_RESULT_NULL_ARGUMENT, demls_node_join_by_invitation(node, NULL, &group));
    EXPECT(DEMLS_RESULT_NULL_ARGUMENT, demls_node_member_id(node, &bytes, NULL));
    EXPECT(DEMLS_RESULT_NULL_ARGUMENT, demls_node_next_event(node, 0, NULL));
    EXPECT(DEMLS_RESULT_NULL_ARGUMENT, demls_node_set_event_callback(NULL, log_callback, NULL));
    EXPECT(DEMLS_RESULT_NULL_ARGUMENT, demls_group_send(NULL, (const uint8_t *)"x", 1, &bytes, &len));
    EXPECT(DEMLS_RESULT_NULL_ARGUMENT, demls_group_info(NULL, &out));
    EXPECT(DEMLS_RESULT_NULL_ARGUMENT, demls_group_vote(NULL, (const uint8_t *)"x", 1, true));
    CHECK(out == NULL && group == NULL && bytes == NULL);

    /* the dispatcher's errors */
    EXPECT(DEMLS_RESULT_UNKNOWN_METHOD, demls_node_call(node, "fly", "", &out));
    EXPECT(DEMLS_RESULT_INVALID_ARGUMENT, demls_node_call(node, "status", "{not json", &out));
    EXPECT(DEMLS_RESULT_INVALID_ARGUMENT, demls_node_call(node, "send", "{\"group\": 3}", &out));
    OK(demls_node_call(node, "status", "", &out));
    CHECK(strstr(out, "\"name\":\"eve\"") != NULL);
    demls_string_free(out);
    out = NULL;

    /* unknown group, bad ids, bad invitation */
    EXPECT(DEMLS_RESULT_UNKNOWN_GROUP, demls_node_open_group(node, (const uint8_t *)"nope", 4, &group));
    EXPECT(DEMLS_RESULT_UNKNOWN_GROUP,
           demls_node_call(node, "send", "{\"group\": \"bm9wZQ==\", \"payload\": \"aGk=\"}", &out));
    EXPECT(DEMLS_RESULT_INVALID_GROUP_ID, demls_node_create_group(node, (const uint8_t *)"", 0, &group));
    EXPECT(DEMLS_RESULT_INVALID_INVITATION, demls_node_join_by_invitation(node, "hello", &group));
    CHECK(group == NULL);

    /* wrong thread: a blocking call from inside the event callback is refused */
    callback_probe probe = {.calls = 0, .node = node};
    CHECK(pthread_mutex_init(&probe.lock, NULL) == 0);
    OK(demls_node_set_event_callback(node, probe_callback, &probe));
    OK(demls_node_create_group(node, (const uint8_t *)"solo", 4, &group));
    double end = now_s() + STEP_SECONDS;
    for (;;) {
        pthread_mutex_lock(&probe.lock);
        int calls = probe.calls;
        pthread_mutex_unlock(&probe.lock);
        if (calls > 0) {
            break;
        }
        CHECK(now_s() < end);
        sleep_ms(10);
    }
    OK(demls_node_set_event_callback(node, NULL, NULL));
    pthread_mutex_lock(&probe.lock);
    EXPECT(DEMLS_RESULT_WRONG_THREAD, probe.blocking);
    EXPECT(DEMLS_RESULT_OK, probe.polling);
    pthread_mutex_unlock(&probe.lock);
    pthread_mutex_destroy(&probe.lock);

    /* no event: OK with *out_json = NULL */
    char *event = (char *)"untouched";
    OK(demls_node_next_event(node, 0, &event));
    CHECK(event == NULL);
    OK(demls_node_next_event(node, 20, &event));
    CHECK(event == NULL);

    /* payload too large (the group allows 16 KiB here) and bad ids on a real group */
    size_t big_len = 70000;
    uint8_t *big = calloc(big_len, 1);
    CHECK(big != NULL);
    EXPECT(DEMLS_RESULT_PAYLOAD_TOO_LARGE, demls_group_send(group, big, big_len, &bytes, &len));
    free(big);
    CHECK(bytes == NULL);
    EXPECT(DEMLS_RESULT_INVALID_MEMBER_ID, demls_group_propose_remove(group, (const uint8_t *)"abc", 3, &out));
    EXPECT(DEMLS_RESULT_INVALID_DECISION_ID, demls_group_vote(group, (const uint8_t *)"abc", 3, true));
    OK(demls_group_send(group, (const uint8_t *)"ok", 2, &bytes, &len));
    CHECK(len == 16);
    demls_bytes_free(bytes, len);
    bytes = NULL;

    /* double shutdown: the second one does nothing and returns OK; later calls are STOPPED */
    OK(demls_node_shutdown(node));
    OK(demls_node_shutdown(node));
    EXPECT(DEMLS_RESULT_STOPPED, demls_group_send(group, (const uint8_t *)"late", 4, &bytes, &len));
    EXPECT(DEMLS_RESULT_STOPPED, demls_node_create_group(node, (const uint8_t *)"late", 4, &group));

    /* call after free of the parent: the group handle reports USE_AFTER_FREE */
    demls_node_free(node);
    EXPECT(DEMLS_RESULT_USE_AFTER_FREE, demls_group_send(group, (const uint8_t *)"x", 1, &bytes, &len));
    EXPECT(DEMLS_RESULT_USE_AFTER_FREE, demls_group_info(group, &out));
    EXPECT(DEMLS_RESULT_USE_AFTER_FREE, demls_group_history(group, 10, &out));
    CHECK(strstr(demls_last_error(), "freed") != NULL);
    OK(demls_group_id(group, &bytes, &len)); /* the handle's own data stays readable */
    CHECK(len == 4 && memcmp(bytes, "solo", 4) == 0);
    demls_bytes_free(bytes, len);
    demls_group_free(group);

    /* releasing NULL does nothing */
    demls_node_free(NULL);
    demls_group_free(NULL);
    demls_string_free(NULL);
    demls_bytes_free(NULL, 0);
    printf("ok: errors\n");
}

/* ---- three nodes form a group -------------------------------------------------------- */

typedef struct member {
    const char *name;
    demls_node *node;
    demls_group *group;
    event_log log;
    bool polled;
    uint8_t *id;
    size_t id_len;
} member;

static member members[3];

/* Drains the polled members' queues (waiting a little on the first one). */
static void pump(void) {
    bool any = false;
    for (int i = 0; i < 3; i++) {
        if (members[i].polled && members[i].node != NULL) {
            any |= log_drain(members[i].node, &members[i].log, 0);
        }
    }
    if (!any) {
        sleep_ms(10);
    }
}

#define WAIT_FOR(what, cond)                                                          \
    do {                                                                              \
        double end_ = now_s() + STEP_SECONDS;                                         \
        while (!(cond)) {                                                             \
            if (now_s() > end_) {                                                     \
                fprintf(stderr, "%s:%d: timed out waiting for %s\n", __FILE__,        \
                        __LINE__, what);                                              \
                exit(1);                                                              \
            }                                                                         \
            pump();                                                                   \
        }                                                                             \
        printf("  %s\n", what);                                                       \
    } while (0)

static size_t seen(int who, const char *a, const char *b) {
    return log_count(&members[who].log, a, b);
}

static void send_text(int who, const char *text) {
    uint8_t *id = NULL;
    size_t len = 0;
    OK(demls_group_send(members[who].group, (const uint8_t *)text, strlen(text), &id, &len));
    demls_bytes_free(id, len);
}

static void test_group(void) {
    const char *names[3] = {"alice", "bob", "carol"};
    for (int i = 0; i < 3; i++) {
        member *m = &members[i];
        m->name = names[i];
        m->node = start(names[i]);
        log_init(&m->log);
        m->polled = i != 0; /* alice takes her events by callback, bob and carol by polling */
        if (!m->polled) {
            OK(demls_node_set_event_callback(m->node, log_callback, &m->log));
        }
        OK(demls_node_member_id(m->node, &m->id, &m->id_len));
        CHECK(m->id_len == 20);
    }
    const uint8_t team[] = "team";
    OK(demls_node_create_group(members[0].node, team, 4, &members[0].group));
    WAIT_FOR("alice created the group", seen(0, "\"type\":\"group_created\"", NULL) == 1);

    OK(demls_node_join_group(members[1].node, team, 4, &members[1].group));
    char *out = NULL;
    EXPECT(DEMLS_RESULT_UNKNOWN_GROUP, demls_group_info(members[1].group, &out));
    WAIT_FOR("bob joined by the group's vote", seen(1, "\"type\":\"joined\"", NULL) == 1);

    char *invitation = NULL;
    OK(demls_group_invitation(members[0].group, &invitation));
    CHECK(strncmp(invitation, "demls-invite:1:", 15) == 0);
    OK(demls_node_join_by_invitation(members[2].node, invitation, &members[2].group));
    demls_string_free(invitation);
    WAIT_FOR("carol joined by invitation",
             seen(2, "\"type\":\"joined\"", NULL) == 1 &&
                 seen(0, "\"type\":\"epoch_advanced\"", "\"members\":3") >= 1 &&
                 seen(1, "\"type\":\"epoch_advanced\"", "\"members\":3") >= 1);

    OK(demls_group_info(members[2].group, &out));
    CHECK(strstr(out, "\"epoch\":") != NULL);
    demls_string_free(out);

    for (int i = 0; i < 3; i++) {
        char text[64];
        snprintf(text, sizeof text, "hello from %s", names[i]);
        send_text(i, text);
    }
    WAIT_FOR("each reads the two others",
             seen(0, "\"type\":\"message_received\"", NULL) == 2 &&
                 seen(1, "\"type\":\"message_received\"", NULL) == 2 &&
                 seen(2, "\"type\":\"message_received\"", NULL) == 2);
    /* "hello from alice" in base64 */
    CHECK(seen(1, "\"payload\":\"aGVsbG8gZnJvbSBhbGljZQ==\"", NULL) == 1);
    OK(demls_group_history(members[1].group, 10, &out));
    CHECK(strstr(out, "aGVsbG8gZnJvbSBhbGljZQ==") != NULL);
    demls_string_free(out);

    OK(demls_group_propose_remove(members[0].group, members[2].id, members[2].id_len, &out));
    CHECK(strstr(out, "\"status\":") != NULL);
    demls_string_free(out);
    WAIT_FOR("carol removed by the group's vote",
             seen(2, "\"type\":\"removed\"", NULL) == 1 &&
                 seen(0, "\"type\":\"epoch_advanced\"", "\"members\":2") >= 2 &&
                 seen(1, "\"type\":\"epoch_advanced\"", "\"members\":2") >= 1);

    OK(demls_group_leave(members[1].group, &out));
    demls_string_free(out);
    WAIT_FOR("bob left", seen(0, "\"type\":\"epoch_advanced\"", "\"members\":1") >= 1);

    for (int i = 0; i < 3; i++) {
        member *m = &members[i];
        OK(demls_node_shutdown(m->node));
        demls_group_free(m->group);
        demls_node_free(m->node); /* alice's callback is not called after this returns */
        m->node = NULL;
        demls_bytes_free(m->id, m->id_len);
        log_free(&m->log);
    }
    printf("ok: group\n");
}

int main(int argc, char **argv) {
    const char *what = argc > 1 ? argv[1] : "all";
    snprintf(network, sizeof network, "capi-test-%ld", (long)getpid());
    bool all = strcmp(what, "all") == 0;
    if (all || strcmp(what, "backends") == 0) {
        test_backends();
    }
    if (all || strcmp(what, "errors") == 0) {
        test_errors();
    }
    if (all || strcmp(what, "group") == 0) {
        test_group();
    }
    return 0;
}
