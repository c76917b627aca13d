#include "CHalfsizeShims.h"
#include <avif/avif.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// libavif reports errors by value (no setjmp); Debian builds it with dav1d, libgav1, aom, rav1e and SVT-AV1.

struct hs_avif_reader {
    avifDecoder *decoder;
    hs_avif_info info;
};

const hs_avif_info *hs_avif_reader_info(const hs_avif_reader *reader) { return &reader->info; }

static int status_of(avifResult result) {
    switch (result) {
    case AVIF_RESULT_OK: return HS_OK;
    case AVIF_RESULT_OUT_OF_MEMORY: return HS_NO_MEMORY;
    default: return HS_CORRUPT;
    }
}

static int fail(char message[200], avifResult result, const char *what, const avifDiagnostics *diagnostics) {
    snprintf(message, 200, "%s: %s%s%s", what, avifResultToString(result), diagnostics && diagnostics->error[0] ? ": " : "",
             diagnostics && diagnostics->error[0] ? diagnostics->error : "");
    return status_of(result);
}

int hs_avif_open(const unsigned char *data, size_t length, uint64_t max_pixels, int max_frames, hs_avif_reader **result) {
    *result = NULL;
    hs_avif_reader *reader = calloc(1, sizeof *reader);
    if (reader == NULL) return HS_NO_MEMORY;
    *result = reader;
    hs_avif_info *info = &reader->info;
    reader->decoder = avifDecoderCreate();
    if (reader->decoder == NULL) return HS_NO_MEMORY;
    avifDecoder *decoder = reader->decoder;
    decoder->maxThreads = 1;
    avifResult status = avifDecoderSetIOMemory(decoder, data, length);
    if (status == AVIF_RESULT_OK) status = avifDecoderParse(decoder);
    // Parsing reads the boxes only: the limits below hold before any pixel is decoded.
    if (status != AVIF_RESULT_OK) return fail(info->message, status, "not a readable AVIF", &decoder->diag);
    const avifImage *image = decoder->image;
    info->width = (int)image->width;
    info->height = (int)image->height;
    info->frame_count = decoder->imageCount;
    info->has_alpha = decoder->alphaPresent;
    info->timescale = decoder->timescale;
    info->rotation = (image->transformFlags & AVIF_TRANSFORM_IROT) ? image->irot.angle & 3 : 0;
    info->mirror = (image->transformFlags & AVIF_TRANSFORM_IMIR) ? image->imir.mode : -1;
    info->icc = image->icc.data;
    info->icc_length = image->icc.size;
    info->exif = image->exif.data;
    info->exif_length = image->exif.size;
    uint64_t frames = info->frame_count > 0 ? (uint64_t)info->frame_count : 1;
    if ((uint64_t)info->width * (uint64_t)info->height * frames > max_pixels || (max_frames > 0 && frames > (uint64_t)max_frames)) {
        snprintf(info->message, sizeof info->message, "%d x %d pixels x %llu frames, more than the %llu pixels or %d frames allowed",
                 info->width, info->height, (unsigned long long)frames, (unsigned long long)max_pixels, max_frames);
        return HS_TOO_LARGE;
    }
    return HS_OK;
}

int hs_avif_next_rgba(hs_avif_reader *reader, unsigned char *pixels, uint64_t *duration) {
    avifDecoder *decoder = reader->decoder;
    char *message = reader->info.message;
    avifResult status = avifDecoderNextImage(decoder);
    if (status != AVIF_RESULT_OK) return fail(message, status, "a frame cannot be decoded", &decoder->diag);
    *duration = decoder->imageTiming.durationInTimescales;
    avifRGBImage rgb;
    avifRGBImageSetDefaults(&rgb, decoder->image);
    rgb.format = AVIF_RGB_FORMAT_RGBA;
    rgb.depth = 8;
    rgb.pixels = pixels;
    rgb.rowBytes = decoder->image->width * 4;
    status = avifImageYUVToRGB(decoder->image, &rgb);
    if (status != AVIF_RESULT_OK) return fail(message, status, "the colours cannot be converted", NULL);
    return HS_OK;
}

void hs_avif_close(hs_avif_reader *reader) {
    if (reader == NULL) return;
    if (reader->decoder != NULL) avifDecoderDestroy(reader->decoder);
    free(reader);
}

struct hs_avif_writer {
    avifEncoder *encoder;
    int frames;
};

int hs_avif_writer_new(int quality, int speed, uint64_t timescale, hs_avif_writer **result) {
    *result = NULL;
    hs_avif_writer *writer = calloc(1, sizeof *writer);
    if (writer == NULL) return HS_NO_MEMORY;
    writer->encoder = avifEncoderCreate();
    if (writer->encoder == NULL) {
        free(writer);
        return HS_NO_MEMORY;
    }
    // libavif 0.11 has no quality setting: quality 1-100 maps onto AV1's quantizer 63-0.
    int quantizer = (100 - quality) * AVIF_QUANTIZER_WORST_QUALITY / 100;
    writer->encoder->minQuantizer = writer->encoder->maxQuantizer = quantizer;
    writer->encoder->minQuantizerAlpha = writer->encoder->maxQuantizerAlpha = quantizer;
    writer->encoder->speed = speed;
    writer->encoder->maxThreads = 1;
    writer->encoder->timescale = timescale > 0 ? timescale : 1000;
    *result = writer;
    return HS_OK;
}

int hs_avif_writer_add(hs_avif_writer *writer, const unsigned char *pixels, int width, int height, int has_alpha,
                       const unsigned char *icc, size_t icc_length, uint64_t duration, int single, char message[200]) {
    avifImage *image = avifImageCreate((uint32_t)width, (uint32_t)height, 8, AVIF_PIXEL_FORMAT_YUV420);
    if (image == NULL) return HS_NO_MEMORY;
    if (icc != NULL && icc_length > 0) avifImageSetProfileICC(image, icc, icc_length);
    avifRGBImage rgb;
    avifRGBImageSetDefaults(&rgb, image);
    rgb.format = has_alpha ? AVIF_RGB_FORMAT_RGBA : AVIF_RGB_FORMAT_RGB;
    rgb.depth = 8;
    rgb.pixels = (uint8_t *)pixels;
    rgb.rowBytes = (uint32_t)width * (has_alpha ? 4 : 3);
    avifResult status = avifImageRGBToYUV(image, &rgb);
    if (status == AVIF_RESULT_OK) {
        status = avifEncoderAddImage(writer->encoder, image, duration, single ? AVIF_ADD_IMAGE_FLAG_SINGLE : AVIF_ADD_IMAGE_FLAG_NONE);
    }
    avifImageDestroy(image);
    if (status != AVIF_RESULT_OK) return fail(message, status, "a frame cannot be encoded", &writer->encoder->diag);
    writer->frames += 1;
    return HS_OK;
}

int hs_avif_writer_finish(hs_avif_writer *writer, unsigned char **output, size_t *output_length, char message[200]) {
    *output = NULL;
    *output_length = 0;
    avifRWData encoded = AVIF_DATA_EMPTY;
    avifResult status = avifEncoderFinish(writer->encoder, &encoded);
    if (status != AVIF_RESULT_OK) return fail(message, status, "the AVIF cannot be written", &writer->encoder->diag);
    *output = malloc(encoded.size);
    if (*output == NULL) {
        avifRWDataFree(&encoded);
        return HS_NO_MEMORY;
    }
    memcpy(*output, encoded.data, encoded.size);
    *output_length = encoded.size;
    avifRWDataFree(&encoded);
    return HS_OK;
}

void hs_avif_writer_close(hs_avif_writer *writer) {
    if (writer == NULL) return;
    avifEncoderDestroy(writer->encoder);
    free(writer);
}
