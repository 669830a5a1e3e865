/* test_arena.c — the arena hands out zeroed, aligned, independent memory
 * and survives requests larger than a block. */
#include "arena.h"
#include "cml_test.h"

#include <stdint.h>
#include <string.h>

static void test_alloc_zeroed_aligned(void) {
    arena a;
    arena_init(&a);
    for (int i = 1; i < 2000; i++) {
        unsigned char *p = arena_alloc(&a, (size_t)i);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        CU_ASSERT_EQUAL((uintptr_t)p % 16, 0);
        for (int j = 0; j < i; j++) CU_ASSERT_EQUAL_FATAL(p[j], 0);
        memset(p, 0xAB, (size_t)i); /* must not disturb the next block */
    }
    arena_free(&a);
}

static void test_large_and_overflow(void) {
    arena a;
    arena_init(&a);
    char *big = arena_alloc(&a, 1u << 20);
    CU_ASSERT_PTR_NOT_NULL(big);
    CU_ASSERT_PTR_NULL(arena_array(&a, SIZE_MAX / 2, 4));
    char *s = arena_strndup(&a, "hello world", 5);
    CU_ASSERT_STRING_EQUAL(s, "hello");
    arena_free(&a);
    CU_ASSERT_PTR_NULL(a.head);
}

CU_TestInfo cml_tests_arena[] = {
    {"alloc_zeroed_aligned", test_alloc_zeroed_aligned},
    {"large_and_overflow", test_large_and_overflow},
    CU_TEST_INFO_NULL,
};
