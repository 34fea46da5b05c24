/* A tiny assertion harness shared by the C tests. */
#ifndef DEMLS_TEST_CHECK_H
#define DEMLS_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#include "demls.h"

/* Fails the program with the location, the expression and the library's last error. */
#define CHECK(cond)                                                                       \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", __FILE__,       \
                    __LINE__, #cond, demls_last_error());                                 \
            exit(1);                                                                      \
        }                                                                                 \
    } while (0)

/* Checks that a call returns the expected result code. */
#define EXPECT(expected, call)                                                            \
    do {                                                                                  \
        demls_result got_ = (call);                                                       \
        if (got_ != (expected)) {                                                         \
            fprintf(stderr, "%s:%d: %s returned %s (%u), expected %s (last error: %s)\n", \
                    __FILE__, __LINE__, #call, demls_result_name(got_), (unsigned)got_,   \
                    demls_result_name(expected), demls_last_error());                     \
            exit(1);                                                                      \
        }                                                                                 \
    } while (0)

#define OK(call) EXPECT(DEMLS_RESULT_OK, call)

#endif
