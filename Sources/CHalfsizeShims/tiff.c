#include "CHalfsizeShims.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

// libtiff reports errors through a handler (kept per file here, never global) and return values;
// its JPEG codec's setjmp stays inside libtiff.

struct hs_tiff {
    TIFF *tiff;
    const unsigned char *data;
    size_t length;
    toff_t offset;
    hs_tiff_info info;
};

static tmsize_t read_memory(thandle_t handle, void *destination, tmsize_t size) {
    hs_tiff *file = handle;
    if (file->offset >= file->length) return 0;
    size_t available = file->length - (size_t)file->offset;
    size_t count = (size_t)size < available ? (size_t)size : available;
    memcpy(destination, file->data + file->offset, count);
    file->offset += count;
    return (tmsize_t)count;
}

static tmsize_t write_nothing(thandle_t handle, void *source, tmsize_t size) { (void)handle; (void)source; (void)size; return 0; }

static toff_t seek_memory(thandle_t handle, toff_t offset, int whence) {
    hs_tiff *file = handle;
    toff_t base = whence == SEEK_CUR ? file->offset : whence == SEEK_END ? (toff_t)file->length : 0;
    file->offset = base + offset;
    return file->offset;
}

static int close_nothing(thandle_t handle) { (void)handle; return 0; }
static toff_t size_of(thandle_t handle) { return (toff_t)((hs_tiff *)handle)->length; }

static int keep_first_error(TIFF *tiff, void *user_data, const char *module, const char *format, va_list arguments) {
    (void)tiff;
    hs_tiff *file = user_data;
    if (file->info.message[0] == 0) {
        char text[160];
        vsnprintf(text, sizeof text, format, arguments);
        snprintf(file->info.message, sizeof file->info.message, "%s%s%s", module ? module : "", module ? ": " : "", text);
    }
    return 1;
}

static int ignore_warning(TIFF *tiff, void *user_data, const char *module, const char *format, va_list arguments) {
    (void)tiff; (void)user_data; (void)module; (void)format; (void)arguments;
    return 1;
}

const hs_tiff_info *hs_tiff_file_info(const hs_tiff *file) { return &file->info; }

int hs_tiff_open(const unsigned char *data, size_t length, uint64_t max_pixels, hs_tiff **result) {
    *result = NULL;
    hs_tiff *file = calloc(1, sizeof *file);
    if (file == NULL) return HS_NO_MEMORY;
    hs_tiff_info *info = &file->info;
    file->data = data;
    file->length = length;
    *result = file;
    TIFFOpenOptions *options = TIFFOpenOptionsAlloc();
    if (options == NULL) return HS_NO_MEMORY;
    TIFFOpenOptionsSetErrorHandlerExtR(options, keep_first_error, file);
    TIFFOpenOptionsSetWarningHandlerExtR(options, ignore_warning, file);
    // No single allocation (a strip, a tile, a table) beyond what the largest allowed image needs.
    TIFFOpenOptionsSetMaxSingleMemAlloc(options, (tmsize_t)(max_pixels * 8 + (1 << 20)));
    // "m": no memory mapping, the procedures above read the bytes.
    file->tiff = TIFFClientOpenExt("image.tiff", "rm", file, read_memory, write_nothing, seek_memory, close_nothing, size_of,
                                   NULL, NULL, options);
    TIFFOpenOptionsFree(options);
    if (file->tiff == NULL) {
        if (info->message[0] == 0) snprintf(info->message, sizeof info->message, "not a readable TIFF");
        return HS_CORRUPT;
    }
    uint32_t width = 0, height = 0;
    uint16_t orientation = ORIENTATION_TOPLEFT;
    TIFFGetField(file->tiff, TIFFTAG_IMAGEWIDTH, &width);
    TIFFGetField(file->tiff, TIFFTAG_IMAGELENGTH, &height);
    TIFFGetFieldDefaulted(file->tiff, TIFFTAG_ORIENTATION, &orientation);
    info->width = (int)width;
    info->height = (int)height;
    info->orientation = orientation >= 1 && orientation <= 8 ? orientation : 1;
    info->pages = TIFFNumberOfDirectories(file->tiff);
    uint32_t icc_length = 0;
    void *icc = NULL;
    if (TIFFGetField(file->tiff, TIFFTAG_ICCPROFILE, &icc_length, &icc) && icc != NULL) {
        info->icc = icc;
        info->icc_length = icc_length;
    }
    if (width == 0 || height == 0) {
        snprintf(info->message, sizeof info->message, "the image has no size");
        return HS_CORRUPT;
    }
    if ((uint64_t)width * (uint64_t)height > max_pixels) {
        snprintf(info->message, sizeof info->message, "%u x %u pixels, more than the %llu allowed", width, height, (unsigned long long)max_pixels);
        return HS_TOO_LARGE;
    }
    char reason[1024] = "";
    if (!TIFFRGBAImageOK(file->tiff, reason)) {
        snprintf(info->message, sizeof info->message, "%s", reason);
        return HS_CORRUPT;
    }
    return HS_OK;
}

int hs_tiff_read_rgba(hs_tiff *file, unsigned char *pixels) {
    char *message = file->info.message;
    uint16_t photometric = 0, compression = 0;
    TIFFGetFieldDefaulted(file->tiff, TIFFTAG_PHOTOMETRIC, &photometric);
    TIFFGetFieldDefaulted(file->tiff, TIFFTAG_COMPRESSION, &compression);
    if (photometric == PHOTOMETRIC_YCBCR && (compression == COMPRESSION_JPEG || compression == COMPRESSION_OJPEG)) {
        TIFFSetField(file->tiff, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);  // let libjpeg convert to RGB
    }
    TIFFRGBAImage image;
    char reason[1024] = "";
    if (!TIFFRGBAImageBegin(&image, file->tiff, 0, reason)) {
        snprintf(message, sizeof file->info.message, "%s", reason);
        return HS_CORRUPT;
    }
    // As stored, rows top-down: the orientation tag is applied by the caller, as EXIF's is.
    image.req_orientation = image.orientation;
    uint32_t width = image.width, height = image.height;
    int ok = TIFFRGBAImageGet(&image, (uint32_t *)pixels, width, height);
    TIFFRGBAImageEnd(&image);
    if (!ok) {
        if (message[0] == 0) snprintf(message, sizeof file->info.message, "the pixels cannot be read");
        return HS_CORRUPT;
    }
    // The raster is R, G, B, A bytes with associated (premultiplied) alpha: undo it.
    size_t count = (size_t)width * height;
    for (size_t pixel = 0; pixel < count; pixel++) {
        unsigned char *p = pixels + pixel * 4;
        unsigned alpha = p[3];
        if (alpha == 255) continue;
        if (alpha == 0) { p[0] = p[1] = p[2] = 0; continue; }
        for (int channel = 0; channel < 3; channel++) {
            unsigned value = (p[channel] * 255u + alpha / 2) / alpha;
            p[channel] = (unsigned char)(value > 255 ? 255 : value);
        }
    }
    return HS_OK;
}

void hs_tiff_close(hs_tiff *file) {
    if (file == NULL) return;
    if (file->tiff != NULL) TIFFClose(file->tiff);
    free(file);
}
