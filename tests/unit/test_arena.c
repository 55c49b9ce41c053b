/*
 * Arena: alignment, allocations larger than a block, many blocks, reset
 * keeping (and reusing) the first block, string helpers, and sizes so large
 * that rounding them up would wrap around.
 */
#include "unit.h"

#include <stdint.h>

static void test_alignment_and_distinct(void **state)
{
    (void)state;
    rr_arena_t *a = rr_arena_new();
    assert_non_null(a);
    char *prev = NULL;
    for (size_t n = 0; n < 100; n++) {
        char *p = rr_arena_alloc(a, n);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % _Alignof(max_align_t), 0);
        assert_true(p != prev); /* zero-sized allocations too */
        memset(p, 0xab, n);
        prev = p;
    }
    rr_arena_free(a);
}

static void test_large_allocations(void **state)
{
    (void)state;
    rr_arena_t *a = rr_arena_new();
    size_t sizes[] = {64 * 1024, 64 * 1024 + 1, 1024 * 1024, 8 * 1024 * 1024};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        unsigned char *p = rr_arena_alloc(a, sizes[i]);
        assert_non_null(p);
        memset(p, (int)i, sizes[i]); /* ASan checks the whole range is ours */
        assert_int_equal(p[sizes[i] - 1], i);
    }
    /* small allocations still work after a big one */
    char *s = rr_arena_strdup(a, "after");
    assert_string_equal(s, "after");
    rr_arena_free(a);
}

static void test_many_blocks_stay_valid(void **state)
{
    (void)state;
    rr_arena_t *a = rr_arena_new();
    char *ptrs[2000];
    for (int i = 0; i < 2000; i++) {
        ptrs[i] = rr_arena_sprintf(a, "string number %d with some padding to fill blocks %0200d",
                                   i, 0);
        assert_non_null(ptrs[i]);
    }
    for (int i = 0; i < 2000; i++) {
        char want[32];
        snprintf(want, sizeof want, "string number %d ", i);
        assert_memory_equal(ptrs[i], want, strlen(want));
    }
    rr_arena_free(a);
}

static void test_reset_reuses_first_block(void **state)
{
    (void)state;
    rr_arena_t *a = rr_arena_new();
    void *first = rr_arena_alloc(a, 16);
    for (int i = 0; i < 100; i++)
        assert_non_null(rr_arena_alloc(a, 10000)); /* spills into new blocks */
    assert_non_null(rr_arena_alloc(a, 1024 * 1024));
    rr_arena_reset(a);
    assert_ptr_equal(rr_arena_alloc(a, 16), first);
    rr_arena_reset(a);
    rr_arena_reset(a); /* idempotent */
    assert_ptr_equal(rr_arena_alloc(a, 1), first);
    rr_arena_free(a);
    rr_arena_free(NULL);
}

static void test_strings(void **state)
{
    (void)state;
    rr_arena_t *a = rr_arena_new();
    assert_null(rr_arena_strdup(a, NULL));
    assert_string_equal(rr_arena_strdup(a, ""), "");
    assert_string_equal(rr_arena_strndup(a, "abcdef", 3), "abc");
    assert_string_equal(rr_arena_sprintf(a, "%s-%d", "x", 42), "x-42");
    char big[100001];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char *copy = rr_arena_sprintf(a, "%s", big);
    assert_non_null(copy);
    assert_int_equal(strlen(copy), sizeof big - 1);
    rr_arena_free(a);
}

static void test_impossible_sizes_fail(void **state)
{
    (void)state;
    rr_arena_t *a = rr_arena_new();
    /* rounding these up to the alignment, or adding a block header, wraps
     * around: the arena must say no rather than hand out a tiny block */
    assert_null(rr_arena_alloc(a, SIZE_MAX));
    assert_null(rr_arena_alloc(a, SIZE_MAX - 1));
    assert_null(rr_arena_alloc(a, SIZE_MAX - 15));
    /* and it still works afterwards */
    assert_string_equal(rr_arena_strdup(a, "fine"), "fine");
    rr_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alignment_and_distinct),
        cmocka_unit_test(test_large_allocations),
        cmocka_unit_test(test_many_blocks_stay_valid),
        cmocka_unit_test(test_reset_reuses_first_block),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_impossible_sizes_fail),
    };
    return cmocka_run_group_tests_name("core arena", tests, NULL, NULL);
}
