#include "avif_fixtures.h"
#include <avif/avif.h>
#include <stdlib.h>
#include <string.h>

int fixture_avif_encode(const unsigned char *const *frames, const int *durations, int count, int width, int height, int has_alpha,
                        int rotation, unsigned char **output, size_t *output_length) {
    avifEncoder *encoder = avifEncoderCreate();
    encoder->minQuantizer = encoder->maxQuantizer = 4;
    encoder->minQuantizerAlpha = encoder->maxQuantizerAlpha = AVIF_QUANTIZER_LOSSLESS;
    encoder->speed = 8;
    encoder->timescale = 1000;
    int failed = 0;
    for (int index = 0; index < count && !failed; index++) {
        avifImage *image = avifImageCreate((uint32_t)width, (uint32_t)height, 8, AVIF_PIXEL_FORMAT_YUV444);
        if (rotation) {
            image->transformFlags |= AVIF_TRANSFORM_IROT;
            image->irot.angle = (uint8_t)rotation;
        }
        avifRGBImage rgb;
        avifRGBImageSetDefaults(&rgb, image);
        rgb.format = AVIF_RGB_FORMAT_RGBA;
        rgb.pixels = (uint8_t *)frames[index];
        rgb.rowBytes = (uint32_t)width * 4;
        if (!has_alpha) rgb.ignoreAlpha = AVIF_TRUE;
        failed = avifImageRGBToYUV(image, &rgb) != AVIF_RESULT_OK ||
                 avifEncoderAddImage(encoder, image, (uint64_t)durations[index], count == 1 ? AVIF_ADD_IMAGE_FLAG_SINGLE : AVIF_ADD_IMAGE_FLAG_NONE) != AVIF_RESULT_OK;
        avifImageDestroy(image);
    }
    avifRWData encoded = AVIF_DATA_EMPTY;
    if (!failed) failed = avifEncoderFinish(encoder, &encoded) != AVIF_RESULT_OK;
    avifEncoderDestroy(encoder);
    if (failed) return 1;
    *output = malloc(encoded.size);
    memcpy(*output, encoded.data, encoded.size);
    *output_length = encoded.size;
    avifRWDataFree(&encoded);
    return 0;
}

void fixture_avif_free(void *pointer) { free(pointer); }
