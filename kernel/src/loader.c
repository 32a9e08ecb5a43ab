/* Loading plugin files: path and permission checks, dlopen, ABI checks.
 * Every refusal is one line naming the plugin, the file and the reason. */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

typedef const myc_plugin *(*entry_fn)(const myc_host *);

static int fail(char **err, const char *plugin, const char *file,
                const char *reason) {
  *err = myc__asprintf("plugin '%s' (%s): %s", plugin, file, reason);
  return MYC_ELOAD;
}

/* A file or folder that others could rewrite is refused: loading it would
 * run their code with our rights. */
static const char *writable_by_others(const char *path, bool want_dir) {
  struct stat st;
  if (stat(path, &st) != 0) return "cannot stat";
  if (want_dir && !S_ISDIR(st.st_mode)) return "not a directory";
  if (!want_dir && !S_ISREG(st.st_mode)) return "not a regular file";
  if (st.st_mode & (S_IWGRP | S_IWOTH)) return "writable by group or others (fix with chmod go-w)";
  return NULL;
}

/* If the file exports another major's entry symbol, say which. */
static int other_major(void *h) {
  for (int v = 0; v < 10; v++) {
    char sym[64];
    if (v == MYC_ABI_MAJOR) continue;
    snprintf(sym, sizeof(sym), "myc_plugin_entry_v%d", v);
    if (dlsym(h, sym)) return v;
  }
  return -1;
}

/* Open `path` (relative to `dir` unless absolute), check where it lives and
 * who may write it, load it and check its descriptor. On success fills
 * *out (close with myc__loader_close). */
int myc__loader_open(const char *dir, const char *path, const char *plugin,
                     myc__lib *out, char **err) {
  char want[PATH_MAX], real[PATH_MAX], rdir[PATH_MAX], why[3 * PATH_MAX];
  const char *bad;
  memset(out, 0, sizeof(*out));
  if (path[0] == '/' || !dir)
    snprintf(want, sizeof(want), "%s", path);
  else
    snprintf(want, sizeof(want), "%s/%s", dir, path);

  if (!realpath(want, real)) {
    snprintf(why, sizeof(why), "cannot open: %s", strerror(errno));
    return fail(err, plugin, want, why);
  }
  if (dir) {
    if (!realpath(dir, rdir)) {
      snprintf(why, sizeof(why), "plugin_dir '%s': %s", dir, strerror(errno));
      return fail(err, plugin, want, why);
    }
    size_t n = strlen(rdir);
    if (n == 1) n = 0; /* plugin_dir = / */
    if (strncmp(real, rdir, n) != 0 || real[n] != '/') {
      snprintf(why, sizeof(why), "resolves to '%s', outside plugin_dir '%s'", real, rdir);
      return fail(err, plugin, want, why);
    }
    if ((bad = writable_by_others(rdir, true))) {
      snprintf(why, sizeof(why), "plugin_dir '%s' is %s", rdir, bad);
      return fail(err, plugin, real, why);
    }
  }
  if ((bad = writable_by_others(real, false))) {
    snprintf(why, sizeof(why), "file is %s", bad);
    return fail(err, plugin, real, why);
  }

  void *h = dlopen(real, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *e = dlerror();
    snprintf(why, sizeof(why), "dlopen failed: %s", e ? e : "unknown error");
    return fail(err, plugin, real, why);
  }
  entry_fn entry = (entry_fn)dlsym(h, MYC_PLUGIN_ENTRY_NAME);
  if (!entry) {
    int v = other_major(h);
    if (v >= 0)
      snprintf(why, sizeof(why), "built for ABI %d.x (exports myc_plugin_entry_v%d), this host speaks %d.%d",
               v, v, MYC_ABI_MAJOR, MYC_ABI_MINOR);
    else
      snprintf(why, sizeof(why), "no entry symbol '%s': not a Mycelia plugin, or built for another ABI",
               MYC_PLUGIN_ENTRY_NAME);
    goto refuse;
  }
  const myc_plugin *d = entry(myc_host_table());
  if (!d) {
    snprintf(why, sizeof(why), "its entry function refused this host (ABI %d.%d)", MYC_ABI_MAJOR, MYC_ABI_MINOR);
    goto refuse;
  }
  if (d->abi_major != MYC_ABI_MAJOR) {
    snprintf(why, sizeof(why), "built for ABI %u.%u, this host speaks %d.%d", d->abi_major,
             d->abi_minor, MYC_ABI_MAJOR, MYC_ABI_MINOR);
    goto refuse;
  }
  if (d->size < MYC_PLUGIN_MIN_SIZE) {
    snprintf(why, sizeof(why), "descriptor is %u bytes, ABI %d needs at least %zu", d->size,
             MYC_ABI_MAJOR, (size_t)MYC_PLUGIN_MIN_SIZE);
    goto refuse;
  }
  if (!d->name || !d->name[0]) {
    snprintf(why, sizeof(why), "descriptor has no name");
    goto refuse;
  }
  if (!d->init || !d->handle) {
    snprintf(why, sizeof(why), "missing required callback '%s'", d->init ? "handle" : "init");
    goto refuse;
  }
  out->handle = h;
  out->desc = d;
  out->file = myc__strdup(real);
  if (!out->file) {
    snprintf(why, sizeof(why), "out of memory");
    goto refuse;
  }
  return 0;

refuse:
  dlclose(h);
  memset(out, 0, sizeof(*out));
  return fail(err, plugin, real, why);
}

/* Unload. Only once no message, timer or thread can run the plugin's code. */
void myc__loader_close(myc__lib *lib) {
  if (lib->handle) dlclose(lib->handle);
  free(lib->file);
  memset(lib, 0, sizeof(*lib));
}
