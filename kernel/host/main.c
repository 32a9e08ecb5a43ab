/* mycelia: the host binary. Loads the config, the plugins it names, and
 * runs the kernel until a plugin or a signal asks it to stop.
 * Exit codes: 0 clean stop, 1 run-time failure, 2 usage or config error. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mycelia/mycelia.h"

#define DEFAULT_CONFIG "config/mycelia.ini"
#define DEFAULT_PLUGIN_DIR "build/plugins"

static void usage(FILE *f) {
  fprintf(f,
          "usage: mycelia [-c FILE] [--check] [--describe PLUGIN] [--version] [--help]\n"
          "\n"
          "Run the Mycelia message kernel with the plugins named in an INI file.\n"
          "\n"
          "  -c, --config FILE    config file (default: $MYCELIA_CONFIG, else %s,\n"
          "                       else PREFIX/etc/mycelia/mycelia.ini beside the binary)\n"
          "  -t, --check          load and validate everything, then exit\n"
          "  -d, --describe NAME  describe plugin NAME (or a path to a .so) and its keys\n"
          "  -V, --version        print the version and the plugin ABI\n"
          "  -h, --help           print this help\n"
          "\n"
          "SIGINT/SIGTERM drain every queue, stop and finalise every plugin, exit 0.\n"
          "Exit status: 0 success, 1 run-time failure, 2 usage or config error.\n",
          DEFAULT_CONFIG);
}

/* The config used without -c or $MYCELIA_CONFIG: config/mycelia.ini in
 * the working directory (a source tree), else the one installed beside
 * this binary (PREFIX/etc/mycelia/mycelia.ini, found from /proc/self/exe,
 * so any install prefix works). */
static const char *default_config(char *buf, size_t len) {
  if (access(DEFAULT_CONFIG, F_OK) == 0) return DEFAULT_CONFIG;
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n > 0) {
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash) {
      *slash = '\0';
      snprintf(buf, len, "%s/../etc/mycelia/mycelia.ini", exe);
      if (access(buf, F_OK) == 0) return buf;
    }
  }
  return DEFAULT_CONFIG;
}

static int describe(const char *config, bool explicit_config, const char *plugin) {
  myc_config *cfg = NULL;
  char *err = NULL, *out = NULL;
  const char *dir = DEFAULT_PLUGIN_DIR;
  if (explicit_config || access(config, F_OK) == 0) {  /* else the in-tree default */
    if (myc_config_load(config, &cfg, &err) < 0) {
      fprintf(stderr, "mycelia: %s\n", err);
      free(err);
      return 2;
    }
    dir = myc_config_plugin_dir(cfg);
  }
  int rc = myc_describe_plugin(dir, plugin, &out, &err);
  myc_config_free(cfg);
  if (rc < 0) {
    fprintf(stderr, "mycelia: %s\n", err ? err : myc_strerror(rc));
    free(err);
    return 2;
  }
  fputs(out, stdout);
  free(out);
  return 0;
}

int main(int argc, char **argv) {
  static const struct option opts[] = {
      {"config", required_argument, NULL, 'c'}, {"check", no_argument, NULL, 't'},
      {"describe", required_argument, NULL, 'd'}, {"version", no_argument, NULL, 'V'},
      {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
  const char *config = getenv("MYCELIA_CONFIG");
  const char *plugin = NULL;
  bool check = false, explicit_config = config && *config;
  int c;
  while ((c = getopt_long(argc, argv, "c:td:Vh", opts, NULL)) != -1) {
    switch (c) {
      case 'c': config = optarg; explicit_config = true; break;
      case 't': check = true; break;
      case 'd': plugin = optarg; break;
      case 'V':
        printf("mycelia %s (plugin ABI %d.%d)\n", myc_version(), MYC_ABI_MAJOR, MYC_ABI_MINOR);
        return 0;
      case 'h': usage(stdout); return 0;
      default: usage(stderr); return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "mycelia: unexpected argument '%s'\n", argv[optind]);
    usage(stderr);
    return 2;
  }
  char found[4200];
  if (!config || !*config) config = default_config(found, sizeof(found));
  if (plugin) return describe(config, explicit_config, plugin);

  myc_config *cfg = NULL;
  myc_kernel *k = NULL;
  char *err = NULL;
  if (myc_config_load(config, &cfg, &err) < 0 || myc_kernel_new(cfg, &k, &err) < 0) {
    fprintf(stderr, "mycelia: %s\n", err ? err : "cannot start");
    free(err);
    myc_config_free(cfg);
    return 2;
  }
  myc_config_free(cfg);
  if (check) {
    printf("%s: OK\n", config);
    myc_kernel_free(k);
    return 0;
  }
  myc_kernel_handle_signals(k);
  if (myc_kernel_start(k, &err) < 0) {
    fprintf(stderr, "mycelia: %s\n", err ? err : "start failed");
    free(err);
    myc_kernel_free(k);
    return 1;
  }
  int code = myc_kernel_run(k);
  myc_kernel_free(k);
  fflush(stdout);
  return code;
}
