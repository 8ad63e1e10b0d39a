// Test-only writers for the PNG and JPEG variants Impasto must read: gray, gray+alpha, RGBA,
// palette and 16-bit PNGs; progressive, CMYK (Adobe) and EXIF-oriented JPEGs.
#ifndef IMPASTO_FIXTURES_H
#define IMPASTO_FIXTURES_H

#include <stddef.h>
#include <stdint.h>

// format: 1 gray, 2 gray+alpha, 4 RGBA (8-bit samples, interleaved)
int fixture_png(const char *path, int w, int h, int channels, const uint8_t *samples);
// 16-bit linear RGB
int fixture_png16(const char *path, int w, int h, const uint16_t *rgb);
// Reads an RGB PNG's samples as stored (no transform): 8- or 16-bit (big-endian in the file),
// into `out` (capacity samples). Returns 0, 1 (unreadable) or 2 (not RGB, or too big).
int fixture_read_png_raw(const char *path, int *w, int *h, int *depth, int *color_type, uint16_t *out, size_t capacity);
// palette: indices into `colors` (RGB triples, `count` of them)
int fixture_png_palette(const char *path, int w, int h, const uint8_t *indices, const uint8_t *colors, int count);
// JPEG from RGB: progressive scan order, and/or an EXIF orientation tag (0 = none)
int fixture_jpeg(const char *path, int w, int h, const uint8_t *rgb, int progressive, int orientation);
// CMYK JPEG with an Adobe marker; samples in Adobe's inverted convention (255 = no ink)
int fixture_jpeg_cmyk(const char *path, int w, int h, const uint8_t *cmyk);

#endif
