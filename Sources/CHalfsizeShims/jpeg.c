// libjpeg calls live here, each inside a setjmp frame whose error handler longjmps back
// instead of calling exit(). Only plain data crosses into Swift.
#include "CHalfsizeShims.h"
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jpeglib.h>
#include <jerror.h>

typedef struct {
    struct jpeg_error_mgr manager;
    struct jpeg_progress_mgr progress;
    jmp_buf jump;
    char *message;        // 200 bytes, owned by the caller
    int *warnings;
    int max_scans;
    int result;
} guard_t;

static void guard_error_exit(j_common_ptr cinfo) {
    guard_t *guard = (guard_t *)cinfo->err;
    char text[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, text);
    snprintf(guard->message, 200, "%s", text);
    guard->result = HS_CORRUPT;
    longjmp(guard->jump, 1);
}

static void guard_emit_message(j_common_ptr cinfo, int level) {
    guard_t *guard = (guard_t *)cinfo->err;
    if (level >= 0) return;  // trace messages
    // A truncated file decodes as grey padding; that is a broken image, not a warning.
    if (cinfo->err->msg_code == JWRN_JPEG_EOF) guard_error_exit(cinfo);
    if (guard->warnings != NULL && (*guard->warnings)++ == 0 && guard->message != NULL) {
        char text[JMSG_LENGTH_MAX];
        (*cinfo->err->format_message)(cinfo, text);
        snprintf(guard->message, 200, "%s", text);
    }
}

static void guard_progress(j_common_ptr cinfo) {
    if (!cinfo->is_decompressor) return;
    guard_t *guard = (guard_t *)((char *)cinfo->progress - offsetof(guard_t, progress));
    j_decompress_ptr dinfo = (j_decompress_ptr)cinfo;
    if (guard->max_scans > 0 && dinfo->input_scan_number > guard->max_scans) {
        snprintf(guard->message, 200, "more than %d progressive scans", guard->max_scans);
        guard->result = HS_CORRUPT;
        longjmp(guard->jump, 1);
    }
}

static void guard_init(guard_t *guard, char *message, int *warnings, int max_scans) {
    jpeg_std_error(&guard->manager);
    guard->manager.error_exit = guard_error_exit;
    guard->manager.emit_message = guard_emit_message;
    guard->progress.progress_monitor = guard_progress;
    guard->message = message;
    guard->warnings = warnings;
    guard->max_scans = max_scans;
    guard->result = HS_OK;
}

struct hs_jpeg_decoder {
    hs_jpeg_info info;
    struct jpeg_decompress_struct cinfo;
    guard_t guard;
    int created;
    int adobe_inverted_cmyk;      // CMYK or YCCK with an Adobe marker: the inks are stored inverted
    unsigned char *cmyk_rows;     // READ_ROWS rows of CMYK, when the source is CMYK or YCCK
};

enum { READ_ROWS = 16 };

const hs_jpeg_info *hs_jpeg_decoder_info(const hs_jpeg_decoder *decoder) { return &decoder->info; }

void hs_jpeg_decoder_close(hs_jpeg_decoder *decoder) {
    if (decoder == NULL) return;
    if (decoder->created) jpeg_destroy_decompress(&decoder->cinfo);
    free(decoder->info.exif);
    free(decoder->info.icc);
    free(decoder->cmyk_rows);
    free(decoder);
}

static void fail(guard_t *guard, int result, const char *text) {
    snprintf(guard->message, 200, "%s", text);
    guard->result = result;
    longjmp(guard->jump, 1);
}

int hs_jpeg_decoder_open(const unsigned char *data, size_t length, int scale_denom, uint64_t max_pixels,
                         int max_scans, hs_jpeg_decoder **result) {
    hs_jpeg_decoder *decoder = calloc(1, sizeof *decoder);
    *result = decoder;
    if (decoder == NULL) return HS_NO_MEMORY;
    hs_jpeg_info *info = &decoder->info;
    j_decompress_ptr cinfo = &decoder->cinfo;
    guard_init(&decoder->guard, info->message, &info->warnings, max_scans);
    cinfo->err = &decoder->guard.manager;
    if (setjmp(decoder->guard.jump)) return decoder->guard.result;
    jpeg_create_decompress(cinfo);
    decoder->created = 1;
    cinfo->progress = &decoder->guard.progress;
    jpeg_mem_src(cinfo, data, (unsigned long)length);
    jpeg_save_markers(cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_save_markers(cinfo, JPEG_APP0 + 2, 0xFFFF);
    jpeg_read_header(cinfo, TRUE);

    info->source_width = (int)cinfo->image_width;
    info->source_height = (int)cinfo->image_height;
    if ((uint64_t)cinfo->image_width * cinfo->image_height > max_pixels) {
        char text[200];
        snprintf(text, sizeof text, "%u x %u pixels is more than the limit of %llu", cinfo->image_width,
                 cinfo->image_height, (unsigned long long)max_pixels);
        fail(&decoder->guard, HS_TOO_LARGE, text);
    }
    // The markers live in libjpeg's per-image pool: copy what is needed before it goes.
    for (jpeg_saved_marker_ptr marker = cinfo->marker_list; marker != NULL; marker = marker->next) {
        if (marker->marker == JPEG_APP0 + 1 && marker->data_length > 6 && memcmp(marker->data, "Exif\0\0", 6) == 0
            && info->exif == NULL) {
            info->exif = malloc(marker->data_length - 6);
            if (info->exif == NULL) fail(&decoder->guard, HS_NO_MEMORY, "out of memory for the EXIF block");
            info->exif_length = marker->data_length - 6;
            memcpy(info->exif, marker->data + 6, info->exif_length);
        }
    }
    JOCTET *icc = NULL;
    unsigned int icc_length = 0;
    if (jpeg_read_icc_profile(cinfo, &icc, &icc_length)) {
        info->icc = icc;
        info->icc_length = icc_length;
    }
    switch (cinfo->jpeg_color_space) {
    case JCS_GRAYSCALE: cinfo->out_color_space = JCS_GRAYSCALE; break;
    case JCS_CMYK: case JCS_YCCK: cinfo->out_color_space = JCS_CMYK; break;
    default: cinfo->out_color_space = JCS_RGB; break;
    }
    int cmyk = cinfo->out_color_space == JCS_CMYK;
    decoder->adobe_inverted_cmyk = cmyk && cinfo->saw_Adobe_marker;
    cinfo->scale_num = 1;
    cinfo->scale_denom = (unsigned int)scale_denom;
    cinfo->dct_method = JDCT_ISLOW;
    // Scaled down, 4:2:0 chroma is decoded at a doubled IDCT size and needs no upsampling; where
    // some is still needed (4:2:2 and the like) replication is faster than the smooth upsampler
    // and measured no worse on the corpus. At full size (the tests' reference) it stays smooth.
    cinfo->do_fancy_upsampling = scale_denom == 1;
    jpeg_start_decompress(cinfo);

    info->width = (int)cinfo->output_width;
    info->height = (int)cinfo->output_height;
    info->components = cinfo->output_components == 1 ? 1 : 3;
    if (cmyk) {
        decoder->cmyk_rows = malloc((size_t)cinfo->output_width * 4 * READ_ROWS);
        if (decoder->cmyk_rows == NULL) fail(&decoder->guard, HS_NO_MEMORY, "out of memory for the CMYK rows");
    }
    return HS_OK;
}

/// CMYK to RGB as R = (255 - C)(255 - K) / 255, …; Adobe files store the inks inverted.
static void cmyk_to_rgb(const unsigned char *cmyk, unsigned char *rgb, size_t width, int inverted) {
    for (size_t x = 0; x < width; x++, cmyk += 4, rgb += 3) {
        int c = cmyk[0], m = cmyk[1], y = cmyk[2], k = cmyk[3];
        if (!inverted) { c = 255 - c; m = 255 - m; y = 255 - y; k = 255 - k; }
        // Now each value is 255 minus the ink: multiply the remaining light.
        rgb[0] = (unsigned char)((c * k + 127) / 255);
        rgb[1] = (unsigned char)((m * k + 127) / 255);
        rgb[2] = (unsigned char)((y * k + 127) / 255);
    }
}

/// Reads the next `count` (at most READ_ROWS) rows of grey or RGB into `rows`. Call inside a
/// setjmp frame on decoder->guard.
static void read_rows(hs_jpeg_decoder *decoder, JSAMPROW *rows, unsigned int count) {
    j_decompress_ptr cinfo = &decoder->cinfo;
    JSAMPROW targets[READ_ROWS];
    for (unsigned int i = 0; i < count; i++) {
        targets[i] = decoder->cmyk_rows != NULL ? decoder->cmyk_rows + (size_t)cinfo->output_width * 4 * i : rows[i];
    }
    for (unsigned int done = 0; done < count;) {
        JDIMENSION read = jpeg_read_scanlines(cinfo, targets + done, count - done);
        if (read == 0) fail(&decoder->guard, HS_CORRUPT, "the decoder stopped before the last row");
        done += read;
    }
    if (decoder->cmyk_rows != NULL) {
        for (unsigned int i = 0; i < count; i++) cmyk_to_rgb(targets[i], rows[i], cinfo->output_width, decoder->adobe_inverted_cmyk);
    }
}

int hs_jpeg_decoder_read(hs_jpeg_decoder *decoder, unsigned char *pixels) {
    j_decompress_ptr cinfo = &decoder->cinfo;
    if (setjmp(decoder->guard.jump)) return decoder->guard.result;
    size_t stride = (size_t)decoder->info.width * (size_t)decoder->info.components;
    while (cinfo->output_scanline < cinfo->output_height) {
        JSAMPROW rows[READ_ROWS];
        unsigned int count = cinfo->output_height - cinfo->output_scanline;
        if (count > READ_ROWS) count = READ_ROWS;
        for (unsigned int i = 0; i < count; i++) rows[i] = pixels + stride * (cinfo->output_scanline + i);
        read_rows(decoder, rows, count);
    }
    jpeg_finish_decompress(cinfo);
    return HS_OK;
}

/// Where the encoder writes: one growing malloc'd buffer that this code owns, so a failure at any
/// point frees exactly it. (libjpeg's jpeg_mem_dest frees its first buffer when it grows and keeps
/// the grown one private, so after a failure its caller can neither free nor safely forget it.)
typedef struct {
    struct jpeg_destination_mgr pub;
    unsigned char *buffer;
    size_t capacity;
} memory_destination;

static void destination_init(j_compress_ptr cinfo) { (void)cinfo; }
static void destination_term(j_compress_ptr cinfo) { (void)cinfo; }

static boolean destination_grow(j_compress_ptr cinfo) {
    memory_destination *destination = (memory_destination *)cinfo->dest;
    size_t capacity = destination->capacity * 2;
    unsigned char *grown = realloc(destination->buffer, capacity);
    if (grown == NULL) ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 10);
    destination->buffer = grown;
    destination->pub.next_output_byte = grown + destination->capacity;
    destination->pub.free_in_buffer = capacity - destination->capacity;
    destination->capacity = capacity;
    return TRUE;
}

/// Sets up an encoder writing into `destination` and writes the headers (with the ICC profile).
static void start_encoder(j_compress_ptr cinfo, memory_destination *destination, int width, int height,
                          int components, int quality, int optimize_huffman, const unsigned char *icc,
                          unsigned int icc_length) {
    jpeg_create_compress(cinfo);
    // A quarter of the raw size holds most outputs at usual qualities without growing.
    size_t capacity = (size_t)width * (size_t)height * (size_t)components / 4;
    destination->capacity = capacity < 65536 ? 65536 : capacity;
    destination->buffer = malloc(destination->capacity);
    if (destination->buffer == NULL) ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 11);
    destination->pub.next_output_byte = destination->buffer;
    destination->pub.free_in_buffer = destination->capacity;
    destination->pub.init_destination = destination_init;
    destination->pub.empty_output_buffer = destination_grow;
    destination->pub.term_destination = destination_term;
    cinfo->dest = &destination->pub;
    cinfo->image_width = (JDIMENSION)width;
    cinfo->image_height = (JDIMENSION)height;
    cinfo->input_components = components;
    cinfo->in_color_space = components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(cinfo);
    jpeg_set_quality(cinfo, quality, TRUE);
    // Huffman tables fitted to the image: about 3% smaller than the standard ones, for an extra
    // pass over a buffer of every coefficient (about a quarter of the transcoding time).
    cinfo->optimize_coding = optimize_huffman ? TRUE : FALSE;
    jpeg_start_compress(cinfo, TRUE);
    if (icc != NULL && icc_length > 0) jpeg_write_icc_profile(cinfo, icc, icc_length);
}

/// Hands the finished bytes to the caller and frees the destination.
static int finish_encoder(j_compress_ptr cinfo, memory_destination *destination, unsigned char **output,
                          unsigned long *output_length) {
    jpeg_finish_compress(cinfo);
    *output = destination->buffer;
    *output_length = (unsigned long)(destination->capacity - destination->pub.free_in_buffer);
    jpeg_destroy_compress(cinfo);
    free(destination);
    return HS_OK;
}

static int abandon_encoder(j_compress_ptr cinfo, memory_destination *destination, unsigned char *rows_buffer, int result) {
    jpeg_destroy_compress(cinfo);
    if (destination != NULL) free(destination->buffer);
    free(destination);
    free(rows_buffer);
    return result;
}

static uint64_t monotonic_nanoseconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

int hs_jpeg_decoder_transcode(hs_jpeg_decoder *decoder, int quality, int optimize_huffman, const unsigned char *icc,
                              unsigned int icc_length,
                              unsigned char **output, unsigned long *output_length, uint64_t *encode_nanoseconds) {
    // After a longjmp, an automatic object changed since setjmp has no reliable value (the
    // optimiser may use what it held before). So rows_buffer is volatile, and the destination,
    // which libjpeg and the callbacks fill after setjmp, lives on the heap behind a pointer set
    // before it. cinfo and guard are changed only inside libjpeg, as in libjpeg's own example.
    struct jpeg_compress_struct cinfo;
    guard_t guard;
    memory_destination *const destination = calloc(1, sizeof *destination);
    if (destination == NULL) return HS_NO_MEMORY;
    unsigned char *volatile rows_buffer = NULL;
    memset(&cinfo, 0, sizeof cinfo);  // so destroying it before jpeg_create_compress is harmless
    guard_init(&guard, decoder->info.message, NULL, 0);
    cinfo.err = &guard.manager;
    if (setjmp(decoder->guard.jump)) return abandon_encoder(&cinfo, destination, rows_buffer, decoder->guard.result);
    if (setjmp(guard.jump)) return abandon_encoder(&cinfo, destination, rows_buffer, guard.result);
    const hs_jpeg_info *info = &decoder->info;
    size_t stride = (size_t)info->width * (size_t)info->components;
    rows_buffer = malloc(stride * READ_ROWS);
    if (rows_buffer == NULL) fail(&guard, HS_NO_MEMORY, "out of memory for the rows");
    // The time spent encoding, for the metrics; read only on success, so it need not be volatile.
    uint64_t encoding = 0, started = monotonic_nanoseconds();
    start_encoder(&cinfo, destination, info->width, info->height, info->components, quality, optimize_huffman, icc,
                  icc_length);
    encoding += monotonic_nanoseconds() - started;
    // Rows go from the decoder to the encoder a few at a time: no whole-image buffer.
    while (decoder->cinfo.output_scanline < decoder->cinfo.output_height) {
        JSAMPROW rows[READ_ROWS];
        unsigned int count = decoder->cinfo.output_height - decoder->cinfo.output_scanline;
        if (count > READ_ROWS) count = READ_ROWS;
        for (unsigned int i = 0; i < count; i++) rows[i] = rows_buffer + stride * i;
        read_rows(decoder, rows, count);
        started = monotonic_nanoseconds();
        jpeg_write_scanlines(&cinfo, rows, count);
        encoding += monotonic_nanoseconds() - started;
    }
    jpeg_finish_decompress(&decoder->cinfo);
    free(rows_buffer);
    rows_buffer = NULL;
    started = monotonic_nanoseconds();
    int result = finish_encoder(&cinfo, destination, output, output_length);
    *encode_nanoseconds = encoding + (monotonic_nanoseconds() - started);
    return result;
}

int hs_jpeg_encode(const unsigned char *pixels, int width, int height, int components, int quality, int optimize_huffman,
                   const unsigned char *icc, unsigned int icc_length,
                   unsigned char **output, unsigned long *output_length, char message[200]) {
    struct jpeg_compress_struct cinfo;
    guard_t guard;
    memory_destination *const destination = calloc(1, sizeof *destination);  // on the heap: see transcode
    if (destination == NULL) return HS_NO_MEMORY;
    memset(&cinfo, 0, sizeof cinfo);  // so destroying it before jpeg_create_compress is harmless
    guard_init(&guard, message, NULL, 0);
    cinfo.err = &guard.manager;
    if (setjmp(guard.jump)) return abandon_encoder(&cinfo, destination, NULL, guard.result);
    start_encoder(&cinfo, destination, width, height, components, quality, optimize_huffman, icc, icc_length);
    size_t stride = (size_t)width * (size_t)components;
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW rows[READ_ROWS];
        unsigned int count = cinfo.image_height - cinfo.next_scanline;
        if (count > READ_ROWS) count = READ_ROWS;
        for (unsigned int i = 0; i < count; i++) rows[i] = (JSAMPROW)(pixels + stride * (cinfo.next_scanline + i));
        jpeg_write_scanlines(&cinfo, rows, count);
    }
    return finish_encoder(&cinfo, destination, output, output_length);
}
