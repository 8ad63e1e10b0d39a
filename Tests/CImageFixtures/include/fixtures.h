// Test-only writers for the PNG and JPEG variants Impasto must read: gray, gray+alpha, RGBA,
// palette and 16-bit PNGs; progressive, CMYK (Adobe) and EXIF-oriented JPEGs.
#ifndef IMPASTO_FIXTURES_H
#define IMPASTO_FIXTURES_H

#include <stdint.h>

// format: 1 gray, 2 gray+alpha, 4 RGBA (8-bit samples, interleaved)
int fixture_png(const char *path, int w, int h, int channels, const uint8_t *samples);
// 16-bit linear RGB
int fixture_png16(const char *path, int w, int h, const uint16_t *rgb);
// palette: indices into `colors` (RGB triples, `count` of them)
int fixture_png_palette(const char *path, int w, int h, const uint8_t *indices, const uint8_t *colors, int count);
// JPEG from RGB: progressive scan order, and/or an EXIF orientation tag (0 = none)
int fixture_jpeg(const char *path, int w, int h, const uint8_t *rgb, int progressive, int orientation);
// CMYK JPEG with an Adobe marker; samples in Adobe's inverted convention (255 = no ink)
int fixture_jpeg_cmyk(const char *path, int w, int h, const uint8_t *cmyk);

#endif
