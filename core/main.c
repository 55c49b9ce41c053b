/*
 * realreach — one binary, subcommands:
 *   serve | migrate | tenant ... | key ... | plugins | version
 */
#include "rr.h"

#include <stdio.h>
#include <string.h>

#define RR_VERSION "0.1.0"

static int usage(void)
{
    fprintf(stderr,
            "usage: realreach <command> [options]\n"
            "  serve                       run the FastCGI service (master, workers, job runners)\n"
            "  migrate [--status]          apply core and plugin migrations (REALREACH_ADMIN_DB)\n"
            "  tenant create --name NAME   create an agency tenant; prints its id\n"
            "  tenant list\n"
            "  key create --tenant ID --scopes read|write|admin [--client ID] [--name N] [--expires TIME]\n"
            "  key revoke --tenant ID --key PUBLIC_ID\n"
            "  key list --tenant ID\n"
            "  plugins [--path SPEC]       list plugins and check their ABI (exit 1 if one is refused)\n"
            "  version\n"
            "Configuration: REALREACH_CONFIG (file) and REALREACH_* variables; see README.md.\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    if (rr_config_load() != 0)
        return 2;
    const char *cmd = argv[1];
    if (!strcmp(cmd, "serve"))
        return rr_serve();
    if (!strcmp(cmd, "migrate"))
        return rr_migrate_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "tenant"))
        return rr_cli_tenant(argc - 1, argv + 1);
    if (!strcmp(cmd, "key"))
        return rr_cli_key(argc - 1, argv + 1);
    if (!strcmp(cmd, "plugins"))
        return rr_cli_plugins(argc - 1, argv + 1);
    if (!strcmp(cmd, "version")) {
        printf("realreach %s (plugin ABI %d.%d, %s)\n", RR_VERSION, RR_ABI_MAJOR, RR_ABI_MINOR,
               RR_BUILD_SIGNATURE);
        return 0;
    }
    return usage();
}
