/* fuzz_config: the INI parser and the config object, on any text.
 *
 * Each input is parsed twice, once as a string (myc_config_parse) and once
 * as a file (myc_config_load on a memfd, the getline reader): both must
 * give the same verdict and, bar the file name, the same message. A
 * refusal must be "NAME:LINE: text" with LINE inside the input. An
 * accepted config is checked (valid unique names, no scheme served twice
 * by enabled plugins, kernel values in range), deep-copied, and the copy
 * compared. Finally the first three lines drive myc_config_set as
 * section, key and value on an empty config. */
#include "fuzz_common.h"

#include <sys/mman.h>
#include <unistd.h>

/* Lines in text[0..size): newlines + 1. */
static unsigned count_lines(const char *text, size_t size) {
  unsigned n = 1;
  for (size_t i = 0; i < size; i++) n += text[i] == '\n';
  return n;
}

/* "NAME:LINE: text" with 1 <= LINE <= max_line (0 allowed if zero_ok). */
static void check_err(const char *err, const char *name, unsigned max_line,
                      int zero_ok) {
  size_t n = strlen(name);
  FUZZ_CHECK(err != NULL);
  FUZZ_CHECK(strncmp(err, name, n) == 0 && err[n] == ':');
  char *end = NULL;
  long line = strtol(err + n + 1, &end, 10);
  FUZZ_CHECK(end && end[0] == ':' && end[1] == ' ' && end[2] != '\0');
  FUZZ_CHECK(line <= (long)max_line && (line >= 1 || (zero_ok && line == 0)));
}

/* Invariants of an accepted config and of its deep copy. */
static void check_config(const myc_config *c) {
  FUZZ_CHECK(c->plugin_dir != NULL && c->file != NULL);
  FUZZ_CHECK(c->pool_size >= 1 && c->queue_capacity >= 2);
  FUZZ_CHECK(c->max_uri_length >= 16 && c->max_uri_length <= 65535);
  FUZZ_CHECK(c->workers <= 64 && c->log_level >= 0 && c->log_level <= 3);
  for (unsigned i = 0; i < c->nplugins; i++) {
    const myc__pcfg *pc = &c->plugins[i];
    FUZZ_CHECK(pc->name && pc->name[0]);
    FUZZ_CHECK(myc__config_find(c, pc->name) == pc);
    FUZZ_CHECK((pc->schemes == NULL) == (pc->nschemes == 0));
    FUZZ_CHECK((pc->allow_send == NULL) == (pc->nallow == 0));
    for (unsigned s = 0; s < pc->nschemes; s++) {
      FUZZ_CHECK(myc__scheme_valid(pc->schemes[s], strlen(pc->schemes[s])));
      if (!pc->enabled) continue;
      for (unsigned j = 0; j < c->nplugins; j++) {
        const myc__pcfg *o = &c->plugins[j];
        if (j == i || !o->enabled) continue;
        for (unsigned t = 0; t < o->nschemes; t++)
          FUZZ_CHECK(strcmp(o->schemes[t], pc->schemes[s]) != 0);
      }
    }
    for (unsigned s = 0; s < pc->nallow; s++)
      FUZZ_CHECK(myc__scheme_valid(pc->allow_send[s], strlen(pc->allow_send[s])));
    for (unsigned key = 0; key < pc->nkeys; key++)
      FUZZ_CHECK(pc->keys[key].key && pc->keys[key].value);
  }
}

/* The deep copy holds the same values in its own memory. */
static void check_dup(const myc_config *c) {
  myc_config *d = myc__config_dup(c);
  FUZZ_CHECK(d != NULL);
  FUZZ_CHECK(strcmp(d->plugin_dir, c->plugin_dir) == 0 && d->plugin_dir != c->plugin_dir);
  FUZZ_CHECK(d->nplugins == c->nplugins && d->pool_size == c->pool_size);
  for (unsigned i = 0; i < c->nplugins; i++) {
    const myc__pcfg *a = &c->plugins[i], *b = &d->plugins[i];
    FUZZ_CHECK(strcmp(a->name, b->name) == 0 && a->name != b->name);
    FUZZ_CHECK(a->nschemes == b->nschemes && a->nallow == b->nallow);
    FUZZ_CHECK(a->nkeys == b->nkeys && a->enabled == b->enabled);
    FUZZ_CHECK((a->path == NULL) == (b->path == NULL));
    if (a->path) FUZZ_CHECK(strcmp(a->path, b->path) == 0);
    for (unsigned k = 0; k < a->nkeys; k++)
      FUZZ_CHECK(strcmp(a->keys[k].value, b->keys[k].value) == 0);
  }
  check_config(d);
  myc_config_free(d);
}

/* The same text through the file reader. */
static int load_as_file(const char *text, size_t size, myc_config **out,
                        char **err, char *path, size_t pathlen) {
  int fd = memfd_create("fuzz.ini", MFD_CLOEXEC);
  FUZZ_CHECK(fd >= 0);
  FUZZ_CHECK(write(fd, text, size) == (ssize_t)size);
  snprintf(path, pathlen, "/proc/self/fd/%d", fd);
  int rc = myc_config_load(path, out, err);
  close(fd);
  return rc;
}

/* The first three lines as myc_config_set(section, key, value). */
static void check_set(const char *text) {
  char *copy = strdup(text), *save = NULL;
  FUZZ_CHECK(copy != NULL);
  char *sect = strtok_r(copy, "\n", &save);
  char *key = sect ? strtok_r(NULL, "\n", &save) : NULL;
  char *value = key ? strtok_r(NULL, "\n", &save) : NULL;
  myc_config *c = NULL;
  FUZZ_CHECK(myc_config_new(&c) == 0);
  char *err = NULL;
  int rc = myc_config_set(c, sect, key, value, &err);
  if (!sect || !key || !value) {
    FUZZ_CHECK(rc == MYC_EINVAL && err != NULL);
  } else if (rc == 0) {
    FUZZ_CHECK(err == NULL);
    check_config(c);
    /* Setting the same again replaces, it never clashes with itself. */
    FUZZ_CHECK(myc_config_set(c, sect, key, value, NULL) == 0);
    check_dup(c);
  } else {
    FUZZ_CHECK(rc == MYC_ECONFIG);
    check_err(err, "<memory>", 0, 1);
  }
  free(err);
  myc_config_free(c);
  free(copy);
}

/* One input: string and file parse, checks, copy, and config_set. */
int myc_fuzz_config(const uint8_t *data, size_t size) {
  char *text = fuzz_cstr(data, size);
  size_t len = strlen(text);
  unsigned lines = count_lines(text, len);
  myc_config *c = NULL;
  char *err = NULL;
  int rc = myc_config_parse(text, "fuzz.ini", &c, &err);
  if (rc == 0) {
    FUZZ_CHECK(c != NULL && err == NULL);
    check_config(c);
    check_dup(c);
  } else {
    FUZZ_CHECK(rc == MYC_ECONFIG && c == NULL);
    check_err(err, "fuzz.ini", lines, 0);
  }

  /* Without a NUL inside, the file reader sees the same bytes. */
  if (len == size) {
    char path[64];
    myc_config *c2 = NULL;
    char *err2 = NULL;
    int rc2 = load_as_file(text, size, &c2, &err2, path, sizeof(path));
    FUZZ_CHECK(rc2 == rc);
    if (rc2 == 0) {
      FUZZ_CHECK(c2->nplugins == c->nplugins);
      myc_config_free(c2);
    } else {
      size_t n = strlen(path);
      FUZZ_CHECK(err2 && strncmp(err2, path, n) == 0);
      FUZZ_CHECK(strcmp(err2 + n, err + strlen("fuzz.ini")) == 0);
    }
    free(err2);
  }
  myc_config_free(c);
  free(err);
  check_set(text);
  free(text);
  return 0;
}

#ifndef MYC_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return myc_fuzz_config(data, size);
}
#endif
