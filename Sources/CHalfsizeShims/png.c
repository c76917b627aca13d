// libpng calls live here, each inside a setjmp frame; libpng's errors longjmp back to it.
#include "CHalfsizeShims.h"
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <png.h>

typedef struct {
    jmp_buf jump;
    char *message;        // 200 bytes, owned by the caller
    int *warnings;
    int result;
    const unsigned char *input;
    size_t input_length, input_offset;
    unsigned char *output;
    size_t output_length, output_capacity;
} png_guard_t;

static void guard_error(png_structp png, png_const_charp text) {
    png_guard_t *guard = png_get_error_ptr(png);
    snprintf(guard->message, 200, "%s", text);
    if (guard->result == HS_OK) guard->result = HS_CORRUPT;
    longjmp(guard->jump, 1);
}

static void guard_warning(png_structp png, png_const_charp text) {
    png_guard_t *guard = png_get_error_ptr(png);
    if (guard->warnings != NULL && (*guard->warnings)++ == 0) snprintf(guard->message, 200, "%s", text);
}

static void read_from_memory(png_structp png, png_bytep destination, size_t length) {
    png_guard_t *guard = png_get_io_ptr(png);
    if (guard->input_length - guard->input_offset < length) png_error(png, "file is truncated");
    memcpy(destination, guard->input + guard->input_offset, length);
    guard->input_offset += length;
}

static void write_to_memory(png_structp png, png_bytep source, size_t length) {
    png_guard_t *guard = png_get_io_ptr(png);
    if (guard->output_capacity - guard->output_length < length) {
        size_t capacity = guard->output_capacity ? guard->output_capacity * 2 : 65536;
        while (capacity - guard->output_length < length) capacity *= 2;
        unsigned char *grown = realloc(guard->output, capacity);
        if (grown == NULL) {
            guard->result = HS_NO_MEMORY;
            png_error(png, "out of memory for the encoded PNG");
        }
        guard->output = grown;
        guard->output_capacity = capacity;
    }
    memcpy(guard->output + guard->output_length, source, length);
    guard->output_length += length;
}

static void flush_memory(png_structp png) { (void)png; }

void hs_png_image_free(hs_png_image *image) {
    free(image->pixels);
    free(image->icc);
    image->pixels = image->icc = NULL;
}

int hs_png_decode(const unsigned char *data, size_t length, uint64_t max_pixels, hs_png_image *image) {
    memset(image, 0, sizeof *image);
    png_guard_t guard = {0};
    guard.message = image->message;
    guard.warnings = &image->warnings;
    guard.input = data;
    guard.input_length = length;
    png_bytep *volatile rows = NULL;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &guard, guard_error, guard_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (png == NULL || info == NULL) {
        png_destroy_read_struct(&png, NULL, NULL);
        snprintf(image->message, sizeof image->message, "out of memory for the PNG decoder");
        return HS_NO_MEMORY;
    }
    if (setjmp(guard.jump)) {
        png_destroy_read_struct(&png, &info, NULL);
        free(rows);
        hs_png_image_free(image);
        return guard.result;
    }
    if (length < 8 || png_sig_cmp(data, 0, 8) != 0) png_error(png, "not a PNG signature");
    // The size comes from IHDR before libpng reads further, so a huge claim fails as too large
    // even when the rest of the file is missing.
    if (length >= 24 && memcmp(data + 12, "IHDR", 4) == 0) {
        uint64_t claimed_width = (uint64_t)data[16] << 24 | data[17] << 16 | data[18] << 8 | data[19];
        uint64_t claimed_height = (uint64_t)data[20] << 24 | data[21] << 16 | data[22] << 8 | data[23];
        if (claimed_width * claimed_height > max_pixels) {
            guard.result = HS_TOO_LARGE;
            char text[200];
            snprintf(text, sizeof text, "%llu x %llu pixels is more than the limit of %llu", (unsigned long long)claimed_width,
                     (unsigned long long)claimed_height, (unsigned long long)max_pixels);
            png_error(png, text);
        }
    }
    // Limits before any pixel buffer exists: each side, and ancillary chunk memory.
    png_set_user_limits(png, 1u << 20, 1u << 20);
    png_set_chunk_malloc_max(png, 16u << 20);
    // A wrong or outdated ICC profile is a reason to warn, not to refuse the picture.
    png_set_benign_errors(png, 1);
    png_set_option(png, PNG_SKIP_sRGB_CHECK_PROFILE, PNG_OPTION_ON);
    png_set_read_fn(png, &guard, read_from_memory);
    png_read_info(png, info);

    png_uint_32 width = png_get_image_width(png, info), height = png_get_image_height(png, info);
    image->source_bit_depth = png_get_bit_depth(png, info);
    image->source_color_type = png_get_color_type(png, info);
    image->interlaced = png_get_interlace_type(png, info) != PNG_INTERLACE_NONE;
    png_colorp palette = NULL;
    int palette_size = 0;
    if (image->source_color_type == PNG_COLOR_TYPE_PALETTE && png_get_PLTE(png, info, &palette, &palette_size)) {
        png_bytep alpha = NULL;
        int alpha_count = 0;
        png_get_tRNS(png, info, &alpha, &alpha_count, NULL);
        if (palette_size > 256) palette_size = 256;
        for (int i = 0; i < palette_size; i++) {
            image->palette[4 * i] = palette[i].red;
            image->palette[4 * i + 1] = palette[i].green;
            image->palette[4 * i + 2] = palette[i].blue;
            image->palette[4 * i + 3] = alpha != NULL && i < alpha_count ? alpha[i] : 255;
        }
        image->palette_size = palette_size;
    }
    png_charp icc_name = NULL;
    int icc_compression = 0;
    png_bytep icc = NULL;
    png_uint_32 icc_length = 0;
    if (png_get_iCCP(png, info, &icc_name, &icc_compression, &icc, &icc_length) && icc_length > 0) {
        image->icc = malloc(icc_length);
        if (image->icc != NULL) {
            memcpy(image->icc, icc, icc_length);
            image->icc_length = icc_length;
            snprintf(image->icc_name, sizeof image->icc_name, "%s", icc_name);
        }
    }
    // Everything becomes 8-bit grey, grey+alpha, RGB or RGBA.
    png_set_expand(png);            // palette -> RGB, low-bit grey -> 8-bit, tRNS -> alpha
    png_set_scale_16(png);          // 16-bit -> 8-bit with rounding (v * 255 / 65535)
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    image->width = (int)width;
    image->height = (int)height;
    image->channels = png_get_channels(png, info);
    size_t stride = png_get_rowbytes(png, info);
    image->pixels = malloc(stride * height);
    rows = malloc(sizeof(png_bytep) * height);
    if (image->pixels == NULL || rows == NULL) {
        guard.result = HS_NO_MEMORY;
        png_error(png, "out of memory for the pixels");
    }
    for (png_uint_32 y = 0; y < height; y++) rows[y] = image->pixels + stride * y;
    png_read_image(png, rows);
    free(rows);
    rows = NULL;
    png_destroy_read_struct(&png, &info, NULL);
    return HS_OK;
}

int hs_png_encode(const unsigned char *pixels, int width, int height, int channels,
                  const unsigned char *palette, int palette_size, const unsigned char *trns, int trns_size,
                  int compression_level, const unsigned char *icc, unsigned int icc_length, const char *icc_name,
                  unsigned char **output, size_t *output_length, char message[200]) {
    png_guard_t guard = {0};
    guard.message = message;
    png_bytep *volatile rows = NULL;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &guard, guard_error, guard_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (png == NULL || info == NULL) {
        png_destroy_write_struct(&png, NULL);
        snprintf(message, 200, "out of memory for the PNG encoder");
        return HS_NO_MEMORY;
    }
    if (setjmp(guard.jump)) {
        png_destroy_write_struct(&png, &info);
        free(rows);
        free(guard.output);
        return guard.result;
    }
    png_set_write_fn(png, &guard, write_to_memory, flush_memory);
    // The source's ICC profile is copied as it came, even one libpng knows to be flawed.
    png_set_benign_errors(png, 1);
    png_set_option(png, PNG_SKIP_sRGB_CHECK_PROFILE, PNG_OPTION_ON);
    int color_type;
    if (palette != NULL) color_type = PNG_COLOR_TYPE_PALETTE;
    else if (channels == 1) color_type = PNG_COLOR_TYPE_GRAY;
    else if (channels == 2) color_type = PNG_COLOR_TYPE_GRAY_ALPHA;
    else if (channels == 3) color_type = PNG_COLOR_TYPE_RGB;
    else color_type = PNG_COLOR_TYPE_RGB_ALPHA;
    int bit_depth = 8;
    if (palette != NULL) bit_depth = palette_size <= 2 ? 1 : palette_size <= 4 ? 2 : palette_size <= 16 ? 4 : 8;
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, bit_depth, color_type, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (palette != NULL) {
        png_color entries[256];
        for (int i = 0; i < palette_size; i++) {
            entries[i].red = palette[3 * i];
            entries[i].green = palette[3 * i + 1];
            entries[i].blue = palette[3 * i + 2];
        }
        png_set_PLTE(png, info, entries, palette_size);
        if (trns != NULL && trns_size > 0) png_set_tRNS(png, info, trns, trns_size, NULL);
        // Indexed data compresses best unfiltered (the PNG specification's advice).
        png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_NONE);
    }
    if (icc != NULL && icc_length > 0) png_set_iCCP(png, info, icc_name && *icc_name ? icc_name : "icc", 0, icc, icc_length);
    png_set_compression_level(png, compression_level);
    png_write_info(png, info);
    if (bit_depth < 8) png_set_packing(png);
    int row_channels = palette != NULL ? 1 : channels;
    size_t stride = (size_t)width * (size_t)row_channels;
    rows = malloc(sizeof(png_bytep) * (size_t)height);
    if (rows == NULL) {
        guard.result = HS_NO_MEMORY;
        png_error(png, "out of memory for the row table");
    }
    for (int y = 0; y < height; y++) rows[y] = (png_bytep)(pixels + stride * (size_t)y);
    png_write_image(png, rows);
    png_write_end(png, info);
    free(rows);
    rows = NULL;
    png_destroy_write_struct(&png, &info);
    *output = guard.output;
    *output_length = guard.output_length;
    return HS_OK;
}
