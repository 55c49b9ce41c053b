/*
 * API keys: generated keys have the documented form and parse back to their
 * public id; the parser refuses every malformed key; the digest is SHA-256
 * of the whole key; scope names round-trip.
 */
#include "unit.h"

#include <ctype.h>
#include <stdio.h>

#define KEY_LEN (3 + 12 + 1 + 43) /* rr_ + public id + _ + secret */

static bool all_b62(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]))
            return false;
    return true;
}

static void test_generate_and_parse(void **state)
{
    (void)state;
    char key[128], pub[32], key2[128], pub2[32];
    assert_int_equal(rr_key_generate(key, sizeof key, pub), 0);
    assert_int_equal(strlen(key), KEY_LEN);
    assert_memory_equal(key, "rr_", 3);
    assert_true(all_b62(key + 3, 12));
    assert_int_equal(key[15], '_');
    assert_true(all_b62(key + 16, 43));
    assert_int_equal(strlen(pub), 12);
    assert_memory_equal(key + 3, pub, 12);

    char parsed[32];
    const char *secret = NULL;
    assert_true(rr_key_parse(key, parsed, &secret));
    assert_string_equal(parsed, pub);
    assert_ptr_equal(secret, key + 16);
    assert_true(rr_key_parse(key, NULL, NULL));

    assert_int_equal(rr_key_generate(key2, sizeof key2, pub2), 0);
    assert_string_not_equal(key, key2);
    assert_string_not_equal(pub, pub2);
}

static void test_generate_needs_room(void **state)
{
    (void)state;
    char key[KEY_LEN + 1], pub[32];
    assert_int_equal(rr_key_generate(key, KEY_LEN, pub), -1); /* no room for NUL */
    assert_int_equal(rr_key_generate(NULL, 100, pub), -1);
    assert_int_equal(rr_key_generate(key, sizeof key, NULL), 0); /* public id optional */
    assert_true(rr_key_parse(key, NULL, NULL));
}

static void test_parse_refuses_malformed(void **state)
{
    (void)state;
    char good[128], pub[32];
    assert_int_equal(rr_key_generate(good, sizeof good, pub), 0);

    char k[256];
    const char *bad[16];
    int n = 0;
    bad[n++] = NULL;
    bad[n++] = "";
    bad[n++] = "rr_";
    bad[n++] = "rr_abc";
    bad[n++] = "Bearer rr_x";
    static char b1[160], b2[160], b3[160], b4[160], b5[160], b6[160], b7[160], b8[160];
    snprintf(b1, sizeof b1, "RR%s", good + 2); /* prefix case */
    bad[n++] = b1;
    snprintf(b2, sizeof b2, "%s", good);
    b2[5] = '-'; /* not base62 in the public id */
    bad[n++] = b2;
    snprintf(b3, sizeof b3, "%s", good);
    b3[15] = 'x'; /* no separator */
    bad[n++] = b3;
    snprintf(b4, sizeof b4, "%.*s", KEY_LEN - 1, good); /* secret of 42 */
    bad[n++] = b4;
    snprintf(b5, sizeof b5, "%s", good);
    b5[30] = '_'; /* not base62 in the secret */
    bad[n++] = b5;
    snprintf(b6, sizeof b6, "%s ", good); /* trailing space */
    bad[n++] = b6;
    memset(b7, 'a', sizeof b7);
    memcpy(b7, good, 16);
    b7[16 + 87] = '\0'; /* secret of 87 */
    bad[n++] = b7;
    snprintf(b8, sizeof b8, "rr_%s", good + 4); /* public id of 11 */
    bad[n++] = b8;
    for (int i = 0; i < n; i++) {
        snprintf(k, sizeof k, "%s", bad[i] ? bad[i] : "(null)");
        if (rr_key_parse(bad[i], NULL, NULL))
            fail_msg("accepted malformed key '%s'", k);
    }

    /* secrets up to 86 characters are accepted (room to grow) */
    char longer[160];
    memset(longer, 'Z', sizeof longer);
    memcpy(longer, good, 16);
    longer[16 + 86] = '\0';
    assert_true(rr_key_parse(longer, NULL, NULL));
}

static void test_digest_is_sha256(void **state)
{
    (void)state;
    static const unsigned char abc[32] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
        0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
        0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    unsigned char out[32];
    rr_key_digest("abc", out);
    assert_memory_equal(out, abc, 32);

    char key[128];
    unsigned char d1[32], d2[32];
    assert_int_equal(rr_key_generate(key, sizeof key, NULL), 0);
    rr_key_digest(key, d1);
    key[KEY_LEN - 1] ^= 1; /* one bit of the secret */
    rr_key_digest(key, d2);
    assert_memory_not_equal(d1, d2, 32);
}

static void test_scopes(void **state)
{
    (void)state;
    static const rr_scope_t scopes[] = {RR_SCOPE_READ, RR_SCOPE_WRITE, RR_SCOPE_ADMIN};
    for (size_t i = 0; i < 3; i++) {
        rr_scope_t s;
        assert_int_equal(rr_scope_parse(rr_scope_name(scopes[i]), &s), 0);
        assert_int_equal(s, scopes[i]);
    }
    rr_scope_t s;
    assert_int_equal(rr_scope_parse("public", &s), -1); /* not a key scope */
    assert_int_equal(rr_scope_parse("Admin", &s), -1);
    assert_int_equal(rr_scope_parse("", &s), -1);
    assert_int_equal(rr_scope_parse(NULL, &s), -1);
    assert_string_equal(rr_scope_name(RR_SCOPE_PUBLIC), "public");
    assert_true(RR_SCOPE_READ < RR_SCOPE_WRITE && RR_SCOPE_WRITE < RR_SCOPE_ADMIN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate_and_parse),
        cmocka_unit_test(test_generate_needs_room),
        cmocka_unit_test(test_parse_refuses_malformed),
        cmocka_unit_test(test_digest_is_sha256),
        cmocka_unit_test(test_scopes),
    };
    return cmocka_run_group_tests_name("core keys", tests, NULL, NULL);
}
