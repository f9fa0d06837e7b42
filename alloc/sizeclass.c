/*
 * sizeclass.c: Go's 68 size classes (internal/runtime/gc/sizeclasses.go).
 *
 * Invariant: size_to_class(n) is the smallest class whose size >= n, for 1 <= n <= 32768;
 * both lookup tables are derived from gcrt_class_size at init, so they cannot disagree with
 * it. Objects per span = span bytes / size (metadata lives off-heap, so the whole span holds
 * objects, unlike Go 1.22+'s in-span bitmaps). divmagic makes the object index a multiply:
 * idx = (off * divmagic) >> 32, exact for every offset inside a span (checked at init).
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>

const uint32_t gcrt_class_size[GCRT_NUM_CLASSES] = {
    0, 8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288,
    320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536,
    1792, 2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192,
    9472, 9728, 10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576,
    27264, 28672, 32768};

const uint8_t gcrt_class_npages[GCRT_NUM_CLASSES] = {
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 2, 1, 2, 1, 2, 1, 3, 2, 3, 1, 3, 2, 3, 4, 5, 6, 1, 7, 6, 5, 4, 3, 5, 7, 2,
    9, 7, 5, 8, 3, 10, 7, 4};

uint16_t gcrt_class_nelems[GCRT_NUM_CLASSES];
uint32_t gcrt_class_divmagic[GCRT_NUM_CLASSES];
uint8_t gcrt_size_to_class8[1024 / 8 + 1];
uint8_t gcrt_size_to_class128[(GCRT_MAX_SMALL - 1024) / 128 + 1];

void gcrt_sizeclass_init(void) {
    unsigned c = 1;
    for (size_t i = 0; i < sizeof gcrt_size_to_class8; i++) {
        size_t n = i * 8;
        while (gcrt_class_size[c] < n) c++;
        gcrt_size_to_class8[i] = (uint8_t)c;
    }
    for (size_t i = 0; i < sizeof gcrt_size_to_class128; i++) {
        size_t n = 1024 + i * 128;
        while (gcrt_class_size[c] < n) c++;
        gcrt_size_to_class128[i] = (uint8_t)c;
    }
    for (c = 1; c < GCRT_NUM_CLASSES; c++) {
        size_t span = (size_t)gcrt_class_npages[c] * GCRT_PAGE_SIZE, size = gcrt_class_size[c];
        gcrt_class_nelems[c] = (uint16_t)(span / size);
        gcrt_class_divmagic[c] = (uint32_t)(UINT32_MAX / size + 1);
    }
}
