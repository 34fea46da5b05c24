/*
 * hello.c: two de-MLS members in one process, driven from C. Alice creates a group, Bob asks
 * to join, Alice's node votes him in, and Bob reads Alice's greeting.
 *
 * Build (from the repository root, after `cargo build -p demls-c`):
 *   gcc -Wall -Wextra -std=c11 -I c-bindings/include examples/c/hello.c \
 *       -L target/debug -ldemls_c -Wl,-rpath,$PWD/target/debug -o hello && ./hello
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>

#include "demls.h"

/* Stops the program with the library's message when a call fails. */
static int check(demls_result result, const char *what) {
    if (result != DEMLS_RESULT_OK) {
        fprintf(stderr, "%s: %s (%s)\n", what, demls_result_name(result), demls_last_error());
        return 0;
    }
    return 1;
}

/* A member on the in-process network "hello", with in-memory storage. */
static demls_node *member(const char *name) {
    char config[256];
    snprintf(config, sizeof config,
             "[node]\nname = \"%s\"\n[transport]\nbackend = \"memory\"\nnetwork = \"hello\"\n"
             "[storage]\nbackend = \"memory\"\n[steward]\nbackend = \"single\"\n",
             name);
    demls_node *node = NULL;
    return check(demls_node_new(config, &node), "demls_node_new") ? node : NULL;
}

/* Polls `node` for up to `seconds` until an event of `type` comes; prints every event. */
static int wait_for(demls_node *node, const char *who, const char *type, int seconds) {
    char needle[64];
    snprintf(needle, sizeof needle, "\"type\":\"%s\"", type);
    for (int i = 0; i < seconds * 10; i++) {
        char *event = NULL;
        if (!check(demls_node_next_event(node, 100, &event), "demls_node_next_event")) {
            return 0;
        }
        if (event == NULL) {
            continue; /* no event within 100 ms */
        }
        printf("%s: %s\n", who, event);
        int found = strstr(event, needle) != NULL;
        demls_string_free(event);
        if (found) {
            return 1;
        }
    }
    fprintf(stderr, "%s: no %s event\n", who, type);
    return 0;
}

int main(void) {
    printf("demls %s\n", demls_version());
    demls_node *alice = member("alice");
    demls_node *bob = member("bob");
    demls_group *team = NULL, *bobs_team = NULL;
    const uint8_t id[] = "team";
    int ok = alice && bob &&
             check(demls_node_create_group(alice, id, 4, &team), "create_group") &&
             check(demls_node_join_group(bob, id, 4, &bobs_team), "join_group") &&
             wait_for(bob, "bob", "joined", 30);
    if (ok) {
        const char *text = "hello, Bob";
        uint8_t *message_id = NULL;
        size_t message_id_len = 0;
        ok = check(demls_group_send(team, (const uint8_t *)text, strlen(text), &message_id,
                                    &message_id_len),
                   "send") &&
             wait_for(bob, "bob", "message_received", 30);
        demls_bytes_free(message_id, message_id_len);
    }
    demls_group_free(team);
    demls_group_free(bobs_team);
    demls_node_free(alice); /* shuts the node down and stops its runtime */
    demls_node_free(bob);
    printf(ok ? "done\n" : "failed\n");
    return ok ? 0 : 1;
}
