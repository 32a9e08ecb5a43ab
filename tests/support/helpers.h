/* Helpers shared by the tests: build kernels from INI text, run the host
 * binary and capture what it prints, and small file and string chores. */
#ifndef MYC_TEST_HELPERS_H
#define MYC_TEST_HELPERS_H

#include <stddef.h>
#include <sys/types.h>

#include "mycelia/mycelia.h"

/* Parse `ini` (with "%PLUGINS%" replaced by the built plugin folder and
 * "%BAD%" by the test-plugin folder) and build a kernel; fails the test
 * on error. */
myc_kernel *myc_test_kernel(const char *ini);
/* Like myc_test_kernel, but expects failure and returns the error text
 * (caller frees). */
char *myc_test_kernel_error(const char *ini);
/* Like myc_test_kernel, but returns the error instead of failing: 0 and
 * *k (caller frees), or < 0 with *k NULL and *err set (caller frees). */
int myc_test_kernel_try(const char *ini, myc_kernel **k, char **err);
/* Expand %PLUGINS% and %BAD% in `ini` (caller frees). */
char *myc_test_expand(const char *ini);
/* A fresh temporary directory (caller frees the path; removed by
 * myc_test_rmtree). */
char *myc_test_tmpdir(void);
/* Remove `path` and everything below it; fails the test on error. */
void myc_test_rmtree(const char *path);
/* Remove `path` and everything below it, best effort (for teardowns):
 * 0, or -1 if something could not be removed; never fails the test. */
int myc_test_remove_tree(const char *path);

/* Run the host binary with `args` (shell words) and `input` on stdin;
 * returns the exit status and fills *out / *err (caller frees). */
int myc_test_run(const char *args, const char *input, char **out, char **err);
/* Like myc_test_run but from the working directory `cwd`; `out` and `err`
 * may be NULL (caller frees what it gets). */
int myc_test_run_at(const char *cwd, const char *args, const char *input, char **out,
                    char **err);

/* Send a request and wait for the reply: returns the status and copies
 * the body into a malloc'd string (caller frees). */
int myc_test_call(myc_kernel *k, const char *verb, const char *uri, const char *body, char **reply);

/* printf into a malloc'd string (caller frees); fails the test on error. */
char *myc_test_fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
/* Fail unless `hay` (may be NULL) contains `needle`, showing both. */
void myc_test_assert_has(const char *hay, const char *needle);

/* The whole file as a malloc'd string (caller frees); fails the test if
 * it cannot be opened or read. */
char *myc_test_read_file(const char *path);
/* The whole file as a malloc'd string (caller frees); "" if it is missing
 * or cannot be read. */
char *myc_test_read_file_or_empty(const char *path);
/* Create or truncate `path` and write data[0..len) to it; fails the test
 * on error. */
void myc_test_write_file(const char *path, const void *data, size_t len);
/* Write the string `text` to dir/name; returns the path (caller frees).
 * Fails the test on error. */
char *myc_test_write_text(const char *dir, const char *name, const char *text);
/* Copy file `from` to `to` and give the copy mode `mode`; fails the test
 * on error. */
void myc_test_copy_file(const char *from, const char *to, mode_t mode);

#endif
