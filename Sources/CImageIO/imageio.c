// See imageio.h. libjpeg reports fatal errors through error_exit, which by default calls
// exit(): ours longjmps back to the entry point here (never across Swift frames) and returns
// the message instead.
#include "imageio.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

void imp_free(void *p) { free(p); }

// MARK: PNG (simplified API: no longjmp)

int imp_read_png(const char *path, long long max_pixels, imp_image *out, char *err, size_t errlen) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&image, path)) {
        snprintf(err, errlen, "not a readable PNG (%s)", image.message);
        return 1;
    }
    if ((long long)image.width * (long long)image.height > max_pixels) {
        snprintf(err, errlen, "image is %ux%u, more than the %lld-pixel limit (--max-pixels)",
                 image.width, image.height, max_pixels);
        png_image_free(&image);
        return 1;
    }
    image.format = PNG_FORMAT_RGB;
    size_t size = PNG_IMAGE_SIZE(image);
    unsigned char *buffer = malloc(size);
    if (!buffer) {
        snprintf(err, errlen, "out of memory for a %ux%u image", image.width, image.height);
        png_image_free(&image);
        return 1;
    }
    png_color white = {255, 255, 255};
    if (!png_image_finish_read(&image, &white, buffer, 0, NULL)) {
        snprintf(err, errlen, "corrupt or truncated PNG (%s)", image.message);
        free(buffer);
        png_image_free(&image);
        return 1;
    }
    out->width = (int)image.width;
    out->height = (int)image.height;
    out->orientation = 1;
    out->rgb = buffer;
    return 0;
}

int imp_write_png(const char *path, const unsigned char *rgb, int width, int height, char *err, size_t errlen) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = (png_uint_32)width;
    image.height = (png_uint_32)height;
    image.format = PNG_FORMAT_RGB;
    if (!png_image_write_to_file(&image, path, 0, rgb, 0, NULL)) {
        snprintf(err, errlen, "cannot write PNG %s (%s)", path, image.message);
        return 1;
    }
    return 0;
}

// 16 bits per channel: the full libpng API, since the simplified one writes 16-bit samples only
// as linear light. These are the 8-bit path's sRGB-encoded values at 16-bit precision.
// libpng's errors longjmp to the setjmp here, within C.
int imp_write_png16(const char *path, const unsigned short *rgb, int width, int height, char *err, size_t errlen) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        snprintf(err, errlen, "cannot write PNG %s (%s)", path, strerror(errno));
        return 1;
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        snprintf(err, errlen, "cannot write PNG %s (out of memory)", path);
        png_destroy_write_struct(&png, NULL);
        fclose(f);
        return 1;
    }
    if (setjmp(png_jmpbuf(png))) {
        snprintf(err, errlen, "cannot write PNG %s (libpng failed)", path);
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return 1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 16, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_sRGB(png, info, PNG_sRGB_INTENT_PERCEPTUAL);
    png_write_info(png, info);
    const unsigned short one = 1;
    if (*(const unsigned char *)&one == 1) png_set_swap(png);  // PNG samples are big-endian
    for (int y = 0; y < height; y++) png_write_row(png, (png_const_bytep)(rgb + (size_t)y * (size_t)width * 3));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    if (fclose(f) != 0) {
        snprintf(err, errlen, "cannot write PNG %s (%s)", path, strerror(errno));
        return 1;
    }
    return 0;
}

// MARK: JPEG

typedef struct {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
} error_manager;

static void on_error(j_common_ptr cinfo) {
    error_manager *m = (error_manager *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, m->message);
    longjmp(m->jump, 1);
}

// Warnings (libjpeg's word for corrupt or truncated data it papered over) are kept, not
// printed: a reader refuses the image if any occurred.
static void on_message(j_common_ptr cinfo) {
    error_manager *m = (error_manager *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, m->message);
}

// EXIF orientation from an APP1 "Exif" marker: TIFF header, IFD0, tag 0x0112.
static int exif_orientation(const unsigned char *d, unsigned len) {
    if (len < 14 || memcmp(d, "Exif\0\0", 6) != 0) return 1;
    const unsigned char *t = d + 6;
    unsigned n = len - 6;
    int little = t[0] == 'I' && t[1] == 'I';
    if (!little && !(t[0] == 'M' && t[1] == 'M')) return 1;
#define U16(p) (little ? (unsigned)((p)[0] | (p)[1] << 8) : (unsigned)((p)[0] << 8 | (p)[1]))
#define U32(p) (little ? ((unsigned)(p)[0] | (unsigned)(p)[1] << 8 | (unsigned)(p)[2] << 16 | (unsigned)(p)[3] << 24) \
                       : ((unsigned)(p)[0] << 24 | (unsigned)(p)[1] << 16 | (unsigned)(p)[2] << 8 | (unsigned)(p)[3]))
    // Every offset is compared by subtraction from n: a file's offset near 2^32 must not
    // wrap a sum past the check. n < 65536 (a marker's length), so e cannot overflow.
    unsigned ifd = U32(t + 4);
    if (ifd > n || n - ifd < 2) return 1;
    unsigned count = U16(t + ifd);
    for (unsigned i = 0; i < count; ++i) {
        unsigned e = ifd + 2 + 12 * i;
        if (e > n || n - e < 12) break;
        if (U16(t + e) == 0x0112) {
            unsigned v = U16(t + e + 8);
            return (v >= 1 && v <= 8) ? (int)v : 1;
        }
    }
#undef U16
#undef U32
    return 1;
}

int imp_read_jpeg(const char *path, long long max_pixels, imp_image *out, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open %s", path);
        return 1;
    }
    struct jpeg_decompress_struct cinfo;
    error_manager jerr;
    unsigned char *volatile pixels = NULL;
    unsigned char *volatile row = NULL;
    cinfo.err = jpeg_std_error(&jerr.base);
    jerr.base.error_exit = on_error;
    jerr.base.output_message = on_message;
    if (setjmp(jerr.jump)) {
        snprintf(err, errlen, "corrupt or unsupported JPEG (%s)", jerr.message);
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        free(row);
        fclose(f);
        return 1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_stdio_src(&cinfo, f);
    jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&cinfo, TRUE);
    if ((long long)cinfo.image_width * (long long)cinfo.image_height > max_pixels) {
        snprintf(err, errlen, "image is %ux%u, more than the %lld-pixel limit (--max-pixels)",
                 cinfo.image_width, cinfo.image_height, max_pixels);
        jpeg_destroy_decompress(&cinfo);
        fclose(f);
        return 1;
    }
    int orientation = 1;
    for (jpeg_saved_marker_ptr m = cinfo.marker_list; m; m = m->next)
        if (m->marker == JPEG_APP0 + 1) orientation = exif_orientation(m->data, m->data_length);

    int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    const int w = (int)cinfo.output_width, h = (int)cinfo.output_height, comps = cinfo.output_components;
    pixels = malloc((size_t)w * h * 3);
    row = malloc((size_t)w * comps);
    if (!pixels || !row) {
        snprintf(jerr.message, sizeof jerr.message, "out of memory");
        longjmp(jerr.jump, 1);
    }
    // Adobe writes CMYK inverted (0 = full ink); plain CMYK JPEGs are rare.
    const int inverted = cinfo.saw_Adobe_marker;
    while (cinfo.output_scanline < cinfo.output_height) {
        const int y = (int)cinfo.output_scanline;
        JSAMPROW rows[1] = {row};
        jpeg_read_scanlines(&cinfo, rows, 1);
        unsigned char *dst = pixels + (size_t)y * w * 3;
        if (cmyk) {
            for (int x = 0; x < w; ++x) {
                int c = row[4 * x], m = row[4 * x + 1], yy = row[4 * x + 2], k = row[4 * x + 3];
                if (!inverted) { c = 255 - c; m = 255 - m; yy = 255 - yy; k = 255 - k; }
                dst[3 * x] = (unsigned char)((c * k + 127) / 255);
                dst[3 * x + 1] = (unsigned char)((m * k + 127) / 255);
                dst[3 * x + 2] = (unsigned char)((yy * k + 127) / 255);
            }
        } else {
            memcpy(dst, row, (size_t)w * 3);
        }
    }
    jpeg_finish_decompress(&cinfo);
    if (jerr.base.num_warnings > 0) {
        snprintf(err, errlen, "corrupt or truncated JPEG (%s)", jerr.message);
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        free(row);
        fclose(f);
        return 1;
    }
    jpeg_destroy_decompress(&cinfo);
    free(row);
    fclose(f);
    out->width = w;
    out->height = h;
    out->orientation = orientation;
    out->rgb = pixels;
    return 0;
}

int imp_write_jpeg(const char *path, const unsigned char *rgb, int width, int height, int quality,
                   char *err, size_t errlen) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        snprintf(err, errlen, "cannot create %s", path);
        return 1;
    }
    struct jpeg_compress_struct cinfo;
    error_manager jerr;
    cinfo.err = jpeg_std_error(&jerr.base);
    jerr.base.error_exit = on_error;
    jerr.base.output_message = on_message;
    if (setjmp(jerr.jump)) {
        snprintf(err, errlen, "cannot write JPEG (%s)", jerr.message);
        jpeg_destroy_compress(&cinfo);
        fclose(f);
        return 1;
    }
    jpeg_create_compress(&cinfo);
    jpeg_stdio_dest(&cinfo, f);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW rows[1] = {(JSAMPROW)(rgb + (size_t)cinfo.next_scanline * width * 3)};
        jpeg_write_scanlines(&cinfo, rows, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    if (fclose(f) != 0) {
        snprintf(err, errlen, "cannot finish writing %s", path);
        return 1;
    }
    return 0;
}
