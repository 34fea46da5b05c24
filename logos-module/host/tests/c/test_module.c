/* A tiny module image for the host's tests: the module-implementation C ABI
 * (logos_module_impl.h) with knobs set at compile time:
 *   -DMODULE_NAME='"x"'       the name it answers (default "demls_module")
 *   -DPROTOCOL_VERSION='"v"'  what logos_module_get_protocol_version returns (default "0.8.0")
 *   -DOMIT_ABOUT_TO_UNLOAD    leave out one required symbol
 * Methods: "name"; "caller" (the caller JSON pushed around this dispatch); "echo" (its args);
 * "delivery.<method>" (forwards <method> and its args to delivery_module through the lp_*
 * functions the host exports, resolved with dlsym(RTLD_DEFAULT)); anything else answers the
 * unknown_method error object. delivery_module events are re-emitted as "delivery_event"
 * with data [event_name, data]. about_to_unload answers 1 and signals from a thread. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef MODULE_NAME
#define MODULE_NAME "demls_module"
#endif
#ifndef PROTOCOL_VERSION
#define PROTOCOL_VERSION "0.8.0"
#endif
#define EXPORT __attribute__((visibility("default")))

typedef void (*emit_cb)(const char*, const char*, void*);
typedef void (*unload_cb)(void*);
typedef void (*event_cb)(const char*, const char*, void*);

static emit_cb g_emit;
static void* g_emit_ud;
static unload_cb g_unload;
static void* g_unload_ud;
static char g_caller[512];
static void* g_client;

static char* dup_str(const char* s) {
    size_t n = strlen(s) + 1;
    char* out = malloc(n);
    memcpy(out, s, n);
    return out;
}

static void on_event(const char* name, const char* data, void* ud) {
    (void)ud;
    if (!g_emit) return;
    size_t n = strlen(name) + strlen(data) + 16;
    char* payload = malloc(n);
    snprintf(payload, n, "[\"%s\",%s]", name, data);
    g_emit("delivery_event", payload, g_emit_ud);
    free(payload);
}

static char* delivery(const char* method, const char* args) {
    void* (*create)(const char*, const char*, const char*, const char*) =
        (void* (*)(const char*, const char*, const char*, const char*))dlsym(RTLD_DEFAULT, "lp_client_create");
    void* (*subscribe)(void*, const char*, event_cb, void*) =
        (void* (*)(void*, const char*, event_cb, void*))dlsym(RTLD_DEFAULT, "lp_subscribe");
    int (*invoke)(void*, const char*, const char*, int, char**, char**) =
        (int (*)(void*, const char*, const char*, int, char**, char**))dlsym(RTLD_DEFAULT, "lp_invoke");
    void (*string_free)(char*) = (void (*)(char*))dlsym(RTLD_DEFAULT, "lp_string_free");
    if (!create || !subscribe || !invoke || !string_free)
        return dup_str("{\"code\":\"dispatch_failed\",\"message\":\"no lp_* in this process\",\"origin\":\"" MODULE_NAME "\"}");
    if (!g_client) {
        g_client = create("delivery_module", MODULE_NAME, NULL, NULL);
        subscribe(g_client, "messageReceived", on_event, NULL);
        subscribe(g_client, "connectionStateChanged", on_event, NULL);
    }
    char* result = NULL;
    char* error = NULL;
    int rc = invoke(g_client, method, args, 0, &result, &error);
    char* out = dup_str(rc == 0 ? (result ? result : "null") : (error ? error : "null"));
    string_free(result);
    string_free(error);
    return out;
}

EXPORT char* logos_module_dispatch(const char* method, const char* args) {
    if (!method) return NULL;
    if (!strcmp(method, "name")) return dup_str("\"" MODULE_NAME "\"");
    if (!strcmp(method, "caller")) return dup_str(g_caller[0] ? g_caller : "null");
    if (!strcmp(method, "echo")) return dup_str(args ? args : "null");
    if (!strncmp(method, "delivery.", 9)) return delivery(method + 9, args ? args : "[]");
    return dup_str("{\"code\":\"unknown_method\",\"message\":\"no such method\",\"origin\":\"" MODULE_NAME "\"}");
}
EXPORT char* logos_module_get_methods(void) { return dup_str("[]"); }
EXPORT void logos_module_set_context(const char* a, const char* b, const char* c) { (void)a; (void)b; (void)c; }
EXPORT void logos_module_set_emit_callback(emit_cb cb, void* ud) { g_emit = cb; g_emit_ud = ud; }
EXPORT int logos_module_accept_token(const char* m, const char* t) { (void)m; return t ? 0 : -1; }
EXPORT int logos_module_accept_inbound_token(const char* m, const char* t) { (void)m; (void)t; return 0; }
EXPORT int logos_module_grant_host_services(const char* s) { (void)s; return 0; }
EXPORT void logos_module_set_unload_done_callback(unload_cb cb, void* ud) { g_unload = cb; g_unload_ud = ud; }

#ifndef OMIT_ABOUT_TO_UNLOAD
static void* finish_unload(void* arg) {
    (void)arg;
    usleep(50 * 1000);
    if (g_unload) g_unload(g_unload_ud);
    return NULL;
}

EXPORT int logos_module_about_to_unload(void) {
    pthread_t t;
    if (pthread_create(&t, NULL, finish_unload, NULL) != 0) return 0;
    pthread_join(t, NULL);
    return 1;
}
#endif
EXPORT void logos_module_set_call_caller(const char* caller) {
    if (caller) snprintf(g_caller, sizeof g_caller, "%s", caller);
    else g_caller[0] = 0;
}
EXPORT const char* logos_module_get_protocol_version(void) { return PROTOCOL_VERSION; }
EXPORT void logos_module_string_free(char* s) { free(s); }
