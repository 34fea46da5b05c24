/*
 * bench.c: what the C boundary costs, as JSON lines on stdout (run by bench/run.sh).
 *
 *   call_status       one demls_node_call("status") round trip (C -> runtime -> C)
 *   poll_empty        one demls_node_next_event with timeout 0 and no event queued
 *   event_callback    one message_received event delivered to a C callback, from the
 *                     sender's demls_group_send (includes MLS encryption and decryption)
 */
#define _POSIX_C_SOURCE 200809L

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "demls.h"

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void must(demls_result r, const char *what) {
    if (r != DEMLS_RESULT_OK) {
        fprintf(stderr, "%s: %s (%s)\n", what, demls_result_name(r), demls_last_error());
        exit(1);
    }
}

static demls_node *member(const char *name) {
    char config[256];
    snprintf(config, sizeof config,
             "[node]\nname = \"%s\"\n[transport]\nbackend = \"memory\"\nnetwork = \"bench\"\n"
             "[storage]\nbackend = \"memory\"\n[steward]\nbackend = \"single\"\n"
             "commit_delay_ms = 20\n",
             name);
    demls_node *node = NULL;
    must(demls_node_new(config, &node), "demls_node_new");
    return node;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, ms == 0 ? 100000L : (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static atomic_int received;

static void on_event(void *userdata, const char *event_json) {
    (void)userdata;
    if (strstr(event_json, "\"type\":\"message_received\"") != NULL) {
        atomic_fetch_add(&received, 1);
    }
}

int main(void) {
    demls_node *alice = member("alice");
    demls_node *bob = member("bob");

    const int calls = 2000;
    double t0 = now_us();
    for (int i = 0; i < calls; i++) {
        char *out = NULL;
        must(demls_node_call(alice, "status", "", &out), "status");
        demls_string_free(out);
    }
    printf("{\"bench\":\"c_call_status\",\"calls\":%d,\"per_call_us\":%.2f}\n", calls,
           (now_us() - t0) / calls);

    t0 = now_us();
    for (int i = 0; i < calls; i++) {
        char *out = NULL;
        must(demls_node_next_event(bob, 0, &out), "next_event");
        demls_string_free(out);
    }
    printf("{\"bench\":\"c_poll_empty\",\"calls\":%d,\"per_call_us\":%.2f}\n", calls,
           (now_us() - t0) / calls);

    demls_group *team = NULL, *bobs = NULL;
    must(demls_node_create_group(alice, (const uint8_t *)"bench", 5, &team), "create");
    must(demls_node_join_group(bob, (const uint8_t *)"bench", 5, &bobs), "join");
    for (int waited = 0;; waited++) {
        char *info = NULL;
        if (demls_group_info(bobs, &info) == DEMLS_RESULT_OK) {
            demls_string_free(info);
            break;
        }
        if (waited > 3000) {
            fprintf(stderr, "bob did not join\n");
            return 1;
        }
        sleep_ms(10);
    }
    must(demls_node_set_event_callback(bob, on_event, NULL), "callback");
    const int messages = 500;
    t0 = now_us();
    for (int i = 0; i < messages; i++) {
        uint8_t *id = NULL;
        size_t len = 0;
        must(demls_group_send(team, (const uint8_t *)"ping", 4, &id, &len), "send");
        demls_bytes_free(id, len);
    }
    while (atomic_load(&received) < messages) {
        sleep_ms(0);
    }
    printf("{\"bench\":\"c_event_callback\",\"events\":%d,\"per_event_us\":%.2f}\n", messages,
           (now_us() - t0) / messages);

    demls_group_free(team);
    demls_group_free(bobs);
    demls_node_free(alice);
    demls_node_free(bob);
    return 0;
}
