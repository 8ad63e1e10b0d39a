// Image decoding and encoding over libpng's simplified API and libjpeg, with every error
// returned as a message instead of a longjmp out of Swift or an exit().
#ifndef IMPASTO_IMAGEIO_H
#define IMPASTO_IMAGEIO_H

#include <stddef.h>

// Decoded image: interleaved 8-bit RGB, `width*height*3` bytes, malloc'd (free with imp_free).
typedef struct {
    int width, height;
    int orientation;  // EXIF orientation 1..8 (1 when absent); the pixels are not yet rotated
    unsigned char *rgb;
} imp_image;

// Each returns 0 on success, or non-zero with a one-line message in `err`.
// Images with more than `max_pixels` pixels are refused before their pixels are decoded.
// Alpha is composited over white; gray, palette and 16-bit PNGs and CMYK JPEGs become RGB.
int imp_read_png(const char *path, long long max_pixels, imp_image *out, char *err, size_t errlen);
int imp_read_jpeg(const char *path, long long max_pixels, imp_image *out, char *err, size_t errlen);

int imp_write_png(const char *path, const unsigned char *rgb, int width, int height, char *err, size_t errlen);
// 16 bits per channel, interleaved RGB in host byte order, sRGB-encoded like the 8-bit writer's.
int imp_write_png16(const char *path, const unsigned short *rgb, int width, int height, char *err, size_t errlen);
int imp_write_jpeg(const char *path, const unsigned char *rgb, int width, int height, int quality,
                   char *err, size_t errlen);

void imp_free(void *p);

#endif
