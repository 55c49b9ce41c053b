/*
 * bad_abi — a test plugin built for the next ABI major: the loader must refuse
 * it before calling anything, naming the field ('abi_major'). Its init()
 * aborts, so a loader that called it would crash the test. It lives outside
 * tests/plugins because the server refuses to start with a refused plugin.
 */
#include <realreach/plugin.h>

#include <stdlib.h>

static rr_rc_t bad_abi_init(rr_plugin_t *self, const rr_host_api_t *host)
{
    (void)self;
    (void)host;
    abort(); /* never reached: the descriptor is refused first */
}

RR_PLUGIN_EXPORT const rr_plugin_desc_t *rr_plugin_describe(void);
const rr_plugin_desc_t *rr_plugin_describe(void)
{
    static const rr_plugin_desc_t desc = {
        .size = sizeof(rr_plugin_desc_t),
        .magic = RR_PLUGIN_MAGIC,
        .abi_major = RR_ABI_MAJOR + 1,
        .abi_minor = 0,
        .build_signature = RR_BUILD_SIGNATURE,
        .name = "bad_abi",
        .version = "1.0.0",
        .description = "Test only: built for another ABI major",
        .init = bad_abi_init,
        .fini = NULL,
    };
    return &desc;
}
