/* Configuration: the INI file, its validation and the config object.
 *
 * The file is read with inih through our own line reader. inih's handler
 * gets no line numbers in the Debian build and truncates section names to
 * 49 bytes, so the reader keeps the line count and parses section headers
 * itself; inih only ever sees "[]" for them. The reader also strips leading
 * whitespace, which turns off inih's multi-line continuation values (an
 * indented line is a line of its own, not a surprise appended to the last
 * value).
 *
 * Every error is "FILE:LINE: message" and only the first one is reported.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* getline, strndup, strchrnul, vasprintf */
#endif
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <ini.h>

#include "internal.h"

#define PLUGIN_NAME_MAX 63
#define SCHEME_MAX 31
/* myc__pcfg.block_timeout_ms when the section does not set it: use the
 * kernel's block_timeout_ms. */
#define PCFG_INHERIT_U32 UINT32_MAX

/* ==== Key tables ======================================================= */

typedef struct enumval {
  const char *name;
  int value;
} enumval;

static const enumval overflow_vals[] = {{"reject", MYC__OVF_REJECT},
                                        {"drop_oldest", MYC__OVF_DROP_OLDEST},
                                        {"block", MYC__OVF_BLOCK},
                                        {NULL, 0}};

static const enumval log_vals[] = {{"error", MYC_LOG_ERROR},
                                   {"warn", MYC_LOG_WARN},
                                   {"info", MYC_LOG_INFO},
                                   {"debug", MYC_LOG_DEBUG},
                                   {NULL, 0}};

enum { K_STRING, K_U64, K_U32, K_UINT, K_ENUM, K_BOOL, K_LIST };

#define NO_OFF ((size_t)-1)

/* A reserved key: how to validate it and where it lands. Offsets are into
 * struct myc_config for [kernel] and into myc__pcfg for [plugin NAME]. */
typedef struct keydef {
  const char *name;
  int type;
  uint64_t min, max;   /* K_U64, K_U32, K_UINT */
  bool zero_ok;        /* 0 accepted too, meaning "the kernel's value" */
  const enumval *vals; /* K_ENUM */
  size_t off;          /* the field */
  size_t count_off;    /* K_LIST: its unsigned count */
  size_t line_off;     /* int field that records the line, or NO_OFF */
} keydef;

#define KOFF(f) offsetof(struct myc_config, f)
#define POFF(f) offsetof(struct myc__pcfg, f)
#define NUM(lo, hi) lo, hi, false, NULL

/* clang-format off */
static const keydef kernel_keys[] = {
  {"plugin_dir",         K_STRING, NUM(0, 0),          KOFF(plugin_dir),         NO_OFF, NO_OFF},
  {"pool_size",          K_U64,    NUM(1, 10000000),   KOFF(pool_size),          NO_OFF, NO_OFF},
  {"pool_warmup",        K_U64,    NUM(0, 10000000),   KOFF(pool_warmup),        NO_OFF, NO_OFF},
  {"queue_capacity",     K_U32,    NUM(2, 16777216),   KOFF(queue_capacity),     NO_OFF, NO_OFF},
  {"overflow",           K_ENUM,   0, 0, false, overflow_vals, KOFF(overflow),   NO_OFF, NO_OFF},
  {"workers",            K_UINT,   NUM(0, 64),         KOFF(workers),            NO_OFF, NO_OFF},
  {"log_level",          K_ENUM,   0, 0, false, log_vals, KOFF(log_level),       NO_OFF, NO_OFF},
  {"request_timeout_ms", K_U32,    NUM(1, 86400000),   KOFF(request_timeout_ms), NO_OFF, NO_OFF},
  {"block_timeout_ms",   K_U32,    NUM(0, 86400000),   KOFF(block_timeout_ms),   NO_OFF, NO_OFF},
  {"max_uri_length",     K_U32,    NUM(16, 65535),     KOFF(max_uri_length),     NO_OFF, NO_OFF},
  {"max_body_size",      K_U32,    NUM(0, 1073741824), KOFF(max_body_size),      NO_OFF, NO_OFF},
};

static const keydef plugin_keys[] = {
  {"enabled",          K_BOOL,   NUM(0, 0),        POFF(enabled),          NO_OFF,         NO_OFF},
  {"path",             K_STRING, NUM(0, 0),        POFF(path),             NO_OFF,         POFF(path_line)},
  {"schemes",          K_LIST,   NUM(0, 0),        POFF(schemes),          POFF(nschemes), POFF(schemes_line)},
  {"queue_capacity",   K_U32,    2, 16777216, true, NULL, POFF(queue_capacity), NO_OFF,   NO_OFF},
  {"overflow",         K_ENUM,   0, 0, false, overflow_vals, POFF(overflow), NO_OFF,       NO_OFF},
  {"block_timeout_ms", K_U32,    NUM(0, 86400000), POFF(block_timeout_ms), NO_OFF,         NO_OFF},
  {"allow_send",       K_LIST,   NUM(0, 0),        POFF(allow_send),       POFF(nallow),   NO_OFF},
};
/* clang-format on */
#define N_KERNEL_KEYS (sizeof(kernel_keys) / sizeof(kernel_keys[0]))
#define N_PLUGIN_KEYS (sizeof(plugin_keys) / sizeof(plugin_keys[0]))

#define FIELD(base, off, type) ((type *)(void *)((char *)(base) + (off)))

/* ==== Parser state ===================================================== */

enum { SECT_NONE = 0, SECT_KERNEL, SECT_PLUGIN };

typedef struct parser {
  myc_config *cfg;
  const char *file; /* for messages */
  int line;         /* the line being parsed (0 for myc_config_set) */
  bool incremental; /* myc_config_set: replace, check at once */

  int err_code; /* first error: code, line and text */
  int err_line;
  char *err;

  int sect;                         /* SECT_* */
  unsigned pidx;                    /* SECT_PLUGIN: index into cfg->plugins */
  char label[PLUGIN_NAME_MAX + 16]; /* "[kernel]" or "[plugin NAME]" */
  int kernel_line;                  /* where [kernel] was seen, 0 if not yet */
  int seen[16]; /* first line of each reserved key in the section */

  FILE *fp; /* source: a file ... */
  char *buf;
  size_t cap;
  const char *text; /* ... or a string */
} parser;

/* Record an error unless one is recorded already. Returns code. */
static int fail_code(parser *p, int code, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail_code(parser *p, int code, int line, const char *fmt, ...) {
  if (p->err_code) return code;
  char *msg = NULL;
  va_list ap;
  va_start(ap, fmt);
  if (vasprintf(&msg, fmt, ap) < 0) msg = NULL;
  va_end(ap);
  p->err_code = code;
  p->err_line = line;
  p->err = msg ? myc__asprintf("%s:%d: %s", p->file, line, msg) : NULL;
  free(msg);
  if (!p->err) {
    p->err_code = MYC_ENOMEM;
    return MYC_ENOMEM;
  }
  return code;
}

#define reject(p, ...) fail_code((p), MYC_ECONFIG, (p)->line, __VA_ARGS__)
#define oom(p) fail_code((p), MYC_ENOMEM, (p)->line, "out of memory")

static myc__pcfg *cur_plugin(parser *p) { return &p->cfg->plugins[p->pidx]; }

/* ==== Small helpers ==================================================== */

static void free_list(char **v, unsigned n) {
  if (!v) return;
  for (unsigned i = 0; i < n; i++) free(v[i]);
  free(v);
}

static void pcfg_clear(myc__pcfg *pc) {
  free(pc->name);
  free(pc->path);
  free_list(pc->schemes, pc->nschemes);
  free_list(pc->allow_send, pc->nallow);
  for (unsigned i = 0; i < pc->nkeys; i++) {
    free(pc->keys[i].key);
    free(pc->keys[i].value);
  }
  free(pc->keys);
  memset(pc, 0, sizeof(*pc));
}

static bool is_blank(int c) {
  return c == ' ' || c == '\t' || c == '\f' || c == '\v';
}

static const char *skip_blank(const char *s) {
  while (is_blank((unsigned char)*s)) s++;
  return s;
}

static bool plugin_name_ok(const char *s, size_t len) {
  if (len == 0 || len > PLUGIN_NAME_MAX) return false;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return false;
  }
  return true;
}

/* [a-z][a-z0-9+.-]*, at most SCHEME_MAX characters. */
static bool scheme_ok(const char *s, size_t len) {
  if (len == 0 || len > SCHEME_MAX) return false;
  if (s[0] < 'a' || s[0] > 'z') return false;
  for (size_t i = 1; i < len; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
          c == '.' || c == '-'))
      return false;
  }
  return true;
}

static bool list_has(char *const *v, unsigned n, const char *s) {
  for (unsigned i = 0; i < n; i++)
    if (strcmp(v[i], s) == 0) return true;
  return false;
}

/* "reject, drop_oldest or block" into buf. */
static void enum_expect(const enumval *vals, char *buf, size_t len) {
  size_t n = 0, count = 0;
  while (vals[count].name) count++;
  buf[0] = '\0';
  for (size_t i = 0; i < count && n < len; i++) {
    const char *sep = i == 0 ? "" : i + 1 == count ? " or " : ", ";
    int w = snprintf(buf + n, len - n, "%s%s", sep, vals[i].name);
    if (w < 0) break;
    n += (size_t)w;
  }
}

/* ==== Public parsing helpers =========================================== */

/* Parse a boolean: true/false, yes/no, on/off, 1/0, any case. Returns
 * false (and leaves *out alone) for anything else. */
bool myc__parse_bool(const char *s, bool *out) {
  static const char *const yes[] = {"true", "yes", "on", "1"};
  static const char *const no[] = {"false", "no", "off", "0"};
  if (!s) return false;
  for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
    if (strcasecmp(s, yes[i]) == 0) {
      *out = true;
      return true;
    }
    if (strcasecmp(s, no[i]) == 0) {
      *out = false;
      return true;
    }
  }
  return false;
}

/* Parse an unsigned decimal in [min, max]: digits only, no sign, no
 * spaces, no trailing junk. Returns 0 or MYC_EINVAL (*out untouched). */
int myc__parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out) {
  uint64_t v = 0;
  if (!s || !*s) return MYC_EINVAL;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return MYC_EINVAL;
    unsigned d = (unsigned)(*s - '0');
    if (v > (UINT64_MAX - d) / 10) return MYC_EINVAL;
    v = v * 10 + d;
  }
  if (v < min || v > max) return MYC_EINVAL;
  *out = v;
  return 0;
}

/* Check `value` against one key of a plugin's config spec. Returns NULL if
 * it fits, else a reason such as "expected an integer". The reason is a
 * static string, except for MYC_CFG_ENUM where it lives in a thread-local
 * buffer that the next call on the same thread overwrites. */
const char *myc__config_check_value(const myc_config_key *spec,
                                    const char *value) {
  static _Thread_local char enum_reason[256];
  if (!spec) return "no such key";
  if (!value) return "missing value";
  switch (spec->type) {
    case MYC_CFG_STRING:
      return NULL;
    case MYC_CFG_INT: {
      const char *s = value;
      if (*s == '-' || *s == '+') s++;
      if (*s < '0' || *s > '9') return "expected an integer";
      char *end;
      errno = 0;
      (void)strtoll(value, &end, 10);
      if (*end) return "expected an integer";
      if (errno == ERANGE) return "expected an integer (out of 64-bit range)";
      return NULL;
    }
    case MYC_CFG_BOOL: {
      bool b;
      return myc__parse_bool(value, &b) ? NULL : "expected true or false";
    }
    case MYC_CFG_DOUBLE: {
      const char *s = value;
      if (*s == '-' || *s == '+') s++;
      if (!((*s >= '0' && *s <= '9') || *s == '.')) return "expected a number";
      char *end;
      double d = strtod(value, &end);
      if (*end || !isfinite(d)) return "expected a number";
      return NULL;
    }
    case MYC_CFG_ENUM: {
      const char *c = spec->choices;
      if (!c || !*c)
        return "expected one of the key's choices (the plugin lists none)";
      size_t vlen = strlen(value);
      while (*c) {
        const char *bar = strchr(c, '|');
        size_t n = bar ? (size_t)(bar - c) : strlen(c);
        if (n == vlen && memcmp(c, value, n) == 0) return NULL;
        c += n;
        if (*c == '|') c++;
      }
      snprintf(enum_reason, sizeof(enum_reason), "expected one of %s",
               spec->choices);
      return enum_reason;
    }
    default:
      return "the plugin declares an unknown key type";
  }
}

/* ==== Values =========================================================== */

/* Split a comma-separated scheme list. On success *out is a malloc'd array
 * of *n malloc'd strings (n >= 1). */
static int parse_list(parser *p, const keydef *kd, const char *value,
                      char ***out, unsigned *n) {
  char **v = NULL;
  unsigned count = 0, cap = 0;
  const char *s = value;
  if (!*skip_blank(value)) {
    if (kd->off == POFF(schemes))
      reject(p,
             "%s schemes is empty: expected a comma-separated list of "
             "schemes such as 'db, cache' (remove the key to use the "
             "plugin's default schemes)",
             p->label);
    else
      reject(p,
             "%s %s is empty: expected a comma-separated list of schemes "
             "(remove the key to allow sending anywhere)",
             p->label, kd->name);
    goto fail;
  }
  for (;;) {
    const char *comma = strchr(s, ',');
    const char *end = comma ? comma : s + strlen(s);
    const char *b = skip_blank(s);
    const char *e = end;
    while (e > b && is_blank((unsigned char)e[-1])) e--;
    size_t len = (size_t)(e - b);
    if (len == 0) {
      reject(p, "%s %s = '%s': empty scheme name in the list", p->label,
             kd->name, value);
      goto fail;
    }
    if (!scheme_ok(b, len)) {
      reject(p,
             "%s %s: '%.*s' is not a valid scheme (expected a lowercase "
             "letter, then a-z 0-9 + . -, at most %d characters)",
             p->label, kd->name, (int)len, b, SCHEME_MAX);
      goto fail;
    }
    char *item = strndup(b, len);
    if (!item) {
      oom(p);
      goto fail;
    }
    if (list_has(v, count, item)) {
      reject(p, "%s %s: '%s' is listed twice", p->label, kd->name, item);
      free(item);
      goto fail;
    }
    if (count == cap) {
      unsigned ncap = cap ? cap * 2 : 4;
      char **nv = realloc(v, ncap * sizeof(*nv));
      if (!nv) {
        free(item);
        oom(p);
        goto fail;
      }
      v = nv;
      cap = ncap;
    }
    v[count++] = item;
    if (!comma) break;
    s = comma + 1;
  }
  *out = v;
  *n = count;
  return 0;

fail:
  free_list(v, count);
  return p->err_code;
}

/* The enabled plugin other than `self` that lists `scheme`, if any. Only
 * plugins before `self` count when `before_only` (file order). */
static const myc__pcfg *scheme_owner(const myc_config *c, unsigned self,
                                     const char *scheme, bool before_only) {
  unsigned end = before_only ? self : c->nplugins;
  for (unsigned j = 0; j < end; j++) {
    const myc__pcfg *o = &c->plugins[j];
    if (j == self || !o->enabled || !o->schemes) continue;
    if (list_has(o->schemes, o->nschemes, scheme)) return o;
  }
  return NULL;
}

static int scheme_taken(parser *p, const char *scheme, const myc__pcfg *o) {
  if (o->schemes_line > 0)
    return reject(p, "scheme '%s' is already used by [plugin %s] (line %d)",
                  scheme, o->name, o->schemes_line);
  return reject(p, "scheme '%s' is already used by [plugin %s]", scheme,
                o->name);
}

/* myc_config_set: would plugin `idx` with `schemes` (enabled) clash? */
static int check_clash(parser *p, unsigned idx, char *const *schemes,
                       unsigned n) {
  for (unsigned i = 0; i < n; i++) {
    const myc__pcfg *o = scheme_owner(p->cfg, idx, schemes[i], false);
    if (o) return scheme_taken(p, schemes[i], o);
  }
  return 0;
}

/* Validate `value` for key `kd` and store it into `base`. Nothing changes
 * on failure. */
static int set_value(parser *p, const keydef *kd, void *base,
                     const char *value) {
  uint64_t u = 0;
  char expect[128];
  switch (kd->type) {
    case K_STRING: {
      if (!*value)
        return reject(p, "%s %s is empty: expected a path", p->label, kd->name);
      char *s = myc__strdup(value);
      if (!s) return oom(p);
      char **slot = FIELD(base, kd->off, char *);
      free(*slot);
      *slot = s;
      break;
    }
    case K_U64:
    case K_U32:
    case K_UINT:
      if (kd->zero_ok && strcmp(value, "0") == 0) {
        u = 0;
      } else if (myc__parse_u64(value, kd->min, kd->max, &u) != 0) {
        if (kd->zero_ok)
          return reject(p,
                        "%s %s = '%s': expected 0 (use the kernel's %s) or "
                        "an integer from %llu to %llu",
                        p->label, kd->name, value, kd->name,
                        (unsigned long long)kd->min,
                        (unsigned long long)kd->max);
        return reject(p, "%s %s = '%s': expected an integer from %llu to %llu",
                      p->label, kd->name, value, (unsigned long long)kd->min,
                      (unsigned long long)kd->max);
      }
      if (kd->type == K_U64)
        *FIELD(base, kd->off, uint64_t) = u;
      else if (kd->type == K_U32)
        *FIELD(base, kd->off, uint32_t) = (uint32_t)u;
      else
        *FIELD(base, kd->off, unsigned) = (unsigned)u;
      break;
    case K_ENUM: {
      const enumval *ev = kd->vals;
      while (ev->name && strcmp(ev->name, value) != 0) ev++;
      if (!ev->name) {
        enum_expect(kd->vals, expect, sizeof(expect));
        return reject(p, "%s %s = '%s': expected %s", p->label, kd->name, value,
                      expect);
      }
      *FIELD(base, kd->off, int) = ev->value;
      break;
    }
    case K_BOOL: {
      bool b;
      if (!myc__parse_bool(value, &b))
        return reject(p,
                      "%s %s = '%s': expected true or false (or yes/no, "
                      "on/off, 1/0)",
                      p->label, kd->name, value);
      if (p->incremental && b && p->sect == SECT_PLUGIN) {
        myc__pcfg *pc = cur_plugin(p);
        if (!pc->enabled && pc->schemes &&
            check_clash(p, p->pidx, pc->schemes, pc->nschemes) < 0)
          return p->err_code;
      }
      *FIELD(base, kd->off, bool) = b;
      break;
    }
    case K_LIST: {
      char **v = NULL;
      unsigned n = 0;
      if (parse_list(p, kd, value, &v, &n) < 0) return p->err_code;
      bool schemes = kd->off == POFF(schemes);
      if (p->incremental && schemes && cur_plugin(p)->enabled &&
          check_clash(p, p->pidx, v, n) < 0) {
        free_list(v, n);
        return p->err_code;
      }
      char ***slot = FIELD(base, kd->off, char **);
      unsigned *cnt = FIELD(base, kd->count_off, unsigned);
      free_list(*slot, *cnt);
      *slot = v;
      *cnt = n;
      break;
    }
  }
  if (kd->line_off != NO_OFF) *FIELD(base, kd->line_off, int) = p->line;
  return 0;
}

/* ==== Sections ========================================================= */

static int new_plugin(parser *p, const char *name, size_t len) {
  myc_config *c = p->cfg;
  myc__pcfg *v = realloc(c->plugins, (c->nplugins + 1) * sizeof(*v));
  if (!v) return oom(p);
  c->plugins = v;
  myc__pcfg *pc = &v[c->nplugins];
  memset(pc, 0, sizeof(*pc));
  pc->name = strndup(name, len);
  pc->path = pc->name ? myc__asprintf("myc_%s.so", pc->name) : NULL;
  if (!pc->name || !pc->path) {
    pcfg_clear(pc);
    return oom(p);
  }
  pc->line = p->line;
  pc->enabled = true;
  pc->overflow = -1;
  pc->block_timeout_ms = PCFG_INHERIT_U32;
  p->pidx = c->nplugins++;
  return 0;
}

/* Enter the section named by s[0..len) (what is between the brackets).
 * *created tells whether a plugin section was added. */
static int enter_section(parser *p, const char *s, size_t len, bool *created) {
  *created = false;
  while (len && is_blank((unsigned char)*s)) s++, len--;
  while (len && is_blank((unsigned char)s[len - 1])) len--;
  memset(p->seen, 0, sizeof(p->seen));

  if (len == 6 && memcmp(s, "kernel", 6) == 0) {
    if (p->kernel_line && !p->incremental)
      return reject(p, "duplicate section [kernel] (first at line %d)",
                    p->kernel_line);
    if (!p->kernel_line) p->kernel_line = p->line ? p->line : -1;
    p->sect = SECT_KERNEL;
    snprintf(p->label, sizeof(p->label), "[kernel]");
    return 0;
  }
  if (len >= 6 && memcmp(s, "plugin", 6) == 0 &&
      (len == 6 || is_blank((unsigned char)s[6]))) {
    const char *name = s + 6;
    size_t nlen = len - 6;
    while (nlen && is_blank((unsigned char)*name)) name++, nlen--;
    if (nlen == 0)
      return reject(p, "section [plugin] needs a name, e.g. [plugin kv]");
    if (!plugin_name_ok(name, nlen))
      return reject(p,
                    "invalid plugin name '%.*s' in [plugin %.*s]: use 1 to "
                    "%d characters from A-Z a-z 0-9 _ -",
                    (int)nlen, name, (int)nlen, name, PLUGIN_NAME_MAX);
    for (unsigned i = 0; i < p->cfg->nplugins; i++) {
      myc__pcfg *o = &p->cfg->plugins[i];
      if (strlen(o->name) == nlen && memcmp(o->name, name, nlen) == 0) {
        if (!p->incremental)
          return reject(p, "duplicate section [plugin %s] (first at line %d)",
                        o->name, o->line);
        p->pidx = i;
        goto found;
      }
    }
    if (new_plugin(p, name, nlen) < 0) return p->err_code;
    *created = true;
  found:
    p->sect = SECT_PLUGIN;
    snprintf(p->label, sizeof(p->label), "[plugin %s]", cur_plugin(p)->name);
    return 0;
  }
  return reject(p,
                "unknown section [%.*s] (expected [kernel] or [plugin NAME])",
                (int)len, s);
}

/* A line starting with '['. */
static int section_line(parser *p, const char *s, size_t len) {
  const char *close = memchr(s, ']', len);
  bool created;
  if (!close) return reject(p, "syntax error: missing ']' in section header");
  const char *rest = skip_blank(close + 1);
  if (rest < s + len && *rest != ';' && *rest != '#')
    return reject(p, "syntax error: unexpected text after ']'");
  return enter_section(p, s + 1, (size_t)(close - s - 1), &created);
}

/* ==== Keys ============================================================= */

static const keydef *find_key(const keydef *t, size_t n, const char *name,
                              size_t *idx) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(t[i].name, name) == 0) {
      *idx = i;
      return &t[i];
    }
  return NULL;
}

static int unknown_kernel_key(parser *p, const char *name) {
  char known[512];
  size_t n = 0;
  known[0] = '\0';
  for (size_t i = 0; i < N_KERNEL_KEYS && n < sizeof(known); i++) {
    int w = snprintf(known + n, sizeof(known) - n, "%s%s", i ? ", " : "",
                     kernel_keys[i].name);
    if (w < 0) break;
    n += (size_t)w;
  }
  return reject(p, "[kernel] unknown key '%s' (known: %s)", name, known);
}

/* A plugin-specific key: kept as text for the kernel to check against the
 * plugin's spec. */
static int plugin_kv(parser *p, const char *name, const char *value) {
  myc__pcfg *pc = cur_plugin(p);
  myc__kv *kv = NULL;
  for (unsigned i = 0; i < pc->nkeys; i++)
    if (strcmp(pc->keys[i].key, name) == 0) kv = &pc->keys[i];
  if (kv && !p->incremental)
    return reject(p, "duplicate key '%s' in %s (first at line %d)", name,
                  p->label, kv->line);
  char *v = myc__strdup(value);
  if (!v) return oom(p);
  if (kv) {
    free(kv->value);
    kv->value = v;
    kv->line = p->line;
    return 0;
  }
  char *k = myc__strdup(name);
  myc__kv *keys = k ? realloc(pc->keys, (pc->nkeys + 1) * sizeof(*keys)) : NULL;
  if (!keys) {
    free(k);
    free(v);
    return oom(p);
  }
  pc->keys = keys;
  keys[pc->nkeys++] = (myc__kv){.key = k, .value = v, .line = p->line};
  return 0;
}

/* One "name = value" in the current section. */
static int apply_key(parser *p, const char *name, const char *value) {
  const keydef *kd;
  size_t idx;
  void *base;
  if (!*name)
    return reject(p, "syntax error: expected 'key = value' or '[section]'");
  if (p->sect == SECT_NONE)
    return reject(p,
                  "key '%s' is outside any section (put it under [kernel] "
                  "or [plugin NAME])",
                  name);
  if (p->sect == SECT_KERNEL) {
    kd = find_key(kernel_keys, N_KERNEL_KEYS, name, &idx);
    if (!kd) return unknown_kernel_key(p, name);
    base = p->cfg;
  } else {
    kd = find_key(plugin_keys, N_PLUGIN_KEYS, name, &idx);
    if (!kd) return plugin_kv(p, name, value);
    base = cur_plugin(p);
  }
  if (!p->incremental) {
    if (p->seen[idx])
      return reject(p, "duplicate key '%s' in %s (first at line %d)", name,
                    p->label, p->seen[idx]);
    p->seen[idx] = p->line;
  }
  return set_value(p, kd, base, value);
}

/* After the whole file: the same scheme in two enabled plugins. */
static int check_schemes(parser *p) {
  const myc_config *c = p->cfg;
  for (unsigned i = 0; i < c->nplugins; i++) {
    const myc__pcfg *pc = &c->plugins[i];
    if (!pc->enabled || !pc->schemes) continue;
    for (unsigned k = 0; k < pc->nschemes; k++) {
      const myc__pcfg *o = scheme_owner(c, i, pc->schemes[k], true);
      if (o) {
        p->line = pc->schemes_line;
        return scheme_taken(p, pc->schemes[k], o);
      }
    }
  }
  return 0;
}

/* ==== inih glue ======================================================== */

/* The next raw line, without its "\n" or "\r\n". Returns false at the end
 * of input or on a read error (recorded). */
static bool next_line(parser *p, const char **line, size_t *len) {
  if (p->fp) {
    errno = 0;
    ssize_t n = getline(&p->buf, &p->cap, p->fp);
    if (n < 0) {
      if (ferror(p->fp))
        fail_code(p, MYC_EIO, p->line + 1, "cannot read: %s",
                  strerror(errno ? errno : EIO));
      return false;
    }
    *line = p->buf;
    *len = (size_t)n;
  } else {
    if (!*p->text) return false;
    const char *nl = strchrnul(p->text, '\n');
    *line = p->text;
    *len = (size_t)(nl - p->text);
    p->text = *nl ? nl + 1 : nl;
  }
  if (*len && (*line)[*len - 1] == '\n') (*len)--;
  if (*len && (*line)[*len - 1] == '\r') (*len)--;
  return true;
}

/* inih calls this once per line, so p->line is the line its handler sees.
 * Section headers are handled here; inih gets "[]" instead. */
static char *ini_read(char *str, int num, void *stream) {
  parser *p = stream;
  const char *line;
  size_t len;
  if (p->err_code || num < 3 || !next_line(p, &line, &len)) return NULL;
  p->line++;
  if (len > (size_t)num - 1) {
    reject(p, "line too long (max %d bytes)", num - 1);
    return NULL;
  }
  const char *s = line, *end = line + len;
  if (p->line == 1 && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) s += 3;
  while (s < end && is_blank((unsigned char)*s)) s++;
  if (s < end && *s == '[') {
    if (section_line(p, s, (size_t)(end - s)) < 0) return NULL;
    memcpy(str, "[]", 3);
    return str;
  }
  memcpy(str, s, (size_t)(end - s));
  str[end - s] = '\0';
  return str;
}

static int ini_handle(void *user, const char *section, const char *name,
                      const char *value) {
  parser *p = user;
  (void)section; /* ours: inih truncates long names */
  if (p->err_code) return 0;
  if (!name || !value) return 1;
  return apply_key(p, name, value) == 0;
}

/* ==== Config objects =================================================== */

static void config_defaults(myc_config *c) {
  c->pool_size = 2000;
  c->pool_warmup = 0;
  c->queue_capacity = 1024;
  c->overflow = MYC__OVF_REJECT;
  c->workers = 0;
  c->log_level = MYC_LOG_INFO;
  c->request_timeout_ms = 30000;
  c->block_timeout_ms = 1000;
  c->max_uri_length = 2048;
  c->max_body_size = 16777216;
}

static myc_config *config_alloc(const char *file) {
  myc_config *c = calloc(1, sizeof(*c));
  if (!c) return NULL;
  config_defaults(c);
  c->file = myc__strdup(file);
  c->plugin_dir = myc__strdup("build/plugins");
  if (!c->file || !c->plugin_dir) {
    myc_config_free(c);
    return NULL;
  }
  return c;
}

/* Free a config and everything it owns. NULL is fine. */
void myc_config_free(myc_config *cfg) {
  if (!cfg) return;
  for (unsigned i = 0; i < cfg->nplugins; i++) pcfg_clear(&cfg->plugins[i]);
  free(cfg->plugins);
  free(cfg->plugin_dir);
  free(cfg->file);
  free(cfg);
}

/* Parse from p->fp or p->text into a new config. On success *out owns it;
 * on failure *out is NULL and *err (if err) is the caller's to free. */
static int parse(parser *p, myc_config **out, char **err) {
  int rc;
  *out = NULL;
  if (err) *err = NULL;
  p->cfg = config_alloc(p->file);
  if (!p->cfg) {
    rc = MYC_ENOMEM;
    goto fail;
  }
  rc = ini_parse_stream(ini_read, p, ini_handle, p);
  if (rc < 0) {
    oom(p);
  } else if (rc > 0 && (!p->err_code || rc < p->err_line)) {
    /* inih found a malformed line before anything we objected to. */
    free(p->err);
    p->err = NULL;
    p->err_code = 0;
    fail_code(p, MYC_ECONFIG, rc,
              "syntax error: expected 'key = value' or '[section]'");
  }
  if (!p->err_code) check_schemes(p);
  rc = p->err_code;
  if (rc) goto fail;
  *out = p->cfg;
  return 0;

fail:
  myc_config_free(p->cfg);
  p->cfg = NULL;
  if (err)
    *err = p->err ? p->err : myc__strdup("out of memory");
  else
    free(p->err);
  p->err = NULL;
  return rc ? rc : MYC_ENOMEM;
}

/* Load and validate the INI file at `path`. On success *out is a new
 * config owned by the caller (myc_config_free). On failure returns
 * MYC_ECONFIG, or MYC_EIO if the file cannot be read, sets *out to NULL and
 * *err to a malloc'd "FILE:LINE: message" the caller frees. */
int myc_config_load(const char *path, myc_config **out, char **err) {
  parser p = {.file = path};
  int rc;
  if (!path || !out) return MYC_EINVAL;
  struct stat st;
  p.fp = fopen(path, "r");
  if (p.fp && fstat(fileno(p.fp), &st) == 0 && S_ISDIR(st.st_mode)) {
    fclose(p.fp);
    p.fp = NULL;
    errno = EISDIR;
  }
  if (!p.fp) {
    int e = errno;
    *out = NULL;
    if (err) *err = myc__asprintf("%s: cannot open: %s", path, strerror(e));
    return MYC_EIO;
  }
  rc = parse(&p, out, err);
  free(p.buf);
  fclose(p.fp);
  return rc;
}

/* Like myc_config_load, but from the NUL-terminated `text`; `name` stands
 * for the file name in errors ("<string>" if NULL). */
int myc_config_parse(const char *text, const char *name, myc_config **out,
                     char **err) {
  parser p = {.file = name ? name : "<string>", .text = text};
  if (!text || !out) return MYC_EINVAL;
  return parse(&p, out, err);
}

/* A config with every kernel default and no plugins, named "<memory>" in
 * errors. The caller owns *out. */
int myc_config_new(myc_config **out) {
  if (!out) return MYC_EINVAL;
  *out = config_alloc("<memory>");
  return *out ? 0 : MYC_ENOMEM;
}

/* Set `key` in `section` ("kernel" or "plugin NAME", which is created if
 * new) as if the line "key = value" were read there, except that a repeated
 * key replaces the old value. A scheme clash with another enabled plugin is
 * checked at once. On failure the config is unchanged and *err (if err) is
 * a malloc'd "FILE:0: message" the caller frees. */
int myc_config_set(myc_config *cfg, const char *section, const char *key,
                   const char *value, char **err) {
  parser p = {.cfg = cfg, .incremental = true, .kernel_line = -1};
  bool created = false;
  if (err) *err = NULL;
  if (!cfg || !section || !key || !value) {
    if (err) *err = myc__strdup("myc_config_set: NULL argument");
    return MYC_EINVAL;
  }
  p.file = cfg->file ? cfg->file : "<memory>";
  if (enter_section(&p, section, strlen(section), &created) < 0) goto fail;
  if (apply_key(&p, key, value) < 0) goto fail;
  return 0;

fail:
  if (created) pcfg_clear(&cfg->plugins[--cfg->nplugins]);
  if (err)
    *err = p.err ? p.err : myc__strdup("out of memory");
  else
    free(p.err);
  return p.err_code ? p.err_code : MYC_ENOMEM;
}

/* ==== Copies and lookups =============================================== */

static int dup_list(char *const *src, unsigned n, char ***dst) {
  *dst = NULL;
  if (!src) return 0;
  char **v = calloc(n ? n : 1, sizeof(*v));
  if (!v) return MYC_ENOMEM;
  for (unsigned i = 0; i < n; i++) {
    v[i] = myc__strdup(src[i]);
    if (!v[i]) {
      free_list(v, i);
      return MYC_ENOMEM;
    }
  }
  *dst = v;
  return 0;
}

static int dup_pcfg(const myc__pcfg *s, myc__pcfg *d) {
  *d = *s;
  d->name = d->path = NULL;
  d->schemes = d->allow_send = NULL;
  d->keys = NULL;
  d->nkeys = 0;
  d->name = myc__strdup(s->name);
  d->path = s->path ? myc__strdup(s->path) : NULL;
  if (!d->name || (s->path && !d->path)) goto fail;
  if (dup_list(s->schemes, s->nschemes, &d->schemes) < 0) goto fail;
  if (dup_list(s->allow_send, s->nallow, &d->allow_send) < 0) goto fail;
  if (s->nkeys) {
    d->keys = calloc(s->nkeys, sizeof(*d->keys));
    if (!d->keys) goto fail;
    for (; d->nkeys < s->nkeys; d->nkeys++) {
      myc__kv *kv = &d->keys[d->nkeys];
      kv->key = myc__strdup(s->keys[d->nkeys].key);
      kv->value = myc__strdup(s->keys[d->nkeys].value);
      kv->line = s->keys[d->nkeys].line;
      if (!kv->key || !kv->value) {
        d->nkeys++; /* so pcfg_clear frees the half-made pair */
        goto fail;
      }
    }
  }
  return 0;

fail:
  /* The lists may be NULL with a stale count copied from s. */
  if (!d->schemes) d->nschemes = 0;
  if (!d->allow_send) d->nallow = 0;
  pcfg_clear(d);
  return MYC_ENOMEM;
}

/* Deep copy of `c`: the kernel keeps its own. NULL if out of memory. */
myc_config *myc__config_dup(const myc_config *c) {
  myc_config *d = calloc(1, sizeof(*d));
  if (!d) return NULL;
  *d = *c;
  d->file = myc__strdup(c->file);
  d->plugin_dir = myc__strdup(c->plugin_dir);
  d->plugins = NULL;
  d->nplugins = 0;
  if (!d->file || !d->plugin_dir) goto fail;
  if (c->nplugins) {
    d->plugins = calloc(c->nplugins, sizeof(*d->plugins));
    if (!d->plugins) goto fail;
    for (; d->nplugins < c->nplugins; d->nplugins++)
      if (dup_pcfg(&c->plugins[d->nplugins], &d->plugins[d->nplugins]) < 0)
        goto fail;
  }
  return d;

fail:
  myc_config_free(d);
  return NULL;
}

/* The [plugin NAME] section called `name`, or NULL. Owned by `c`. */
const myc__pcfg *myc__config_find(const myc_config *c, const char *name) {
  if (!c || !name) return NULL;
  for (unsigned i = 0; i < c->nplugins; i++)
    if (strcmp(c->plugins[i].name, name) == 0) return &c->plugins[i];
  return NULL;
}
