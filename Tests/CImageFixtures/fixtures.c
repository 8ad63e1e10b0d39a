#include "fixtures.h"

#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

int fixture_png(const char *path, int w, int h, int channels, const uint8_t *samples) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = w;
    image.height = h;
    image.format = channels == 1 ? PNG_FORMAT_GRAY : channels == 2 ? PNG_FORMAT_GA : PNG_FORMAT_RGBA;
    return png_image_write_to_file(&image, path, 0, samples, 0, NULL) ? 0 : 1;
}

int fixture_png16(const char *path, int w, int h, const uint16_t *rgb) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = w;
    image.height = h;
    image.format = PNG_FORMAT_LINEAR_RGB;
    return png_image_write_to_file(&image, path, 0, rgb, 0, NULL) ? 0 : 1;
}

int fixture_read_png_raw(const char *path, int *w, int *h, int *depth, int *color_type, uint16_t *out, size_t capacity) {
    FILE *f = fopen(path, "rb");
    if (!f) return 1;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, info ? &info : NULL, NULL);
        fclose(f);
        return 1;
    }
    png_init_io(png, f);
    png_read_info(png, info);
    *w = (int)png_get_image_width(png, info);
    *h = (int)png_get_image_height(png, info);
    *depth = png_get_bit_depth(png, info);
    *color_type = png_get_color_type(png, info);
    size_t row = png_get_rowbytes(png, info);
    if (*color_type != PNG_COLOR_TYPE_RGB || (size_t)*w * (size_t)*h * 3 > capacity) {
        png_destroy_read_struct(&png, &info, NULL);
        fclose(f);
        return 2;
    }
    unsigned char *line = malloc(row);
    for (int y = 0; y < *h; y++) {
        png_read_row(png, line, NULL);
        for (int i = 0; i < *w * 3; i++) {
            out[(size_t)y * (size_t)*w * 3 + i] = *depth == 16 ? (uint16_t)(line[2 * i] << 8 | line[2 * i + 1]) : line[i];
        }
    }
    free(line);
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
    return 0;
}

int fixture_png_palette(const char *path, int w, int h, const uint8_t *indices, const uint8_t *colors, int count) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = w;
    image.height = h;
    image.format = PNG_FORMAT_RGB_COLORMAP;
    image.colormap_entries = count;
    return png_image_write_to_file(&image, path, 0, indices, 0, colors) ? 0 : 1;
}

static int write_jpeg(const char *path, int w, int h, const uint8_t *px, int comps, J_COLOR_SPACE space,
                      int progressive, int orientation) {
    FILE *f = fopen(path, "wb");
    if (!f) return 1;
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = w;
    c.image_height = h;
    c.input_components = comps;
    c.in_color_space = space;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 95, TRUE);
    if (progressive) jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    if (orientation) {
        // "Exif\0\0", little-endian TIFF header, IFD0 with one entry: Orientation (SHORT).
        uint8_t exif[] = {'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 42, 0, 8, 0, 0, 0,
                          1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, (uint8_t)orientation, 0, 0, 0, 0, 0, 0, 0};
        jpeg_write_marker(&c, JPEG_APP0 + 1, exif, sizeof exif);
    }
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)c.next_scanline * w * comps);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
    return 0;
}

int fixture_jpeg(const char *path, int w, int h, const uint8_t *rgb, int progressive, int orientation) {
    return write_jpeg(path, w, h, rgb, 3, JCS_RGB, progressive, orientation);
}

int fixture_jpeg_cmyk(const char *path, int w, int h, const uint8_t *cmyk) {
    return write_jpeg(path, w, h, cmyk, 4, JCS_CMYK, 0, 0);
}
