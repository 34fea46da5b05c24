/* An event log per node for the C tests: filled by an event callback or by polling. */
#ifndef DEMLS_TEST_EVENTS_H
#define DEMLS_TEST_EVENTS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "check.h"

typedef struct event_log {
    pthread_mutex_t lock;
    char **items;
    size_t len;
    size_t cap;
} event_log;

static inline void log_init(event_log *log) {
    CHECK(pthread_mutex_init(&log->lock, NULL) == 0);
    log->items = NULL;
    log->len = 0;
    log->cap = 0;
}

static inline void log_push(event_log *log, const char *json) {
    size_t n = strlen(json);
    char *copy = malloc(n + 1);
    CHECK(copy != NULL);
    memcpy(copy, json, n + 1);
    pthread_mutex_lock(&log->lock);
    if (log->len == log->cap) {
        log->cap = log->cap ? log->cap * 2 : 64;
        log->items = realloc(log->items, log->cap * sizeof(char *));
        CHECK(log->items != NULL);
    }
    log->items[log->len++] = copy;
    pthread_mutex_unlock(&log->lock);
}

static inline void log_free(event_log *log) {
    for (size_t i = 0; i < log->len; i++) {
        free(log->items[i]);
    }
    free(log->items);
    pthread_mutex_destroy(&log->lock);
}

/* Events containing both needles (the second may be NULL). */
static inline size_t log_count(event_log *log, const char *a, const char *b) {
    size_t n = 0;
    pthread_mutex_lock(&log->lock);
    for (size_t i = 0; i < log->len; i++) {
        if (strstr(log->items[i], a) && (b == NULL || strstr(log->items[i], b))) {
            n++;
        }
    }
    pthread_mutex_unlock(&log->lock);
    return n;
}

/* The event callback of the tests: `userdata` is the node's log. */
static inline void log_callback(void *userdata, const char *event_json) {
    log_push((event_log *)userdata, event_json);
}

/* Takes every queued event of a polled node into its log; true if there was one. */
static inline bool log_drain(demls_node *node, event_log *log, uint32_t timeout_ms) {
    bool any = false;
    for (;;) {
        char *json = NULL;
        OK(demls_node_next_event(node, any ? 0 : timeout_ms, &json));
        if (json == NULL) {
            return any;
        }
        log_push(log, json);
        demls_string_free(json);
        any = true;
    }
}

static inline double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

#endif
