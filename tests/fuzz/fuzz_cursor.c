/*
 * Pagination parameters: the raw query string (?limit=&cursor=...) through
 * rr_ctx_parse_query and rr_page_begin (limit range, cursor base64url decode).
 *
 * Input: the query string (cut at a NUL byte).
 *
 * Invariants besides ASan/UBSan:
 *  - RR_OK leaves 1 <= limit <= 200 and after_id >= 0; anything else is a
 *    400 problem naming "limit" or "cursor";
 *  - a cursor that decodes to id > 0 round-trips: the next_cursor that
 *    rr_page_respond issues for that id decodes to the same id.
 */
#include "fuzz_common.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_init();
    static rr_arena_t *arena;
    if (!arena)
        arena = rr_arena_new();

    rr_ctx_t ctx;
    rr_ctx_init(&ctx, arena, NULL);
    ctx.method = "GET";
    ctx.path = "/v1/clients";
    ctx.request_id = "fuzz";
    rr_ctx_parse_query(&ctx, fuzz_cstr(arena, data, size));

    rr_page_t page;
    memset(&page, 0xa5, sizeof page);
    rr_rc_t rc = rr_page_begin(&ctx, &page);
    if (rc != RR_OK) {
        FUZZ_CHECK(rc == RR_INVALID && ctx.status == 400);
        json_t *p = json_loadb(ctx.resp_body, ctx.resp_len, 0, NULL);
        const char *field = json_string_value(json_object_get(p, "field"));
        FUZZ_CHECK(field && (!strcmp(field, "limit") || !strcmp(field, "cursor")));
        json_decref(p);
    } else {
        FUZZ_CHECK(page.limit >= 1 && page.limit <= 200);
        FUZZ_CHECK(page.after_id >= 0);
        if (!rr_ctx_query(&ctx, "cursor"))
            FUZZ_CHECK(page.after_id == 0);
        if (page.after_id > 0) {
            rr_ctx_t out;
            rr_ctx_init(&out, arena, NULL);
            out.request_id = "fuzz";
            FUZZ_CHECK(rr_page_respond(&out, &page, json_array(), page.after_id) == RR_OK);
            json_t *body = json_loadb(out.resp_body, out.resp_len, 0, NULL);
            const char *next = json_string_value(json_object_get(body, "next_cursor"));
            FUZZ_CHECK(next != NULL);
            rr_ctx_t again;
            rr_ctx_init(&again, arena, NULL);
            again.request_id = "fuzz";
            rr_ctx_parse_query(&again, rr_arena_sprintf(arena, "cursor=%s", next));
            rr_page_t p2;
            FUZZ_CHECK(rr_page_begin(&again, &p2) == RR_OK);
            FUZZ_CHECK(p2.after_id == page.after_id);
            json_decref(body);
            rr_ctx_cleanup(&out);
            rr_ctx_cleanup(&again);
        }
    }
    rr_ctx_cleanup(&ctx);
    rr_arena_reset(arena);
    return 0;
}
