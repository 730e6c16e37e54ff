/* main.c -- kiln's command line: options, `kiln -t` (test config and plugins), `kiln -s` (signal the master), then the master. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "control.h"
#include "kiln.h"
#include "listen.h"
#include "log.h"
#include "master.h"
#include "options.h"
#include "plugin.h"
#include "scoreboard.h"

#define EXIT_USAGE 2

static void usage(FILE *out)
{
    fprintf(out,
        "usage: kiln [-c FILE] [-l ADDR]... [-w N|auto] [-t [--routes]] [-s SIGNAL] [-V] [-h]\n"
        "  -c FILE   configuration file (default " KILN_CONF ")\n"
        "  -l ADDR   listen on ADDR instead of the config's listen list;\n"
        "            repeatable (127.0.0.1:8080, [::1]:8080, *:8080, 8080,\n"
        "            unix:/path)\n"
        "  -w N      number of workers, 1 to %d, or auto (one per CPU)\n"
        "  -t        test the configuration and the plugins, then exit\n"
        "  --routes  with -t: list every route (method, pattern, plugin, name)\n"
        "  -s SIGNAL send SIGNAL to the master named by the pidfile: reload,\n"
        "            stop (fast), quit (graceful) or reopen (the log files)\n"
        "  -V        print the version and exit\n"
        "  -h        print this help and exit\n"
        "Signals: HUP reloads, TERM/QUIT stop gracefully, INT stops now,\n"
        "USR1 reopens the log files, USR2 starts a new binary, WINCH stops the\n"
        "workers of an upgraded-from master, TTIN/TTOU add/remove a worker.\n",
        SCOREBOARD_MAX_WORKERS);
}

/* -V: the version, then the built-in paths (each a config key's default). */
static void version(void)
{
    printf("kiln %d.%d.%d (plugin ABI %d.%d)\n"
           "configuration file: %s\n"
           "plugin_dir: %s\n"
           "pidfile: %s\n",
           KILN_VERSION_MAJOR, KILN_VERSION_MINOR, KILN_VERSION_PATCH,
           KILN_ABI_MAJOR, KILN_ABI_MINOR, KILN_CONF, PLUGINDIR, KILN_PIDFILE);
    printf("built with: PostgreSQL (libpq) %s, Redis (hiredis) %s\n",
#ifdef KILN_WITH_POSTGRES
           "yes",
#else
           "no",
#endif
#ifdef KILN_WITH_REDIS
           "yes"
#else
           "no"
#endif
           );
}

/* -l: checks the address and adds it.  0, or -1 with a message printed. */
static int add_listen(struct master_options *o, const char *addr)
{
    struct sockaddr_storage ss;
    socklen_t len;
    char err[256];

    if (listen_parse(addr, &ss, &len, err, sizeof err) < 0) {
        fprintf(stderr, "kiln: -l: %s\n", err);
        return -1;
    }
    if (o->nlisten == CONFIG_MAX_LISTEN) {
        fprintf(stderr, "kiln: -l: more than %d addresses\n", CONFIG_MAX_LISTEN);
        return -1;
    }
    o->listen[o->nlisten++] = addr;
    return 0;
}

/*
 * kiln -t: loads the config, then the plugins into a scratch router (their
 * init hooks run, their log lines carry their names); with --routes, lists
 * the routes.  Exit code 0 or 1.
 */
static int test_config(const struct master_options *o, int routes)
{
    char err[1024];
    struct config *cfg;
    struct plugin_files files = { NULL, 0 };
    int ok = 0;

    cfg = options_load_config(o, err, sizeof err);
    if (cfg == NULL) {
        fprintf(stderr, "kiln: %s\n", err);
        goto done;
    }
    log_set_level(cfg->log_level);
    options_log_warnings(cfg);
    ok = plugin_files_open(cfg->plugin_dir, &files) == 0 &&
         plugins_check(cfg, &files, routes ? stdout : NULL) == 0;
    plugin_files_close(&files);

done:
    config_free(cfg);
    free(cfg);
    fprintf(stderr, "kiln: configuration file %s test %s\n", o->conf_file,
            ok ? "is successful" : "failed");
    return ok ? 0 : 1;
}

/* Reads the options into o.  0 to go on, or the exit code (+1) to end with. */
static int parse_args(int argc, char **argv, struct master_options *o, int *test,
                      const char **action)
{
    static const struct option longs[] = { { "routes", no_argument, NULL, 'R' },
                                            { NULL, 0, NULL, 0 } };
    int c;

    while ((c = getopt_long(argc, argv, "c:l:w:ts:Vh", longs, NULL)) != -1) {
        switch (c) {
        case 'c': o->conf_file = optarg; break;
        case 'l':
            if (add_listen(o, optarg) < 0) {
                usage(stderr);
                return EXIT_USAGE + 1;
            }
            break;
        case 'w':
            if (config_parse_workers(optarg, &o->workers) < 0) {
                fprintf(stderr, "kiln: -w: expected \"auto\" or a number from 1 to "
                        "%d, got \"%s\"\n", SCOREBOARD_MAX_WORKERS, optarg);
                usage(stderr);
                return EXIT_USAGE + 1;
            }
            break;
        case 't': *test |= 1; break;
        case 'R': *test |= 2; break;
        case 's':
            if (control_signal(optarg) == 0) {
                fprintf(stderr, "kiln: -s: expected reload, stop, quit or reopen, "
                        "got \"%s\"\n", optarg);
                usage(stderr);
                return EXIT_USAGE + 1;
            }
            *action = optarg;
            break;
        case 'V':
            version();
            return EXIT_SUCCESS + 1;
        case 'h': usage(stdout); return EXIT_SUCCESS + 1;
        default: usage(stderr); return EXIT_USAGE + 1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "kiln: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return EXIT_USAGE + 1;
    }
    if (*test == 2) {
        fprintf(stderr, "kiln: --routes goes with -t\n");
        usage(stderr);
        return EXIT_USAGE + 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct master_options o = { .conf_file = KILN_CONF, .workers = -1, .argv = argv };
    const char *action = NULL;
    int test = 0, rc;

    log_set_ident("master");
    rc = parse_args(argc, argv, &o, &test, &action);
    if (rc != 0)
        return rc - 1;
    if (action != NULL)
        return control_send(&o, action);
    if (test)
        return test_config(&o, test & 2);
    return master_run(&o);
}
