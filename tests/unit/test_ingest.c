/*
 * Bulk ingest without a server: the platforms' timestamp forms, the record
 * parsers over a body read in small pieces (JSON arrays, envelopes, the X
 * archive prefix, NDJSON, CSV with quotes and newlines, id lists, records
 * over the limit), the flat JSON record parser, the profile normaliser on
 * each platform's shape, COPY text escaping, and the duplicate key filter.
 */
#include "unit.h"

#include "ingest.h"

#include <stdlib.h>

/* ---------------------------------------------------------------- time */

static int64_t t(const char *s)
{
    int64_t us = -1;
    assert_true(rr_time_parse(s, strlen(s), &us));
    return us;
}

static void test_time_forms(void **state)
{
    (void)state;
    int64_t want = 1539202764LL * 1000000; /* 2018-10-10T20:19:24Z */
    assert_int_equal(t("Wed Oct 10 20:19:24 +0000 2018"), want);
    assert_int_equal(t("2018-10-10T20:19:24Z"), want);
    assert_int_equal(t("2018-10-10T20:19:24.000Z"), want);
    assert_int_equal(t("2018-10-10T20:19:24+0000"), want);
    assert_int_equal(t("2018-10-10T22:19:24+02:00"), want);
    assert_int_equal(t("2018-10-10T15:19:24-05"), want);
    assert_int_equal(t("2018-10-10 20:19:24"), want); /* no zone: UTC */
    assert_int_equal(t("1539202764"), want);          /* Unix seconds */
    assert_int_equal(t("1539202764000"), want);       /* milliseconds */
    assert_int_equal(t("2018-10-10T20:19:24.123456Z"), want + 123456);
    assert_int_equal(t("2018-10-10"), 1539129600LL * 1000000);
    assert_int_equal(t("Thu Feb 29 00:00:00 +0000 2024"), 1709164800LL * 1000000);
    int64_t us;
    const char *bad[] = {"",
                         "yesterday",
                         "2018-13-01",
                         "2018-02-30",
                         "2023-02-29T00:00:00Z",
                         "Wed Foo 10 20:19:24 +0000 2018",
                         "2018-10-10T25:00:00Z",
                         "2018-10-10T20:19:24+0000x",
                         "20181010",
                         "1899-12-31",
                         NULL};
    for (int i = 0; bad[i]; i++)
        assert_false(rr_time_parse(bad[i], strlen(bad[i]), &us));
    char out[32];
    rr_time_format(want + 5, out);
    assert_string_equal(out, "2018-10-10T20:19:24.000005Z");
    rr_time_format_ms(want + 5000, out);
    assert_string_equal(out, "2018-10-10T20:19:24.005Z");
    /* the snowflake of a 2022 tweet */
    assert_true(rr_time_from_snowflake("1500000000000000001", &us));
    rr_time_format(us, out);
    assert_memory_equal(out, "2022-03-05", 10);
    assert_false(rr_time_from_snowflake("783214", &us));
}

/* -------------------------------------------------------------- parsers */

typedef struct mem {
    const char *data;
    size_t len, pos, step;
} mem_t;

/* Hands the body out `step` bytes at a time, as a slow socket would. */
static long mem_read(void *src, char *buf, size_t cap)
{
    mem_t *m = src;
    size_t n = m->len - m->pos;
    if (n > m->step)
        n = m->step;
    if (n > cap)
        n = cap;
    memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    return (long)n;
}

typedef struct parsed {
    int n, bad;
    rr_rec_rc_t last;
    char error[200];
    char ids[16][64];
} parsed_t;

/* Parses body with fmt, reading step bytes at a time; collects each
 * record's "id" (JSON) or first field (CSV/IDS). */
static parsed_t parse(rr_body_format_t fmt, const char *body, size_t step, bool flat, size_t max)
{
    parsed_t out;
    memset(&out, 0, sizeof out);
    mem_t m = {body, strlen(body), 0, step};
    rr_reader_t rd;
    assert_true(rr_reader_init(&rd, mem_read, &m, max));
    rr_parser_t *p = rr_parser_new(fmt, &rd, 32, flat);
    assert_non_null(p);
    rr_record_t rec;
    for (;;) {
        rr_rec_rc_t rc = rr_parser_next(p, &rec);
        out.last = rc;
        if (rc == RR_REC_END)
            break;
        if (rc == RR_REC_FATAL) {
            snprintf(out.error, sizeof out.error, "%s", rec.error);
            break;
        }
        if (rc == RR_REC_BAD) {
            out.bad++;
            snprintf(out.error, sizeof out.error, "%s", rec.error);
            continue;
        }
        char *dst = out.ids[out.n < 16 ? out.n : 15];
        if (rec.jrec) {
            rr_jentry_t *e = rr_jrec_get(rec.jrec, "id", 2);
            size_t len = 0;
            const char *s = e && e->type == RR_V_STR ? rr_jrec_text(rec.jrec, e, &len) : "?";
            snprintf(dst, 64, "%.*s", (int)(e ? len : 1), s);
        } else if (rec.json) {
            json_t *id = json_is_object(rec.json) ? json_object_get(rec.json, "id") : rec.json;
            snprintf(dst, 64, "%s", json_is_string(id) ? json_string_value(id) : "?");
        } else if (rec.fields) {
            snprintf(dst, 64, "%s", rec.fields[0]);
        } else {
            snprintf(dst, 64, "%.*s", (int)rec.text_len, rec.text);
        }
        out.n++;
    }
    rr_parser_free(p);
    rr_reader_free(&rd);
    return out;
}

static void test_json_bodies(void **state)
{
    (void)state;
    for (size_t step = 1; step <= 4096; step *= 8) {
        for (int flat = 0; flat <= 1; flat++) {
            parsed_t r =
                parse(RR_BODY_JSON,
                      "[{\"id\":\"a\"}, {\"id\":\"b\",\"x\":[1,{\"y\":\"]}\"}]} ,\n{\"id\":\"c\"}]",
                      step, flat, 1 << 20);
            assert_int_equal(r.n, 3);
            assert_string_equal(r.ids[1], "b");
            /* envelopes: the record array is found wherever the API nests it */
            r = parse(RR_BODY_JSON,
                      "{\"meta\":{\"next_token\":\"x\"},\"data\":[{\"id\":\"1\"},{\"id\":\"2\"}],"
                      "\"includes\":{}}",
                      step, flat, 1 << 20);
            assert_int_equal(r.n, 2);
            r = parse(RR_BODY_JSON,
                      "{\"business_discovery\":{\"username\":\"u\",\"media\":{\"data\":[{\"id\":"
                      "\"m1\"}]}}}",
                      step, flat, 1 << 20);
            assert_int_equal(r.n, 1);
            assert_string_equal(r.ids[0], "m1");
            r = parse(RR_BODY_JSON,
                      "window.YTD.follower.part0 = [ {\"follower\":{\"accountId\":\"1\"}} ]", step,
                      flat, 1 << 20);
            assert_int_equal(r.n, 1);
            /* one object that holds no list is one record */
            r = parse(RR_BODY_JSON, "{\"id\":\"solo\",\"name\":\"x\"}", step, flat, 1 << 20);
            assert_int_equal(r.n, 1);
            assert_string_equal(r.ids[0], "solo");
            /* a bad element is one bad record; a broken array is fatal */
            r = parse(RR_BODY_JSON, "[{\"id\":\"a\"},{\"id\":},{\"id\":\"c\"}]", step, flat,
                      1 << 20);
            assert_int_equal(r.n, 2);
            assert_int_equal(r.bad, 1);
            r = parse(RR_BODY_JSON, "[{\"id\":\"a\"},{\"id\":\"b\"", step, flat, 1 << 20);
            assert_int_equal(r.last, RR_REC_FATAL);
            r = parse(RR_BODY_JSON, "[]", step, flat, 1 << 20);
            assert_int_equal(r.n, 0);
            assert_int_equal(r.last, RR_REC_END);
        }
    }
    /* an element over the limit is skipped, the next one read */
    char big[5000];
    snprintf(big, sizeof big, "[{\"id\":\"a\"},{\"id\":\"b\",\"pad\":\"%0*d\"},{\"id\":\"c\"}]",
             3000, 0);
    parsed_t r = parse(RR_BODY_JSON, big, 100, true, 1000);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.bad, 1);
    assert_non_null(strstr(r.error, "longer than"));
}

static void test_ndjson_and_ids(void **state)
{
    (void)state;
    parsed_t r =
        parse(RR_BODY_NDJSON, "{\"id\":\"a\"}\r\n\n  \n{\"id\":\"b\"}\n{oops}\n{\"id\":\"d\"}", 3,
              true, 1 << 20);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.bad, 1);
    assert_string_equal(r.ids[2], "d");
    r = parse(RR_BODY_NDJSON, "\xEF\xBB\xBF{\"id\":\"bom\"}\n", 2, false, 1 << 20);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.ids[0], "bom");
    r = parse(RR_BODY_IDS, "id\n# comment\n 123 \n\n@ana\n456", 4, false, 1 << 20);
    assert_int_equal(r.n, 3);
    assert_string_equal(r.ids[0], "123");
    assert_string_equal(r.ids[1], "@ana");
    assert_string_equal(r.ids[2], "456");
}

static void test_csv(void **state)
{
    (void)state;
    const char *body = "id,name,bio\r\n"
                       "1,\"Smith, Ana\",\"line 1\nline \"\"2\"\"\"\r\n"
                       "\r\n"
                       "2,,\n"
                       "\"3\",Bo,x\n"
                       "4,a,b,c\n"
                       "5,\"never closed\n";
    for (size_t step = 1; step <= 64; step *= 4) {
        mem_t m = {body, strlen(body), 0, step};
        rr_reader_t rd;
        assert_true(rr_reader_init(&rd, mem_read, &m, 1 << 20));
        rr_parser_t *p = rr_parser_new(RR_BODY_CSV, &rd, 32, false);
        rr_record_t rec;
        assert_int_equal(rr_parser_next(p, &rec), RR_REC_OK);
        int nh;
        char **h = rr_parser_header(p, &nh);
        assert_int_equal(nh, 3);
        assert_string_equal(h[2], "bio");
        assert_int_equal(rec.row, 1);
        assert_string_equal(rec.fields[1], "Smith, Ana");
        assert_string_equal(rec.fields[2], "line 1\nline \"2\"");
        assert_int_equal(rr_parser_next(p, &rec), RR_REC_OK);
        assert_int_equal(rec.row, 2);
        assert_int_equal(rec.nfields, 3);
        assert_int_equal(rec.lens[1], 0);
        assert_int_equal(rr_parser_next(p, &rec), RR_REC_OK);
        assert_string_equal(rec.fields[0], "3");
        assert_int_equal(rr_parser_next(p, &rec), RR_REC_BAD); /* more columns than the header */
        assert_int_equal(rr_parser_next(p, &rec), RR_REC_BAD); /* unterminated quote at the end */
        assert_int_equal(rec.row, 5);
        assert_int_equal(rr_parser_next(p, &rec), RR_REC_END);
        rr_parser_free(p);
        rr_reader_free(&rd);
    }
    /* semicolons and NUL bytes (dropped: PostgreSQL text cannot hold them) */
    const char semi[] = "id;name\n1;a\0b\n";
    mem_t m = {semi, sizeof semi - 1, 0, 5};
    rr_reader_t rd;
    assert_true(rr_reader_init(&rd, mem_read, &m, 1 << 20));
    rr_parser_t *p = rr_parser_new(RR_BODY_CSV, &rd, 32, false);
    rr_record_t rec;
    assert_int_equal(rr_parser_next(p, &rec), RR_REC_OK);
    assert_string_equal(rec.fields[1], "ab");
    rr_parser_free(p);
    rr_reader_free(&rd);
}

/* ---------------------------------------------------------- flat records */

static void test_jrec(void **state)
{
    (void)state;
    rr_jrec_t j;
    rr_jrec_init(&j);
    char err[200];
    const char *text = "{\"id\":\"7\",\"n\":-12,\"r\":1.5e2,\"t\":true,\"z\":null,"
                       "\"esc\":\"a\\\"b\\u00e9\\ud83d\\ude00\\n\",\"pm\":{\"followers_count\":3},"
                       "\"arr\":[{\"v\":\"x\"},2],\"id\":\"dup\"}";
    assert_true(rr_jrec_parse(&j, text, strlen(text), 32, err, sizeof err));
    rr_jentry_t *e = rr_jrec_get(&j, "id", 2);
    assert_non_null(e);
    size_t len;
    assert_memory_equal(rr_jrec_text(&j, e, &len), "7", 1); /* the first of a repeated key */
    assert_int_equal(rr_jrec_get(&j, "n", 1)->i, -12);
    assert_true(rr_jrec_get(&j, "r", 1)->d == 150.0);
    assert_int_equal(rr_jrec_get(&j, "z", 1)->type, RR_V_NULL);
    e = rr_jrec_get(&j, "esc", 3);
    const char *s = rr_jrec_text(&j, e, &len);
    assert_int_equal(len, strlen("a\"b\xC3\xA9\xF0\x9F\x98\x80\n"));
    assert_memory_equal(s, "a\"b\xC3\xA9\xF0\x9F\x98\x80\n", len);
    assert_int_equal(rr_jrec_get(&j, "pm.followers_count", 18)->i, 3);
    e = rr_jrec_get(&j, "arr.0.v", 7);
    assert_memory_equal(rr_jrec_text(&j, e, &len), "x", 1);
    assert_int_equal(rr_jrec_get(&j, "arr.1", 5)->i, 2);
    assert_null(rr_jrec_get(&j, "missing", 7));

    /* integers at the edges of the fast path (18 characters) and beyond it */
    const char *ints = "{\"z\":-0,\"a\":999999999999999999,\"b\":-99999999999999999,"
                       "\"c\":9223372036854775807,\"d\":-9223372036854775808,"
                       "\"arr\":[0,1,2,3,4,5,6,7,8,9,10,11],\"a\\u0062\":\"esc key\","
                       "\"m\\u00e9\":{\"x\":1},\"bio\":\"caf\xC3\xA9 \\\"ok\\\"\"}";
    assert_true(rr_jrec_parse(&j, ints, strlen(ints), 32, err, sizeof err));
    assert_int_equal(rr_jrec_get(&j, "z", 1)->i, 0);
    assert_int_equal(rr_jrec_get(&j, "a", 1)->i, 999999999999999999LL);
    assert_int_equal(rr_jrec_get(&j, "b", 1)->i, -99999999999999999LL);
    assert_true(rr_jrec_get(&j, "c", 1)->i == INT64_MAX);
    assert_true(rr_jrec_get(&j, "d", 1)->i == INT64_MIN);
    assert_int_equal(rr_jrec_get(&j, "arr.10", 6)->i, 10);
    assert_int_equal(rr_jrec_get(&j, "arr.11", 6)->i, 11);
    assert_non_null(rr_jrec_get(&j, "ab", 2)); /* an escaped key, found decoded */
    assert_int_equal(rr_jrec_get(&j, "m\xC3\xA9.x", 5)->i, 1);
    e = rr_jrec_get(&j, "bio", 3);
    s = rr_jrec_text(&j, e, &len);
    assert_int_equal(len, strlen("caf\xC3\xA9 \"ok\""));
    assert_memory_equal(s, "caf\xC3\xA9 \"ok\"", len);
    /* the hashes built while descending are the ones lookups compute */
    static const char *const paths[] = {"z", "arr.10", "ab", "m\xC3\xA9.x", "bio", NULL};
    for (int i = 0; paths[i]; i++) {
        size_t n = strlen(paths[i]);
        assert_ptr_equal(rr_jrec_get_hashed(&j, paths[i], n, rr_jrec_hash(paths[i], n)),
                         rr_jrec_get(&j, paths[i], n));
        assert_non_null(rr_jrec_get(&j, paths[i], n));
    }

    const char *bad[] = {"{\"a\":}",
                         "{\"a\":1,}",
                         "{\"a\":\"\\u0000\"}",
                         "{\"a\":\"\\ud800\"}",
                         "{\"a\":01}",
                         "{\"a\":1} x",
                         "{\"a\":\"\xC3\x28\"}",
                         "{\"a\":tru}",
                         "{\"a\":\"x\x01\"}",
                         "{\"a\":99999999999999999999}",
                         "{a:1}",
                         /* invalid UTF-8 right before and right after an escape */
                         "{\"a\":\"\xC3\\n\"}",
                         "{\"a\":\"\\n\xC3\"}",
                         "{\"a\":\"x\\n\xC3\x28\\t\"}",
                         /* overlong, surrogate and beyond U+10FFFF as raw bytes */
                         "{\"a\":\"\xE0\x80\xAF\"}",
                         "{\"a\":\"\xED\xA0\x80\"}",
                         "{\"a\":\"\xF4\x90\x80\x80\"}",
                         /* integers: a lone sign, one past either end of int64 */
                         "{\"a\":-}",
                         "{\"a\":-9223372036854775809}",
                         "{\"a\":9223372036854775808}",
                         "{\"a\":12a}",
                         "{\"a\":-01}",
                         NULL};
    for (int i = 0; bad[i]; i++)
        assert_false(rr_jrec_parse(&j, bad[i], strlen(bad[i]), 32, err, sizeof err));
    char deep[200] = "";
    for (int i = 0; i < 40; i++)
        strcat(deep, "[");
    assert_false(rr_jrec_parse(&j, deep, strlen(deep), 32, err, sizeof err));
    assert_non_null(strstr(err, "deeper"));
    rr_jrec_free(&j);
}

/* ------------------------------------------------------------ profiles */

static bool normalise_json(const char *text, const char *platform, rr_profile_row_t *p,
                           const char **field, const char **why)
{
    static rr_jrec_t j;
    char err[200];
    assert_true(rr_jrec_parse(&j, text, strlen(text), 32, err, sizeof err));
    rr_source_t src;
    memset(&src, 0, sizeof src);
    src.jrec = &j;
    return rr_profile_normalise(&src, platform, p, field, why);
}

static void test_profile_shapes(void **state)
{
    (void)state;
    rr_profile_row_t *p = test_malloc(sizeof *p);
    const char *field, *why;
    /* X v1.1 */
    assert_true(normalise_json(
        "{\"id\":1234567890123456789,\"id_str\":\"1234567890123456789\",\"screen_name\":\"ana_r\","
        "\"url\":null,\"lang\":null,\"followers_count\":3,\"friends_count\":812,\"favourites_"
        "count\":0,"
        "\"default_profile_image\":true,\"status\":{\"created_at\":\"Wed Feb 10 08:00:00 +0000 "
        "2021\"}}",
        "x", p, &field, &why));
    assert_memory_equal(p->external_id, "1234567890123456789", 19);
    assert_true(p->has_followers && p->followers == 3 && p->following == 812);
    assert_true(p->has_likes && p->likes == 0 && !strcmp(p->likes_kind, "given"));
    assert_true(p->url != NULL && p->url_len == 0); /* null url: "not set" */
    assert_null(p->lang);
    assert_true(p->has_default_avatar && p->default_avatar);
    assert_true(p->has_last_post);
    assert_false(p->bare);
    /* X v2: no avatar flag, the URL tells */
    assert_true(normalise_json(
        "{\"id\":\"15\",\"username\":\"u\",\"profile_image_url\":\"https://abs.twimg.com/sticky/"
        "default_profile_images/"
        "default_profile_normal.png\",\"public_metrics\":{\"followers_count\":0,"
        "\"following_count\":1,\"tweet_count\":2,\"listed_count\":3}}",
        "x", p, &field, &why));
    assert_true(p->default_avatar && p->has_posts && p->posts == 2 && p->listed == 3);
    assert_false(p->has_likes);
    /* X archive entry */
    assert_true(normalise_json("{\"follower\":{\"accountId\":\"99\",\"userLink\":\"x\"}}", "x", p,
                               &field, &why));
    assert_memory_equal(p->external_id, "99", 2);
    assert_true(p->bare);
    /* Instagram export: username only, keyed by @handle */
    assert_true(normalise_json(
        "{\"title\":\"\",\"string_list_data\":[{\"href\":\"https://www.instagram.com/Ana.R\","
        "\"value\":\"Ana.R\",\"timestamp\":1732727703}]}",
        "instagram", p, &field, &why));
    assert_memory_equal(p->external_id, "@ana.r", 6);
    assert_true(p->has_followed_at && p->followed_at == 1732727703LL * 1000000);
    /* Instagram profile object */
    assert_true(
        normalise_json("{\"pk\":\"5\",\"username\":\"g\",\"is_private\":true,\"follower_count\":4,"
                       "\"has_anonymous_profile_picture\":true,\"media_count\":0}",
                       "instagram", p, &field, &why));
    assert_true(p->protected_ && p->default_avatar && p->followers == 4 && p->has_posts);
    /* TikTok: likes received */
    assert_true(
        normalise_json("{\"open_id\":\"-0a\",\"likes_count\":42}", "tiktok", p, &field, &why));
    assert_string_equal(p->likes_kind, "received");
    /* refusals name the field */
    assert_false(normalise_json("{\"id\":\"1\",\"followers_count\":-1}", "x", p, &field, &why));
    assert_string_equal(field, "followers_count");
    assert_false(normalise_json("{\"id\":\"1\",\"friends_count\":\"lots\"}", "x", p, &field, &why));
    assert_string_equal(field, "friends_count");
    assert_false(normalise_json("{\"name\":\"no id\"}", "x", p, &field, &why));
    assert_string_equal(field, "id");
    assert_false(normalise_json("{\"id\":\"1\",\"created_at\":\"soon\"}", "x", p, &field, &why));
    assert_string_equal(field, "created_at");
    test_free(p);
}

static void test_profile_csv_and_ids(void **state)
{
    (void)state;
    rr_profile_row_t *p = test_malloc(sizeof *p);
    const char *field, *why;
    char *header[] = {
        "id",        "screen_name", "followers_count", "friends_count", "default_profile_image",
        "protected", "updated",     "description"};
    char *fields[] = {"6067292", "alesstar", "640", "", "", "1", "2015-02-14 10:54:49", "NULL"};
    size_t lens[8];
    for (int i = 0; i < 8; i++)
        lens[i] = strlen(fields[i]);
    rr_source_t src;
    memset(&src, 0, sizeof src);
    src.header = header;
    src.nheader = 8;
    src.fields = fields;
    src.lens = lens;
    src.nfields = 8;
    rr_src_cache_reset();
    assert_true(rr_profile_normalise(&src, "x", p, &field, &why));
    assert_true(p->has_followers && p->followers == 640);
    assert_false(p->has_following);                           /* empty count: unknown */
    assert_true(p->has_default_avatar && !p->default_avatar); /* empty boolean: false */
    assert_true(p->protected_);
    assert_true(p->has_observed && p->observed_at == 1423911289LL * 1000000);
    assert_null(p->bio); /* NULL token */
    /* an id list line */
    char *idh[] = {"id"};
    char *one[] = {"@Someone"};
    size_t l1[] = {8};
    rr_source_t ids = {
        .header = idh, .nheader = 1, .fields = one, .lens = l1, .nfields = 1, .id_only = true};
    rr_src_cache_reset();
    assert_true(rr_profile_normalise(&ids, "x", p, &field, &why));
    assert_memory_equal(p->external_id, "@someone", 8);
    assert_true(p->bare);
    test_free(p);
}

static void test_avatar_urls(void **state)
{
    (void)state;
    const char *yes[] = {
        "https://abs.twimg.com/sticky/default_profile_images/default_profile_normal.png",
        "http://a0.twimg.com/sticky/default_profile_images/default_profile_2_normal.png",
        "https://instagram.f/v/t51.2885-19/44884218_345707102882519_2446069589734326272_n.jpg?x=1",
        ""};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        assert_true(rr_avatar_is_default(yes[i], strlen(yes[i])));
    const char *no = "https://pbs.twimg.com/profile_images/1/photo_normal.jpg";
    assert_false(rr_avatar_is_default(no, strlen(no)));
}

/* ---------------------------------------------------------- COPY binary */

static void test_copy_binary(void **state)
{
    (void)state;
    rr_copybuf_t c;
    assert_true(rr_copybuf_init(&c, NULL));
    rr_copy_row_begin(&c);
    rr_copy_text(&c, "a\tb", 3);
    rr_copy_null(&c);
    rr_copy_int(&c, -2);
    rr_copy_opt_bool(&c, true, true);
    rr_copy_opt_time(&c, true, 946684800000001LL); /* 2000-01-01 + 1 us */
    rr_copy_row_end(&c);
    size_t start = rr_copy_row_begin(&c);
    rr_copy_int(&c, 1);
    rr_copy_row_abort(&c, start);
    rr_copy_finish(&c);
    static const unsigned char want[] = {
        'P',  'G',  'C',  'O',  'P',  'Y',  '\n', 0xFF, '\r', '\n', 0,    0,
        0,    0,    0,    0,    0,    0,    0,                                  /* header */
        0,    5,                                                                /* 5 fields */
        0,    0,    0,    3,    'a',  '\t', 'b',                                /* text, as is */
        0xFF, 0xFF, 0xFF, 0xFF,                                                 /* NULL */
        0,    0,    0,    8,    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE, /* bigint -2 */
        0,    0,    0,    1,    1,                                              /* true */
        0,    0,    0,    8,    0,    0,    0,    0,    0,    0,    0,    1,    /* timestamptz */
        0xFF, 0xFF};                                                            /* trailer */
    assert_int_equal(c.len, sizeof want);
    assert_memory_equal(c.buf, want, sizeof want);
    rr_copybuf_free(&c);
}

/* ------------------------------------------------------ duplicate keys */

static void test_keyset(void **state)
{
    (void)state;
    rr_keyset_t ks;
    assert_true(rr_keyset_init(&ks, 1 << 20));
    char key[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(key, sizeof key, "%d", 100000 + i);
        rr_keyset_add(&ks, key, strlen(key));
    }
    int64_t false_positives = ks.ncand;
    rr_keyset_add(&ks, "100007", 6);
    rr_keyset_add(&ks, "a\"b", 3);
    rr_keyset_add(&ks, "a\"b", 3);
    assert_int_equal(ks.ncand, false_positives + 2); /* a duplicate is never missed */
    assert_true(false_positives < 20);
    const char *c = rr_keyset_candidates(&ks);
    assert_non_null(strstr(c, "\"100007\""));
    assert_non_null(strstr(c, "\"a\\\"b\""));
    assert_false(ks.overflow);
    rr_keyset_free(&ks);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_forms),
        cmocka_unit_test(test_json_bodies),
        cmocka_unit_test(test_ndjson_and_ids),
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_jrec),
        cmocka_unit_test(test_profile_shapes),
        cmocka_unit_test(test_profile_csv_and_ids),
        cmocka_unit_test(test_avatar_urls),
        cmocka_unit_test(test_copy_binary),
        cmocka_unit_test(test_keyset),
    };
    return cmocka_run_group_tests_name("core ingest", tests, NULL, NULL);
}
