/* Helpers shared by the tests: build kernels from INI text, run the host
 * binary and capture what it prints. */
#ifndef MYC_TEST_HELPERS_H
#define MYC_TEST_HELPERS_H

#include <stddef.h>

#include "mycelia/mycelia.h"

/* Parse `ini` (with "%PLUGINS%" replaced by the built plugin folder and
 * "%BAD%" by the test-plugin folder) and build a kernel; fails the test
 * on error. */
myc_kernel *myc_test_kernel(const char *ini);
/* Like myc_test_kernel, but expects failure and returns the error text
 * (caller frees). */
char *myc_test_kernel_error(const char *ini);
/* Expand %PLUGINS%, %BAD% and %TMP% in `ini` (caller frees). */
char *myc_test_expand(const char *ini);
/* A fresh temporary directory (caller frees the path; removed by
 * myc_test_rmtree). */
char *myc_test_tmpdir(void);
void myc_test_rmtree(const char *path);

/* Run the host binary with `args` (shell words) and `input` on stdin;
 * returns the exit status and fills *out / *err (caller frees). */
int myc_test_run(const char *args, const char *input, char **out, char **err);

/* Send a request and wait for the reply: returns the status and copies
 * the body into a malloc'd string (caller frees). */
int myc_test_call(myc_kernel *k, const char *verb, const char *uri, const char *body, char **reply);

#endif
