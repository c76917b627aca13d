// libpng calls live here, each inside a setjmp frame; libpng's errors longjmp back to it.
#include "CHalfsizeShims.h"
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <png.h>
#include <libdeflate.h>

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

struct hs_png_decoder {
    hs_png_info info;
    png_guard_t guard;
    png_structp png;
    png_infop png_info;
};

const hs_png_info *hs_png_decoder_info(const hs_png_decoder *decoder) { return &decoder->info; }

void hs_png_decoder_close(hs_png_decoder *decoder) {
    if (decoder == NULL) return;
    png_destroy_read_struct(&decoder->png, &decoder->png_info, NULL);
    free(decoder->info.icc);
    free(decoder);
}

int hs_png_decoder_open(const unsigned char *data, size_t length, uint64_t max_pixels, hs_png_decoder **result) {
    hs_png_decoder *decoder = calloc(1, sizeof *decoder);
    *result = decoder;
    if (decoder == NULL) return HS_NO_MEMORY;
    hs_png_info *info = &decoder->info;
    png_guard_t *guard = &decoder->guard;
    guard->message = info->message;
    guard->warnings = &info->warnings;
    guard->input = data;
    guard->input_length = length;
    decoder->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, guard, guard_error, guard_warning);
    decoder->png_info = decoder->png ? png_create_info_struct(decoder->png) : NULL;
    if (decoder->png == NULL || decoder->png_info == NULL) {
        snprintf(info->message, sizeof info->message, "out of memory for the PNG decoder");
        return HS_NO_MEMORY;
    }
    png_structp png = decoder->png;
    png_infop png_info = decoder->png_info;
    if (setjmp(guard->jump)) return guard->result;
    if (length < 8 || png_sig_cmp(data, 0, 8) != 0) png_error(png, "not a PNG signature");
    // The size comes from IHDR before libpng reads further, so a huge claim fails as too large
    // even when the rest of the file is missing.
    if (length >= 24 && memcmp(data + 12, "IHDR", 4) == 0) {
        uint64_t claimed_width = (uint64_t)data[16] << 24 | data[17] << 16 | data[18] << 8 | data[19];
        uint64_t claimed_height = (uint64_t)data[20] << 24 | data[21] << 16 | data[22] << 8 | data[23];
        if (claimed_width * claimed_height > max_pixels) {
            guard->result = HS_TOO_LARGE;
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
    png_set_read_fn(png, guard, read_from_memory);
    png_read_info(png, png_info);

    info->source_color_type = png_get_color_type(png, png_info);
    info->interlaced = png_get_interlace_type(png, png_info) != PNG_INTERLACE_NONE;
    png_colorp palette = NULL;
    int palette_size = 0;
    if (info->source_color_type == PNG_COLOR_TYPE_PALETTE && png_get_PLTE(png, png_info, &palette, &palette_size)) {
        png_bytep alpha = NULL;
        int alpha_count = 0;
        png_get_tRNS(png, png_info, &alpha, &alpha_count, NULL);
        if (palette_size > 256) palette_size = 256;
        for (int i = 0; i < palette_size; i++) {
            info->palette[4 * i] = palette[i].red;
            info->palette[4 * i + 1] = palette[i].green;
            info->palette[4 * i + 2] = palette[i].blue;
            info->palette[4 * i + 3] = alpha != NULL && i < alpha_count ? alpha[i] : 255;
        }
        info->palette_size = palette_size;
    }
    png_charp icc_name = NULL;
    int icc_compression = 0;
    png_bytep icc = NULL;
    png_uint_32 icc_length = 0;
    if (png_get_iCCP(png, png_info, &icc_name, &icc_compression, &icc, &icc_length) && icc_length > 0) {
        info->icc = malloc(icc_length);
        if (info->icc != NULL) {
            memcpy(info->icc, icc, icc_length);
            info->icc_length = icc_length;
            snprintf(info->icc_name, sizeof info->icc_name, "%s", icc_name);
        }
    }
    // Everything becomes 8-bit grey, grey+alpha, RGB or RGBA.
    png_set_expand(png);            // palette -> RGB, low-bit grey -> 8-bit, tRNS -> alpha
    png_set_scale_16(png);          // 16-bit -> 8-bit with rounding (v * 255 / 65535)
    png_set_interlace_handling(png);
    png_read_update_info(png, png_info);
    info->width = (int)png_get_image_width(png, png_info);
    info->height = (int)png_get_image_height(png, png_info);
    info->channels = png_get_channels(png, png_info);
    return HS_OK;
}

int hs_png_decoder_read_rows(hs_png_decoder *decoder, unsigned char *pixels, int count) {
    if (setjmp(decoder->guard.jump)) return decoder->guard.result;
    if (decoder->info.interlaced) png_error(decoder->png, "an interlaced image is read whole");
    size_t stride = (size_t)decoder->info.width * (size_t)decoder->info.channels;
    for (int i = 0; i < count; i++) png_read_row(decoder->png, pixels + stride * (size_t)i, NULL);
    return HS_OK;
}

int hs_png_decoder_read_image(hs_png_decoder *decoder, unsigned char *pixels) {
    png_bytep *volatile rows = NULL;
    if (setjmp(decoder->guard.jump)) {
        free(rows);
        return decoder->guard.result;
    }
    size_t stride = (size_t)decoder->info.width * (size_t)decoder->info.channels;
    rows = malloc(sizeof(png_bytep) * (size_t)decoder->info.height);
    if (rows == NULL) {
        decoder->guard.result = HS_NO_MEMORY;
        png_error(decoder->png, "out of memory for the row table");
    }
    for (int y = 0; y < decoder->info.height; y++) rows[y] = pixels + stride * (size_t)y;
    png_read_image(decoder->png, rows);
    free(rows);
    return HS_OK;
}

enum { IDAT_CHUNK_BYTES = 1 << 20 };

static void free_encoder_buffers(unsigned char *filtered, unsigned char *candidates, unsigned char *packed,
                                 unsigned char *compressed, struct libdeflate_compressor *compressor) {
    free(filtered);
    free(candidates);
    free(packed);
    free(compressed);
    if (compressor != NULL) libdeflate_free_compressor(compressor);
}

/// Packs 8-bit palette indices into 1, 2 or 4 bits each, leftmost pixel in the high bits.
static void pack_row(const unsigned char *indices, int width, int bit_depth, unsigned char *packed, size_t row_bytes) {
    memset(packed, 0, row_bytes);
    int per_byte = 8 / bit_depth;
    for (int x = 0; x < width; x++) {
        packed[x / per_byte] |= (unsigned char)(indices[x] << (8 - bit_depth * (x % per_byte + 1)));
    }
}

static unsigned char paeth(unsigned char left, unsigned char up, unsigned char upper_left) {
    int estimate = left + up - upper_left;
    int to_left = abs(estimate - left), to_up = abs(estimate - up), to_upper_left = abs(estimate - upper_left);
    if (to_left <= to_up && to_left <= to_upper_left) return left;
    return to_up <= to_upper_left ? up : upper_left;
}

/// Writes the filter type byte and the filtered row to `target`, choosing the filter libpng's
/// heuristic would: the smallest sum of the filtered bytes read as signed values. `prior` is the
/// row above (NULL for the first row, which PNG treats as zeros); `candidates` holds 5 rows.
static void filter_row(const unsigned char *row, const unsigned char *prior, size_t length, size_t bpp,
                       unsigned char *candidates, unsigned char *target) {
    unsigned char *none = candidates, *sub = none + length, *up = sub + length, *average = up + length, *paeth_row = average + length;
    unsigned long sums[5] = {0, 0, 0, 0, 0};
    for (size_t i = 0; i < length; i++) {
        unsigned char left = i >= bpp ? row[i - bpp] : 0;
        unsigned char above = prior != NULL ? prior[i] : 0;
        unsigned char upper_left = prior != NULL && i >= bpp ? prior[i - bpp] : 0;
        none[i] = row[i];
        sub[i] = (unsigned char)(row[i] - left);
        up[i] = (unsigned char)(row[i] - above);
        average[i] = (unsigned char)(row[i] - ((left + above) >> 1));
        paeth_row[i] = (unsigned char)(row[i] - paeth(left, above, upper_left));
        sums[0] += (unsigned long)abs((signed char)none[i]);
        sums[1] += (unsigned long)abs((signed char)sub[i]);
        sums[2] += (unsigned long)abs((signed char)up[i]);
        sums[3] += (unsigned long)abs((signed char)average[i]);
        sums[4] += (unsigned long)abs((signed char)paeth_row[i]);
    }
    int best = 0;
    for (int type = 1; type < 5; type++) if (sums[type] < sums[best]) best = type;
    target[0] = (unsigned char)best;
    memcpy(target + 1, candidates + length * (size_t)best, length);
}

int hs_png_encode(const unsigned char *pixels, int width, int height, int channels,
                  const unsigned char *palette, int palette_size, const unsigned char *trns, int trns_size,
                  int compression_level, const unsigned char *icc, unsigned int icc_length, const char *icc_name,
                  unsigned char **output, size_t *output_length, char message[200]) {
    png_guard_t guard = {0};
    guard.message = message;
    unsigned char *volatile filtered = NULL, *volatile candidates = NULL, *volatile packed = NULL, *volatile compressed = NULL;
    struct libdeflate_compressor *volatile compressor = NULL;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &guard, guard_error, guard_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (png == NULL || info == NULL) {
        png_destroy_write_struct(&png, NULL);
        snprintf(message, 200, "out of memory for the PNG encoder");
        return HS_NO_MEMORY;
    }
    if (setjmp(guard.jump)) {
        png_destroy_write_struct(&png, &info);
        free_encoder_buffers(filtered, candidates, packed, compressed, compressor);
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
    }
    if (icc != NULL && icc_length > 0) png_set_iCCP(png, info, icc_name && *icc_name ? icc_name : "icc", 0, icc, icc_length);
    png_write_info(png, info);

    // libpng writes the chunks around the image data; the data itself is filtered here and
    // compressed by libdeflate, which reaches zlib level 9's size faster than zlib level 6.
    int row_channels = palette != NULL ? 1 : channels;
    size_t row_bytes = ((size_t)width * (size_t)row_channels * (size_t)bit_depth + 7) / 8;
    size_t filtered_length = (row_bytes + 1) * (size_t)height;
    filtered = malloc(filtered_length);
    candidates = malloc(row_bytes * 5);
    packed = bit_depth < 8 ? malloc(row_bytes) : NULL;
    compressor = libdeflate_alloc_compressor(compression_level);
    if (filtered == NULL || candidates == NULL || (bit_depth < 8 && packed == NULL) || compressor == NULL) {
        guard.result = HS_NO_MEMORY;
        png_error(png, "out of memory for the encoder");
    }
    size_t stride = (size_t)width * (size_t)row_channels;
    const unsigned char *prior = NULL;
    for (int y = 0; y < height; y++) {
        const unsigned char *row = pixels + stride * (size_t)y;
        unsigned char *target = filtered + (row_bytes + 1) * (size_t)y;
        if (packed != NULL) {  // only palette rows are packed, and they are not filtered
            pack_row(row, width, bit_depth, packed, row_bytes);
            row = packed;
        }
        if (palette != NULL) {
            // Indexed data compresses best unfiltered (the PNG specification's advice).
            target[0] = 0;
            memcpy(target + 1, row, row_bytes);
        } else {
            filter_row(row, prior, row_bytes, (size_t)row_channels, candidates, target);
        }
        prior = row;
    }
    size_t bound = libdeflate_zlib_compress_bound(compressor, filtered_length);
    compressed = malloc(bound);
    if (compressed == NULL) {
        guard.result = HS_NO_MEMORY;
        png_error(png, "out of memory for the compressed image");
    }
    size_t compressed_length = libdeflate_zlib_compress(compressor, filtered, filtered_length, compressed, bound);
    if (compressed_length == 0) png_error(png, "the image data did not compress within its bound");
    for (size_t offset = 0; offset < compressed_length; offset += IDAT_CHUNK_BYTES) {
        size_t length = compressed_length - offset < IDAT_CHUNK_BYTES ? compressed_length - offset : IDAT_CHUNK_BYTES;
        png_write_chunk(png, (png_const_bytep)"IDAT", compressed + offset, length);
    }
    png_write_chunk(png, (png_const_bytep)"IEND", NULL, 0);
    free_encoder_buffers(filtered, candidates, packed, compressed, compressor);
    png_destroy_write_struct(&png, &info);
    *output = guard.output;
    *output_length = guard.output_length;
    return HS_OK;
}
