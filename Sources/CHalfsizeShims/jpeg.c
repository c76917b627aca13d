// libjpeg calls live here, each inside a setjmp frame whose error handler longjmps back
// instead of calling exit(). Only plain data crosses into Swift.
#include "CHalfsizeShims.h"
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

void hs_jpeg_image_free(hs_jpeg_image *image) {
    free(image->pixels);
    free(image->exif);
    free(image->icc);
    image->pixels = image->exif = image->icc = NULL;
}

int hs_jpeg_decode(const unsigned char *data, size_t length, int scale_denom, uint64_t max_pixels,
                   int max_scans, hs_jpeg_image *image) {
    memset(image, 0, sizeof *image);
    struct jpeg_decompress_struct cinfo;
    guard_t guard;
    guard_init(&guard, image->message, &image->warnings, max_scans);
    cinfo.err = &guard.manager;
    if (setjmp(guard.jump)) {
        jpeg_destroy_decompress(&cinfo);
        hs_jpeg_image_free(image);
        return guard.result;
    }
    jpeg_create_decompress(&cinfo);
    cinfo.progress = &guard.progress;
    jpeg_mem_src(&cinfo, data, (unsigned long)length);
    jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_save_markers(&cinfo, JPEG_APP0 + 2, 0xFFFF);
    jpeg_read_header(&cinfo, TRUE);

    image->source_width = (int)cinfo.image_width;
    image->source_height = (int)cinfo.image_height;
    if ((uint64_t)cinfo.image_width * cinfo.image_height > max_pixels) {
        snprintf(image->message, sizeof image->message, "%u x %u pixels is more than the limit of %llu",
                 cinfo.image_width, cinfo.image_height, (unsigned long long)max_pixels);
        guard.result = HS_TOO_LARGE;
        longjmp(guard.jump, 1);
    }
    switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE: cinfo.out_color_space = JCS_GRAYSCALE; break;
    case JCS_CMYK: case JCS_YCCK: cinfo.out_color_space = JCS_CMYK; break;
    default: cinfo.out_color_space = JCS_RGB; break;
    }
    image->adobe_inverted_cmyk = cinfo.out_color_space == JCS_CMYK && cinfo.saw_Adobe_marker;
    cinfo.scale_num = 1;
    cinfo.scale_denom = (unsigned int)scale_denom;
    cinfo.dct_method = JDCT_ISLOW;
    jpeg_start_decompress(&cinfo);

    image->width = (int)cinfo.output_width;
    image->height = (int)cinfo.output_height;
    image->components = cinfo.output_components;
    image->color_space = cinfo.out_color_space;
    size_t stride = (size_t)cinfo.output_width * (size_t)cinfo.output_components;
    image->pixels = malloc(stride * cinfo.output_height);
    if (image->pixels == NULL) {
        snprintf(image->message, sizeof image->message, "out of memory for %zu bytes", stride * cinfo.output_height);
        guard.result = HS_NO_MEMORY;
        longjmp(guard.jump, 1);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW rows[16];
        unsigned int count = cinfo.output_height - cinfo.output_scanline;
        if (count > 16) count = 16;
        for (unsigned int i = 0; i < count; i++) rows[i] = image->pixels + stride * (cinfo.output_scanline + i);
        jpeg_read_scanlines(&cinfo, rows, count);
    }
    for (jpeg_saved_marker_ptr marker = cinfo.marker_list; marker != NULL; marker = marker->next) {
        if (marker->marker == JPEG_APP0 + 1 && marker->data_length > 6 && memcmp(marker->data, "Exif\0\0", 6) == 0
            && image->exif == NULL) {
            image->exif_length = marker->data_length - 6;
            image->exif = malloc(image->exif_length);
            if (image->exif != NULL) memcpy(image->exif, marker->data + 6, image->exif_length);
        }
    }
    JOCTET *icc = NULL;
    unsigned int icc_length = 0;
    if (jpeg_read_icc_profile(&cinfo, &icc, &icc_length)) {
        image->icc = icc;
        image->icc_length = icc_length;
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    return HS_OK;
}

int hs_jpeg_encode(const unsigned char *pixels, int width, int height, int components, int quality,
                   int progressive, const unsigned char *icc, unsigned int icc_length,
                   unsigned char **output, unsigned long *output_length, char message[200]) {
    struct jpeg_compress_struct cinfo;
    guard_t guard;
    // jpeg_mem_dest keeps these addresses for the whole compression; they live in this frame.
    unsigned char *buffer = NULL;
    unsigned long size = 0;
    guard_init(&guard, message, NULL, 0);
    cinfo.err = &guard.manager;
    if (setjmp(guard.jump)) {
        jpeg_destroy_compress(&cinfo);
        free(buffer);
        return guard.result;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, &buffer, &size);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = components;
    cinfo.in_color_space = components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    cinfo.optimize_coding = TRUE;
    if (progressive) jpeg_simple_progression(&cinfo);
    jpeg_start_compress(&cinfo, TRUE);
    if (icc != NULL && icc_length > 0) jpeg_write_icc_profile(&cinfo, icc, icc_length);
    size_t stride = (size_t)width * (size_t)components;
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW rows[16];
        unsigned int count = cinfo.image_height - cinfo.next_scanline;
        if (count > 16) count = 16;
        for (unsigned int i = 0; i < count; i++) rows[i] = (JSAMPROW)(pixels + stride * (cinfo.next_scanline + i));
        jpeg_write_scanlines(&cinfo, rows, count);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    *output = buffer;
    *output_length = size;
    return HS_OK;
}
