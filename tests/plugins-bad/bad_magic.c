/*
 * bad_magic — a test plugin whose descriptor does not carry RR_PLUGIN_MAGIC
 * (what a shared object that is not a realreach plugin, or a corrupted one,
 * looks like): the loader must refuse it naming the field ('magic') before
 * calling anything. Its init() aborts to prove it is never called.
 */
#include <realreach/plugin.h>

#include <stdlib.h>

static rr_rc_t bad_magic_init(rr_plugin_t *self, const rr_host_api_t *host)
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
        .magic = 0x50475252u, /* "RRPG" with its bytes reversed */
        .abi_major = RR_ABI_MAJOR,
        .abi_minor = RR_ABI_MINOR,
        .build_signature = RR_BUILD_SIGNATURE,
        .name = "bad_magic",
        .version = "1.0.0",
        .description = "Test only: wrong magic",
        .init = bad_magic_init,
        .fini = NULL,
    };
    return &desc;
}
