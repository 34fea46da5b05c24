/*
 * mixed_peer: the C member of the mixed group test (tests/mixed_logos.rs). Starts a node from
 * the configuration file argv[1] (logos transport, the Rust member as static peer), asks to
 * join the group "mixed", waits to be voted in, says hello, waits for the Rust member's
 * answer, then shuts down. Exit status 0 on success.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "demls.h"
#include "events.h"

#define STEP_SECONDS 90.0

/* Polls until an event holds both needles; prints every event on stdout. */
static void wait_for(demls_node *node, const char *a, const char *b) {
    double end = now_s() + STEP_SECONDS;
    for (;;) {
        char *event = NULL;
        OK(demls_node_next_event(node, 200, &event));
        if (event != NULL) {
            printf("%s\n", event);
            fflush(stdout);
            int found = strstr(event, a) != NULL && (b == NULL || strstr(event, b) != NULL);
            demls_string_free(event);
            if (found) {
                return;
            }
        }
        if (now_s() > end) {
            fprintf(stderr, "mixed_peer: timed out waiting for %s\n", a);
            exit(1);
        }
    }
}

int main(int argc, char **argv) {
    CHECK(argc == 2);
    demls_node *node = NULL;
    OK(demls_node_new_from_file(argv[1], &node));
    demls_group *group = NULL;
    OK(demls_node_join_group(node, (const uint8_t *)"mixed", 5, &group));
    wait_for(node, "\"type\":\"joined\"", NULL);
    const char *hello = "hello from C";
    uint8_t *id = NULL;
    size_t len = 0;
    OK(demls_group_send(group, (const uint8_t *)hello, strlen(hello), &id, &len));
    demls_bytes_free(id, len);
    /* "hello from Rust" in base64 */
    wait_for(node, "\"type\":\"message_received\"", "aGVsbG8gZnJvbSBSdXN0");
    printf("ok: mixed\n");
    OK(demls_node_shutdown(node));
    demls_group_free(group);
    demls_node_free(node);
    return 0;
}
