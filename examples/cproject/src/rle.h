/* rle - run-length coding: each run of up to 255 equal bytes becomes a
 * (count, byte) pair. */
#ifndef RLE_H
#define RLE_H
#include <stddef.h>

/* Encodes n bytes of in into out (room for 2 * n bytes); returns the
 * encoded length. */
size_t rle_encode(const unsigned char *in, size_t n, unsigned char *out);

/* Decodes n encoded bytes into out (room for cap bytes); returns the
 * decoded length, or (size_t)-1 when the input is malformed or out is too
 * small. */
size_t rle_decode(const unsigned char *in, size_t n, unsigned char *out, size_t cap);

#endif
